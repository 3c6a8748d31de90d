"""Outcome statistics as tables, kept by the log.

Public tables (granted to ``timeline_reporter``; schema in docs/statistics-tables.md):

- ``outcomes_monthly`` — one row per (month, level, area, measure): the figure, its base, whether
  it is suppressed or provisional, and the log ``position`` it was last recomputed at;
- ``outcomes_state`` — ``horizon_day`` (the latest recorded day seen: months are published up to
  its month), the settings and the areas version used;
- ``outcomes_tracking`` — the log position applied.

Private working tables (personal: never granted to reporters):

- ``outcomes_work_facts`` — the projection's own copy of every seeker's facts;
- ``outcomes_work_contributions`` — what each seeker adds to each month (see ``seeker.py``);
- ``outcomes_quarantine`` — what failed, by seeker (``projections.quarantine``).

A quarantined seeker — one whose contributions cannot be computed or written, or some of whose
events could not be read — is **left out** of the statistics (their contributions are removed)
until a clean evaluation: published figures stay a function of the log and the quarantine, so
a rebuild gives the same rows, and ``outcomes_state.stale_seekers`` says how many persons are
left out. Keeping a seeker's last good contributions instead would make the figures depend on
when the bad event arrived.

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
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from projections.outcomes.aggregate import ROW_COLUMNS, Grouped, monthly_rows
from projections.outcomes.areas import Areas, load_areas
from projections.outcomes.measures import BY_NAME
from projections.outcomes.months import month_of, parse_month
from projections.outcomes.seeker import contributions
from projections.outcomes.settings import OutcomeSettings
from projections.quarantine import KEPT_OUT, Quarantine, evaluate_each, write_each
from projections.runtime import DatedView, Dialect, FactCopy, Tx, ViewDatabase
from timeline.application import TimelineApp
from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.facts import Fact
from timeline.domain.rules import Rulesets
from timeline.domain.zone import HELSINKI
from timeline.rulesets import default_rulesets

NAME = "outcomes"
PUBLIC_TABLES = ("outcomes_monthly", "outcomes_state", "outcomes_tracking")
PRIVATE_TABLES = ("outcomes_work_facts", "outcomes_work_contributions", "outcomes_work_pending")
FACTS = FactCopy("outcomes_work_facts")
QUARANTINE = Quarantine(NAME)
Key = tuple[Any, ...]  # month, municipality, item, value
_MEDIAN_ITEMS = ("outflow", "interview")


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

    def create_statements(self, dialect: Dialect) -> list[str]:
        big = "BIGINT" if dialect == "postgres" else "INTEGER"
        real = "DOUBLE PRECISION" if dialect == "postgres" else "REAL"
        return [
            FACTS.create_statement(dialect),
            "CREATE TABLE IF NOT EXISTS outcomes_work_contributions (seeker_id TEXT NOT NULL, "
            f"month TEXT NOT NULL, municipality TEXT NOT NULL, item TEXT NOT NULL, value {real})",
            "CREATE INDEX IF NOT EXISTS outcomes_work_contributions_seeker ON "
            "outcomes_work_contributions (seeker_id)",
            "CREATE INDEX IF NOT EXISTS outcomes_work_contributions_month ON "
            "outcomes_work_contributions (month)",
            "CREATE TABLE IF NOT EXISTS outcomes_monthly (month TEXT NOT NULL, "
            "level TEXT NOT NULL, area TEXT NOT NULL, measure TEXT NOT NULL, "
            f"value {real}, base INTEGER, "
            "suppressed INTEGER NOT NULL, provisional INTEGER NOT NULL, "
            f"position {big} NOT NULL, PRIMARY KEY (month, level, area, measure))",
            "CREATE INDEX IF NOT EXISTS outcomes_monthly_area ON outcomes_monthly (area, month)",
            "CREATE TABLE IF NOT EXISTS outcomes_state (key TEXT PRIMARY KEY, value TEXT)",
            "CREATE TABLE IF NOT EXISTS outcomes_work_pending (seeker_id TEXT PRIMARY KEY)",
        ]

    def tables(self) -> list[str]:
        return [*PRIVATE_TABLES, *PUBLIC_TABLES[:2]]  # the third public one is the tracking

    def drop_statements(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {t}" for t in self.tables()]

    # -- applying the log ----------------------------------------------------------------------

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None:
        """Bulk: keep the facts and mark their seekers pending (every seeker, if the horizon
        month moves); :meth:`settle` recomputes them and publishes once."""
        FACTS.keep(tx, facts)
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        old = self.horizon_day(tx)
        if old is None or latest > old:
            self._set_state(tx, "horizon_day", latest.isoformat())
        if old is None or month_of(latest) > month_of(old):
            tx.execute(
                "INSERT INTO outcomes_work_pending (seeker_id) SELECT DISTINCT seeker_id "
                "FROM outcomes_work_facts WHERE true ON CONFLICT (seeker_id) DO NOTHING"
            )
        else:
            tx.insert(
                "outcomes_work_pending",
                ("seeker_id",),
                [(sid,) for sid in dict.fromkeys(f.seeker_id for f in facts)],
                on_conflict="(seeker_id) DO NOTHING",
            )

    def settle(self, tx: Tx, position: int, page: int = 2000) -> bool:
        """Recompute one page of pending seekers; when none remain, publish every row as of
        ``position`` unless that is what is published already."""
        horizon = self.horizon_day(tx)
        if horizon is None:
            return False
        rows = tx.execute(
            f"SELECT seeker_id FROM outcomes_work_pending ORDER BY seeker_id LIMIT {tx.sql.P}",
            [page],
        )
        if rows:
            ids = [str(r[0]) for r in rows]
            if self.recompute(tx, ids, month_of(horizon)):  # publish again at the end
                tx.execute("DELETE FROM outcomes_state WHERE key = 'published_at'")
            marks = ",".join([tx.sql.P] * len(ids))
            tx.execute(f"DELETE FROM outcomes_work_pending WHERE seeker_id IN ({marks})", ids)
            return True
        published = tx.execute("SELECT value FROM outcomes_state WHERE key = 'published_at'")
        if not published or int(published[0][0]) != position:
            self.publish(tx, position, horizon)
        return False

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None:
        FACTS.keep(tx, facts)
        latest = max(f.recorded_at for f in facts).astimezone(HELSINKI).date()
        old = self.horizon_day(tx)
        touched = list(dict.fromkeys(f.seeker_id for f in facts))
        if old is None or latest > old:
            self._set_state(tx, "horizon_day", latest.isoformat())
        horizon = self.horizon_day(tx)
        assert horizon is not None
        if old is None or month_of(horizon) != month_of(old):
            ids = [r[0] for r in tx.execute("SELECT DISTINCT seeker_id FROM outcomes_work_facts")]
            changed = self.recompute(tx, sorted(ids), month_of(horizon))
        else:
            changed = self.recompute(tx, touched, month_of(horizon))
        # A new horizon day can change any month (provisional flags, follow-ups now known);
        # otherwise only the months whose contributions changed are published again.
        months = None if horizon != old else changed
        self.publish(tx, max(f.position or 0 for f in facts), horizon, months)

    def start_from(self, tx: Tx, log_last_day: date) -> None:
        """Before applying the log from its start: publish up to the log's last recorded day
        (or a later day already kept), so a rebuild computes every seeker for that horizon."""
        old = self.horizon_day(tx)
        if old is None or log_last_day > old:
            self._set_state(tx, "horizon_day", log_last_day.isoformat())

    def revisit(self, tx: Tx, seeker_ids: Sequence[str]) -> None:
        """Recompute these seekers when the runner settles, and publish again then."""
        tx.execute("DELETE FROM outcomes_state WHERE key = 'published_at'")
        tx.insert(
            "outcomes_work_pending",
            ("seeker_id",),
            [(sid,) for sid in seeker_ids],
            on_conflict="(seeker_id) DO NOTHING",
        )

    def recompute(
        self, tx: Tx, seeker_ids: Sequence[str], horizon: str, page: int = 500
    ) -> set[str]:
        """Recompute these seekers' contribution rows for months up to ``horizon``, replace
        those that changed, and return the months whose contributions changed. A quarantined
        seeker's contributions are removed."""
        changed: set[str] = set()
        for i in range(0, len(seeker_ids), page):
            chunk = list(seeker_ids[i : i + page])
            marks = ",".join([tx.sql.P] * len(chunk))
            old: dict[str, Counter[Key]] = defaultdict(Counter)
            for r in tx.execute(
                "SELECT seeker_id, month, municipality, item, value FROM "
                f"outcomes_work_contributions WHERE seeker_id IN ({marks})",
                chunk,
            ):
                old[r[0]][(r[1], r[2], r[3], None if r[4] is None else float(r[4]))] += 1
            by_seeker = FACTS.load(tx, chunk)
            known = QUARANTINE.for_seekers(tx, chunk)
            kept_out = {s for s, es in known.items() if any(e.stage in KEPT_OUT for e in es)}
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
                gone = ",".join([tx.sql.P] * len(left_out))
                tx.execute(
                    f"DELETE FROM outcomes_work_contributions WHERE seeker_id IN ({gone})",
                    left_out,
                )
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
        where, params = "", []
        if months is not None:
            params = sorted(months)
            where = f" WHERE month IN ({','.join([tx.sql.P] * len(params))})"
        self._set_state(tx, "published_at", str(position))
        self._set_state(tx, "stale_seekers", str(QUARANTINE.counts(tx)[1]))
        if months is not None and not months:
            return
        grouped = [
            Grouped(r[0], r[1], r[2], int(r[3]), int(r[4]), float(r[5]), int(r[6]), int(r[7]))
            for r in tx.execute(
                "SELECT month, municipality, item, COUNT(*), COUNT(DISTINCT seeker_id), "
                "COALESCE(SUM(value), 0), COUNT(value), "
                "SUM(CASE WHEN value = 0 THEN 1 ELSE 0 END) "
                f"FROM outcomes_work_contributions{where} GROUP BY month, municipality, item",
                params,
            )
        ]
        marks = ",".join([tx.sql.P] * len(_MEDIAN_ITEMS))
        values = [
            (str(r[0]), str(r[1]), str(r[2]), float(r[3]))
            for r in tx.execute(
                "SELECT month, municipality, item, value FROM outcomes_work_contributions "
                f"{where or ' WHERE true'} AND item IN ({marks}) AND value IS NOT NULL",
                [*params, *_MEDIAN_ITEMS],
            )
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
        tx.execute(f"DELETE FROM outcomes_monthly{where}", params)
        tx.copy("outcomes_monthly", ROW_COLUMNS, rows)
        self._set_state(tx, "settings", self.settings.to_json())
        self._set_state(tx, "areas_version", self.areas.version)

    def kept_day(self, tx: Tx) -> date | None:
        return self.horizon_day(tx)

    def horizon_day(self, tx: Tx) -> date | None:
        rows = tx.execute("SELECT value FROM outcomes_state WHERE key = 'horizon_day'")
        return date.fromisoformat(rows[0][0]) if rows else None

    def _set_state(self, tx: Tx, key: str, value: str) -> None:
        p = tx.sql.P
        tx.execute(f"DELETE FROM outcomes_state WHERE key = {p}", [key])
        tx.execute(f"INSERT INTO outcomes_state (key, value) VALUES ({p}, {p})", [key, value])


def _write_contributions(tx: Tx, replaced: Mapping[str, Counter[Key]]) -> None:
    ids = list(replaced)
    marks = ",".join([tx.sql.P] * len(ids))
    tx.execute(f"DELETE FROM outcomes_work_contributions WHERE seeker_id IN ({marks})", ids)
    tx.copy(
        "outcomes_work_contributions",
        ("seeker_id", "month", "municipality", "item", "value"),
        [(sid, *k) for sid, new in replaced.items() for k in new.elements()],
    )


class OutcomesView(DatedView):
    """Reads and upkeep of the outcome statistics tables. A backlog (a rebuild, a first
    catch-up) is loaded in bulk and published once at its end."""

    def __init__(
        self,
        app: TimelineApp,
        db: ViewDatabase | None = None,
        projection: OutcomesProjection | None = None,
    ) -> None:
        self.projection = projection or OutcomesProjection()
        super().__init__(app, db or ViewDatabase(app.settings), self.projection)

    def state(self) -> dict[str, str]:
        with self.db.transaction() as tx:
            return {str(k): str(v) for k, v in tx.execute("SELECT key, value FROM outcomes_state")}

    def knows_area(self, area: str) -> bool:
        """Whether ``area`` can name rows: ``all``, ``pilot``, ``non_pilot``, an area id of the
        areas in use, or a municipality code (three digits)."""
        known = {"all", "pilot", "non_pilot"} | {a.id for a in self.projection.areas.areas}
        return area in known or (len(area) == 3 and area.isdigit())

    def monthly(
        self,
        from_month: str,
        to_month: str,
        area: str | None = None,
        measure: str | None = None,
    ) -> list[dict[str, Any]]:
        """Published rows for months ``from_month``..``to_month`` (``YYYY-MM``), optionally of
        one area (a municipality code, an area id, ``all``, ``pilot`` or ``non_pilot``) and one
        measure. Raises ValueError naming a bad argument."""
        parse_month(from_month)
        parse_month(to_month)
        if measure is not None and measure not in BY_NAME:
            raise ValueError(f"unknown measure {measure!r}; known: {', '.join(BY_NAME)}")
        p = self.db.sql.P
        sql = (
            f"SELECT {','.join(ROW_COLUMNS)} FROM outcomes_monthly "
            f"WHERE month >= {p} AND month <= {p}"
        )
        params: list[Any] = [from_month, to_month]
        if area is not None:
            sql += f" AND area = {p}"
            params.append(area)
        if measure is not None:
            sql += f" AND measure = {p}"
            params.append(measure)
        sql += " ORDER BY month, level, area, measure"
        with self.db.transaction() as tx:
            rows = tx.execute(sql, params)
        out = []
        for row in rows:
            item = dict(zip(ROW_COLUMNS, row, strict=True))
            item["suppressed"] = bool(item["suppressed"])
            item["provisional"] = bool(item["provisional"])
            item["value"] = None if item["value"] is None else float(item["value"])
            item["position"] = int(item["position"])
            out.append(item)
        return out
