"""Missed appointments (RULES.md 9): flagged for review with what the ruleset makes of them."""

from __future__ import annotations

import pytest

from tests.unit.factories import d, decision, held, missed, one, run, started

KIND = "missed_appointment"


def _spell() -> list:  # type: ignore[type-arg]
    return [started("2025-11-03"), held("2025-11-05", "initial_interview")]


def test_a_no_show_in_february_2026_is_a_candidate_neglect() -> None:
    flag = one([*_spell(), missed("2026-02-27", event_id="m")], "2026-03-05", KIND)
    assert (flag.ruleset, flag.consequence, flag.status) == (
        "FI-2026-01",
        "candidate_neglect",
        "open",
    )
    assert flag.basis_event_ids == ("m",)
    assert flag.period_start == d("2026-02-27")


def test_a_no_show_from_march_2026_ends_the_job_search() -> None:
    flag = one([*_spell(), missed("2026-03-02")], "2026-03-05", KIND)
    assert (flag.ruleset, flag.consequence) == ("FI-2026-03", "ends_job_search")
    assert flag.rule == "FI-2026-03/missed_appointment"


def test_a_cancellation_by_the_seeker_is_flagged_too() -> None:
    flag = one([*_spell(), missed("2025-12-01", "cancelled_by_seeker")], "2025-12-05", KIND)
    assert flag.consequence == "candidate_neglect"
    assert (
        "FI-2025-01.missed_appointment_reasons=no_show,cancelled_by_seeker [P]" in flag.assumptions
    )


@pytest.mark.parametrize("reason", ["illness", "cancelled_by_service", "other"])
def test_misses_for_reasons_not_attributable_to_the_seeker_are_not_flagged(reason: str) -> None:
    assert run([*_spell(), missed("2025-12-01", reason)], "2025-12-05", KIND) == []


def test_a_miss_after_the_evaluation_day_is_not_seen() -> None:
    assert run([*_spell(), missed("2025-12-01")], "2025-11-30", KIND) == []


def test_a_decision_naming_the_miss_marks_the_flag_reviewed() -> None:
    facts = [*_spell(), missed("2025-12-01", event_id="m"), decision("2025-12-03", "m")]
    assert one(facts, "2025-12-02", KIND).status == "open"
    flag = one(facts, "2025-12-04", KIND)
    assert (flag.status, flag.met_on) == ("met", d("2025-12-03"))


def test_which_reasons_count_can_be_overridden() -> None:
    facts = [*_spell(), missed("2025-12-01", "illness")]
    overrides = {"missed_appointment_reasons": ["no_show", "illness"]}
    assert one(facts, "2025-12-05", KIND, overrides=overrides).consequence == "candidate_neglect"
