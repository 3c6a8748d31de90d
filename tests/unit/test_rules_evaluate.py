"""``evaluate`` as a whole: raw facts, as-on-a-day semantics and output shape (its speed is
measured in ops/bench/rules_timing.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.factories import (
    applied,
    correction,
    ended,
    fact,
    held,
    missed,
    one,
    plan,
    retraction,
    run,
    started,
)
from timeline.domain.facts import Fact
from timeline.domain.rules import KINDS


def test_to_dict_gives_json_ready_values_with_iso_dates() -> None:
    interview = one([started("2025-06-02", event_id="s")], "2025-06-10", "initial_interview")
    as_dict = interview.to_dict()
    assert as_dict["due_on"] == "2025-06-09"
    assert as_dict["basis_event_ids"] == ["s"]
    assert as_dict["status"] == "overdue"
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert set(as_dict) >= {
        "seeker_id", "kind", "ruleset", "rule", "period_start", "period_end", "due_on",
        "status", "met_on", "days_late", "required", "counted", "basis_event_ids",
        "confidence", "assumptions",
    }  # fmt: skip


def test_facts_of_more_than_one_seeker_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one seeker"):
        run([started("2025-06-02"), started("2025-06-02", seeker_id="other")], "2025-06-10")


def test_a_spell_ending_after_the_evaluation_day_is_still_open_on_that_day() -> None:
    facts = [started("2025-06-02"), ended("2025-06-20")]
    assert one(facts, "2025-06-10", "initial_interview").status == "overdue"
    assert one(facts, "2025-06-21", "initial_interview").status == "overdue"
    assert (
        one([started("2025-06-02"), ended("2025-06-05")], "2025-06-21", "initial_interview").status
        == "not_required"
    )


def test_a_retracted_spell_start_leaves_no_obligations() -> None:
    start = started("2025-06-02")
    assert run([start, retraction(start)], "2025-07-01") == []


def test_a_correction_changing_the_meeting_kind_changes_which_rule_it_meets() -> None:
    meeting = held("2025-06-05", "other")
    facts = [started("2025-06-02"), meeting]
    assert one(facts, "2025-06-10", "initial_interview").status == "overdue"
    fixed = correction(
        meeting, "2025-06-05", data={"kind": "initial_interview", "channel": "phone"}
    )
    assert one([*facts, fixed], "2025-06-10", "initial_interview").status == "met"


def test_every_spell_gets_its_own_obligations_in_order() -> None:
    facts = [
        started("2023-01-02", event_id="s1"),
        ended("2023-02-01"),
        started("2024-01-02", event_id="s2"),
    ]
    interviews = run(facts, "2024-02-01", "initial_interview")
    assert [o.basis_event_ids for o in interviews] == [("s1",), ("s2",)]
    assert [o.status for o in interviews] == ["overdue", "overdue"]


def test_the_result_is_the_same_whatever_order_the_facts_come_in() -> None:
    facts = _busy_seeker(60)
    assert run(list(reversed(facts)), "2026-06-01") == run(facts, "2026-06-01")


def test_every_obligation_names_a_known_kind_and_its_ruleset_in_its_rule() -> None:
    for o in run(_busy_seeker(200), "2026-06-01"):
        assert o.kind in KINDS
        assert o.rule.startswith(o.ruleset + "/")
        assert o.seeker_id


def _busy_seeker(n: int) -> list[Fact]:
    """A spell from 2025 into 2026 with about ``n`` facts of every kind."""
    start = date(2025, 1, 7)
    facts = [started(start), held("2025-01-10", "initial_interview"), plan("2025-01-10")]
    kinds = [
        "supplementary_conversation",
        "job_search_conversation",
        "intensified_period_conversation",
    ]
    i = 0
    while len(facts) < n:
        day = start + timedelta(days=3 + i * 2)
        if i % 4 == 3:
            facts.append(held(day, kinds[i % 3]))
        elif i % 17 == 5:
            facts.append(missed(day))
        else:
            facts.append(applied(day, "vacancy" if i % 5 else "open_application"))
        i += 1
    return facts


interview_days = st.integers(min_value=0, max_value=40)
evaluation_days = st.integers(min_value=0, max_value=60)


@settings(max_examples=200)
@given(
    st.dates(min_value=date(2022, 5, 2), max_value=date(2027, 12, 1)),
    interview_days,
    evaluation_days,
)
def test_initial_interview_status_follows_its_definition(
    start: date, held_after: int, on_after: int
) -> None:
    held_on = start + timedelta(days=held_after)
    on = start + timedelta(days=on_after)
    o = one([started(start), held(held_on, "initial_interview")], on, "initial_interview")
    assert o.due_on is not None
    if held_on <= on and held_on <= o.due_on:
        assert (o.status, o.days_late) == ("met", None)
    elif held_on <= on:
        assert (o.status, o.days_late) == ("met_late", (held_on - o.due_on).days)
    elif on > o.due_on:
        assert (o.status, o.days_late) == ("overdue", (on - o.due_on).days)
    else:
        assert o.status == "open"


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=900))
def test_no_requirement_period_starts_after_the_evaluation_day(offset: int) -> None:
    on = date(2025, 1, 10) + timedelta(days=offset)
    facts = [started("2025-01-07"), held("2025-01-10", "initial_interview")]
    periods = run(facts, on, "job_search_requirement")
    assert periods
    assert all(o.period_start is not None and o.period_start <= on for o in periods)
    assert periods[-1].period_end is not None
    assert periods[-1].period_end >= on


def test_unknown_fact_types_are_ignored() -> None:
    facts = [started("2025-06-02"), fact("coach_assigned", "2025-06-03", {"coach_id": "c1"})]
    assert {o.kind for o in run(facts, "2025-06-03")} == {"initial_interview", "employment_plan"}
