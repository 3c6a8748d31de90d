"""The obligations' tables: their DDL and every statement the projection and the view run, as
named statements per dialect (``TABLES[tx.dialect]``). Nothing rewrites a statement; the
comment above each gives its parameters, in order. A set of seeker ids is one parameter,
:meth:`ObligationsTables.ids` of the list (``= ANY(array)`` on PostgreSQL, ``json_each`` on
SQLite), so a statement's text never depends on how many there are.

Tables (the public read interface):

- ``obligations_seekers`` — one row per seeker: municipality, coach, whether a spell is open,
  and ``stale``: NULL, or why the seeker's items are not current;
- ``obligations_items`` — each seeker's obligations as evaluated on ``evaluated_on``;
- ``obligations_state`` — ``evaluated_on``, the day the items were evaluated for (with
  partitioned workers, ``evaluated_on:<lo>-<hi>`` per partition, ``projections.runtime.partition``);
- ``obligations_pending`` — seekers loaded in bulk and not yet evaluated (with their bucket);
- ``obligations_tracking``, ``obligations_partitions``, ``obligations_quarantine`` — the
  runtime's (``projections.runtime``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.runtime import Dialect
from timeline.domain.rules import Obligation, status_on

NAME = "obligations"
TABLES_OWNED = tuple(f"obligations_{t}" for t in ("seekers", "items", "state", "pending"))
#: tables earlier releases made and this one drops: the copy of every fact (the projection
#: reads a seeker's facts again from the log when it must re-evaluate them)
LEGACY_TABLES = ("obligations_facts",)
SEEKER_COLUMNS = (
    "seeker_id",
    "municipality",
    "coach_id",
    "spell_open",
    "spell_started_on",
    "position",
    "stale",
)
#: items whose status is what the evaluation said, never re-derived for another day
FLAGS = ("missed_appointment", "requirement_shortfall")
ITEM_COLUMNS = (
    "seeker_id",
    "seq",
    "kind",
    "ruleset",
    "rule",
    "status",
    "due_on",
    "period_start",
    "period_end",
    "met_on",
    "days_late",
    "required",
    "counted",
    "basis_event_ids",
    "confidence",
    "assumptions",
    "consequence",
)
_ITEMS = ",".join("i." + c for c in ITEM_COLUMNS)
_FLAGS = ",".join(f"'{f}'" for f in FLAGS)


@dataclass(frozen=True)
class ObligationsTables:
    """The obligations' statements in one dialect."""

    CREATE: Sequence[str]
    #: (list of seeker ids) -> the parameter that stands for them in ``{IN_IDS}`` statements
    ids: Callable[[Sequence[str]], Any]
    #: () -> every seeker id, by id
    SEEKER_IDS: str
    #: (key) -> (value,)
    STATE_GET: str
    #: (key)
    STATE_DELETE: str
    #: (key, value)
    STATE_INSERT: str
    #: () mark every seeker pending (position 0 for those not yet marked)
    PENDING_EVERY_SEEKER: str
    #: the ``ON CONFLICT`` clause marking a seeker pending: its position never moves back
    PENDING_KEEP_LATEST: str
    #: (limit) -> (seeker_id, position) of pending seekers, by id
    PENDING_PAGE: str
    #: (lo, hi, limit) -> the same, of a partition's buckets [lo, hi)
    PENDING_PAGE_IN: str
    #: (ids)
    PENDING_DONE: str
    #: the ``ON CONFLICT`` clause replacing a seeker row: its position never moves back
    SEEKERS_UPSERT: str
    #: (ids)
    ITEMS_DELETE: str
    #: (seeker_id) -> (1,) if the seeker has a row
    SEEKER_EXISTS: str
    #: (stale, seeker_id)
    SEEKER_MARK_STALE: str
    #: (seeker_id) -> (stale,)
    SEEKER_STALE: str
    #: (seeker_id, seeker_id) -> (evaluated_on, stale, every item column) by seq, one row with
    #: null items when the seeker has none
    SEEKER_ITEMS: str
    #: (on, on) the status as on ``on`` of an item row ``i``
    STATUS_ON: str
    P: str

    def worklist(self, *, municipality: bool, coach: bool, status: bool, kind: bool = False) -> str:
        """(on, on, [municipality], [coach], [kind], [status], limit, offset) -> item columns,
        municipality, coach_id, status as on ``on``, stale: open-spell items by due date; with
        ``status`` those of that status, else the open and overdue ones."""
        p = self.P
        where = [
            "s.spell_open = 1",
            "COALESCE(i.due_on, i.period_end, i.period_start, i.met_on, s.spell_started_on)"
            " >= s.spell_started_on",
        ]
        if municipality:
            where.append(f"s.municipality = {p}")
        if coach:
            where.append(f"s.coach_id = {p}")
        if kind:
            where.append(f"i.kind = {p}")
        return (
            f"SELECT * FROM (SELECT {_ITEMS}, s.municipality, s.coach_id, {self.STATUS_ON} "
            "AS status_on, s.stale FROM obligations_items i JOIN obligations_seekers s "
            f"ON s.seeker_id = i.seeker_id WHERE {' AND '.join(where)}) w "
            + (f"WHERE status_on = {p}" if status else "WHERE status_on IN ('open', 'overdue')")
            # flags (no due day) after what falls due, by their period's end, in both dialects
            + " ORDER BY due_on IS NULL, due_on, period_end, seeker_id, seq"
            + f" LIMIT {p} OFFSET {p}"
        )


def _tables(
    p: str, big: str, greatest: str, in_ids: str, ids: Callable[[Sequence[str]], Any]
) -> ObligationsTables:
    return ObligationsTables(
        CREATE=(
            "CREATE TABLE IF NOT EXISTS obligations_seekers (seeker_id TEXT PRIMARY KEY, "
            "municipality TEXT, coach_id TEXT, spell_open INTEGER NOT NULL, "
            f"spell_started_on TEXT, position {big} NOT NULL, stale TEXT)",
            "CREATE TABLE IF NOT EXISTS obligations_items (seeker_id TEXT NOT NULL, "
            "seq INTEGER NOT NULL, kind TEXT NOT NULL, ruleset TEXT NOT NULL, rule TEXT NOT NULL, "
            "status TEXT NOT NULL, due_on TEXT, period_start TEXT, period_end TEXT, met_on TEXT, "
            "days_late INTEGER, required INTEGER, counted INTEGER, basis_event_ids TEXT NOT NULL, "
            "confidence TEXT NOT NULL, assumptions TEXT NOT NULL, consequence TEXT, "
            "PRIMARY KEY (seeker_id, seq))",
            "CREATE INDEX IF NOT EXISTS obligations_items_due ON obligations_items (due_on)",
            "CREATE INDEX IF NOT EXISTS obligations_seekers_place ON obligations_seekers "
            "(municipality, coach_id)",
            "CREATE TABLE IF NOT EXISTS obligations_state (key TEXT PRIMARY KEY, value TEXT)",
            "CREATE TABLE IF NOT EXISTS obligations_pending (seeker_id TEXT PRIMARY KEY, "
            f"position {big} NOT NULL, bucket INTEGER)",
        ),
        ids=ids,
        SEEKER_IDS="SELECT seeker_id FROM obligations_seekers ORDER BY seeker_id",
        STATE_GET=f"SELECT value FROM obligations_state WHERE key = {p}",
        STATE_DELETE=f"DELETE FROM obligations_state WHERE key = {p}",
        STATE_INSERT=f"INSERT INTO obligations_state (key, value) VALUES ({p}, {p})",
        PENDING_EVERY_SEEKER="INSERT INTO obligations_pending (seeker_id, position) "
        "SELECT seeker_id, 0 FROM obligations_seekers WHERE true "
        "ON CONFLICT (seeker_id) DO NOTHING",
        PENDING_KEEP_LATEST="(seeker_id) DO UPDATE SET position = "
        f"{greatest}(obligations_pending.position, excluded.position)",
        PENDING_PAGE="SELECT seeker_id, position FROM obligations_pending ORDER BY seeker_id "
        f"LIMIT {p}",
        PENDING_PAGE_IN="SELECT seeker_id, position FROM obligations_pending "
        f"WHERE bucket >= {p} AND bucket < {p} ORDER BY seeker_id LIMIT {p}",
        PENDING_DONE=f"DELETE FROM obligations_pending WHERE seeker_id {in_ids}",
        SEEKERS_UPSERT="(seeker_id) DO UPDATE SET "
        "municipality=excluded.municipality, coach_id=excluded.coach_id, "
        "spell_open=excluded.spell_open, spell_started_on=excluded.spell_started_on, "
        f"position={greatest}(obligations_seekers.position, excluded.position), "
        "stale=excluded.stale",
        ITEMS_DELETE=f"DELETE FROM obligations_items WHERE seeker_id {in_ids}",
        SEEKER_EXISTS=f"SELECT 1 FROM obligations_seekers WHERE seeker_id = {p}",
        SEEKER_MARK_STALE=f"UPDATE obligations_seekers SET stale = {p} WHERE seeker_id = {p}",
        SEEKER_STALE=f"SELECT stale FROM obligations_seekers WHERE seeker_id = {p}",
        SEEKER_ITEMS=f"SELECT s.value, k.stale, {_ITEMS} FROM obligations_state s "
        f"LEFT JOIN obligations_items i ON i.seeker_id = {p} "
        f"LEFT JOIN obligations_seekers k ON k.seeker_id = {p} "
        # (with partitioned workers each partition has its own day: no stored rows answer)
        "WHERE s.key = 'evaluated_on' AND NOT EXISTS (SELECT 1 FROM obligations_state "
        "WHERE substr(key, 1, 13) = 'evaluated_on:') ORDER BY i.seq",
        STATUS_ON=f"CASE WHEN i.kind IN ({_FLAGS}) OR i.status = 'not_required' "
        f"OR i.due_on IS NULL THEN i.status WHEN i.met_on IS NOT NULL AND i.met_on <= {p} THEN "
        "(CASE WHEN i.met_on <= i.due_on THEN 'met' ELSE 'met_late' END) "
        f"WHEN {p} > i.due_on THEN 'overdue' ELSE 'open' END",
        P=p,
    )


def _as_json(ids: Sequence[str]) -> str:
    return json.dumps(list(ids))


TABLES: Mapping[Dialect, ObligationsTables] = {
    "sqlite": _tables("?", "INTEGER", "MAX", "IN (SELECT value FROM json_each(?))", _as_json),
    "postgres": _tables("%s", "BIGINT", "GREATEST", "= ANY(%s)", list),
}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def item_row(seeker_id: str, seq: int, o: Obligation) -> tuple[Any, ...]:
    """An obligation as a row of ``obligations_items`` (columns :data:`ITEM_COLUMNS`)."""
    return (
        seeker_id,
        seq,
        o.kind,
        o.ruleset,
        o.rule,
        o.status,
        _iso(o.due_on),
        _iso(o.period_start),
        _iso(o.period_end),
        _iso(o.met_on),
        o.days_late,
        o.required,
        o.counted,
        json.dumps(list(o.basis_event_ids)),
        o.confidence,
        json.dumps(list(o.assumptions)),
        o.consequence,
    )


def item_dict(row: Sequence[Any], on: date | None = None) -> dict[str, Any]:
    """A row of ``obligations_items`` as answered; with ``on``, a dated item's status and
    lateness as on that day."""
    item = dict(zip(ITEM_COLUMNS, row, strict=True))
    item.pop("seq")
    item["basis_event_ids"] = json.loads(item["basis_event_ids"])
    item["assumptions"] = json.loads(item["assumptions"])
    if (
        on is not None
        and item["due_on"]
        and item["kind"] not in FLAGS
        and (item["status"] != "not_required")
    ):
        met = date.fromisoformat(item["met_on"]) if item["met_on"] else None
        item["status"], item["days_late"] = status_on(date.fromisoformat(item["due_on"]), met, on)
    return item
