"""The what-if's core on facts worked out by hand: one seeker whose initial interview is late
under FI-2025-01 and on time had FI-2026-01 been in force in 2025; which ruleset judges what
when another is put in force for a window; small cells suppressed as in the statistics."""

from __future__ import annotations

from datetime import date

import pytest

from projections.whatif import Scenario, Window, pairs, replay
from tests.unit.factories import fact, held, plan, started
from timeline.domain.rules import evaluate, in_force_instead
from timeline.rulesets import default_rulesets

RULESETS = default_rulesets()
SEEKER = "8b9f2f6e-2d7c-4d55-a8a1-5b2a4b0f0c33"

# The job search starts on Wednesday 18 June 2025 (day 0, not counted; Act 150/1930 s. 2).
# Working days are Monday to Friday except holidays; Midsummer Eve (Fri 20 June 2025) and
# Midsummer Day (Sat 21 June) are holidays.
#   Thu 19 Jun = 1; Fri 20 Jun Midsummer Eve (no); Sat 21, Sun 22 (no); Mon 23 = 2;
#   Tue 24 = 3; Wed 25 = 4; Thu 26 Jun = 5   -> FI-2025-01 (5 working days): due Thu 26 Jun
#   Fri 27 = 6; Mon 30 = 7; Tue 1 Jul = 8; Wed 2 Jul = 9; Thu 3 Jul = 10
#                                            -> FI-2026-01 (10 working days): due Thu 3 Jul
# The interview is held on Monday 30 June 2025: 4 calendar days late under FI-2025-01
# (26 Jun -> 30 Jun), on time under FI-2026-01 (30 Jun <= 3 Jul).
START, HELD, DUE_2025, DUE_2026 = "2025-06-18", "2025-06-30", "2025-06-26", "2025-07-03"
ON = date(2025, 9, 30)


def seeker() -> list:
    return [
        started(START, version=1, event_id="start"),
        fact("coach_assigned", START, {"coach_id": "coach-7"}, version=2, event_id="coach"),
        held(HELD, "initial_interview", version=3, event_id="interview"),
        plan(HELD, version=4, event_id="plan"),
    ]


def scenario(ruleset: str = "FI-2026-01") -> Scenario:
    return Scenario(RULESETS.by_id(ruleset), Window("2025-01", "2025-12"), ON, RULESETS)


def test_the_interview_late_under_2025_rules_is_on_time_had_2026_rules_been_in_force() -> None:
    actual, whatif = scenario().both(seeker())
    [a] = [o for o in actual if o.kind == "initial_interview"]
    [w] = [o for o in whatif if o.kind == "initial_interview"]
    assert (a.rule, a.due_on, a.status, a.days_late) == (
        "FI-2025-01/initial_interview",
        date.fromisoformat(DUE_2025),
        "met_late",
        4,
    )
    assert (w.rule, w.due_on, w.status, w.days_late) == (
        "FI-2026-01/initial_interview",
        date.fromisoformat(DUE_2026),
        "met",
        None,
    )
    # FI-2025-01 owes five supplementary conversations after the interview; FI-2026-01 none
    assert sum(o.kind == "supplementary_conversation" for o in actual) == 5
    assert not any(o.kind == "supplementary_conversation" for o in whatif)


def test_the_figures_side_by_side_for_that_seeker() -> None:
    report = replay({SEEKER: seeker()}, scenario(), min_cell=1)
    rows = {(r["month"], r["kind"], r["measure"]): r for r in report.rows}
    late = rows[("2025-06", "initial_interview", "met_late")]
    assert (late["actual"], late["whatif"], late["change"]) == (1.0, 0.0, -1.0)
    assert rows[("2025-06", "initial_interview", "median_days_late")]["actual"] == 4.0
    assert rows[("2025-06", "initial_interview", "due")]["whatif"] == 0.0  # due 3 Jul instead
    july = rows[("2025-07", "initial_interview", "met_on_time")]
    assert (july["actual"], july["whatif"]) == (0.0, 1.0)
    # supplementary conversations every 14 days from 30 Jun: 14 Jul, 28 Jul (July: 2 due)
    conversations = rows[("2025-07", "conversations", "required")]
    assert (conversations["actual"], conversations["whatif"]) == (2.0, 0.0)
    assert rows[("2025-07", "conversations", "per_coach")]["actual"] == 2.0  # coach-7 alone
    assert report.seekers == 1


def test_one_seeker_is_a_small_cell_suppressed_as_in_the_statistics() -> None:
    report = replay({SEEKER: seeker()}, scenario())
    rows = {(r["month"], r["kind"], r["measure"]): r for r in report.rows}
    late = rows[("2025-06", "initial_interview", "met_late")]
    assert (late["actual"], late["whatif"], late["suppressed"]) == (None, 0.0, True)
    assert rows[("2025-06", "initial_interview", "median_days_late")]["actual"] is None
    assert report.seekers is None  # 1 person: not even the count is published
    zero = rows[("2025-02", "initial_interview", "due")]
    assert (zero["actual"], zero["whatif"], zero["suppressed"]) == (0.0, 0.0, False)


def test_the_ruleset_in_force_gives_the_actual_obligations() -> None:
    actual, whatif = scenario("FI-2025-01").both(seeker())
    assert whatif == actual == evaluate(seeker(), ON, RULESETS)


def test_an_auditor_sees_each_obligation_under_both_side_by_side() -> None:
    found = pairs(*scenario().both(seeker()))
    interview = next(p for p in found if p["kind"] == "initial_interview")
    assert interview["actual"]["status"] == "met_late"
    assert interview["whatif"]["status"] == "met"
    supplementary = [p for p in found if p["kind"] == "supplementary_conversation"]
    assert [p["rule"] for p in supplementary] == [
        f"supplementary_conversation/{k}" for k in range(1, 6)
    ]
    assert all(p["whatif"] is None for p in supplementary)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # 2025 under FI-2026-01; FI-2026-01 itself resumes on its own day
        (
            "2025-01-01",
            "2025-12-31",
            [
                ("FI-2022-05", "2022-05-02"),
                ("FI-2022-07", "2022-07-11"),
                ("FI-2026-01", "2025-01-01"),
                ("FI-2026-01", "2026-01-01"),
                ("FI-2026-03", "2026-03-01"),
            ],
        ),
        # the first half of 2025 only: FI-2025-01 resumes on 1 July
        (
            "2025-01-01",
            "2025-06-30",
            [
                ("FI-2022-05", "2022-05-02"),
                ("FI-2022-07", "2022-07-11"),
                ("FI-2026-01", "2025-01-01"),
                ("FI-2025-01", "2025-07-01"),
                ("FI-2026-01", "2026-01-01"),
                ("FI-2026-03", "2026-03-01"),
            ],
        ),
        # a window across a change of law: the ruleset that started inside it is replaced too
        (
            "2025-11-01",
            "2026-01-31",
            [
                ("FI-2022-05", "2022-05-02"),
                ("FI-2022-07", "2022-07-11"),
                ("FI-2025-01", "2025-01-01"),
                ("FI-2026-01", "2025-11-01"),
                ("FI-2026-01", "2026-02-01"),
                ("FI-2026-03", "2026-03-01"),
            ],
        ),
    ],
)
def test_another_ruleset_in_force_for_a_window(first: str, last: str, expected: list) -> None:
    found = in_force_instead(
        RULESETS, RULESETS.by_id("FI-2026-01"), date.fromisoformat(first), date.fromisoformat(last)
    )
    assert [(r.id, r.in_force_from.isoformat()) for r in found.all] == expected
    assert found.in_force_on(date.fromisoformat(first)).initial_interview_working_days == 10


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        in_force_instead(RULESETS, RULESETS.by_id("FI-2026-01"), date(2025, 2, 1), date(2025, 1, 1))
    with pytest.raises(ValueError, match="before it starts"):
        Window("2025-12", "2025-01")


def test_a_suppressed_cell_cannot_be_computed_back_from_its_neighbours() -> None:
    """Six seekers start on 18 Jun 2025; five are interviewed the next day, one on 30 Jun.
    Under FI-2025-01 one interview is late: that cell (1 person) is suppressed, and so is a
    second status of June's interviews (else due − the others would give it back)."""
    facts = {}
    for n in range(6):
        sid = f"00000000-0000-4000-8000-00000000000{n}"
        interviewed = HELD if n == 0 else "2025-06-19"
        facts[sid] = [
            started(START, version=1, event_id=f"s{n}", seeker_id=sid),
            held(interviewed, "initial_interview", version=2, event_id=f"i{n}", seeker_id=sid),
        ]
    report = replay(facts, scenario())
    june = {
        r["measure"]: r
        for r in report.rows
        if r["month"] == "2025-06" and r["kind"] == "initial_interview"
    }
    assert june["due"]["actual"] == 6.0
    assert june["met_late"]["actual"] is None
    assert june["met_on_time"]["actual"] is None  # the complement: 5 persons, still hidden
    assert june["overdue"]["actual"] == june["open"]["actual"] == 0.0
    # what-if: all six due on 3 July (10 working days), all on time
    assert june["due"]["whatif"] == 0.0
    july = next(
        r
        for r in report.rows
        if (r["month"], r["kind"], r["measure"]) == ("2025-07", "initial_interview", "met_on_time")
    )
    assert july["whatif"] == 6.0
    assert report.seekers == 6
