"""The job-search requirement per review period, and the shortfall flag at a period's end
(RULES.md 6, 7, 8). A shortfall is evidence for a person to review, never a sanction."""

from __future__ import annotations

import bisect
from datetime import date

from timeline.domain.facts import Fact
from timeline.domain.rules.history import History, SpellFacts
from timeline.domain.rules.obligations import Obligation, Status, obligation, status_on
from timeline.domain.rules.periods import ReviewPeriod, review_periods
from timeline.domain.rules.rulesets import Ruleset


def counts(application: Fact, ruleset: Ruleset) -> bool:
    """Whether an application counts under ``ruleset``: its kind is one the ruleset lists, and
    a job offered by the authority counts only where ``offered_jobs_count`` (2022 rules)."""
    if str(application.data.get("kind")) not in ruleset.counted_application_kinds:
        return False
    return ruleset.offered_jobs_count or not application.data.get("offered_by_authority")


def job_search_requirements(history: History, part: SpellFacts) -> list[Obligation]:
    """One ``job_search_requirement`` per review period up to the one containing the
    evaluation day, plus a ``requirement_shortfall`` flag for each period that ended with fewer
    counted applications than required."""
    apps = part.applications
    days = part.application_days
    out: list[Obligation] = []
    for period in review_periods(history, part):
        lo, hi = bisect.bisect_left(days, period.start), bisect.bisect_right(days, period.end)
        counted_days = [
            (day, a)
            for day, a in zip(days[lo:hi], apps[lo:hi], strict=True)
            if counts(a, period.ruleset)
        ]
        counted = [a for _, a in counted_days]
        required = period.required
        met_on = counted_days[required - 1][0] if 0 < required <= len(counted) else None
        status: Status
        late: int | None
        if period.waived or required == 0:
            status, late = "not_required", None
        else:
            status, late = status_on(period.end, met_on, history.on, part.spell.ended_on)
        basis = (period.basis_id, *period.extra_basis, *(a.event_id for a in counted))
        assumptions = (f"waived: {period.waived}",) if period.waived else ()
        rs = period.ruleset
        out.append(
            obligation(
                history.seeker_id,
                "job_search_requirement",
                rs,
                "job_search_requirement",
                period.params,
                extra_assumptions=assumptions,
                status=status,
                due_on=period.end,
                period_start=period.start,
                period_end=period.end,
                met_on=met_on,
                days_late=late,
                required=0 if period.waived else required,
                counted=len(counted),
                basis_event_ids=basis,
            )
        )
        if status == "overdue":
            out.append(_shortfall(history, period, len(counted), basis))
    return out


def _shortfall(
    history: History, period: ReviewPeriod, counted: int, basis: tuple[str, ...]
) -> Obligation:
    """Open until a ``decision_recorded`` made after the period names any of its evidence."""
    reviewed = reviewed_after(history, basis, period.end)
    rs = period.ruleset
    scale = ", ".join(rs.neglect_scale)
    return obligation(
        history.seeker_id,
        "requirement_shortfall",
        rs,
        "requirement_shortfall",
        period.params,
        status="met" if reviewed else "open",
        period_start=period.start,
        period_end=period.end,
        met_on=reviewed,
        required=period.required,
        counted=counted,
        basis_event_ids=basis,
        consequence=f"candidate neglect for review (scale under {rs.id}: {scale})",
    )


def reviewed_after(history: History, ids: tuple[str, ...], after: date) -> date | None:
    """The first day after ``after`` on which a decision named one of ``ids``."""
    found = [day for i in ids for day in history.reviewed_on.get(i, ()) if day > after]
    return min(found) if found else None
