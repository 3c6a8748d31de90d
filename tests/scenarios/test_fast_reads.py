"""The read and load paths of issue 6 give the same answers as replaying the timeline: as-of
histories from the timeline cache or from one read of events + index rows, and timelines
loaded many at a time (fast-forwarded by what other writers stored). Run on every store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import MakeApp
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.audit.verify import verify_seeker
from timeline.clock import FixedClock
from timeline.domain.errors import InvalidEvent, NotFound
from timeline.settings import Settings


def _cold(app: TimelineApp, clock: FixedClock) -> TimelineApp:
    """Another application on the same store that keeps no timelines in memory."""
    settings = app.settings.model_copy(update={"aggregate_cache_size": 0})
    return TimelineApp(settings=settings, clock=clock)


def _entries(app: TimelineApp, seeker: str, at: datetime) -> list[dict[str, Any]]:
    return [e.to_dict() for e in app.history(seeker, as_of=at)]


def _amended_timeline(app: TimelineApp, clock: FixedClock) -> tuple[str, list[datetime]]:
    """A timeline written in five moments, with a correction and a retraction."""
    seeker = new_seeker()
    moments = []
    app.append([event("job_search_started", seeker, on="2025-06-02")])
    moments.append(clock())
    clock.advance(hours=3)
    [held, coach] = app.append(
        [
            event("meeting_held", seeker, {"kind": "job_search_conversation", "channel": "phone"}),
            event("coach_assigned", seeker, {"coach_id": "c1"}),
        ]
    )
    moments.append(clock())
    clock.advance(days=1)
    app.append(
        [
            event(
                "correction",
                seeker,
                {
                    "corrects_event_id": held.event_id,
                    "reason": "it was the initial interview",
                    "replacement": {
                        "type": "meeting_held",
                        "occurred_on": "2025-06-02",
                        "data": {"kind": "initial_interview", "channel": "phone"},
                    },
                },
            )
        ]
    )
    moments.append(clock())
    clock.advance(days=1)
    app.append(
        [event("retraction", seeker, {"retracts_event_id": coach.event_id, "reason": "wrong"})]
    )
    moments.append(clock())
    clock.advance(days=1)
    app.append([event("coach_assigned", seeker, {"coach_id": "c2"})])
    moments.append(clock())
    return seeker, moments


def test_as_of_histories_are_the_same_cached_cold_and_replayed(
    app: TimelineApp, clock: FixedClock, store_url: str
) -> None:
    seeker, moments = _amended_timeline(app, clock)
    assert seeker in app.cache  # the appends left the timeline in the cache
    cold = _cold(app, clock) if not store_url.startswith("memory") else None
    try:
        for at in moments:
            cached = _entries(app, seeker, at)
            # What a replay of the timeline to that moment's version says.
            replayed = app.timeline(seeker, as_of=at).facts
            assert [e["event_id"] for e in cached] == [f.event_id for f in replayed]
            assert [e["data"] for e in cached] == [dict(f.data) for f in replayed]
            assert [e["hash"] for e in cached] == [
                app.timeline(seeker, as_of=at).hashes[f.event_id] for f in replayed
            ]
            assert app.facts(seeker, as_of=at) == list(replayed)
            if cold is not None:
                assert len(cold.cache) == 0
                assert _entries(cold, seeker, at) == cached
                assert cold.facts(seeker, as_of=at) == list(replayed)
            else:  # one store only: drop the timeline from the cache for a cold read
                app.cache.evict(seeker)
                assert _entries(app, seeker, at) == cached
        statuses = [e["status"] for e in _entries(app, seeker, moments[-1])]
        assert statuses == ["valid", "superseded", "void", "valid", "valid", "valid"]
        assert [e["status"] for e in _entries(app, seeker, moments[1])] == ["valid"] * 3
        with pytest.raises(NotFound):
            app.history(seeker, as_of=moments[0] - timedelta(seconds=1))
        if cold is not None:
            with pytest.raises(NotFound):
                cold.history(seeker, as_of=moments[0] - timedelta(seconds=1))
    finally:
        if cold is not None:
            cold.close()


def test_an_unknown_seeker_has_no_history_as_of_any_moment(
    make_app: MakeApp, clock: FixedClock
) -> None:
    app = make_app()
    with pytest.raises(NotFound):
        app.history(new_seeker(), as_of=clock())


@pytest.fixture(params=["sqlite", "postgres"])
def two_apps(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[tuple[TimelineApp, TimelineApp]]:
    """Two applications (two processes' worth of caches) on one shared store: a file or a
    server — the in-memory store cannot be shared."""
    url = url_for(str(request.param))
    apps = [
        TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
        for _ in range(2)
    ]
    yield apps[0], apps[1]
    for app in apps:
        app.close()


def test_as_of_reads_see_what_another_writer_stored_after_the_cache_was_filled(
    two_apps: tuple[TimelineApp, TimelineApp], clock: FixedClock
) -> None:
    app, other = two_apps
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    app.history(seeker, as_of=clock())
    clock.advance(hours=1)
    other.append([event("coach_assigned", seeker, {"coach_id": "elsewhere"})])
    assert [e.fact.type for e in app.history(seeker, as_of=clock())] == [
        "job_search_started",
        "coach_assigned",
    ]


def test_timelines_loaded_together_are_fast_forwarded_past_other_writers(
    two_apps: tuple[TimelineApp, TimelineApp], clock: FixedClock
) -> None:
    app, other = two_apps
    seekers = [new_seeker() for _ in range(3)]
    app.append([event("job_search_started", s) for s in seekers])
    # Another process appends to two of them; this application's cache is now behind.
    other.append([event("coach_assigned", s, {"coach_id": "c-other"}) for s in seekers[:2]])
    # One batch over all three (and a new seeker): decided on fast-forwarded timelines.
    fresh = new_seeker()
    answers = app.append(
        [event("coach_assigned", s, {"coach_id": "c-here"}) for s in seekers]
        + [event("job_search_started", fresh)]
    )
    assert [a.version for a in answers] == [3, 3, 2, 1]
    for s in [*seekers, fresh]:
        assert verify_seeker(app, s) is None
    # The cache holds the timelines as written: the next append needs nothing replayed.
    [again] = app.append([event("coach_assigned", seekers[0], {"coach_id": "c-3"})])
    assert again.version == 4
    assert [f.version for f in app.facts(seekers[0])] == [1, 2, 3, 4]


def test_a_refused_batch_leaves_the_cached_timeline_as_stored(make_app: MakeApp) -> None:
    app = make_app()
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    with pytest.raises(InvalidEvent):
        app.append(
            [
                event("coach_assigned", seeker, {"coach_id": "c1"}),
                event("job_search_started", seeker),  # a spell is already open
            ]
        )
    [ok] = app.append([event("coach_assigned", seeker, {"coach_id": "c1"})])
    assert ok.version == 2
    assert [f.type for f in app.facts(seeker)] == ["job_search_started", "coach_assigned"]


def test_the_events_after_a_version_are_the_same_read_for_one_seeker_or_many(
    app: TimelineApp,
) -> None:
    seekers = [new_seeker() for _ in range(3)]
    app.append([event("job_search_started", s) for s in seekers])
    app.append([event("coach_assigned", s, {"coach_id": f"c{i}"}) for i, s in enumerate(seekers)])
    app.append([event("coach_assigned", seekers[0], {"coach_id": "c9"})])
    together = app.index.select_events_after({seekers[0]: 1, seekers[1]: 0, seekers[2]: 2})
    alone = app.index.select_events_after({seekers[0]: 1})
    assert set(together) == {seekers[0], seekers[1]}  # nothing after version 2 of the third
    assert [e.originator_version for e in together[seekers[0]]] == [2, 3]
    assert [e.originator_version for e in together[seekers[1]]] == [1, 2]
    assert [(e.originator_version, e.state) for e in alone[seekers[0]]] == [
        (e.originator_version, e.state) for e in together[seekers[0]]
    ]
    assert app.index.select_events_after({seekers[2]: 2}) == {}
    assert app.index.select_events_after({new_seeker(): 0}) == {}
