"""The outcome statistics' settings: the definitions STATISTICS.md leaves unconfirmed (the
spell-break rule, the end-reason code list) and publication rules, with documented defaults.
Each is recorded in ``outcomes_state`` so a reader knows which definitions a table used."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

#: outflow categories (STATISTICS.md: employed open market, subsidised, service, studies,
#: outside labour force, other) [C/P]
OUTFLOW_CATEGORIES = (
    "employed_open_market",
    "employed_subsidised",
    "service",
    "studies",
    "outside_labour_force",
    "other",
)

#: the vocabulary's ``job_search_ended.reason`` -> outflow category. [P]: the official code
#: list was not found (RESEARCH 8.5); self-employment counts as the open market, moving abroad
#: as leaving the labour force, a registration not renewed as other.
DEFAULT_END_REASONS: Mapping[str, str] = {
    "employed_open_market": "employed_open_market",
    "self_employed": "employed_open_market",
    "employed_subsidised": "employed_subsidised",
    "studies": "studies",
    "moved_abroad": "outside_labour_force",
    "not_renewed": "other",
    "other": "other",
}

#: services counted in the activation rate (the 2016 definition, RESEARCH 8.3) [C]; career
#: guidance, start-up grant and "other" are not activating services there.
DEFAULT_ACTIVATING = frozenset(
    {
        "labour_market_training",
        "coaching",
        "work_trial",
        "pay_subsidy",
        "rehabilitative_work_activity",
    }
)
#: services followed up 3 and 6 months after they end (RESEARCH 8.4: the activating ones and
#: start-up enterprise) [C]
DEFAULT_PLACEMENT = DEFAULT_ACTIVATING | {"startup_grant"}


@dataclass(frozen=True)
class OutcomeSettings:
    """``short_break_days`` [R]: a registered interruption of continuous unemployment (a job,
    part-time work, outside the labour force) of at most this many days does not break it
    (RESEARCH 8.2: "job > 2 weeks ... starts a new spell"); 0 makes every interruption break.
    ``service_breaks`` [R]: a day in an activating service always breaks it. Leaving the
    register (the job-search spell ending) always breaks it.
    ``comparable_days``: "12 months in total" of the 12-in-16 measure, in days [P].
    ``student_class``: the class of a seeker whose status is ``student`` (a full-time student
    is not unemployed, RESEARCH 8.1) [P].
    ``min_cell``: cells counting fewer persons are suppressed (STATISTICS.md) [C]."""

    min_cell: int = 5
    short_break_days: int = 14
    service_breaks: bool = True
    comparable_days: int = 365
    student_class: str = "outside_labour_force"
    activating_services: frozenset[str] = DEFAULT_ACTIVATING
    placement_services: frozenset[str] = DEFAULT_PLACEMENT
    end_reasons: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_END_REASONS))

    def outflow_category(self, reason: str | None) -> str:
        return self.end_reasons.get(reason or "other", "other")

    def to_json(self) -> str:
        return json.dumps(
            {
                "min_cell": self.min_cell,
                "short_break_days": self.short_break_days,
                "service_breaks": self.service_breaks,
                "comparable_days": self.comparable_days,
                "student_class": self.student_class,
                "activating_services": sorted(self.activating_services),
                "placement_services": sorted(self.placement_services),
                "end_reasons": dict(sorted(self.end_reasons.items())),
            },
            sort_keys=True,
        )
