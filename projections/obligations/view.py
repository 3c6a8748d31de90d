"""The obligations view: reads of the obligations tables, and their upkeep (catch-up, the day
change, rebuilds) through :class:`~projections.runtime.DatedView`.

Tables: see ``tables.py``; what the log does to them: ``projection.py``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from projections.obligations.projection import QUARANTINE, ObligationsProjection
from projections.obligations.tables import ITEM_COLUMNS, TABLES, item_dict
from projections.runtime import DatedView, EventLog, ViewDatabase
from projections.runtime.quarantine import describe, is_poison
from timeline.domain.rules import evaluate


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
    """Reads and upkeep of the obligations tables, kept from ``log`` (the
    :class:`~projections.runtime.EventLog` port: ``TimelineApp`` is one) in ``db`` (by default
    the log's own database)."""

    def __init__(
        self,
        log: EventLog,
        db: ViewDatabase | None = None,
        projection: ObligationsProjection | None = None,
    ) -> None:
        self.projection = projection or ObligationsProjection()
        super().__init__(log, db, self.projection)
        self.sql = TABLES[self.db.dialect]

    def evaluated_on(self) -> date | None:
        with self.db.read() as tx:
            return self.projection.evaluated_on(tx)

    def change_day(self, on: date) -> int:
        """Re-evaluate this view's seekers (its partition's) for ``on``; the unpartitioned
        view steps aside (0) while partitioned workers keep the tables."""
        if self.runner.stepping_aside():
            return 0
        with self.db.transaction() as tx:
            return self.projection.change_day(tx, on, self.runner.tracking.position(tx))

    def check_day(self, on: date) -> None:
        """Refuse a day no ruleset covers (:class:`~timeline.domain.errors.NoRuleset`)."""
        self.projection.rulesets.covering(on)

    def for_seeker(
        self, seeker_id: str, on: date, *, as_of: datetime | None = None
    ) -> list[dict[str, Any]]:
        """One seeker's obligations as on ``on``: the stored rows when ``on`` is the day they
        were evaluated for; otherwise evaluated from the seeker's facts in the log up to the
        projection's position (recorded up to ``as_of`` when given). A day no ruleset covers
        (before 2 May 2022) is refused with :class:`~timeline.domain.errors.NoRuleset`, not
        answered with nothing."""
        self.check_day(on)
        if as_of is None:  # one statement: the evaluation day and, if it is ``on``, the rows
            rows = self.db.query(self.sql.SEEKER_ITEMS, [seeker_id, seeker_id])
            if rows and rows[0][0] == on.isoformat():
                # a stale seeker's items are from an earlier evaluation: statuses as on ``on``
                again = on if rows[0][1] is not None else None
                return [item_dict(r[2:], again) for r in rows if r[2] is not None]
        with self.db.read() as tx:
            upto = self.runner.tracking.position(tx)
            known = QUARANTINE.for_seekers(tx, [seeker_id])
        facts = self.projection.facts_of([seeker_id], upto, known).get(seeker_id, [])
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
        return bool(self.db.query(self.sql.SEEKER_EXISTS, [seeker_id]))

    def stale(self, seeker_id: str) -> str | None:
        """Why this seeker's rows are not current (quarantined), or None when they are."""
        rows = self.db.query(self.sql.SEEKER_STALE, [seeker_id])
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def coaches(self, municipality: str | None, limit: int = 500) -> list[str]:
        """The coaches of seekers with an open spell (in ``municipality`` when given), by id:
        what a worklist may be filtered by."""
        p = self.sql.P
        where = "spell_open = 1 AND coach_id IS NOT NULL" + (
            f" AND municipality = {p}" if municipality else ""
        )
        sql = f"SELECT DISTINCT coach_id FROM obligations_seekers WHERE {where} ORDER BY coach_id"
        params: list[Any] = [municipality] if municipality else []
        rows = self.db.query(f"{sql} LIMIT {p}", [*params, limit])
        return [str(r[0]) for r in rows]

    def worklist(
        self,
        on: date,
        *,
        status: str | None = None,
        municipality: str | None = None,
        coach: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """What is open or overdue as on ``on`` (or has ``status``) in seekers' open spells, of
        one ``kind`` when given, by due date, flags (no due date) last by their period's end
        (``limit`` rows after the first ``offset``). Statuses are derived in SQL from
        ``due_on``/``met_on`` for ``on``; the set of obligations is the one evaluated for
        ``evaluated_on`` (today, once the day-change job has run). Only the open spell's rows are
        listed (earlier spells' obligations are history), so re-deriving a status for ``on``
        never runs past a spell's end (rows of ended spells carry statuses already stopped at the
        end). A day no ruleset covers is refused with :class:`~timeline.domain.errors.NoRuleset`."""
        self.check_day(on)
        sql = self.sql.worklist(
            municipality=bool(municipality), coach=bool(coach), status=bool(status), kind=bool(kind)
        )
        params: list[Any] = [on.isoformat(), on.isoformat()]
        params += [v for v in (municipality, coach, kind, status) if v]
        params += [limit, offset]
        with self.db.read() as tx:
            rows = tx.execute(sql, params)
        out = []
        for row in rows:
            item = item_dict(row[: len(ITEM_COLUMNS)], on)
            item["municipality"], item["coach_id"], item["status"], item["stale"] = row[
                len(ITEM_COLUMNS) :
            ]
            out.append(item)
        return out
