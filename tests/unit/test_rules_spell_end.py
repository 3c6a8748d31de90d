"""At a spell's end obligations stop (RULES.md, "At a spell's end"): what was already overdue
stays ``overdue`` with ``days_late`` frozen at the end day; what was open, or falls due after
the end, is ``not_required``; nothing accrues lateness after the end."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.factories import RULESETS, d, ended, held, one, run, started
from timeline.domain.facts import Fact
from timeline.domain.rules import evaluate, status_on


def test_an_interview_overdue_at_the_end_stays_overdue_with_lateness_frozen_at_the_end_day() -> (
    None
):
    # Mon 3 Feb 2025 + 5 working days = Mon 10 Feb; the spell ends Fri 28 Feb, 18 days later.
    facts = [started("2025-02-03"), ended("2025-02-28")]
    for on in ("2025-02-28", "2025-03-01", "2025-12-01", "2030-01-01"):
        interview = one(facts, on, "initial_interview")
        assert (interview.due_on, interview.status, interview.days_late) == (
            d("2025-02-10"),
            "overdue",
            18,
        ), on
        plan = one(facts, on, "employment_plan")
        assert (plan.status, plan.days_late) == ("overdue", 18), on


def test_before_the_end_is_known_lateness_still_counts_to_the_day_asked_about() -> None:
    facts = [started("2025-02-03"), ended("2025-02-28")]
    interview = one(facts, "2025-02-20", "initial_interview")
    assert (interview.status, interview.days_late) == ("overdue", 10)


def test_an_interview_still_open_on_the_end_day_is_not_required() -> None:
    # due Mon 9 Jun 2025, the spell ends that very day without an interview
    facts = [started("2025-06-02"), ended("2025-06-09")]
    for on in ("2025-06-09", "2025-06-10", "2026-06-10"):
        interview = one(facts, on, "initial_interview")
        assert (interview.status, interview.days_late) == ("not_required", None), on


def test_an_interview_held_late_before_the_end_stays_met_late() -> None:
    facts = [started("2025-02-03"), held("2025-02-12", "initial_interview"), ended("2025-02-28")]
    interview = one(facts, "2025-12-01", "initial_interview")
    assert (interview.status, interview.days_late) == ("met_late", 2)


def test_requirement_periods_stop_at_the_end_two_years_later_too() -> None:
    # plan (the interview) on Thu 5 Jun 2025: periods 5 Jun–4 Jul, 5 Jul–4 Aug; end 20 Jul.
    facts = [
        started("2025-06-02"),
        held("2025-06-05", "initial_interview", event_id="i"),
        ended("2025-07-20"),
    ]
    periods = run(facts, "2027-07-20", "job_search_requirement")
    assert [(o.period_start, o.status, o.days_late) for o in periods] == [
        (d("2025-06-05"), "overdue", 16),  # 4 Jul → 20 Jul, frozen
        (d("2025-07-05"), "not_required", None),  # falls due (4 Aug) after the end
    ]
    shortfalls = run(facts, "2027-07-20", "requirement_shortfall")
    assert [(o.period_start, o.status) for o in shortfalls] == [(d("2025-06-05"), "open")]


def test_a_job_search_conversation_overdue_at_the_end_is_frozen_and_none_follows() -> None:
    facts = [started("2025-01-07"), held("2025-01-09", "initial_interview"), ended("2025-05-30")]
    talks = run(facts, "2026-09-01", "job_search_conversation")
    # 9 Jan + 3 months = Wed 9 Apr; 9 Apr → 30 May = 51 days
    assert [(o.due_on, o.status, o.days_late) for o in talks] == [(d("2025-04-09"), "overdue", 51)]


def test_supplementary_conversations_overdue_at_the_end_are_frozen_later_ones_not_required() -> (
    None
):
    facts = [started("2025-06-02"), held("2025-06-05", "initial_interview"), ended("2025-07-01")]
    slots = run(facts, "2026-01-01", "supplementary_conversation")
    assert [(o.due_on, o.status, o.days_late) for o in slots] == [
        (d("2025-06-19"), "overdue", 12),
        (d("2025-07-03"), "not_required", None),
        (d("2025-07-17"), "not_required", None),
        (d("2025-07-31"), "not_required", None),
        (d("2025-08-14"), "not_required", None),
    ]


def test_status_on_ignores_an_end_not_yet_reached_on_the_day_asked_about() -> None:
    due, end = d("2025-02-10"), d("2025-02-28")
    assert status_on(due, None, d("2025-02-20"), end) == ("overdue", 10)
    assert status_on(due, None, d("2025-03-20"), end) == ("overdue", 18)
    assert status_on(d("2025-03-03"), None, d("2025-03-20"), end) == ("not_required", None)
    assert status_on(d("2025-02-28"), None, d("2025-02-28"), end) == ("not_required", None)


def _busy_spell(end: date) -> list[Fact]:
    """A spell from January 2025 with an interview, some conversations, ending on ``end``."""
    start = date(2025, 1, 7)
    facts = [started(start)]
    for offset, kind in (
        (5, "initial_interview"),
        (30, "supplementary_conversation"),
        (95, "job_search_conversation"),
        (200, "intensified_period_conversation"),
        (290, "job_search_conversation"),
    ):
        if start + timedelta(days=offset) < end:
            facts.append(held(start + timedelta(days=offset), kind))
    return [*facts, ended(end)]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=2000),
)
def test_nothing_changes_after_the_end_whatever_day_is_asked_about(length: int, later: int) -> None:
    """The class: evaluated on the end day or any day after, a spell's obligations are the
    same, and no overdue one is later than the end day allows."""
    end = date(2025, 1, 7) + timedelta(days=length)
    facts = _busy_spell(end)
    at_end = evaluate(facts, end, RULESETS)
    assert evaluate(facts, end + timedelta(days=later), RULESETS) == at_end
    for o in at_end:
        if o.status == "overdue":
            assert o.due_on is not None and o.due_on < end
            assert o.days_late == (end - o.due_on).days
        if o.due_on is not None and o.due_on >= end and o.met_on is None:
            assert o.status == "not_required", o
