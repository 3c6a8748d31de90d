"""Missed appointments (RULES.md 9): a flag for a person to review, stating what the ruleset in
force on the day makes of it. The ending of a job search is itself a recorded event."""

from __future__ import annotations

from datetime import timedelta

from timeline.domain.rules.history import History, SpellFacts
from timeline.domain.rules.obligations import Obligation, obligation
from timeline.domain.rules.requirement import reviewed_after

_PARAMS = ("missed_appointment_ends_search", "missed_appointment_reasons")
ENDS_JOB_SEARCH = "ends_job_search"
CANDIDATE_NEGLECT = "candidate_neglect"


def missed_appointments(history: History, part: SpellFacts) -> list[Obligation]:
    """One ``missed_appointment`` flag per ``meeting_missed`` with a reason the ruleset counts
    (no-show, cancelled by the seeker). ``consequence`` is ``ends_job_search`` (FI-2026-03: the
    job search ends at once) or ``candidate_neglect`` (2022 rules: ends only if repeated).
    Open until a ``decision_recorded`` on or after the day names the missed meeting."""
    out = []
    for miss in part.missed:
        rs = history.rulesets.in_force_on(miss.occurred_on)
        if rs is None or str(miss.data.get("reason")) not in rs.missed_appointment_reasons:
            continue
        reviewed = reviewed_after(history, (miss.event_id,), miss.occurred_on - timedelta(days=1))
        consequence = ENDS_JOB_SEARCH if rs.missed_appointment_ends_search else CANDIDATE_NEGLECT
        out.append(
            obligation(
                history.seeker_id,
                "missed_appointment",
                rs,
                "missed_appointment",
                _PARAMS,
                status="met" if reviewed else "open",
                period_start=miss.occurred_on,
                met_on=reviewed,
                basis_event_ids=(miss.event_id,),
                consequence=consequence,
            )
        )
    return out
