"""Initial interview and employment plan (RULES.md 1, 2)."""

from __future__ import annotations

from tests.unit.factories import (
    correction,
    d,
    ended,
    held,
    one,
    plan,
    retraction,
    run,
    started,
)
from timeline.domain.calendar import WorkingDayCalendar


def test_initial_interview_held_on_or_before_the_due_date_is_met() -> None:
    facts = [
        started("2025-06-02", event_id="s"),
        held("2025-06-06", "initial_interview", event_id="i"),
    ]
    interview = one(facts, "2025-06-10", "initial_interview")
    assert interview.status == "met"
    assert interview.due_on == d("2025-06-09")
    assert interview.met_on == d("2025-06-06")
    assert interview.days_late is None
    assert interview.rule == "FI-2025-01/initial_interview"
    assert interview.ruleset == "FI-2025-01"
    assert interview.basis_event_ids == ("s", "i")


def test_initial_interview_held_on_the_due_date_is_met() -> None:
    facts = [started("2025-06-02"), held("2025-06-09", "initial_interview")]
    assert one(facts, "2025-06-09", "initial_interview").status == "met"


def test_initial_interview_held_after_due_date_is_met_late_with_days_late() -> None:
    facts = [started("2025-06-02"), held("2025-06-12", "initial_interview")]
    interview = one(facts, "2025-06-20", "initial_interview")
    assert interview.status == "met_late"
    assert interview.days_late == 3


def test_initial_interview_not_held_is_open_until_the_due_date_and_overdue_the_day_after() -> None:
    facts = [started("2025-06-02")]
    assert one(facts, "2025-06-09", "initial_interview").status == "open"
    overdue = one(facts, "2025-06-10", "initial_interview")
    assert overdue.status == "overdue"
    assert overdue.days_late == 1


def test_an_interview_held_after_the_evaluation_day_does_not_count_yet() -> None:
    facts = [started("2025-06-02"), held("2025-06-12", "initial_interview")]
    assert one(facts, "2025-06-11", "initial_interview").status == "overdue"
    assert one(facts, "2025-06-05", "initial_interview").status == "open"


def test_start_on_31_december_2025_has_five_working_days_and_2_january_2026_has_ten() -> None:
    old = one([started("2025-12-31")], "2025-12-31", "initial_interview")
    new = one([started("2026-01-02")], "2026-01-02", "initial_interview")
    assert (old.ruleset, old.due_on) == ("FI-2025-01", d("2026-01-09"))
    assert (new.ruleset, new.due_on) == ("FI-2026-01", d("2026-01-19"))


def test_a_spell_started_in_2025_keeps_the_five_day_rule_when_evaluated_in_2026() -> None:
    interview = one([started("2025-12-19")], "2026-02-01", "initial_interview")
    assert interview.due_on == d("2025-12-31")
    assert interview.rule == "FI-2025-01/initial_interview"
    assert interview.status == "overdue"


def test_no_new_interview_when_the_previous_spell_ended_less_than_six_months_before() -> None:
    facts = [
        started("2025-01-02"),
        held("2025-01-03", "initial_interview"),
        ended("2025-01-15", event_id="end"),
        started("2025-07-14", event_id="again"),
    ]
    second = [
        o
        for o in run(facts, "2025-08-01")
        if o.kind in ("initial_interview", "employment_plan") and "again" in o.basis_event_ids
    ]
    assert {o.kind: o.status for o in second} == {
        "initial_interview": "not_required",
        "employment_plan": "not_required",
    }
    assert all(o.basis_event_ids == ("end", "again") for o in second)


def test_a_new_interview_is_due_when_six_months_have_passed_since_the_previous_spell() -> None:
    facts = [started("2025-01-02"), ended("2025-01-15"), started("2025-07-15", event_id="again")]
    interviews = run(facts, "2025-08-01", "initial_interview")
    assert interviews[-1].status == "overdue"
    assert interviews[-1].basis_event_ids == ("again",)


def test_interview_due_after_the_spell_ended_is_not_required() -> None:
    facts = [started("2025-06-02"), ended("2025-06-04")]
    assert one(facts, "2025-07-01", "initial_interview").status == "not_required"


def test_interview_held_before_the_spell_ended_stays_met() -> None:
    facts = [started("2025-06-02"), held("2025-06-03", "initial_interview"), ended("2025-06-04")]
    assert one(facts, "2025-07-01", "initial_interview").status == "met"


def test_working_day_counting_is_reported_as_a_partly_confirmed_assumption() -> None:
    interview = one([started("2025-06-02")], "2025-06-02", "initial_interview")
    assert interview.confidence == "P"
    assert "calendar.saturdays_are_working_days=False [P]" in interview.assumptions


def test_counting_saturdays_as_working_days_moves_the_due_date_earlier() -> None:
    calendar = WorkingDayCalendar(saturdays_are_working_days=True)
    interview = one([started("2025-12-19")], "2025-12-19", "initial_interview", calendar=calendar)
    assert interview.due_on == d("2025-12-29")
    assert "calendar.saturdays_are_working_days=True [P]" in interview.assumptions


def test_employment_plan_agreed_in_the_interview_is_met() -> None:
    facts = [started("2025-06-02"), held("2025-06-05", "initial_interview"), plan("2025-06-05")]
    employment_plan = one(facts, "2025-06-10", "employment_plan")
    assert employment_plan.status == "met"
    assert employment_plan.due_on == d("2025-06-05")


def test_employment_plan_agreed_after_the_interview_is_met_late() -> None:
    facts = [started("2025-06-02"), held("2025-06-05", "initial_interview"), plan("2025-06-09")]
    employment_plan = one(facts, "2025-06-10", "employment_plan")
    assert (employment_plan.status, employment_plan.days_late) == ("met_late", 4)


def test_employment_plan_without_an_interview_is_due_with_the_interview() -> None:
    employment_plan = one([started("2025-06-02")], "2025-06-10", "employment_plan")
    assert (employment_plan.status, employment_plan.due_on) == ("overdue", d("2025-06-09"))


def test_a_correction_of_the_interview_day_changes_the_status() -> None:
    interview = held("2025-06-05", "initial_interview")
    facts = [started("2025-06-02"), interview, correction(interview, "2025-06-11")]
    result = one(facts, "2025-06-20", "initial_interview")
    assert (result.status, result.met_on, result.days_late) == ("met_late", d("2025-06-11"), 2)


def test_a_retracted_interview_no_longer_meets_the_obligation() -> None:
    interview = held("2025-06-05", "initial_interview")
    facts = [started("2025-06-02"), interview, retraction(interview)]
    assert one(facts, "2025-06-20", "initial_interview").status == "overdue"


def test_a_corrected_start_day_moves_the_due_date_and_may_change_the_ruleset() -> None:
    start = started("2025-12-30")
    facts = [start, correction(start, "2026-01-02")]
    interview = one(facts, "2026-01-05", "initial_interview")
    assert (interview.ruleset, interview.due_on) == ("FI-2026-01", d("2026-01-19"))


def test_a_history_before_the_first_ruleset_has_no_obligations() -> None:
    assert run([started("2022-04-01")], "2022-04-20") == []
