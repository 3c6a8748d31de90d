"""The outcomes projection: what the log does to the statistics tables (``tables.py``).

Incremental equals rebuilt: a seeker's contributions are a pure function of (their facts, the
horizon month, settings, rulesets, calendar). A batch recomputes the seekers it touches — every
seeker when the horizon month moves — and then recomputes the published rows of the months
whose contributions changed (every month when the horizon day moves) from the contributions (a
GROUP BY in SQL plus the area roll-up in Python), stamping them with the batch's last position;
a month's rows depend only on its contributions and the horizon day. So after catching up
every row's figures equal the row a rebuild computes, ``published_at`` in ``outcomes_state`` is
the tracking position, and each row's ``position`` is the one it was last recomputed at (a
month nothing changed in keeps its older one). A backlog longer than one batch (a rebuild, a
first catch-up) is loaded in bulk instead: facts kept and seekers marked in
``outcomes_work_pending``, then recomputed once and published once at the end. A rebuild
starts from the log's last recorded day (or a later kept one), like the obligations
projection, so it evaluates with the same horizon.

A quarantined seeker — one whose contributions cannot be computed or written, or some of whose
events could not be read — is **left out** of the statistics (their contributions are removed)
until a clean evaluation: published figures stay a function of the log and the quarantine, so
a rebuild gives the same rows, and ``outcomes_state.stale_seekers`` says how many persons are
left out. Keeping a seeker's last good contributions instead would make the figures depend on
when the bad event arrived."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from projections.outcomes.aggregate import ROW_COLUMNS, Grouped, monthly_rows
from projections.outcomes.areas import Areas, load_areas
from projections.outcomes.months import month_of
from projections.outcomes.seeker import contributions
from projections.outcomes.settings import OutcomeSettings
from projections.outcomes.tables import (
    CONTRIBUTION_COLUMNS,
    LEGACY_TABLES,
    NAME,
    PRIVATE_TABLES,
    PUBLIC_TABLES,
    TABLES,
)
from projections.runtime import Dialect, SeekerHistory, Tx
from projections.runtime.quarantine import KEPT_OUT, Quarantine, evaluate_each, write_each
from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.facts import Fact
from timeline.domain.rules import Rulesets
from timeline.domain.zone import HELSINKI
from timeline.rulesets import default_rulesets

QUARANTINE = Quarantine(NAME)
Key = tuple[Any, ...]  # month, municipality, item, value


class OutcomesProjection:
    name = NAME

    def __init__(
        self,
        settings: OutcomeSettings | None = None,
        areas: Areas | None = None,
        rulesets: Rulesets | None = None,
        calendar: WorkingDayCalendar = MONDAY_TO_FRIDAY,
    ) -> None:
        self.settings = settings or OutcomeSettings()
        self.areas = areas or load_areas()
        self.rulesets = rulesets or default_rulesets()
        self.calendar = calendar
        self.history: SeekerHistory | None = None

    def read_from(self, history: SeekerHistory) -> None:
        self.history = history

    def create_statements(self, dialect: Dialect) -> list[str]:
        return list(TABLES[dialect].CREATE)

    def tables(self) -> list[str]:
        return [*PRIVATE_TABLES, *PUBLIC_TABLES[:2]]  # the third public one is the tracking

    def drop_statements(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {t}" for t in (*self.tables(), *LEGACY_TABLES)]

    def upgrade(self, tx: Tx) -> None:
        """Earlier releases kept a copy of every fact (``outcomes_work_facts``) and found the
        seekers there: take the seekers from it, then drop it (the projection reads a seeker's
        facts again from the log when it must recompute them)."""
        for table in LEGACY_TABLES:
            if tx.execute(tx.sql.COLUMNS_OF, [table]):
                tx.execute(TABLES[tx.dialect].SEEKERS_FROM_LEGACY)
                tx.execute(f"DROP TABLE {table}")

    def _keep_seekers(self, tx: Tx, facts: Sequence[Fact]) -> list[str]:
        """Record the batch's seekers among every seeker seen; return them, in log order."""
        touched = list(dict.fromkeys(f.seeker_id for f in facts))
        tx.insert(
            "outcomes_work_seekers",
            ("seeker_id",),
            [(sid,) for sid in touched],
            on_conflict="(seeker_id) DO NOTHING",
        )
        return touched

    # -- applying the log ----------------------------------------------------------------------

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None:
        """Bulk: keep the facts and mark their seekers pending (every seeker, if the horizon
        month moves); :meth:`settle` recomputes them and publishes once."""
        touched = self._keep_seekers(tx, facts)
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        old = self.horizon_day(tx)
        if old is None or latest > old:
            self._set_state(tx, "horizon_day", latest.isoformat())
        if old is None or month_of(latest) > month_of(old):
            tx.execute(TABLES[tx.dialect].PENDING_EVERY_SEEKER)
        else:
            tx.insert(
                "outcomes_work_pending",
                ("seeker_id",),
                [(sid,) for sid in touched],
                on_conflict="(seeker_id) DO NOTHING",
            )

    def settle(self, tx: Tx, position: int, page: int = 2000) -> bool:
        """Recompute one page of pending seekers; when none remain, publish every row as of
        ``position`` unless that is what is published already."""
        horizon = self.horizon_day(tx)
        if horizon is None:
            return False
        t = TABLES[tx.dialect]
        rows = tx.execute(t.PENDING_PAGE, [page])
        if rows:
            ids = [str(r[0]) for r in rows]
            if self.recompute(tx, ids, month_of(horizon), position):  # publish again at the end
                tx.execute(t.STATE_DELETE, ["published_at"])
            tx.execute(t.PENDING_DONE, [t.many(ids)])
            return True
        published = tx.execute(t.STATE_GET, ["published_at"])
        if not published or int(published[0][0]) != position:
            self.publish(tx, position, horizon)
        return False

    def unsettled(self, tx: Tx, cap: int) -> int:
        """Seekers loaded in bulk and not yet recomputed (up to ``cap``)."""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM outcomes_work_pending LIMIT {tx.sql.P}) p"
        return int(tx.execute(sql, [cap])[0][0])

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None:
        touched = self._keep_seekers(tx, facts)
        upto = max(f.position or 0 for f in facts)  # the log as applied once this batch is
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        old = self.horizon_day(tx)
        if old is None or latest > old:
            self._set_state(tx, "horizon_day", latest.isoformat())
        horizon = self.horizon_day(tx)
        assert horizon is not None
        if old is None or month_of(horizon) != month_of(old):
            ids = [r[0] for r in tx.execute(TABLES[tx.dialect].EVERY_SEEKER)]
            changed = self.recompute(tx, sorted(ids), month_of(horizon), upto)
        else:
            changed = self.recompute(tx, touched, month_of(horizon), upto)
        # A new horizon day can change any month (provisional flags, follow-ups now known);
        # otherwise only the months whose contributions changed are published again.
        months = None if horizon != old else changed
        self.publish(tx, upto, horizon, months)

    def start_from(self, tx: Tx, log_last_day: date) -> None:
        """Before applying the log from its start: publish up to the log's last recorded day
        (or a later day already kept), so a rebuild computes every seeker for that horizon."""
        old = self.horizon_day(tx)
        if old is None or log_last_day > old:
            self._set_state(tx, "horizon_day", log_last_day.isoformat())

    def revisit(self, tx: Tx, seeker_ids: Sequence[str]) -> None:
        """Recompute these seekers when the runner settles, and publish again then."""
        tx.execute(TABLES[tx.dialect].STATE_DELETE, ["published_at"])
        tx.insert(
            "outcomes_work_pending",
            ("seeker_id",),
            [(sid,) for sid in seeker_ids],
            on_conflict="(seeker_id) DO NOTHING",
        )

    def recompute(
        self, tx: Tx, seeker_ids: Sequence[str], horizon: str, upto: int, page: int = 500
    ) -> set[str]:
        """Recompute these seekers' contribution rows for months up to ``horizon`` from their
        facts in the log up to position ``upto``, replace those that changed, and return the
        months whose contributions changed. A quarantined seeker's contributions are
        removed."""
        if self.history is None:
            raise RuntimeError("the outcomes projection has no log to read: read_from(log)")
        t = TABLES[tx.dialect]
        changed: set[str] = set()
        for i in range(0, len(seeker_ids), page):
            chunk = list(seeker_ids[i : i + page])
            old: dict[str, Counter[Key]] = defaultdict(Counter)
            for r in tx.execute(t.CONTRIBUTIONS_OF, [t.many(chunk)]):
                old[r[0]][(r[1], r[2], r[3], None if r[4] is None else float(r[4]))] += 1
            known = QUARANTINE.for_seekers(tx, chunk)
            kept_out = {s for s, es in known.items() if any(e.stage in KEPT_OUT for e in es)}
            by_seeker = self.history.facts_of([s for s in chunk if s not in kept_out], upto)
            facts = {s: by_seeker.get(s, []) for s in chunk if s not in kept_out}

            def compute(_: str, fs: Sequence[Fact]) -> Counter[Key]:
                return Counter(
                    (c.month, c.municipality, c.item, None if c.value is None else float(c.value))
                    for c in contributions(fs, horizon, self.settings, self.rulesets, self.calendar)
                )

            results, failures = evaluate_each(NAME, facts, compute)
            replaced = {s: new for s, new in results.items() if new != old.get(s, Counter())}
            failures += write_each(tx, NAME, replaced, _write_contributions, facts, compute)
            failed = {f.seeker_id for f in failures}
            QUARANTINE.settle(tx, known, [s for s in results if s not in failed], failures)
            left_out = [s for s in [*kept_out, *failed] if old.get(s)]
            if left_out:
                tx.execute(t.CONTRIBUTIONS_DELETE, [t.many(left_out)])
            for sid in left_out:
                changed |= {k[0] for k in old[sid]}
            for sid, new in replaced.items():
                changed |= {k[0] for k in (new - old[sid]) + (old[sid] - new)}
        return changed

    def publish(
        self, tx: Tx, position: int, horizon_day: date, months: Collection[str] | None = None
    ) -> None:
        """Recompute the published rows of ``months`` (default: every month) from the
        contributions, stamped with ``position``; record that every row is current as of
        ``position`` (``published_at``). Rows of a month depend only on that month's
        contributions and the horizon day (suppression works within a month)."""
        t = TABLES[tx.dialect]
        self._set_state(tx, "published_at", str(position))
        self._set_state(tx, "stale_seekers", str(QUARANTINE.counts(tx)[1]))
        if months is not None and not months:
            return
        some = [] if months is None else [t.many(sorted(months))]
        grouped = [
            Grouped(r[0], r[1], r[2], int(r[3]), int(r[4]), float(r[5]), int(r[6]), int(r[7]))
            for r in tx.execute(t.GROUPED if months is None else t.GROUPED_MONTHS, some)
        ]
        values = [
            (str(r[0]), str(r[1]), str(r[2]), float(r[3]))
            for r in tx.execute(t.VALUES if months is None else t.VALUES_MONTHS, some)
        ]
        rows = monthly_rows(
            grouped,
            values,
            areas=self.areas,
            horizon_day=horizon_day,
            position=position,
            settings=self.settings,
            calendar=self.calendar,
        )
        tx.execute(t.MONTHLY_DELETE if months is None else t.MONTHLY_DELETE_MONTHS, some)
        tx.copy("outcomes_monthly", ROW_COLUMNS, rows)
        self._set_state(tx, "settings", self.settings.to_json())
        self._set_state(tx, "areas_version", self.areas.version)

    def kept_day(self, tx: Tx) -> date | None:
        return self.horizon_day(tx)

    def horizon_day(self, tx: Tx) -> date | None:
        rows = tx.execute(TABLES[tx.dialect].STATE_GET, ["horizon_day"])
        return date.fromisoformat(rows[0][0]) if rows else None

    def _set_state(self, tx: Tx, key: str, value: str) -> None:
        t = TABLES[tx.dialect]
        tx.execute(t.STATE_DELETE, [key])
        tx.execute(t.STATE_INSERT, [key, value])


def _write_contributions(tx: Tx, replaced: Mapping[str, Counter[Key]]) -> None:
    t = TABLES[tx.dialect]
    tx.execute(t.CONTRIBUTIONS_DELETE, [t.many(list(replaced))])
    tx.copy(
        "outcomes_work_contributions",
        CONTRIBUTION_COLUMNS,
        [(sid, *k) for sid, new in replaced.items() for k in new.elements()],
    )
