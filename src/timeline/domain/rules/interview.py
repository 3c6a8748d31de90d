"""Initial interview (alkuhaastattelu) and the employment plan drawn up in it (RULES.md 1, 2)."""

from __future__ import annotations

from datetime import date

from timeline.domain.calendar import add_months
from timeline.domain.facts import Fact
from timeline.domain.rules.history import History, SpellFacts
from timeline.domain.rules.obligations import Obligation, obligation, status_on
from timeline.domain.rules.rulesets import Ruleset

_DUE = ("initial_interview_working_days",)
_REPEAT = ("initial_interview_repeat_after_months",)


def is_repeat_start(part: SpellFacts, ruleset: Ruleset) -> bool:
    """True when the previous spell ended less than the repeat interval (6 months) before this
    spell started: no new initial interview is due."""
    previous = part.previous
    if previous is None or previous.ended_on is None:
        return False
    limit = add_months(previous.ended_on, ruleset.initial_interview_repeat_after_months)
    return part.spell.started_on < limit


def initial_interview_held(part: SpellFacts) -> Fact | None:
    held = part.meetings("initial_interview")
    return held[0] if held else None


def interview_due_on(history: History, part: SpellFacts, ruleset: Ruleset) -> date:
    """Day 0 is the start of the job search; N working days later (N from the ruleset)."""
    days = ruleset.initial_interview_working_days
    return history.calendar.add_working_days(part.spell.started_on, days)


def interview_and_plan(history: History, part: SpellFacts) -> list[Obligation]:
    spell = part.spell
    rs = history.rulesets.in_force_on(spell.started_on)
    if rs is None:
        return []
    sid = history.seeker_id
    due = interview_due_on(history, part, rs)
    cal = (history.calendar.describe(),)
    if is_repeat_start(part, rs):
        assert part.previous is not None
        basis = tuple(i for i in (part.previous.end_event_id, spell.start_event_id) if i)
        return [
            obligation(sid, kind, rs, kind, _REPEAT, status="not_required", basis_event_ids=basis)
            for kind in ("initial_interview", "employment_plan")
        ]
    held = initial_interview_held(part)
    met_on = held.occurred_on if held else None
    status, late = status_on(due, met_on, history.on, spell.ended_on)
    basis = (spell.start_event_id, *((held.event_id,) if held else ()))
    interview = obligation(
        sid,
        "initial_interview",
        rs,
        "initial_interview",
        (*_DUE, *_REPEAT),
        extra_assumptions=cal,
        status=status,
        due_on=due,
        met_on=met_on,
        days_late=late,
        basis_event_ids=basis,
    )
    return [interview, _plan(history, part, rs, due if met_on is None else met_on, basis)]


def _plan(
    history: History, part: SpellFacts, rs: Ruleset, due: date, basis: tuple[str, ...]
) -> Obligation:
    """The plan is agreed in the initial interview: due on the day the interview was held, or
    on the interview's due date while it has not been held."""
    plan = part.plans[0] if part.plans else None
    met_on = plan.occurred_on if plan else None
    status, late = status_on(due, met_on, history.on, part.spell.ended_on)
    return obligation(
        history.seeker_id,
        "employment_plan",
        rs,
        "employment_plan",
        _DUE,
        extra_assumptions=(history.calendar.describe(),),
        status=status,
        due_on=due,
        met_on=met_on,
        days_late=late,
        basis_event_ids=(*basis, *((plan.event_id,) if plan else ())),
    )
