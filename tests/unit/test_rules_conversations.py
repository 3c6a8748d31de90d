"""Supplementary conversations and the three-monthly job-search conversation (RULES.md 3, 4)."""

from __future__ import annotations

from tests.unit.factories import d, ended, held, one, run, started, status


def _interviewed(on: str, start: str | None = None, state: str = "unemployed") -> list:  # type: ignore[type-arg]
    return [started(start or on, state), held(on, "initial_interview", event_id="i")]


def test_five_supplementary_conversations_fall_due_every_two_weeks_after_the_interview() -> None:
    slots = run(_interviewed("2025-06-05"), "2025-06-06", "supplementary_conversation")
    assert [o.due_on for o in slots] == [
        d("2025-06-19"),
        d("2025-07-03"),
        d("2025-07-17"),
        d("2025-07-31"),
        d("2025-08-14"),
    ]
    assert [o.rule for o in slots] == [
        f"FI-2025-01/supplementary_conversation/{k}" for k in range(1, 6)
    ]
    assert {o.status for o in slots} == {"open"}
    assert slots[0].confidence == "P"
    assert "FI-2025-01.supplementary_conversations=5 [P]" in slots[0].assumptions


def test_a_supplementary_due_date_on_midsummer_eve_moves_to_the_next_working_day() -> None:
    slots = run(_interviewed("2025-06-06"), "2025-06-06", "supplementary_conversation")
    assert slots[0].due_on == d("2025-06-23")


def test_supplementary_conversations_held_meet_the_slots_in_order() -> None:
    facts = [
        *_interviewed("2025-06-05"),
        held("2025-06-18", "supplementary_conversation", event_id="a"),
        held("2025-07-10", "supplementary_conversation", event_id="b"),
    ]
    slots = run(facts, "2025-07-20", "supplementary_conversation")
    assert [(o.status, o.met_on, o.days_late) for o in slots[:3]] == [
        ("met", d("2025-06-18"), None),
        ("met_late", d("2025-07-10"), 7),
        ("overdue", None, 3),
    ]
    assert slots[1].basis_event_ids == ("i", "b")


def test_no_supplementary_conversations_are_required_after_an_interview_in_2026() -> None:
    assert run(_interviewed("2026-01-07"), "2026-02-01", "supplementary_conversation") == []


def test_an_interview_in_december_2025_keeps_the_2025_supplementary_cadence_into_2026() -> None:
    slots = run(_interviewed("2025-12-15"), "2026-02-01", "supplementary_conversation")
    assert len(slots) == 5
    assert {o.ruleset for o in slots} == {"FI-2025-01"}
    assert slots[-1].due_on == d("2026-02-23")


def test_laid_off_seekers_have_no_fixed_supplementary_conversations() -> None:
    facts = _interviewed("2025-06-05", state="laid_off")
    assert run(facts, "2025-06-06", "supplementary_conversation") == []


def test_the_number_and_spacing_of_supplementary_conversations_can_be_overridden() -> None:
    overrides = {"supplementary_conversations": 6, "supplementary_interval_days": 7}
    slots = run(
        _interviewed("2025-06-05"), "2025-06-06", "supplementary_conversation", overrides=overrides
    )
    assert len(slots) == 6
    assert slots[0].due_on == d("2025-06-12")
    assert "FI-2025-01.supplementary_interval_days=7 [P]" in slots[0].assumptions


def test_supplementary_slots_due_after_the_spell_ended_are_not_required() -> None:
    facts = [*_interviewed("2025-06-05"), ended("2025-07-01")]
    slots = run(facts, "2025-09-01", "supplementary_conversation")
    assert [o.status for o in slots] == [
        "overdue",
        "not_required",
        "not_required",
        "not_required",
        "not_required",
    ]


def test_job_search_conversation_is_due_three_months_after_the_interview_on_a_working_day() -> None:
    conversation = one(_interviewed("2025-03-20"), "2025-04-01", "job_search_conversation")
    assert conversation.due_on == d("2025-06-23")  # 20 June 2025 is Midsummer Eve
    assert conversation.status == "open"
    assert conversation.basis_event_ids == ("i",)


def test_the_next_conversation_is_counted_from_the_one_held_and_an_overdue_one_ends_the_chain() -> (
    None
):
    facts = [
        *_interviewed("2025-03-20"),
        held("2025-06-18", "job_search_conversation", event_id="c"),
    ]
    conversations = run(facts, "2025-10-01", "job_search_conversation")
    assert [(o.status, o.due_on, o.days_late) for o in conversations] == [
        ("met", d("2025-06-23"), None),
        ("overdue", d("2025-09-18"), 13),
    ]
    assert conversations[1].basis_event_ids == ("c",)


def test_a_conversation_held_late_is_met_late_and_anchors_the_next_one() -> None:
    facts = [*_interviewed("2025-03-20"), held("2025-07-01", "job_search_conversation")]
    first, second = run(facts, "2025-07-15", "job_search_conversation")
    assert (first.status, first.days_late) == ("met_late", 8)
    assert (second.status, second.due_on) == ("open", d("2025-10-01"))


def test_a_spell_from_2025_into_2026_judges_each_conversation_by_its_anchor_day() -> None:
    facts = [*_interviewed("2025-11-10"), held("2026-02-05", "job_search_conversation")]
    first, second = run(facts, "2026-03-01", "job_search_conversation")
    assert (first.rule, first.status) == ("FI-2025-01/job_search_conversation", "met")
    assert (second.rule, second.due_on) == ("FI-2026-01/job_search_conversation", d("2026-05-05"))


def test_conversations_are_not_required_while_the_seeker_is_a_full_time_student() -> None:
    facts = [*_interviewed("2025-03-20"), status("2025-05-01", "student")]
    conversations = run(facts, "2025-07-01", "job_search_conversation")
    assert [o.status for o in conversations] == ["not_required", "not_required"]


def test_without_an_interview_no_conversation_chain_starts() -> None:
    assert run([started("2025-03-20")], "2025-08-01", "job_search_conversation") == []


def test_on_a_repeat_start_the_conversation_is_counted_from_the_spell_start() -> None:
    facts = [started("2025-01-02"), ended("2025-01-15"), started("2025-03-03", event_id="again")]
    conversation = one(facts, "2025-04-01", "job_search_conversation")
    assert (conversation.due_on, conversation.basis_event_ids) == (d("2025-06-03"), ("again",))
