"""The intensified one-month period at every 6 months of continuous unemployment (RULES.md 5):
``FI-2022-05``…``FI-2025-01``; none from ``FI-2026-01``."""

from __future__ import annotations

import bisect
from datetime import date, timedelta

from timeline.domain.calendar import add_months
from timeline.domain.rules.history import History, SpellFacts
from timeline.domain.rules.interview import initial_interview_held
from timeline.domain.rules.obligations import Obligation, obligation, status_on

_PARAMS = (
    "intensified_period_every_months",
    "intensified_period_months",
    "intensified_period_conversations",
    "intensified_period_anchor",
    "intensified_period_statuses",
    "intensified_period_meeting_kinds",
)
_ONE_DAY = timedelta(days=1)


def intensified_periods(history: History, part: SpellFacts) -> list[Obligation]:
    """Windows start at anchor + k x ``every`` months (k = 1, 2, …) up to the evaluation day
    (or the spell end, or ``history.until``); the anchor is the spell start or the initial
    interview (``intensified_period_anchor``, [P], from the ruleset in force at the spell
    start). A window is judged by the ruleset in force on its first day and needs
    ``conversations`` meetings of the listed kinds inside it (its last day moved to a working
    day); it is only generated when the seeker's status on its first day is one the ruleset
    names."""
    spell = part.spell
    first = history.rulesets.in_force_on(spell.started_on)
    if first is None or first.intensified_period_every_months <= 0:
        return []
    anchor = _anchor(first.intensified_period_anchor, part)
    if anchor is None:
        return []
    anchor_day, anchor_id = anchor
    every = first.intensified_period_every_months
    out: list[Obligation] = []
    last = min(history.on, spell.ended_on or history.on, history.until or date.max)
    k = 1
    while True:
        start = add_months(anchor_day, k * every)
        if start > last:
            break
        k += 1
        rs = history.rulesets.in_force_on(start)
        if rs is None or rs.intensified_period_every_months <= 0:
            continue
        if history.status_on(start) not in rs.intensified_period_statuses:
            continue
        end = add_months(anchor_day, (k - 1) * every + rs.intensified_period_months) - _ONE_DAY
        due = history.calendar.roll_forward(end)
        held = part.meetings(*rs.intensified_period_meeting_kinds)
        days = [m.occurred_on for m in held]
        inside = held[bisect.bisect_left(days, start) : bisect.bisect_right(days, due)]
        need = rs.intensified_period_conversations
        met_on = inside[need - 1].occurred_on if 0 < need <= len(inside) else None
        status, late = status_on(due, met_on, history.on, spell.ended_on)
        out.append(
            obligation(
                history.seeker_id,
                "intensified_period",
                rs,
                f"intensified_period/{k - 1}",
                _PARAMS,
                status=status,
                due_on=due,
                period_start=start,
                period_end=end,
                met_on=met_on,
                days_late=late,
                required=need,
                counted=len(inside),
                basis_event_ids=(anchor_id, *(m.event_id for m in inside)),
            )
        )
    return out


def _anchor(kind: str, part: SpellFacts) -> tuple[date, str] | None:
    if kind == "initial_interview":
        held = initial_interview_held(part)
        return (held.occurred_on, held.event_id) if held else None
    return part.spell.started_on, part.spell.start_event_id
