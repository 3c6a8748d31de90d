"""The published measures: name, kind, unit, what it means and where the definition comes from.
``count`` measures are additive over areas and take part in complementary suppression;
``derived`` ones are suppressed with the counts they rest on (``depends_on``)."""

from __future__ import annotations

from dataclasses import dataclass

from projections.outcomes.settings import OUTFLOW_CATEGORIES


@dataclass(frozen=True)
class Measure:
    name: str
    kind: str  # "count" | "derived"
    unit: str
    meaning: str
    source: str
    depends_on: tuple[str, ...] = ()


_STOCK = "stock on the count date (last working day of the month)"
_C = "STATISTICS.md; RESEARCH 8"

MEASURES: tuple[Measure, ...] = (
    Measure("stock_total", "count", "persons", f"{_STOCK}: every seeker in an open spell", _C),
    Measure(
        "stock_unemployed",
        "count",
        "persons",
        f"{_STOCK}: unemployed job seekers (työttömät työnhakijat), fully laid-off included",
        "STATISTICS.md [C]; RESEARCH 8.1",
    ),
    Measure(
        "stock_laid_off",
        "count",
        "persons",
        f"{_STOCK}: fully laid-off (lomautetut), also inside stock_unemployed",
        _C,
    ),
    Measure(
        "stock_in_service",
        "count",
        "persons",
        f"{_STOCK}: in an activating service (palveluissa)",
        "RESEARCH 8.3",
    ),
    Measure("stock_employed", "count", "persons", f"{_STOCK}: employed job seekers", _C),
    Measure("stock_part_time", "count", "persons", f"{_STOCK}: part-time employed", _C),
    Measure(
        "stock_outside_labour_force",
        "count",
        "persons",
        f"{_STOCK}: outside the labour force (students included, setting student_class)",
        _C,
    ),
    Measure(
        "long_term_12m",
        "count",
        "persons",
        "unemployed continuously at least 12 months on the count date (pitkäaikaistyöttömät)",
        "RESEARCH 8.2 [C]",
    ),
    Measure(
        "long_term_24m",
        "count",
        "persons",
        "unemployed continuously over 24 months on the count date",
        "RESEARCH 8.2 [C]",
    ),
    Measure(
        "comparable_long_term",
        "count",
        "persons",
        "unemployed on the count date, unemployed at least comparable_days within the "
        "last 16 months, not long_term_12m (rinnasteiset pitkäaikaistyöttömät)",
        "RESEARCH 8.2 [C]",
    ),
    Measure(
        "activation_rate",
        "derived",
        "percent",
        "100 × in service / (in service + unemployed) on the count date (aktivointiaste)",
        "RESEARCH 8.3 [C]",
        ("stock_in_service", "stock_unemployed"),
    ),
    Measure(
        "inflow",
        "count",
        "spells",
        "job-search spells started in the month (virtaama sisään)",
        "RESEARCH 8.5",
    ),
    Measure(
        "outflow_total", "count", "spells", "job-search spells ended in the month", "RESEARCH 8.5"
    ),
    *(
        Measure(
            f"outflow_{c}",
            "count",
            "spells",
            f"spells ended in the month with end category {c} (settings end_reasons)",
            "RESEARCH 8.5 [P]",
        )
        for c in OUTFLOW_CATEGORIES
    ),
    Measure(
        "duration_median_days",
        "derived",
        "days",
        "median length (ended_on − started_on) of the spells ended in the month",
        "RESEARCH 8.5",
        ("outflow_total",),
    ),
    Measure(
        "duration_q1_days",
        "derived",
        "days",
        "lower quartile of that length (inclusive method)",
        "RESEARCH 8.5",
        ("outflow_total",),
    ),
    Measure(
        "duration_q3_days",
        "derived",
        "days",
        "upper quartile of that length (inclusive method)",
        "RESEARCH 8.5",
        ("outflow_total",),
    ),
    *(
        Measure(
            f"duration_share_within_{k}m",
            "derived",
            "percent",
            f"share of the spells ended in the month that ended within {k} month(s) of their start",
            "RESEARCH 8.5 [C]",
            ("outflow_total",),
        )
        for k in (1, 3, 6, 12)
    ),
    Measure(
        "services_ended",
        "count",
        "services",
        "followed-up services (settings placement_services) ended in the month",
        "RESEARCH 8.4",
    ),
    *(
        Measure(
            f"placement_{k}m_pct",
            "derived",
            "percent",
            f"of services ended in the month: share in the open labour market {k} months "
            "after the end; published once that day is known",
            "RESEARCH 8.4 [C]",
            ("services_ended",),
        )
        for k in (3, 6)
    ),
    Measure(
        "interviews_due",
        "count",
        "interviews",
        "initial interviews (alkuhaastattelu) falling due in the month (not those the "
        "spell's end made not required)",
        "obligations rules",
    ),
    Measure(
        "interview_on_time_pct",
        "derived",
        "percent",
        "of those, share held by the due date",
        "obligations rules",
        ("interviews_due",),
    ),
    Measure(
        "interview_median_days_late",
        "derived",
        "days",
        "median calendar days late of those held after the due date (null when none was late)",
        "obligations rules",
        ("interviews_due",),
    ),
    Measure(
        "interview_not_held_pct",
        "derived",
        "percent",
        "share not held as known at the row's position",
        "obligations rules",
        ("interviews_due",),
    ),
    Measure(
        "job_search_conversations_due",
        "count",
        "conversations",
        "job-search conversations (työnhakukeskustelu) falling due in the month",
        "obligations rules",
    ),
    Measure(
        "job_search_conversation_coverage_pct",
        "derived",
        "percent",
        "share of those held (on time or late, as known)",
        "obligations rules",
        ("job_search_conversations_due",),
    ),
    Measure(
        "supplementary_conversations_due",
        "count",
        "conversations",
        "supplementary job-search conversations (täydentävä työnhakukeskustelu) falling "
        "due in the month",
        "obligations rules",
    ),
    Measure(
        "supplementary_conversation_coverage_pct",
        "derived",
        "percent",
        "share of those held (on time or late, as known)",
        "obligations rules",
        ("supplementary_conversations_due",),
    ),
    Measure(
        "requirement_seekers",
        "count",
        "persons",
        "seekers with a job-search requirement period (työnhakuvelvollisuus) ending in the month",
        "obligations rules",
    ),
    Measure(
        "requirement_met_pct",
        "derived",
        "percent",
        "share of them who met every period ending in the month",
        "obligations rules",
        ("requirement_seekers",),
    ),
    Measure(
        "requirement_mean_applications",
        "derived",
        "applications",
        "counted applications in those periods per seeker",
        "obligations rules",
        ("requirement_seekers",),
    ),
    Measure(
        "cohort_spells",
        "count",
        "spells",
        "spells started in the month (the cohort)",
        "STATISTICS.md",
    ),
    *(
        Measure(
            f"cohort_employed_{k}m_pct",
            "derived",
            "percent",
            f"share of the cohort in the open labour market on some day within {k} months "
            "of the spell's start; published once known",
            "STATISTICS.md",
            ("cohort_spells",),
        )
        for k in (3, 6, 12)
    ),
)
BY_NAME = {m.name: m for m in MEASURES}
STOCK_PARTS = (
    "stock_unemployed",
    "stock_in_service",
    "stock_employed",
    "stock_part_time",
    "stock_outside_labour_force",
)
