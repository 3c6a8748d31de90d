"""``evaluate``: a seeker's obligations as on a day, from raw facts. Pure: the day, the rulesets
and the calendar are inputs; nothing reads the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.facts import Fact
from timeline.domain.rules.conversations import (
    job_search_conversations,
    supplementary_conversations,
)
from timeline.domain.rules.history import History, SpellFacts, build_history
from timeline.domain.rules.intensified import intensified_periods
from timeline.domain.rules.interview import interview_and_plan
from timeline.domain.rules.missed import missed_appointments
from timeline.domain.rules.obligations import Obligation
from timeline.domain.rules.requirement import job_search_requirements
from timeline.domain.rules.rulesets import Ruleset, Rulesets

Rule = Callable[[History, SpellFacts], list[Obligation]]

RULES: tuple[Rule, ...] = (
    interview_and_plan,
    supplementary_conversations,
    job_search_conversations,
    intensified_periods,
    job_search_requirements,
    missed_appointments,
)


def evaluate(
    facts: Iterable[Fact],
    on: date,
    rulesets: Rulesets | Sequence[Ruleset],
    calendar: WorkingDayCalendar = MONDAY_TO_FRIDAY,
    overrides: Mapping[str, Any] | None = None,
    *,
    effective: bool = False,
) -> list[Obligation]:
    """The obligations of one seeker as on day ``on``.

    ``facts`` are the seeker's raw facts, corrections and retractions included; they are made
    effective here and only those that occurred on or before ``on`` are seen. Each obligation
    is judged by the ruleset in force on the day of its triggering event. ``overrides`` replaces
    [P]/[R] parameters (``name`` or ``"<ruleset id>.<name>"``). Sorted by spell, then by
    the obligation's first day and kind. ``effective``: ``facts`` are already
    :func:`~timeline.domain.facts.effective_facts`' answer (a caller that needs it too makes
    it once; the obligations are the same).
    """
    registry = _registry(rulesets, overrides)
    history = build_history(facts, on, registry, calendar, effective=effective)
    out: list[Obligation] = []
    for part in history.spells:
        found: list[Obligation] = []
        for rule in RULES:
            found.extend(rule(history, part))
        found.sort(key=Obligation.sort_key)
        out.extend(found)
    return out


def _registry(
    rulesets: Rulesets | Sequence[Ruleset], overrides: Mapping[str, Any] | None
) -> Rulesets:
    if isinstance(rulesets, Rulesets):
        return Rulesets(rulesets.all, overrides) if overrides else rulesets
    return Rulesets(rulesets, overrides)
