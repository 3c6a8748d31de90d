"""The obligations projection: what the log does to the obligations tables (``tables.py``).

Applied batch by batch (``apply``), or, for a backlog, loaded in bulk and settled once
(``load``/``settle``); both leave the same tables. The day the items are evaluated for only
moves forward with the log (the day-change job moves it to today); when it moves, every seeker
is evaluated for the new day, so the tables never mix days and caught-up tables equal rebuilt
ones.

With partitioned workers (``partition``, :mod:`projections.runtime.partition`) each worker's
projection evaluates only its partition's seekers, and keeps its own evaluation day (state key
``evaluated_on:<lo>-<hi>``); the day still moves with the whole log (every worker reads every
event), so all partitions move it at the same log positions and each seeker's rows are those an
unpartitioned worker would write.

A seeker whose evaluation or rows fail, or some of whose events could not be read, keeps the
items of their last clean evaluation (a caseworker still sees what was last known) with
``stale`` saying why; a seeker who never evaluated cleanly has no items. ``stale`` clears when
the seeker is evaluated cleanly with none of their events kept out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from projections.obligations.tables import (
    ITEM_COLUMNS,
    LEGACY_TABLES,
    NAME,
    SEEKER_COLUMNS,
    TABLES,
    TABLES_OWNED,
    ObligationsTables,
    item_row,
)
from projections.runtime import Dialect, SeekerHistory, Tx
from projections.runtime.partition import WHOLE, Partition, bucket
from projections.runtime.quarantine import (
    KEPT_OUT,
    Entry,
    Quarantine,
    evaluate_each,
    is_poison,
    savepoint,
    write_each,
)
from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, effective_facts, spells
from timeline.domain.rules import Rulesets, evaluate
from timeline.domain.scope import municipality_of
from timeline.domain.zone import HELSINKI
from timeline.rulesets import default_rulesets

QUARANTINE = Quarantine(NAME)
_COACH_ASSIGNED = EventType.COACH_ASSIGNED  # (a module name: compared once per fact)


class ObligationsProjection:
    name = NAME

    def __init__(
        self,
        rulesets: Rulesets | None = None,
        calendar: WorkingDayCalendar = MONDAY_TO_FRIDAY,
        *,
        partition: Partition = WHOLE,
    ) -> None:
        self.rulesets = rulesets or default_rulesets()
        self.calendar = calendar
        self.partition = partition
        self.day_key = (
            "evaluated_on" if partition.whole else f"evaluated_on:{partition.lo}-{partition.hi}"
        )
        self.history: SeekerHistory | None = None

    def _mine(self, facts: Sequence[Fact]) -> list[Fact]:
        owns = self.partition.owns
        return list(facts) if self.partition.whole else [f for f in facts if owns(f.seeker_id)]

    def _seeker_ids(self, tx: Tx) -> list[str]:
        """This partition's seekers with rows."""
        owns = self.partition.owns
        return [str(r[0]) for r in tx.execute(TABLES[tx.dialect].SEEKER_IDS) if owns(str(r[0]))]

    def _mark_pending(self, tx: Tx, positions: Mapping[str, int], on_conflict: str) -> None:
        tx.insert(
            "obligations_pending",
            ("seeker_id", "position", "bucket"),
            [(sid, pos, bucket(sid)) for sid, pos in positions.items()],
            on_conflict=on_conflict,
        )

    def read_from(self, history: SeekerHistory) -> None:
        self.history = history

    def create_statements(self, dialect: Dialect) -> list[str]:
        return list(TABLES[dialect].CREATE)

    def tables(self) -> list[str]:
        return list(TABLES_OWNED)

    def upgrade(self, tx: Tx) -> None:
        """Tables made before the quarantine lack ``obligations_seekers.stale``: add it. The
        copy of every fact that earlier releases kept (``obligations_facts``) is read no more:
        drop it."""
        have = {str(r[0]) for r in tx.execute(tx.sql.COLUMNS_OF, ["obligations_seekers"])}
        if "stale" not in have:
            tx.execute(tx.sql.add_column("obligations_seekers", "stale", "TEXT"))
        pending = {str(r[0]) for r in tx.execute(tx.sql.COLUMNS_OF, ["obligations_pending"])}
        if "bucket" not in pending:  # (for partitioned workers)
            tx.execute(tx.sql.add_column("obligations_pending", "bucket", "INTEGER"))
        for table in LEGACY_TABLES:
            tx.execute(f"DROP TABLE IF EXISTS {table}")

    def drop_statements(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {t}" for t in (*self.tables(), *LEGACY_TABLES)]

    # -- applying the log ----------------------------------------------------------------------

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None:
        # the day moves with the whole log, whatever partition the latest event is of
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        on = self.evaluated_on(tx)
        touched = _positions(self._mine(facts))
        upto = max(f.position or 0 for f in facts)  # the log as applied once this batch is
        if on is None or latest > on:
            self._set_state(tx, self.day_key, latest.isoformat())
            others = [sid for sid in self._seeker_ids(tx) if sid not in touched]
            self._reevaluate_paged(tx, [*touched, *others], latest, upto, touched)
        elif touched:
            self._reevaluate_paged(tx, list(touched), on, upto, touched)

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None:
        """Bulk: keep the facts and mark their seekers pending (every seeker, if the
        evaluation day moves); :meth:`settle` evaluates them once."""
        t = TABLES[tx.dialect]
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        on = self.evaluated_on(tx)
        if on is None or latest > on:
            self._set_state(tx, self.day_key, latest.isoformat())
            if self.partition.whole:
                tx.execute(t.PENDING_EVERY_SEEKER)
            else:
                every = dict.fromkeys(self._seeker_ids(tx), 0)
                self._mark_pending(tx, every, "(seeker_id) DO NOTHING")
        self._mark_pending(tx, _positions(self._mine(facts)), t.PENDING_KEEP_LATEST)

    def settle(self, tx: Tx, position: int, page: int = 2000) -> bool:
        """Evaluate one page of pending seekers for the evaluation day, on the log up to
        ``position`` (the tracking position)."""
        t = TABLES[tx.dialect]
        p = self.partition
        rows = (
            tx.execute(t.PENDING_PAGE, [page])
            if p.whole
            else tx.execute(t.PENDING_PAGE_IN, [p.lo, p.hi, page])
        )
        on = self.evaluated_on(tx)
        if not rows or on is None:
            return False
        pending = {str(r[0]): int(r[1]) for r in rows}
        self.reevaluate(tx, list(pending), on, position, pending)
        tx.execute(t.PENDING_DONE, [t.ids(list(pending))])
        return len(rows) == page

    def unsettled(self, tx: Tx, cap: int) -> int:
        """Seekers loaded in bulk and not yet evaluated (up to ``cap``): every partition's."""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM obligations_pending LIMIT {tx.sql.P}) p"
        return int(tx.execute(sql, [cap])[0][0])

    def _reevaluate_paged(
        self,
        tx: Tx,
        ids: Sequence[str],
        on: date,
        upto: int,
        positions: dict[str, int] | None = None,
        page: int = 2000,
    ) -> None:
        for i in range(0, len(ids), page):
            self.reevaluate(tx, ids[i : i + page], on, upto, positions)

    def start_from(self, tx: Tx, log_last_day: date) -> None:
        """Before applying the log from its start: evaluate for the log's last recorded day
        (or a later day already set), so a rebuild evaluates every seeker once."""
        on = self.evaluated_on(tx)
        if on is None or log_last_day > on:
            self._set_state(tx, self.day_key, log_last_day.isoformat())

    def revisit(self, tx: Tx, seeker_ids: Sequence[str]) -> None:
        """Evaluate these seekers again when the runner settles."""
        self._mark_pending(tx, dict.fromkeys(seeker_ids, 0), "(seeker_id) DO NOTHING")

    def reevaluate(
        self,
        tx: Tx,
        seeker_ids: Sequence[str],
        on: date,
        upto: int,
        positions: dict[str, int] | None = None,
    ) -> None:
        """Evaluate these seekers' obligations as on ``on`` from their facts in the log up to
        position ``upto``, and replace their rows. A seeker whose evaluation or rows fail is
        quarantined and keeps their last rows, marked stale."""
        known = QUARANTINE.for_seekers(tx, seeker_ids)
        by_seeker = self.facts_of(seeker_ids, upto, known)
        kept_out = {
            sid: next(e for e in entries if e.stage in KEPT_OUT).reason
            for sid, entries in known.items()
            if any(e.stage in KEPT_OUT for e in entries)
        }
        facts = {sid: by_seeker.get(sid, []) for sid in seeker_ids}
        at = positions or {}

        def compute(sid: str, fs: Sequence[Fact]) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
            effective = effective_facts(fs)  # (once, for the rules and for the place)
            found = evaluate(effective, on, self.rulesets, self.calendar, effective=True)
            items = [item_row(sid, i, o) for i, o in enumerate(found)]
            return items, (sid, *place_of(effective), at.get(sid, 0), kept_out.get(sid))

        results, failures = evaluate_each(NAME, facts, compute)
        failures += write_each(tx, NAME, results, _write_rows, facts, compute)
        QUARANTINE.settle(tx, known, list(results), failures)
        for failure in failures:
            _mark_stale(tx, failure, facts[failure.seeker_id], at.get(failure.seeker_id, 0))

    def facts_of(
        self, seeker_ids: Sequence[str], upto: int, known: Mapping[str, Sequence[Entry]]
    ) -> dict[str, list[Fact]]:
        """The seekers' facts in the log up to ``upto``, without those kept out (``known``:
        their quarantine entries)."""
        if self.history is None:
            raise RuntimeError("the obligations projection has no log to read: read_from(log)")
        without = {e.event_id for es in known.values() for e in es if e.stage in KEPT_OUT}
        return self.history.facts_of(seeker_ids, upto, {i for i in without if i})

    def kept_day(self, tx: Tx) -> date | None:
        return self.evaluated_on(tx)

    def evaluated_on(self, tx: Tx) -> date | None:
        """The day this partition's seekers are evaluated for. A partition without a day of
        its own starts from the least day of the partitions it overlaps, else the
        unpartitioned day; the unpartitioned projection answers the least partition day once
        partitioned workers keep the tables."""
        days = self._days(tx)
        parts = _partition_days(days)
        p = self.partition
        if p.whole:
            return min(parts.values()) if parts else days.get("evaluated_on")
        own = days.get(self.day_key)
        if own is not None:
            return own
        overlapping = [d for (lo, hi), d in parts.items() if p.overlaps(lo, hi)]
        return min(overlapping) if overlapping else days.get("evaluated_on")

    def _days(self, tx: Tx) -> dict[str, date]:
        return {
            str(k): date.fromisoformat(str(v))
            for k, v in tx.execute(
                "SELECT key, value FROM obligations_state WHERE substr(key, 1, 12) = 'evaluated_on'"
            )
        }

    def collapse_days(self, tx: Tx) -> None:
        """Every partition has the same day (an N-worker rebuild, before the swap): keep it
        as the unpartitioned day, drop the partitions' own."""
        day = self.evaluated_on(tx)
        tx.execute("DELETE FROM obligations_state WHERE substr(key, 1, 12) = 'evaluated_on'")
        if day is not None:
            self._set_state(tx, "evaluated_on", day.isoformat())

    def _set_state(self, tx: Tx, key: str, value: str) -> None:
        t = TABLES[tx.dialect]
        tx.execute(t.STATE_DELETE, [key])
        tx.execute(t.STATE_INSERT, [key, value])

    def change_day(self, tx: Tx, on: date, upto: int, *, page: int = 2000) -> int:
        """Re-evaluate every seeker for a new day (the day-change job), on the log up to
        ``upto`` (the tracking position); return how many."""
        self._set_state(tx, self.day_key, on.isoformat())
        ids = self._seeker_ids(tx)
        self._reevaluate_paged(tx, ids, on, upto, page=page)
        return len(ids)


def _upsert_seekers(tx: Tx, t: ObligationsTables, rows: Sequence[Sequence[Any]]) -> None:
    """Insert or replace seeker rows; a row's position never moves back."""
    tx.insert("obligations_seekers", SEEKER_COLUMNS, rows, on_conflict=t.SEEKERS_UPSERT)


def _write_rows(
    tx: Tx, results: Mapping[str, tuple[list[tuple[Any, ...]], tuple[Any, ...]]]
) -> None:
    """Replace these seekers' items and seeker rows."""
    t = TABLES[tx.dialect]
    tx.execute(t.ITEMS_DELETE, [t.ids(list(results))])
    tx.copy(
        "obligations_items",
        ITEM_COLUMNS,
        [row for items, _ in results.values() for row in items],
    )
    _upsert_seekers(tx, t, [seeker for _, seeker in results.values()])


def _mark_stale(tx: Tx, failure: Entry, facts: Sequence[Fact], position: int) -> None:
    """Keep a failed seeker's items, say why they are stale; a seeker without a row gets one
    (with their place when it can be worked out and written, else without)."""
    t = TABLES[tx.dialect]
    stale = failure.reason
    if tx.execute(t.SEEKER_EXISTS, [failure.seeker_id]):
        tx.execute(t.SEEKER_MARK_STALE, [stale, failure.seeker_id])
        return
    try:
        with savepoint(tx):
            _upsert_seekers(tx, t, [(failure.seeker_id, *place(facts), position, stale)])
            return
    except Exception as exc:
        if not is_poison(exc):
            raise
    _upsert_seekers(tx, t, [(failure.seeker_id, None, None, 0, None, position, stale)])


def _partition_days(days: Mapping[str, date]) -> dict[tuple[int, int], date]:
    """The partitions' own days, by bucket range."""
    out = {}
    for key, day in days.items():
        if key.startswith("evaluated_on:"):
            lo, _, hi = key.removeprefix("evaluated_on:").partition("-")
            out[int(lo), int(hi)] = day
    return out


def _positions(facts: Sequence[Fact]) -> dict[str, int]:
    """Each seeker's last log position in a batch (facts come in log order)."""
    return {f.seeker_id: f.position or 0 for f in facts}


def place(facts: Sequence[Fact]) -> tuple[str | None, str | None, int, str | None]:
    """Municipality now (:func:`~timeline.domain.scope.municipality_of`, the rule that decides a
    caller's scope), coach (latest assignment), whether the latest spell is open, and when it
    started."""
    return place_of(effective_facts(facts))


def place_of(effective: Sequence[Fact]) -> tuple[str | None, str | None, int, str | None]:
    """:func:`place` of a seeker's :func:`~timeline.domain.facts.effective_facts`."""
    coach = None
    for f in effective:
        if f.type == _COACH_ASSIGNED:
            coach = str(f.data.get("coach_id"))
    found = spells(effective)
    latest = found[-1] if found else None
    return (
        municipality_of(effective),
        coach,
        int(latest is not None and latest.ended_on is None),
        latest.started_on.isoformat() if latest else None,
    )
