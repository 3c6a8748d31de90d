"""Obligations as tables, kept by the log.

Tables (the public read interface, documented in docs/tables.md):

- ``obligations_facts`` — the projection's own copy of every seeker's facts (re-evaluation and
  reads for other days never touch the write side);
- ``obligations_seekers`` — one row per seeker: municipality, coach, whether a spell is open,
  and ``stale``: NULL, or why the seeker's items are not current (see below);
- ``obligations_items`` — each seeker's obligations as evaluated on ``evaluated_on``;
- ``obligations_state`` — ``evaluated_on``: the day the items were evaluated for. It is set by
  the day-change job (the projection never reads the clock); until then it is the latest
  recorded day in the log;
- ``obligations_quarantine`` — what failed (``projections.quarantine``).

A seeker whose evaluation or rows fail, or some of whose events could not be read, keeps the
items of their last clean evaluation (a caseworker still sees what was last known) with
``stale`` saying why; a seeker who never evaluated cleanly has no items. ``stale`` clears when
the seeker is evaluated cleanly with none of their events kept out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from projections.quarantine import (
    KEPT_OUT,
    Entry,
    Quarantine,
    describe,
    evaluate_each,
    is_poison,
    savepoint,
    write_each,
)
from projections.runtime import DatedView, Dialect, FactCopy, Tx, ViewDatabase
from timeline.application import TimelineApp
from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, effective_facts, spells
from timeline.domain.rules import Obligation, Rulesets, evaluate, status_on
from timeline.domain.scope import places
from timeline.domain.zone import HELSINKI
from timeline.rulesets import default_rulesets

NAME = "obligations"
FACTS = FactCopy("obligations_facts")
QUARANTINE = Quarantine(NAME)
SEEKER_COLUMNS = (
    "seeker_id",
    "municipality",
    "coach_id",
    "spell_open",
    "spell_started_on",
    "position",
    "stale",
)
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


class ObligationsProjection:
    name = NAME

    def __init__(
        self, rulesets: Rulesets | None = None, calendar: WorkingDayCalendar = MONDAY_TO_FRIDAY
    ) -> None:
        self.rulesets = rulesets or default_rulesets()
        self.calendar = calendar

    def create_statements(self, dialect: Dialect) -> list[str]:
        big = "BIGINT" if dialect == "postgres" else "INTEGER"
        return [
            FACTS.create_statement(dialect),
            "CREATE TABLE IF NOT EXISTS obligations_seekers (seeker_id TEXT PRIMARY KEY, "
            "municipality TEXT, coach_id TEXT, spell_open INTEGER NOT NULL, spell_started_on TEXT, "
            f"position {big} NOT NULL, stale TEXT)",
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
            f"position {big} NOT NULL)",
        ]

    def tables(self) -> list[str]:
        return [f"obligations_{t}" for t in ("facts", "seekers", "items", "state", "pending")]

    def upgrade(self, tx: Tx) -> None:
        """Tables made before the quarantine lack ``obligations_seekers.stale``: add it."""
        have = {str(r[0]) for r in tx.execute(tx.sql.COLUMNS_OF, ["obligations_seekers"])}
        if "stale" not in have:
            tx.execute(tx.sql.add_column("obligations_seekers", "stale", "TEXT"))

    def drop_statements(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {t}" for t in self.tables()]

    # -- applying the log ----------------------------------------------------------------------

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None:
        FACTS.keep(tx, facts)
        # The day the items are evaluated for only moves forward with the log (the day-change
        # job moves it to today). When it moves, every seeker is evaluated for the new day, so
        # the tables never mix days and caught-up tables equal rebuilt ones.
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        on = self.evaluated_on(tx)
        touched = _positions(facts)
        if on is None or latest > on:
            self._set_state(tx, "evaluated_on", latest.isoformat())
            others = [
                r[0]
                for r in tx.execute("SELECT seeker_id FROM obligations_seekers")
                if r[0] not in touched
            ]
            self._reevaluate_paged(tx, [*touched, *others], latest, touched)
        else:
            self._reevaluate_paged(tx, list(touched), on, touched)

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None:
        """Bulk: keep the facts and mark their seekers pending (every seeker, if the
        evaluation day moves); :meth:`settle` evaluates them once."""
        FACTS.keep(tx, facts)
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        on = self.evaluated_on(tx)
        if on is None or latest > on:
            self._set_state(tx, "evaluated_on", latest.isoformat())
            tx.execute(
                "INSERT INTO obligations_pending (seeker_id, position) SELECT seeker_id, 0 "
                "FROM obligations_seekers WHERE true ON CONFLICT (seeker_id) DO NOTHING"
            )
        tx.insert(
            "obligations_pending",
            ("seeker_id", "position"),
            list(_positions(facts).items()),
            on_conflict="(seeker_id) DO UPDATE SET position = "
            f"{tx.sql.GREATEST}(obligations_pending.position, excluded.position)",
        )

    def settle(self, tx: Tx, position: int, page: int = 2000) -> bool:
        """Evaluate one page of pending seekers for the evaluation day."""
        del position  # obligations rows carry the seeker's own last position
        rows = tx.execute(
            "SELECT seeker_id, position FROM obligations_pending ORDER BY seeker_id "
            f"LIMIT {tx.sql.P}",
            [page],
        )
        on = self.evaluated_on(tx)
        if not rows or on is None:
            return False
        pending = {str(r[0]): int(r[1]) for r in rows}
        self.reevaluate(tx, list(pending), on, pending)
        marks = ",".join([tx.sql.P] * len(pending))
        tx.execute(f"DELETE FROM obligations_pending WHERE seeker_id IN ({marks})", list(pending))
        return len(rows) == page

    def _reevaluate_paged(
        self,
        tx: Tx,
        ids: Sequence[str],
        on: date,
        positions: dict[str, int] | None = None,
        page: int = 2000,
    ) -> None:
        for i in range(0, len(ids), page):
            self.reevaluate(tx, ids[i : i + page], on, positions)

    def start_from(self, tx: Tx, log_last_day: date) -> None:
        """Before applying the log from its start: evaluate for the log's last recorded day
        (or a later day already set), so a rebuild evaluates every seeker once."""
        on = self.evaluated_on(tx)
        if on is None or log_last_day > on:
            self._set_state(tx, "evaluated_on", log_last_day.isoformat())

    def revisit(self, tx: Tx, seeker_ids: Sequence[str]) -> None:
        """Evaluate these seekers again when the runner settles."""
        tx.insert(
            "obligations_pending",
            ("seeker_id", "position"),
            [(sid, 0) for sid in seeker_ids],
            on_conflict="(seeker_id) DO NOTHING",
        )

    def reevaluate(
        self, tx: Tx, seeker_ids: Sequence[str], on: date, positions: dict[str, int] | None = None
    ) -> None:
        """Evaluate these seekers' obligations as on ``on`` and replace their rows. A seeker
        whose evaluation or rows fail is quarantined and keeps their last rows, marked stale."""
        by_seeker = FACTS.load(tx, seeker_ids)
        known = QUARANTINE.for_seekers(tx, seeker_ids)
        kept_out = {
            sid: next(e for e in entries if e.stage in KEPT_OUT).reason
            for sid, entries in known.items()
            if any(e.stage in KEPT_OUT for e in entries)
        }
        facts = {sid: by_seeker.get(sid, []) for sid in seeker_ids}
        at = positions or {}

        def compute(sid: str, fs: Sequence[Fact]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
            found = evaluate(fs, on, self.rulesets, self.calendar)
            items = [_item_row(sid, i, o) for i, o in enumerate(found)]
            return items, (sid, *_place(fs), at.get(sid, 0), kept_out.get(sid))

        results, failures = evaluate_each(NAME, facts, compute)
        failures += write_each(tx, NAME, results, _write_rows, facts, compute)
        QUARANTINE.settle(tx, known, list(results), failures)
        for failure in failures:
            _mark_stale(tx, failure, facts[failure.seeker_id], at.get(failure.seeker_id, 0))

    def kept_day(self, tx: Tx) -> date | None:
        return self.evaluated_on(tx)

    def evaluated_on(self, tx: Tx) -> date | None:
        rows = tx.execute("SELECT value FROM obligations_state WHERE key = 'evaluated_on'")
        return date.fromisoformat(rows[0][0]) if rows else None

    def _set_state(self, tx: Tx, key: str, value: str) -> None:
        p = tx.sql.P
        tx.execute(f"DELETE FROM obligations_state WHERE key = {p}", [key])
        tx.execute(f"INSERT INTO obligations_state (key, value) VALUES ({p}, {p})", [key, value])

    def change_day(self, tx: Tx, on: date, *, page: int = 2000) -> int:
        """Re-evaluate every seeker for a new day (the day-change job); return how many."""
        self._set_state(tx, "evaluated_on", on.isoformat())
        ids = [r[0] for r in tx.execute("SELECT seeker_id FROM obligations_seekers ORDER BY 1")]
        self._reevaluate_paged(tx, ids, on, page=page)
        return len(ids)


def _upsert_seekers(tx: Tx, rows: Sequence[Sequence[Any]]) -> None:
    """Insert or replace seeker rows; a row's position never moves back."""
    tx.insert(
        "obligations_seekers",
        SEEKER_COLUMNS,
        rows,
        on_conflict="(seeker_id) DO UPDATE SET "
        "municipality=excluded.municipality, coach_id=excluded.coach_id, "
        "spell_open=excluded.spell_open, spell_started_on=excluded.spell_started_on, "
        f"position={tx.sql.GREATEST}(obligations_seekers.position, excluded.position), "
        "stale=excluded.stale",
    )


def _write_rows(
    tx: Tx, results: Mapping[str, tuple[list[tuple[Any, ...]], tuple[Any, ...]]]
) -> None:
    """Replace these seekers' items and seeker rows."""
    ids = list(results)
    marks = ",".join([tx.sql.P] * len(ids))
    tx.execute(f"DELETE FROM obligations_items WHERE seeker_id IN ({marks})", ids)
    tx.copy(
        "obligations_items",
        ITEM_COLUMNS,
        [row for items, _ in results.values() for row in items],
    )
    _upsert_seekers(tx, [seeker for _, seeker in results.values()])


def _mark_stale(tx: Tx, failure: Entry, facts: Sequence[Fact], position: int) -> None:
    """Keep a failed seeker's items, say why they are stale; a seeker without a row gets one
    (with their place when it can be worked out and written, else without)."""
    stale = failure.reason
    p = tx.sql.P
    if tx.execute(f"SELECT 1 FROM obligations_seekers WHERE seeker_id = {p}", [failure.seeker_id]):
        tx.execute(
            f"UPDATE obligations_seekers SET stale = {p} WHERE seeker_id = {p}",
            [stale, failure.seeker_id],
        )
        return
    try:
        with savepoint(tx):
            _upsert_seekers(tx, [(failure.seeker_id, *_place(facts), position, stale)])
            return
    except Exception as exc:
        if not is_poison(exc):
            raise
    _upsert_seekers(tx, [(failure.seeker_id, None, None, 0, None, position, stale)])


def _positions(facts: Sequence[Fact]) -> dict[str, int]:
    """Each seeker's last log position in a batch (facts come in log order)."""
    return {f.seeker_id: f.position or 0 for f in facts}


def _place(facts: Sequence[Fact]) -> tuple[str | None, str | None, int, str | None]:
    """Municipality (latest start or transfer), coach (latest assignment), whether the latest
    spell is open, and when it started."""
    coach = None
    coach_assigned = EventType.COACH_ASSIGNED  # (a local name: compared once per fact)
    effective = effective_facts(facts)
    moves = places(effective)  # the same rule that decides a caller's scope
    municipality = moves[-1].municipality if moves else None
    for f in effective:
        if f.type == coach_assigned:
            coach = str(f.data.get("coach_id"))
    found = spells(effective)
    latest = found[-1] if found else None
    return (
        municipality,
        coach,
        int(latest is not None and latest.ended_on is None),
        latest.started_on.isoformat() if latest else None,
    )


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _item_row(seeker_id: str, seq: int, o: Obligation) -> tuple[Any, ...]:
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


def _item_dict(row: Sequence[Any], on: date | None = None) -> dict[str, Any]:
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


class Unevaluable(Exception):
    """A seeker's obligations for another day (or as known at a moment) cannot be evaluated:
    the evaluation raises (the seeker is quarantined)."""

    def __init__(self, seeker_id: str, on: date, stale: str | None, exc: Exception) -> None:
        self.seeker_id = seeker_id
        self.stale = stale
        super().__init__(
            f"the obligations of seeker {seeker_id} as on {on.isoformat()} cannot be "
            f"evaluated ({describe(exc)}); "
            + (f"the seeker is quarantined: {stale}" if stale else "the seeker is quarantined")
        )


class ObligationsView(DatedView):
    """Reads and upkeep of the obligations tables."""

    def __init__(
        self,
        app: TimelineApp,
        db: ViewDatabase | None = None,
        projection: ObligationsProjection | None = None,
    ) -> None:
        self.projection = projection or ObligationsProjection()
        super().__init__(app, db or ViewDatabase(app.settings), self.projection)

    def evaluated_on(self) -> date | None:
        with self.db.read() as tx:
            return self.projection.evaluated_on(tx)

    def change_day(self, on: date) -> int:
        with self.db.transaction() as tx:
            return self.projection.change_day(tx, on)

    def check_day(self, on: date) -> None:
        """Refuse a day no ruleset covers (:class:`~timeline.domain.errors.NoRuleset`)."""
        self.projection.rulesets.covering(on)

    def for_seeker(
        self, seeker_id: str, on: date, *, as_of: datetime | None = None
    ) -> list[dict[str, Any]]:
        """One seeker's obligations as on ``on``: the stored rows when ``on`` is the day they
        were evaluated for; otherwise evaluated from the projection's own copy of the facts
        (recorded up to ``as_of`` when given). A day no ruleset covers (before 2 May 2022) is
        refused with :class:`~timeline.domain.errors.NoRuleset`, not answered with nothing."""
        self.check_day(on)
        if as_of is None:  # one statement: the evaluation day and, if it is ``on``, the rows
            p = self.db.sql.P
            rows = self.db.query(
                f"SELECT s.value, k.stale, {','.join('i.' + c for c in ITEM_COLUMNS)} "
                f"FROM obligations_state s LEFT JOIN obligations_items i ON i.seeker_id = {p} "
                f"LEFT JOIN obligations_seekers k ON k.seeker_id = {p} "
                "WHERE s.key = 'evaluated_on' ORDER BY i.seq",
                [seeker_id, seeker_id],
            )
            if rows and rows[0][0] == on.isoformat():
                # a stale seeker's items are from an earlier evaluation: statuses as on ``on``
                again = on if rows[0][1] is not None else None
                return [_item_dict(r[2:], again) for r in rows if r[2] is not None]
        with self.db.read() as tx:
            facts = FACTS.load(tx, [seeker_id]).get(seeker_id, [])
        if as_of is not None:
            facts = [f for f in facts if f.recorded_at <= as_of]
        try:
            found = evaluate(facts, on, self.projection.rulesets, self.projection.calendar)
        except Exception as exc:
            if not is_poison(exc):
                raise
            raise Unevaluable(seeker_id, on, self.stale(seeker_id), exc) from exc
        return [o.to_dict() for o in found]

    def has_seeker(self, seeker_id: str) -> bool:
        with self.db.read() as tx:
            return bool(
                tx.execute(
                    f"SELECT 1 FROM obligations_seekers WHERE seeker_id = {tx.sql.P}", [seeker_id]
                )
            )

    def stale(self, seeker_id: str) -> str | None:
        """Why this seeker's rows are not current (quarantined), or None when they are."""
        rows = self.db.query(
            f"SELECT stale FROM obligations_seekers WHERE seeker_id = {self.db.sql.P}", [seeker_id]
        )
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def worklist(
        self,
        on: date,
        *,
        status: str | None = None,
        municipality: str | None = None,
        coach: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """What is open or overdue as on ``on`` (or has ``status``) in seekers' open spells, by
        due date (``limit`` rows after the first ``offset``). Statuses are
        derived in SQL from ``due_on``/``met_on`` for ``on``; the set of obligations is the one
        evaluated for ``evaluated_on`` (today, once the day-change job has run). Only the open
        spell's rows are listed, so re-deriving a status for ``on`` never runs past a spell's
        end (rows of ended spells carry statuses already stopped at the end). A day no ruleset
        covers is refused with :class:`~timeline.domain.errors.NoRuleset`."""
        self.check_day(on)
        p = self.db.sql.P
        flags = ",".join(f"'{f}'" for f in FLAGS)
        derived = (
            f"CASE WHEN i.kind IN ({flags}) OR i.status = 'not_required' OR i.due_on IS NULL "
            f"THEN i.status WHEN i.met_on IS NOT NULL AND i.met_on <= {p} THEN "
            "(CASE WHEN i.met_on <= i.due_on THEN 'met' ELSE 'met_late' END) "
            f"WHEN {p} > i.due_on THEN 'overdue' ELSE 'open' END"
        )
        sql = (
            f"SELECT * FROM (SELECT {','.join('i.' + c for c in ITEM_COLUMNS)}, "
            f"s.municipality, s.coach_id, {derived} AS status_on, s.stale "
            "FROM obligations_items i JOIN obligations_seekers s ON s.seeker_id = i.seeker_id"
        )
        params: list[Any] = [on.isoformat(), on.isoformat()]
        # Work is in the seeker's open spell: earlier spells' obligations are history.
        where = [
            "s.spell_open = 1",
            "COALESCE(i.due_on, i.period_end, i.period_start, i.met_on, s.spell_started_on)"
            " >= s.spell_started_on",
        ]
        if municipality:
            where.append(f"s.municipality = {p}")
            params.append(municipality)
        if coach:
            where.append(f"s.coach_id = {p}")
            params.append(coach)
        sql += " WHERE " + " AND ".join(where) + ") w"
        if status:
            sql += f" WHERE status_on = {p}"
            params.append(status)
        else:
            sql += " WHERE status_on IN ('open', 'overdue')"
        sql += f" ORDER BY due_on, seeker_id, seq LIMIT {p} OFFSET {p}"
        params += [limit, offset]
        with self.db.read() as tx:
            rows = tx.execute(sql, params)
        out = []
        for row in rows:
            item = _item_dict(row[: len(ITEM_COLUMNS)], on)
            item["municipality"], item["coach_id"], item["status"], item["stale"] = row[
                len(ITEM_COLUMNS) :
            ]
            out.append(item)
        return out
