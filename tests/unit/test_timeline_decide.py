"""The aggregate decides a seeker's events on its own, without a store: the first one opens the
timeline and must be a start; every later one goes through the timeline's rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from timeline.domain.errors import InvalidEvent
from timeline.domain.event_types import EventType
from timeline.domain.timeline import Timeline, decide

NOW = datetime(2025, 6, 10, 9, tzinfo=UTC)
START = {"municipality": "398", "labour_market_status": "unemployed"}


def _decide(timeline: Timeline | None, seeker: str, type_: EventType, data: Any) -> Timeline:
    return decide(
        timeline,
        seeker,
        type_,
        event_id=str(uuid.uuid4()),
        occurred_at=None,
        occurred_on="2025-06-02",
        actor={"id": "a", "role": "caseworker", "organisation": "x"},
        source=None,
        data=data,
        recorded_at=NOW,
    )


@pytest.mark.parametrize("type_", [t for t in EventType if t != EventType.JOB_SEARCH_STARTED])
def test_a_seekers_first_event_must_be_a_start(type_: EventType) -> None:
    with pytest.raises(InvalidEvent) as refused:
        _decide(None, str(uuid.uuid4()), type_, {})
    [error] = refused.value.errors
    assert (error.loc, error.kind) == ("type", "timeline_rule")
    assert error.msg == (
        "this seeker has no timeline yet: the first event must be job_search_started"
    )


def test_a_start_opens_the_timeline_and_later_events_are_recorded_on_it() -> None:
    seeker = str(uuid.uuid4())
    opened = _decide(None, seeker, EventType.JOB_SEARCH_STARTED, START)
    assert (str(opened.id), opened.version) == (seeker, 1)
    assert opened.facts[0].recorded_at == NOW
    same = _decide(opened, seeker, EventType.COACH_ASSIGNED, {"coach_id": "c1"})
    assert same is opened
    assert [f.type for f in same.facts] == [EventType.JOB_SEARCH_STARTED, EventType.COACH_ASSIGNED]
    with pytest.raises(InvalidEvent):  # the timeline's rules: a spell is already open
        _decide(opened, seeker, EventType.JOB_SEARCH_STARTED, START)
