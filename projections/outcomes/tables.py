"""The outcome statistics' tables: their DDL and every statement the projection and the view
run, as named statements per dialect (``TABLES[tx.dialect]``). Nothing rewrites a statement;
the comment above each gives its parameters, in order. A set of seeker ids or months is one
parameter, :meth:`OutcomesTables.many` of the list (``= ANY(array)`` on PostgreSQL,
``json_each`` on SQLite).

Public tables (granted to ``timeline_reporter``; schema in docs/statistics-tables.md):

- ``outcomes_monthly`` — one row per (month, level, area, measure): the figure, its base, whether
  it is suppressed or provisional, and the log ``position`` it was last recomputed at;
- ``outcomes_state`` — ``horizon_day`` (the latest recorded day seen: months are published up to
  its month), ``published_at``, ``stale_seekers``, the settings and the areas version used;
- ``outcomes_tracking`` — the log position applied.

Private working tables (personal: never granted to reporters):

- ``outcomes_work_seekers`` — every seeker seen (whose facts it reads again from the log when
  they must be recomputed);
- ``outcomes_work_contributions`` — what each seeker adds to each month (see ``seeker.py``);
- ``outcomes_work_pending`` — seekers loaded in bulk and not yet recomputed;
- ``outcomes_quarantine`` — what failed, by seeker (``projections.runtime.quarantine``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from projections.outcomes.aggregate import ROW_COLUMNS
from projections.runtime import Dialect

NAME = "outcomes"
PUBLIC_TABLES = ("outcomes_monthly", "outcomes_state", "outcomes_tracking")
PRIVATE_TABLES = (
    "outcomes_work_seekers",
    "outcomes_work_contributions",
    "outcomes_work_pending",
)
#: tables earlier releases made and this one drops: the copy of every fact
LEGACY_TABLES = ("outcomes_work_facts",)
CONTRIBUTION_COLUMNS = ("seeker_id", "month", "municipality", "item", "value")
#: the items whose medians are published (their values are read one by one)
MEDIAN_ITEMS = ("outflow", "interview")
_MEDIANS = ",".join(f"'{i}'" for i in MEDIAN_ITEMS)
_GROUPED = (
    "SELECT month, municipality, item, COUNT(*), COUNT(DISTINCT seeker_id), "
    "COALESCE(SUM(value), 0), COUNT(value), SUM(CASE WHEN value = 0 THEN 1 ELSE 0 END) "
    "FROM outcomes_work_contributions"
)
_VALUES = (
    "SELECT month, municipality, item, value FROM outcomes_work_contributions "
    f"WHERE item IN ({_MEDIANS}) AND value IS NOT NULL"
)


@dataclass(frozen=True)
class OutcomesTables:
    """The outcome statistics' statements in one dialect."""

    CREATE: Sequence[str]
    #: (list of seeker ids or months) -> the parameter that stands for them
    many: Callable[[Sequence[str]], Any]
    #: (key) -> (value,)
    STATE_GET: str
    #: () -> (key, value) of every state entry
    STATE_ALL: str
    #: (key)
    STATE_DELETE: str
    #: (key, value)
    STATE_INSERT: str
    #: () -> every seeker seen
    EVERY_SEEKER: str
    #: () mark every seeker seen pending
    PENDING_EVERY_SEEKER: str
    #: () fill ``outcomes_work_seekers`` from an earlier release's copy of every fact
    SEEKERS_FROM_LEGACY: str
    #: (limit) -> (seeker_id,) of pending seekers, by id
    PENDING_PAGE: str
    #: (seeker ids)
    PENDING_DONE: str
    #: (seeker ids) -> the contribution columns of these seekers
    CONTRIBUTIONS_OF: str
    #: (seeker ids)
    CONTRIBUTIONS_DELETE: str
    #: () / (months) -> month, municipality, item, rows, seekers, sum, values, zeros
    GROUPED: str
    GROUPED_MONTHS: str
    #: () / (months) -> month, municipality, item, value of the median items' values
    VALUES: str
    VALUES_MONTHS: str
    #: () / (months)
    MONTHLY_DELETE: str
    MONTHLY_DELETE_MONTHS: str
    P: str

    def monthly(self, *, area: bool, measure: bool) -> str:
        """(from_month, to_month, [area], [measure]) -> published rows (:data:`ROW_COLUMNS`)
        in order of month, level, area and measure."""
        p = self.P
        return (
            f"SELECT {','.join(ROW_COLUMNS)} FROM outcomes_monthly "
            f"WHERE month >= {p} AND month <= {p}"
            + (f" AND area = {p}" if area else "")
            + (f" AND measure = {p}" if measure else "")
            + " ORDER BY month, level, area, measure"
        )


def _tables(
    p: str, big: str, real: str, in_many: str, many: Callable[[Sequence[str]], Any]
) -> OutcomesTables:
    return OutcomesTables(
        CREATE=(
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
            "CREATE TABLE IF NOT EXISTS outcomes_work_seekers (seeker_id TEXT PRIMARY KEY)",
        ),
        many=many,
        STATE_GET=f"SELECT value FROM outcomes_state WHERE key = {p}",
        STATE_ALL="SELECT key, value FROM outcomes_state",
        STATE_DELETE=f"DELETE FROM outcomes_state WHERE key = {p}",
        STATE_INSERT=f"INSERT INTO outcomes_state (key, value) VALUES ({p}, {p})",
        EVERY_SEEKER="SELECT seeker_id FROM outcomes_work_seekers",
        PENDING_EVERY_SEEKER="INSERT INTO outcomes_work_pending (seeker_id) "
        "SELECT seeker_id FROM outcomes_work_seekers WHERE true "
        "ON CONFLICT (seeker_id) DO NOTHING",
        SEEKERS_FROM_LEGACY="INSERT INTO outcomes_work_seekers (seeker_id) "
        "SELECT DISTINCT seeker_id FROM outcomes_work_facts WHERE true "
        "ON CONFLICT (seeker_id) DO NOTHING",
        PENDING_PAGE=f"SELECT seeker_id FROM outcomes_work_pending ORDER BY seeker_id LIMIT {p}",
        PENDING_DONE=f"DELETE FROM outcomes_work_pending WHERE seeker_id {in_many}",
        CONTRIBUTIONS_OF=f"SELECT {','.join(CONTRIBUTION_COLUMNS)} FROM "
        f"outcomes_work_contributions WHERE seeker_id {in_many}",
        CONTRIBUTIONS_DELETE=f"DELETE FROM outcomes_work_contributions WHERE seeker_id {in_many}",
        GROUPED=f"{_GROUPED} GROUP BY month, municipality, item",
        GROUPED_MONTHS=f"{_GROUPED} WHERE month {in_many} GROUP BY month, municipality, item",
        VALUES=_VALUES,
        VALUES_MONTHS=f"{_VALUES} AND month {in_many}",
        MONTHLY_DELETE="DELETE FROM outcomes_monthly",
        MONTHLY_DELETE_MONTHS=f"DELETE FROM outcomes_monthly WHERE month {in_many}",
        P=p,
    )


def _as_json(values: Sequence[str]) -> str:
    return json.dumps(list(values))


TABLES: Mapping[Dialect, OutcomesTables] = {
    "sqlite": _tables("?", "INTEGER", "REAL", "IN (SELECT value FROM json_each(?))", _as_json),
    "postgres": _tables("%s", "BIGINT", "DOUBLE PRECISION", "= ANY(%s)", list),
}
