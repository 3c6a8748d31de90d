"""Review periods of the job-search requirement (RULES.md 6): which periods exist, how many
applications each needs, and on what it rests. Counting is in :mod:`.requirement`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from timeline.domain.calendar import add_months
from timeline.domain.facts import Fact
from timeline.domain.rules.conversations import job_search_anchor
from timeline.domain.rules.history import History, SpellFacts, data_date
from timeline.domain.rules.rulesets import Ruleset

_ONE_DAY = timedelta(days=1)
#: safety cap on periods per spell (100 years of monthly periods)
MAX_PERIODS = 1200
_PERIOD_MONTHS = {"month": 1, "three_months": 3}


@dataclass(frozen=True)
class ReviewPeriod:
    ruleset: Ruleset
    start: date
    end: date
    required: int
    #: the event the requirement rests on (a requirement decision, else the plan or interview)
    basis_id: str
    params: tuple[str, ...]
    #: why nothing is required (empty when something is)
    waived: str = ""
    extra_basis: tuple[str, ...] = ()


def requirement_segments(
    part: SpellFacts, origin: tuple[date, str]
) -> list[tuple[date, Fact | None]]:
    """Breakpoints ``(from, decision)``: ``None`` is the ruleset default. Decisions apply in
    recording order over ``[valid_from, valid_until]``, the later winning where they overlap;
    the default runs from the plan (``origin``) and again after a decision's ``valid_until``."""
    spell_start = part.spell.started_on
    points: list[tuple[date, Fact | None]] = [(origin[0], None)]
    for decision in part.requirements:
        begin = max(data_date(decision, "valid_from") or decision.occurred_on, spell_start)
        until = data_date(decision, "valid_until")
        after = _value_at(points, until + _ONE_DAY) if until else None
        kept = [p for p in points if p[0] < begin or (until is not None and p[0] > until)]
        kept.append((begin, decision))
        if until is not None and not any(p[0] == until + _ONE_DAY for p in kept):
            kept.append((until + _ONE_DAY, after))
        points = sorted(kept, key=lambda p: p[0])
    return points


def _value_at(points: list[tuple[date, Fact | None]], day: date) -> Fact | None:
    value: Fact | None = None
    for start, v in points:
        if start <= day:
            value = v
    return value


def review_periods(history: History, part: SpellFacts) -> Iterator[ReviewPeriod]:
    """Consecutive periods from the plan up to the one containing the evaluation day (or the
    spell end, or ``history.until``). A period cut short by a new requirement decision is
    waived ("superseded")."""
    origin = _origin(history, part)
    if origin is None:
        return
    points = requirement_segments(part, origin)
    last = min(history.on, part.spell.ended_on or history.on, history.until or date.max)
    count = 0
    for i, (seg_start, decision) in enumerate(points):
        seg_end = points[i + 1][0] - _ONE_DAY if i + 1 < len(points) else date.max
        offset = 0
        base = seg_start
        while count < MAX_PERIODS:
            start = max(add_months(base, offset), seg_start)
            if start > last or start > seg_end:
                break
            rs = history.rulesets.in_force_on(start)
            if rs is None:
                break
            if offset == 0 and rs.review_period_anchor == "calendar_month":
                base = seg_start.replace(day=1)
            period = _period(history, part, rs, start, decision, origin[1])
            offset += period[1]
            natural_end = add_months(base, offset) - _ONE_DAY
            end = min(natural_end, seg_end)
            count += 1
            yield _finish(period[0], start, end, cut=end < natural_end)


def _origin(history: History, part: SpellFacts) -> tuple[date, str] | None:
    """The plan: the first employment plan or the initial interview (or, on a repeat start,
    the spell start), whichever is first."""
    candidates = [(p.occurred_on, p.event_id) for p in part.plans[:1]]
    anchor = job_search_anchor(history, part)
    if anchor is not None:
        candidates.append(anchor)
    return min(candidates) if candidates else None


def _period(
    history: History, part: SpellFacts, rs: Ruleset, start: date, decision: Fact | None, plan: str
) -> tuple[ReviewPeriod, int]:
    run = history.status_run_on(start)
    status = run.status if run else None
    params: tuple[str, ...] = ("counted_application_kinds", "review_period_anchor")
    extra: tuple[str, ...] = ()
    if decision is not None:
        required = int(decision.data["applications_per_period"])
        months = _PERIOD_MONTHS.get(str(decision.data.get("period")), 1)
        basis = decision.event_id
    elif status == "part_time":
        required, months = rs.part_time_applications_per_period, rs.part_time_period_months
        params += ("part_time_applications_per_period", "part_time_period_months")
        basis = plan
    else:
        required, months = rs.default_applications_per_period, rs.default_period_months
        params += ("default_applications_per_period", "default_period_months")
        params += ("requirement_statuses",)
        basis = plan
    waived = ""
    if decision is None and status not in rs.requirement_statuses and status != "part_time":
        waived = f"status {status}"
    if run is not None and status == "laid_off":
        params += ("laid_off_grace_months", "laid_off_requires_conversation")
        extra = (run.event_id,)
        if start < _lay_off_requirement_starts(part, rs, run.started_on):
            waived = "lay-off"
    period = ReviewPeriod(rs, start, start, required, basis, params, waived, extra)
    return period, months


def _lay_off_requirement_starts(part: SpellFacts, rs: Ruleset, laid_off_on: date) -> date:
    """3 months after the lay-off began; from FI-2022-07 also not before a job-search
    conversation held since then."""
    begins = add_months(laid_off_on, rs.laid_off_grace_months)
    if rs.laid_off_requires_conversation:
        held = [m for m in part.meetings("job_search_conversation") if m.occurred_on >= laid_off_on]
        begins = max(begins, held[0].occurred_on) if held else date.max
    return begins


def _finish(period: ReviewPeriod, start: date, end: date, *, cut: bool) -> ReviewPeriod:
    waived = period.waived or ("superseded" if cut else "")
    return ReviewPeriod(
        period.ruleset,
        start,
        end,
        period.required,
        period.basis_id,
        period.params,
        waived,
        period.extra_basis,
    )
