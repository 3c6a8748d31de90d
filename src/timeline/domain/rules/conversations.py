"""Supplementary job-search conversations and the three-monthly job-search conversation
(RULES.md 3, 4)."""

from __future__ import annotations

import bisect
from datetime import date, timedelta

from timeline.domain.calendar import add_months
from timeline.domain.rules.history import History, SpellFacts
from timeline.domain.rules.interview import initial_interview_held, is_repeat_start
from timeline.domain.rules.obligations import Obligation, obligation, status_on

_SUPPLEMENTARY = (
    "supplementary_conversations",
    "supplementary_interval_days",
    "supplementary_window_months",
    "supplementary_statuses",
)
_JOB_SEARCH = ("job_search_conversation_interval_months", "job_search_conversation_statuses")
#: safety cap on a chain (about 100 years of quarterly conversations)
MAX_CHAIN = 400


def supplementary_conversations(history: History, part: SpellFacts) -> list[Obligation]:
    """``count`` conversations after the initial interview, one due every ``interval`` days
    (moved to a working day, never after the window's end), under the ruleset in force on the
    interview day, for seekers whose status then is one the ruleset names. The n-th
    supplementary conversation held on or after the interview meets the n-th slot."""
    interview = initial_interview_held(part)
    if interview is None:
        return []
    start = interview.occurred_on
    rs = history.rulesets.in_force_on(start)
    if rs is None or rs.supplementary_conversations <= 0:
        return []
    if history.status_on(start) not in rs.supplementary_statuses:
        return []
    cal = history.calendar
    window_end = add_months(start, rs.supplementary_window_months)
    held = [m for m in part.meetings("supplementary_conversation") if m.occurred_on >= start]
    out = []
    for k in range(1, rs.supplementary_conversations + 1):
        due = cal.roll_forward(
            min(start + timedelta(days=k * rs.supplementary_interval_days), window_end)
        )
        meeting = held[k - 1] if k <= len(held) else None
        met_on = meeting.occurred_on if meeting else None
        status, late = status_on(due, met_on, history.on, part.spell.ended_on)
        basis = (interview.event_id, *((meeting.event_id,) if meeting else ()))
        out.append(
            obligation(
                history.seeker_id,
                "supplementary_conversation",
                rs,
                f"supplementary_conversation/{k}",
                _SUPPLEMENTARY,
                extra_assumptions=(cal.describe(),),
                status=status,
                due_on=due,
                met_on=met_on,
                days_late=late,
                required=1,
                counted=1 if met_on else 0,
                basis_event_ids=basis,
            )
        )
    return out


def job_search_anchor(history: History, part: SpellFacts) -> tuple[date, str] | None:
    """The initial interview held; or, when none was due (a repeat start), the spell start."""
    interview = initial_interview_held(part)
    if interview is not None:
        return interview.occurred_on, interview.event_id
    rs = history.rulesets.in_force_on(part.spell.started_on)
    if rs is not None and is_repeat_start(part, rs):
        return part.spell.started_on, part.spell.start_event_id
    return None


def job_search_conversations(history: History, part: SpellFacts) -> list[Obligation]:
    """Each due ``interval`` months (month arithmetic, moved to a working day) after the
    initial interview or the previous job-search conversation; the first conversation held
    after the anchor meets it and becomes the next anchor. The chain stops at the first one not
    yet met. One whose due day finds the seeker in a status the ruleset does not name is
    ``not_required`` and the next is counted from its due day. (None is begun after
    ``history.until``: each falls due after its anchor.)"""
    first = job_search_anchor(history, part)
    if first is None:
        return []
    anchor, anchor_id = first
    ended_on = part.spell.ended_on
    held = part.meetings("job_search_conversation")
    days = [m.occurred_on for m in held]
    last = min(history.on, history.until or date.max)
    out: list[Obligation] = []
    for _ in range(MAX_CHAIN):
        rs = history.rulesets.in_force_on(anchor)
        if rs is None or anchor > last:
            break
        due = history.calendar.months_deadline(anchor, rs.job_search_conversation_interval_months)
        i = bisect.bisect_right(days, anchor)
        meeting = held[i] if i < len(held) else None
        met_on = meeting.occurred_on if meeting else None
        status, late = status_on(due, met_on, history.on, ended_on)
        applies = history.status_on(due) in rs.job_search_conversation_statuses
        if not applies and status not in ("met", "met_late"):
            status, late = "not_required", None
        basis = (anchor_id, *((meeting.event_id,) if meeting else ()))
        out.append(
            obligation(
                history.seeker_id,
                "job_search_conversation",
                rs,
                "job_search_conversation",
                _JOB_SEARCH,
                status=status,
                due_on=due,
                met_on=met_on,
                days_late=late,
                basis_event_ids=basis,
            )
        )
        if meeting is not None and status in ("met", "met_late"):
            anchor, anchor_id = meeting.occurred_on, meeting.event_id
        elif status == "not_required" and (ended_on is None or due < ended_on):
            anchor = due  # not required for the status: the next is counted from here
        else:
            break
    return out
