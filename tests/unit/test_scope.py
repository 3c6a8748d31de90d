"""The pure scope rule: whose seeker it is now, and what a scope may write to it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.factories import fact
from timeline.domain.facts import Fact, effective_facts
from timeline.domain.scope import municipality_now, places, scope_refusal

LAHTI, TAMPERE, HELSINKI = "398", "837", "091"


def start(on: str, municipality: str, **kw: Any) -> Fact:
    return fact(
        "job_search_started",
        on,
        {"municipality": municipality, "labour_market_status": "unemployed"},
        **kw,
    )


def transfer(on: str, to: str, **kw: Any) -> Fact:
    return fact("seeker_transferred", on, {"to_municipality": to}, **kw)


def correct(target: Fact, type_: str, on: str, data: dict[str, Any], **kw: Any) -> Fact:
    replacement = {"type": type_, "occurred_on": on, "data": data}
    return fact(
        "correction",
        "2025-07-01",
        {"corrects_event_id": target.event_id, "reason": "r", "replacement": replacement},
        **kw,
    )


def retract(target: Fact, **kw: Any) -> Fact:
    return fact(
        "retraction", "2025-07-01", {"retracts_event_id": target.event_id, "reason": "r"}, **kw
    )


# -- municipality now ---------------------------------------------------------------------------


def test_a_seeker_belongs_to_its_latest_start_or_transfer_in_valid_time() -> None:
    s = start("2025-01-02", LAHTI)
    assert municipality_now([s]) == LAHTI
    t1 = transfer("2025-03-01", TAMPERE)
    assert municipality_now([s, t1]) == TAMPERE
    # a transfer recorded later but dated earlier does not undo the later one
    back_dated = transfer("2025-02-01", HELSINKI)
    assert municipality_now([s, t1, back_dated]) == TAMPERE
    assert [p.municipality for p in places(effective_facts([s, t1, back_dated]))] == [
        LAHTI,
        HELSINKI,
        TAMPERE,
    ]


def test_an_ended_spell_keeps_its_municipality_and_a_new_spell_sets_its_own() -> None:
    s = start("2025-01-02", LAHTI)
    end = fact("job_search_ended", "2025-02-01", {"reason": "other"})
    assert municipality_now([s, end]) == LAHTI
    assert municipality_now([s, end, start("2025-05-01", HELSINKI)]) == HELSINKI


def test_corrections_and_retractions_are_applied() -> None:
    s = start("2025-01-02", LAHTI)
    moved = correct(s, "job_search_started", "2025-01-02", {"municipality": HELSINKI})
    assert municipality_now([s, moved]) == HELSINKI
    t = transfer("2025-03-01", TAMPERE)
    assert municipality_now([s, t, retract(t)]) == LAHTI
    assert municipality_now([s, t, correct(t, "coach_assigned", "2025-03-01", {})]) == LAHTI
    coach = fact("coach_assigned", "2025-04-01", {"coach_id": "c"})
    into = correct(coach, "seeker_transferred", "2025-04-01", {"to_municipality": HELSINKI})
    assert municipality_now([s, coach, into]) == HELSINKI


def test_no_start_in_effect_is_no_municipality() -> None:
    s = start("2025-01-02", LAHTI)
    assert municipality_now([]) is None
    assert municipality_now([s, retract(s)]) is None


_TYPES = ("job_search_started", "seeker_transferred", "coach_assigned", "correction", "retraction")
_PLACES = (LAHTI, TAMPERE, HELSINKI)


@st.composite
def timelines(draw: st.DrawFn) -> list[Fact]:
    """Any sequence of starts, transfers, other events and amendments naming earlier events
    (the store refuses some of these; the rule must still agree with the full computation)."""
    facts: list[Fact] = []
    for version in range(1, draw(st.integers(1, 14)) + 1):
        type_ = draw(st.sampled_from(_TYPES))
        on = f"2025-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 9))}"
        place = draw(st.sampled_from(_PLACES))
        event_id = f"e{version}"
        if type_ in ("correction", "retraction"):
            if not facts:
                continue
            target = draw(st.sampled_from(facts))
            if type_ == "retraction":
                data: dict[str, Any] = {"retracts_event_id": target.event_id, "reason": "r"}
            else:
                new_type = draw(st.sampled_from(_TYPES[:3]))
                field = {"job_search_started": "municipality"}.get(new_type, "to_municipality")
                data = {
                    "corrects_event_id": target.event_id,
                    "reason": "r",
                    "replacement": {"type": new_type, "occurred_on": on, "data": {field: place}},
                }
        elif type_ == "job_search_started":
            data = {"municipality": place}
        elif type_ == "seeker_transferred":
            data = {"to_municipality": place}
        else:
            data = {"coach_id": "c"}
        facts.append(fact(type_, on, data, version=version, event_id=event_id))
    return draw(st.permutations(facts))


@settings(max_examples=400, deadline=None)
@given(timelines())
def test_the_quick_answer_is_the_full_computation(facts: list[Fact]) -> None:
    """``municipality_now`` sorts only what can decide it; it must agree with the latest place
    of every effective fact."""
    found = places(effective_facts(facts))
    assert municipality_now(facts) == (found[-1].municipality if found else None)


# -- what a scope may write ----------------------------------------------------------------------

SCOPE = frozenset({LAHTI, "016"})
LAHTI_SEEKER = [start("2025-01-02", LAHTI)]
HELSINKI_SEEKER = [start("2025-01-02", HELSINKI)]
TRANSFERRED_TO_LAHTI = [*HELSINKI_SEEKER, transfer("2025-02-01", LAHTI)]
ENDED_IN_HELSINKI = [*HELSINKI_SEEKER, fact("job_search_ended", "2025-02-01", {"reason": "other"})]


def _start_data(municipality: str) -> dict[str, Any]:
    return {"municipality": municipality, "labour_market_status": "unemployed"}


def _correct_start(municipality: str) -> dict[str, Any]:
    return {
        "corrects_event_id": LAHTI_SEEKER[0].event_id,
        "reason": "r",
        "replacement": {
            "type": "job_search_started",
            "occurred_on": "2025-01-02",
            "data": _start_data(municipality),
        },
    }


@pytest.mark.parametrize(
    ("facts", "type_", "data", "refused_at"),
    [
        # a new seeker: only in the scope
        ([], "job_search_started", _start_data(LAHTI), None),
        ([], "job_search_started", _start_data("016"), None),
        ([], "job_search_started", _start_data(HELSINKI), "data.municipality"),
        # a non-start to no timeline: the timeline's rules refuse it, not the scope
        ([], "coach_assigned", {"coach_id": "c"}, None),
        # anything to a seeker of the scope; nothing to a seeker elsewhere
        (LAHTI_SEEKER, "coach_assigned", {"coach_id": "c"}, None),
        (HELSINKI_SEEKER, "coach_assigned", {"coach_id": "c"}, "seeker_id"),
        (TRANSFERRED_TO_LAHTI, "coach_assigned", {"coach_id": "c"}, None),
        # a transfer: of a seeker of the scope, to anywhere
        (LAHTI_SEEKER, "seeker_transferred", {"to_municipality": HELSINKI}, None),
        (HELSINKI_SEEKER, "seeker_transferred", {"to_municipality": LAHTI}, "seeker_id"),
        # a new spell: of a seeker of the scope, in the scope
        (ENDED_IN_HELSINKI, "job_search_started", _start_data(LAHTI), "seeker_id"),
        (LAHTI_SEEKER, "job_search_started", _start_data(HELSINKI), "data.municipality"),
        # a correction of a start: to a municipality of the scope only
        (LAHTI_SEEKER, "correction", _correct_start(LAHTI), None),
        (
            LAHTI_SEEKER,
            "correction",
            _correct_start(HELSINKI),
            "data.replacement.data.municipality",
        ),
        (HELSINKI_SEEKER, "correction", _correct_start(LAHTI), "seeker_id"),
        # a retraction: of a seeker of the scope
        (HELSINKI_SEEKER, "retraction", {"retracts_event_id": "x", "reason": "r"}, "seeker_id"),
    ],
)
def test_what_a_scope_may_write(
    facts: list[Fact], type_: str, data: dict[str, Any], refused_at: str | None
) -> None:
    refusal = scope_refusal(facts, type_, data, SCOPE)
    assert (refusal.loc if refusal else None) == refused_at
    if refusal is not None:
        assert refusal.kind == "scope"
        assert "016, 398" in refusal.msg


def test_a_seeker_with_no_start_in_effect_is_in_no_scope() -> None:
    s = start("2025-01-02", LAHTI)
    refusal = scope_refusal([s, retract(s)], "coach_assigned", {"coach_id": "c"}, SCOPE)
    assert refusal is not None
    assert refusal.loc == "seeker_id"
