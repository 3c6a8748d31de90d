"""What the demo takes from the domain: the working-day calendar, the rulesets in force (the
initial interview's deadline, the days the 2026 reforms began), times of day in Helsinki, and
weighted choices."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache

from timeline.domain.calendar import MONDAY_TO_FRIDAY, add_months
from timeline.domain.zone import HELSINKI
from timeline.rulesets import default_rulesets

__all__ = [
    "CALENDAR",
    "FI_2026_01",
    "FI_2026_03",
    "RULESETS",
    "add_months",
    "initial_interview_days",
    "local",
    "pick",
]

CALENDAR = MONDAY_TO_FRIDAY
RULESETS = default_rulesets()
#: the 2026 reform: interviews within 10 working days, conversations by service need
FI_2026_01 = RULESETS.by_id("FI-2026-01").in_force_from
#: from March 2026 a missed appointment may end the job search at once
FI_2026_03 = RULESETS.by_id("FI-2026-03").in_force_from


def initial_interview_days(started_on: date) -> int:
    """Working days allowed for the initial interview of a job search started on
    ``started_on``: the ruleset in force then says (before the first ruleset, the first's)."""
    ruleset = RULESETS.in_force_on(started_on) or RULESETS.all[0]
    return int(ruleset.initial_interview_working_days)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HELSINKI)


@lru_cache(maxsize=256)
def _table(weighted: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    keys = [k for k, _ in weighted]
    cum: list[float] = []
    total = 0.0
    for _, w in weighted:
        total += w
        cum.append(total)
    return keys, cum


def pick(rng: random.Random, weighted: Iterable[tuple[str, float]]) -> str:
    """One key of ``(key, weight)`` pairs, drawn by weight."""
    items = weighted if isinstance(weighted, tuple) else tuple(weighted)
    keys, cum = _table(items)
    return rng.choices(keys, cum_weights=cum)[0]
