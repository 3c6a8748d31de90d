"""The job-search requirement per review period and the shortfall flag (RULES.md 6, 7, 8)."""

from __future__ import annotations

import time

from tests.unit.factories import (
    RULESETS,
    applied,
    d,
    decision,
    ended,
    fact,
    held,
    one,
    requirement,
    run,
    started,
)
from timeline.domain.facts import Fact
from timeline.domain.rules import evaluate

REQ = "job_search_requirement"
SHORT = "requirement_shortfall"


def _plan_on_5_june(state: str = "unemployed") -> list[Fact]:
    return [started("2025-06-02", state), held("2025-06-05", "initial_interview", event_id="i")]


def test_the_default_is_four_applications_per_month_from_the_plan_day() -> None:
    period = one(_plan_on_5_june(), "2025-06-20", REQ)
    assert (period.period_start, period.period_end, period.due_on) == (
        d("2025-06-05"),
        d("2025-07-04"),
        d("2025-07-04"),
    )
    assert (period.status, period.required, period.counted) == ("open", 4, 0)
    assert period.basis_event_ids == ("i",)
    assert period.rule == "FI-2025-01/job_search_requirement"


def test_only_periods_up_to_the_one_containing_the_evaluation_day_are_generated() -> None:
    periods = run(_plan_on_5_june(), "2025-09-10", REQ)
    assert [o.period_start for o in periods] == [
        d("2025-06-05"),
        d("2025-07-05"),
        d("2025-08-05"),
        d("2025-09-05"),
    ]
    assert periods[-1].status == "open"


def test_four_counted_applications_meet_the_period_on_the_fourth_and_other_kinds_do_not_count() -> (
    None
):
    facts = [
        *_plan_on_5_june(),
        applied("2025-06-06", event_id="a1"),
        applied("2025-06-07", "self_employment_step", event_id="x"),
        applied("2025-06-10", "open_application", event_id="a2"),
        applied("2025-06-20", "agency_registration", event_id="a3"),
        applied("2025-07-01", "other_agreed", event_id="a4"),
    ]
    first = run(facts, "2025-07-10", REQ)[0]
    assert (first.status, first.met_on, first.counted) == ("met", d("2025-07-01"), 4)
    assert first.basis_event_ids == ("i", "a1", "a2", "a3", "a4")
    assert run(facts, "2025-07-10", SHORT) == []


def test_a_period_ending_short_is_overdue_and_raises_a_shortfall_with_its_evidence() -> None:
    facts = [
        *_plan_on_5_june(),
        applied("2025-06-06", event_id="a1"),
        applied("2025-06-10", event_id="a2"),
    ]
    first = run(facts, "2025-07-10", REQ)[0]
    assert (first.status, first.days_late, first.counted) == ("overdue", 6, 2)
    flag = one(facts, "2025-07-10", SHORT)
    assert (flag.status, flag.required, flag.counted) == ("open", 4, 2)
    assert (flag.period_start, flag.period_end) == (d("2025-06-05"), d("2025-07-04"))
    assert flag.basis_event_ids == ("i", "a1", "a2")
    assert flag.consequence is not None
    assert flag.consequence.startswith("candidate neglect for review")
    assert "reminder" in flag.consequence


def test_no_shortfall_while_the_period_is_still_running() -> None:
    facts = [*_plan_on_5_june(), applied("2025-06-06")]
    assert run(facts, "2025-07-04", SHORT) == []


def test_a_decision_after_the_period_naming_its_evidence_closes_the_shortfall() -> None:
    facts = [
        *_plan_on_5_june(),
        applied("2025-06-06", event_id="a1"),
        decision("2025-06-20", "a1"),  # during the period: not a review of the shortfall
        decision("2025-07-15", "a1"),
    ]
    assert one(facts, "2025-07-10", SHORT).status == "open"
    flag = one(facts, "2025-07-20", SHORT)
    assert (flag.status, flag.met_on) == ("met", d("2025-07-15"))


def test_an_individual_requirement_starts_new_periods_and_supersedes_the_running_one() -> None:
    facts = [*_plan_on_5_june(), requirement("2025-07-01", 2, on="2025-06-05", event_id="r")]
    stub, period = run(facts, "2025-07-15", REQ)
    assert (stub.period_start, stub.period_end, stub.status) == (
        d("2025-06-05"),
        d("2025-06-30"),
        "not_required",
    )
    assert "waived: superseded" in stub.assumptions
    assert (period.period_start, period.period_end, period.required) == (
        d("2025-07-01"),
        d("2025-07-31"),
        2,
    )
    assert period.basis_event_ids == ("r",)


def test_a_three_month_requirement_has_three_month_periods() -> None:
    facts = [*_plan_on_5_june(), requirement("2025-06-05", 1, "three_months")]
    period = one(facts, "2025-06-20", REQ)
    assert (period.period_end, period.required) == (d("2025-09-04"), 1)


def test_a_requirement_of_zero_is_not_required() -> None:
    facts = [*_plan_on_5_june(), requirement("2025-06-05", 0)]
    periods = run(facts, "2025-08-01", REQ)
    assert [(o.status, o.required) for o in periods] == [("not_required", 0), ("not_required", 0)]
    assert run(facts, "2025-08-01", SHORT) == []


def test_the_default_resumes_after_a_requirement_expires() -> None:
    facts = [*_plan_on_5_june(), fact(
        "job_search_requirement_set", "2025-06-05",
        {"applications_per_period": 2, "period": "month", "valid_from": "2025-06-05",
         "valid_until": "2025-07-04", "grounds": "work ability"}, event_id="r",
    )]  # fmt: skip
    first, second = run(facts, "2025-07-10", REQ)
    assert (first.required, first.basis_event_ids) == (2, ("r",))
    assert (second.period_start, second.required, second.basis_event_ids) == (
        d("2025-07-05"),
        4,
        ("i",),
    )


def test_an_application_counts_by_the_day_it_was_made_once_it_has_been_reported() -> None:
    facts = [*_plan_on_5_june(), applied("2025-06-10", reported_on="2025-06-25")]
    assert one(facts, "2025-06-20", REQ).counted == 0
    assert one(facts, "2025-06-25", REQ).counted == 1


def test_a_job_offered_by_the_authority_counts_in_2025_but_not_from_2026() -> None:
    def offered(on: str) -> Fact:
        return fact(
            "application_reported",
            on,
            {"applied_on": on, "kind": "vacancy", "offered_by_authority": True},
        )

    facts = [
        started("2025-11-03"),
        held("2025-11-05", "initial_interview"),
        offered("2025-11-10"),
        offered("2026-01-10"),
    ]
    counted = [(o.ruleset, o.counted) for o in run(facts, "2026-01-20", REQ)]
    assert counted == [("FI-2025-01", 1), ("FI-2025-01", 0), ("FI-2026-01", 0)]


def test_a_period_cut_by_the_spell_end_is_not_required_and_none_follow() -> None:
    facts = [*_plan_on_5_june(), ended("2025-07-20")]
    periods = run(facts, "2025-10-01", REQ)
    assert [o.status for o in periods] == ["overdue", "not_required"]


def test_laid_off_has_no_requirement_for_three_months_nor_from_2022_07_before_a_talk() -> None:
    facts = [
        started("2022-05-10", "laid_off", event_id="s"),
        held("2022-05-12", "initial_interview"),
    ]
    periods = run(facts, "2022-10-01", REQ)
    assert [o.period_start for o in periods][-2:] == [d("2022-08-12"), d("2022-09-12")]
    assert {(o.status, o.required) for o in periods} == {("not_required", 0)}
    assert "waived: lay-off" in periods[-1].assumptions
    assert "s" in periods[-1].basis_event_ids

    with_conversation = [*facts, held("2022-08-20", "job_search_conversation")]
    periods = run(with_conversation, "2022-10-01", REQ)
    assert [(o.ruleset, o.status, o.required) for o in periods[-2:]] == [
        ("FI-2022-07", "not_required", 0),
        ("FI-2022-07", "open", 4),
    ]


def test_under_the_may_2022_rules_alone_a_lay_off_needs_only_three_months() -> None:
    only_may = [r for r in RULESETS.all if r.id == "FI-2022-05"]
    facts = [started("2022-05-10", "laid_off"), held("2022-05-12", "initial_interview")]
    periods = [o for o in evaluate(facts, d("2022-10-01"), only_may) if o.kind == REQ]
    assert [(o.period_start, o.required) for o in periods[-2:]] == [
        (d("2022-08-12"), 4),
        (d("2022-09-12"), 4),
    ]


def test_part_time_needs_one_per_three_months_in_2025_and_four_a_month_from_2026() -> None:
    periods = run(_plan_on_5_june("part_time"), "2026-03-10", REQ)
    assert [(o.ruleset, o.period_start, o.period_end, o.required) for o in periods] == [
        ("FI-2025-01", d("2025-06-05"), d("2025-09-04"), 1),
        ("FI-2025-01", d("2025-09-05"), d("2025-12-04"), 1),
        ("FI-2025-01", d("2025-12-05"), d("2026-03-04"), 1),
        ("FI-2026-03", d("2026-03-05"), d("2026-04-04"), 4),
    ]


def test_review_periods_can_follow_calendar_months() -> None:
    periods = run(
        _plan_on_5_june(), "2025-07-10", REQ, overrides={"review_period_anchor": "calendar_month"}
    )
    assert [(o.period_start, o.period_end) for o in periods] == [
        (d("2025-06-05"), d("2025-06-30")),
        (d("2025-07-01"), d("2025-07-31")),
    ]


def test_no_requirement_before_a_plan_or_interview() -> None:
    assert run([started("2025-06-02")], "2025-09-01", REQ) == []


def test_a_ten_year_spell_has_one_period_a_month_and_stays_fast() -> None:
    facts = [started("2022-06-01"), held("2022-06-03", "initial_interview")]
    begin = time.perf_counter()
    periods = run(facts, "2032-06-10", REQ)
    elapsed = time.perf_counter() - begin
    assert len(periods) == 121
    assert elapsed < 0.5
