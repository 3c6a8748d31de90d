"""The intensified one-month period at every 6 months of unemployment (RULES.md 5)."""

from __future__ import annotations

from tests.unit.factories import d, ended, held, one, run, started, status

KIND = "intensified_period"


def test_six_months_after_the_spell_start_a_one_month_window_needs_two_conversations() -> None:
    window = one([started("2025-01-15", event_id="s")], "2025-07-20", KIND)
    assert (window.period_start, window.period_end, window.due_on) == (
        d("2025-07-15"),
        d("2025-08-14"),
        d("2025-08-14"),
    )
    assert (window.status, window.required, window.counted) == ("open", 2, 0)
    assert window.rule == "FI-2025-01/intensified_period/1"
    assert "FI-2025-01.intensified_period_anchor=spell_start [P]" in window.assumptions


def test_no_window_before_six_months_of_unemployment() -> None:
    assert run([started("2025-01-15")], "2025-07-14", KIND) == []


def test_two_conversations_inside_the_window_meet_it_on_the_second() -> None:
    facts = [
        started("2025-01-15"),
        held("2025-07-14", "supplementary_conversation"),  # the day before the window
        held("2025-07-20", "intensified_period_conversation", event_id="a"),
        held("2025-08-01", "supplementary_conversation", event_id="b"),
    ]
    window = one(facts, "2025-09-01", KIND)
    assert (window.status, window.met_on, window.counted) == ("met", d("2025-08-01"), 2)
    assert window.basis_event_ids[-2:] == ("a", "b")


def test_one_conversation_only_leaves_the_window_overdue_after_its_end() -> None:
    facts = [started("2025-01-15"), held("2025-07-20", "intensified_period_conversation")]
    window = one(facts, "2025-08-20", KIND)
    assert (window.status, window.counted, window.days_late) == ("overdue", 1, 6)


def test_a_window_ending_on_a_weekend_is_due_the_next_working_day() -> None:
    window = one([started("2025-05-21")], "2025-12-01", KIND)
    assert (window.period_end, window.due_on) == (d("2025-12-20"), d("2025-12-22"))


def test_windows_recur_every_six_months_until_the_2026_rules_drop_them() -> None:
    windows = run([started("2024-01-15")], "2026-03-01", KIND)
    assert [(o.ruleset, o.period_start) for o in windows] == [
        ("FI-2022-07", d("2024-07-15")),
        ("FI-2025-01", d("2025-01-15")),
        ("FI-2025-01", d("2025-07-15")),
    ]


def test_a_spell_started_in_2026_has_no_intensified_periods() -> None:
    assert run([started("2026-01-05")], "2026-12-01", KIND) == []


def test_the_anchor_can_be_the_initial_interview_instead_of_the_spell_start() -> None:
    facts = [started("2025-02-05"), held("2025-02-10", "initial_interview")]
    overrides = {"intensified_period_anchor": "initial_interview"}
    window = one(facts, "2025-08-15", KIND, overrides=overrides)
    assert (window.period_start, window.due_on) == (d("2025-08-10"), d("2025-09-09"))
    assert "FI-2025-01.intensified_period_anchor=initial_interview [P]" in window.assumptions


def test_a_window_cut_by_the_spell_end_is_not_required_and_none_start_after_it() -> None:
    facts = [started("2025-01-15"), ended("2025-08-01")]
    windows = run(facts, "2026-02-01", KIND)
    assert [(o.period_start, o.status) for o in windows] == [(d("2025-07-15"), "not_required")]


def test_no_window_for_a_seeker_working_part_time_when_it_would_start() -> None:
    facts = [started("2025-01-15"), status("2025-03-01", "part_time")]
    assert run(facts, "2025-08-01", KIND) == []
