"""From per-seeker contributions (grouped by month, municipality and item) to the published
monthly rows: rolled up to every area level, measures computed, small cells suppressed.
Pure: the grouped numbers, the areas, the horizon day and the settings are inputs."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from projections.outcomes.areas import Areas
from projections.outcomes.measures import MEASURES, STOCK_PARTS
from projections.outcomes.months import count_date, last_day
from projections.outcomes.settings import OUTFLOW_CATEGORIES, OutcomeSettings
from projections.outcomes.suppression import suppress, suppress_derived
from timeline.domain.calendar import WorkingDayCalendar, add_months

Cell = tuple[str, str, str]  # month, level, area
Key = tuple[str, str, str, str]  # month, level, area, measure
ROW_COLUMNS = (
    "month",
    "level",
    "area",
    "measure",
    "value",
    "base",
    "suppressed",
    "provisional",
    "position",
)


@dataclass
class Bucket:
    """An item's numbers in one cell: rows, distinct persons, sum and count of known values,
    rows whose value is 0, and (for medians) the values themselves."""

    n: int = 0
    persons: int = 0
    total: float = 0.0
    known: int = 0
    zeros: int = 0
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Grouped:
    """One row of ``GROUP BY month, municipality, item`` over the contributions."""

    month: str
    municipality: str
    item: str
    n: int
    persons: int
    total: float
    known: int
    zeros: int


def cells_of(month: str, municipality: str, areas: Areas, cd: date) -> list[Cell]:
    """The cells a municipality's figures of a month add to."""
    out: list[Cell] = [(month, "all", "all"), (month, "municipality", municipality)]
    ea = areas.employment_area(municipality, cd)
    if ea is not None:
        out.append((month, "employment_area", ea))
    pa = areas.pilot_area(municipality, cd)
    if pa is not None:
        out.append((month, "pilot_area", pa))
    out.append((month, "pilot", "pilot" if pa else "non_pilot"))
    return out


def monthly_rows(
    grouped: Iterable[Grouped],
    values: Iterable[tuple[str, str, str, float]],
    *,
    areas: Areas,
    horizon_day: date,
    position: int,
    settings: OutcomeSettings,
    calendar: WorkingDayCalendar,
) -> list[tuple[Any, ...]]:
    """The published rows (``ROW_COLUMNS``) for every month and area present."""
    buckets: dict[Cell, dict[str, Bucket]] = defaultdict(lambda: defaultdict(Bucket))
    count_dates: dict[str, date] = {}
    municipalities: dict[str, set[str]] = defaultdict(set)

    seen: dict[tuple[str, str], list[Cell]] = {}

    def cells(month: str, municipality: str) -> list[Cell]:
        found = seen.get((month, municipality))
        if found is None:
            count_dates[month] = count_date(month, calendar)
            municipalities[month].add(municipality)
            found = seen[(month, municipality)] = cells_of(
                month, municipality, areas, count_dates[month]
            )
        return found

    for g in grouped:
        for cell in cells(g.month, g.municipality):
            b = buckets[cell][g.item]
            b.n += g.n
            b.persons += g.persons
            b.total += g.total
            b.known += g.known
            b.zeros += g.zeros
    for month, municipality, item, number in values:
        for cell in cells(month, municipality):
            buckets[cell][item].values.append(number)

    figures: dict[Key, tuple[float | None, int]] = {}
    for cell, items in buckets.items():
        for name, (value, base) in _measures(cell[0], items, horizon_day).items():
            figures[(*cell, name)] = (value, base)

    counts = {k: base for k, (_, base) in figures.items() if _kind(k[3]) == "count"}
    hidden = suppress(
        counts, _relations(counts, municipalities, areas, count_dates), settings.min_cell
    )
    derived = {k: _deps(k) for k in figures if _kind(k[3]) == "derived"}
    bases = {k: figures[k][1] for k in derived}
    hidden |= suppress_derived(derived, bases, hidden, settings.min_cell)

    rows = []
    for key in sorted(figures):
        value, base = figures[key]
        shut = key in hidden
        provisional = int(count_dates[key[0]] > horizon_day or last_day(key[0]) > horizon_day)
        rows.append(
            (
                *key,
                None if shut else value,
                None if shut else base,
                int(shut),
                provisional,
                position,
            )
        )
    return rows


_KINDS = {m.name: m.kind for m in MEASURES}
_DEPS = {m.name: m.depends_on for m in MEASURES}


def _kind(measure: str) -> str:
    return _KINDS[measure]


def _deps(key: Key) -> list[Key]:
    return [(key[0], key[1], key[2], d) for d in _DEPS[key[3]]]


def _pct(part: float, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 4)


def _quartiles(values: Sequence[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(sorted(values), n=4, method="inclusive")
    return round(q1, 4), round(q2, 4), round(q3, 4)


def _measures(  # noqa: PLR0912 (one branch per group of measures)
    month: str, items: dict[str, Bucket], horizon_day: date
) -> dict[str, tuple[float | None, int]]:
    """Each measure of one cell as (value, base persons). Absent groups give no measure."""
    out: dict[str, tuple[float | None, int]] = {}
    get = items.get
    if (total := get("stock_total")) is not None:
        for name in (
            "stock_total",
            *STOCK_PARTS,
            "stock_laid_off",
            "long_term_12m",
            "long_term_24m",
            "comparable_long_term",
        ):
            b = items.get(name)
            n = b.persons if b else 0
            out[name] = (float(n), n)
        active, unemployed = out["stock_in_service"][1], out["stock_unemployed"][1]
        out["activation_rate"] = (_pct(active, active + unemployed), active + unemployed)
        del total
    if (b := get("inflow")) is not None:
        out["inflow"] = (float(b.n), b.persons)
    if (b := get("outflow")) is not None:
        out["outflow_total"] = (float(b.n), b.persons)
        for c in OUTFLOW_CATEGORIES:
            part = items.get(f"outflow_{c}")
            out[f"outflow_{c}"] = (float(part.n if part else 0), part.persons if part else 0)
        q = _quartiles(b.values)
        assert q is not None
        out["duration_q1_days"], out["duration_median_days"], out["duration_q3_days"] = (
            (q[0], b.persons),
            (q[1], b.persons),
            (q[2], b.persons),
        )
        for k in (1, 3, 6, 12):
            within = items.get(f"ended_within_{k}m")
            out[f"duration_share_within_{k}m"] = (
                _pct(within.total if within else 0, b.n),
                b.persons,
            )
    if (b := get("services_ended")) is not None:
        out["services_ended"] = (float(b.n), b.persons)
        for k in (3, 6):
            f = items.get(f"placement_{k}m")
            known = add_months(last_day(month), k) <= horizon_day and f is not None
            out[f"placement_{k}m_pct"] = (
                _pct(f.total, f.known) if known and f else None,
                b.persons,
            )
    if (b := get("interview")) is not None:
        out["interviews_due"] = (float(b.n), b.persons)
        out["interview_on_time_pct"] = (_pct(b.zeros, b.n), b.persons)
        late = [v for v in b.values if v > 0]
        out["interview_median_days_late"] = (
            round(float(statistics.median(late)), 4) if late else None,
            b.persons,
        )
        out["interview_not_held_pct"] = (_pct(b.n - b.known, b.n), b.persons)
    for kind, name in (
        ("job_search_conversation", "job_search"),
        ("supplementary_conversation", "supplementary"),
    ):
        if (b := get(kind)) is not None:
            out[f"{name}_conversations_due"] = (float(b.n), b.persons)
            out[f"{name}_conversation_coverage_pct"] = (_pct(b.total, b.n), b.persons)
    if (b := get("requirement_met")) is not None:
        apps = items.get("requirement_applications")
        out["requirement_seekers"] = (float(b.persons), b.persons)
        out["requirement_met_pct"] = (_pct(b.total, b.persons), b.persons)
        mean = None if not b.persons or apps is None else round(apps.total / b.persons, 4)
        out["requirement_mean_applications"] = (mean, b.persons)
    if (b := get("cohort_3m")) is not None:
        out["cohort_spells"] = (float(b.n), b.persons)
        for k in (3, 6, 12):
            f = items.get(f"cohort_{k}m")
            known = add_months(last_day(month), k) <= horizon_day and f is not None
            out[f"cohort_employed_{k}m_pct"] = (
                _pct(f.total, f.known) if known and f else None,
                b.persons,
            )
    return out


def _relations(
    counts: dict[Key, int],
    municipalities: dict[str, set[str]],
    areas: Areas,
    count_dates: dict[str, date],
) -> list[tuple[Key, list[Key]]]:
    """The additive relations a reader could use: the status classes and their total, outflow
    and its categories, and every count measure over the area hierarchy."""
    rels: list[tuple[Key, list[Key]]] = []
    cells = {k[:3] for k in counts}
    for m, lv, ar in cells:
        rels.append(((m, lv, ar, "stock_total"), [(m, lv, ar, p) for p in STOCK_PARTS]))
        rels.append(
            (
                (m, lv, ar, "outflow_total"),
                [(m, lv, ar, f"outflow_{c}") for c in OUTFLOW_CATEGORIES],
            )
        )
    names = sorted({k[3] for k in counts})
    for month, munis in municipalities.items():
        cd = count_dates[month]
        by_ea: dict[str, list[str]] = defaultdict(list)
        by_pa: dict[str, list[str]] = defaultdict(list)
        non_pilot: list[str] = []
        all_have_ea = True
        for muni in sorted(munis):
            ea, pa = areas.employment_area(muni, cd), areas.pilot_area(muni, cd)
            if ea is None:
                all_have_ea = False
            else:
                by_ea[ea].append(muni)
            if pa is None:
                non_pilot.append(muni)
            else:
                by_pa[pa].append(muni)
        for name in names:

            def k(level: str, area: str, month: str = month, name: str = name) -> Key:
                return (month, level, area, name)

            rels.append((k("all", "all"), [k("municipality", x) for x in sorted(munis)]))
            rels.append((k("all", "all"), [k("pilot", "pilot"), k("pilot", "non_pilot")]))
            rels.append((k("pilot", "non_pilot"), [k("municipality", x) for x in non_pilot]))
            rels.append((k("pilot", "pilot"), [k("pilot_area", a) for a in sorted(by_pa)]))
            for a, ms in by_ea.items():
                rels.append((k("employment_area", a), [k("municipality", x) for x in ms]))
            for a, ms in by_pa.items():
                rels.append((k("pilot_area", a), [k("municipality", x) for x in ms]))
            if all_have_ea and by_ea:
                rels.append((k("all", "all"), [k("employment_area", a) for a in sorted(by_ea)]))
    return rels
