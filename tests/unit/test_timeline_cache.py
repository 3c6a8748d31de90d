"""The timelines kept between loads: copies in and out (a caller deciding on a timeline it was
given never changes the kept one), least recently used first out, none kept at size 0, and
never an older version over a newer one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from timeline.cache import TimelineCache
from timeline.domain.event_types import EventType
from timeline.domain.timeline import Timeline, decide

NOW = datetime(2025, 6, 10, 9, tzinfo=UTC)
ACTOR = {"id": "a", "role": "caseworker", "organisation": "x"}


def _record(
    timeline: Timeline | None, seeker: str, type_: EventType, data: dict[str, str]
) -> Timeline:
    return decide(
        timeline,
        seeker,
        type_,
        event_id=str(uuid.uuid4()),
        occurred_at=None,
        occurred_on="2025-06-02",
        actor=ACTOR,
        source=None,
        data=data,
        recorded_at=NOW,
    )


def _opened(seeker: str | None = None) -> Timeline:
    start = {"municipality": "398", "labour_market_status": "unemployed"}
    return _record(None, seeker or str(uuid.uuid4()), EventType.JOB_SEARCH_STARTED, start)


def test_what_comes_out_is_a_copy_and_changing_it_leaves_the_kept_one() -> None:
    cache = TimelineCache(10)
    timeline = _opened()
    seeker = str(timeline.id)
    cache.put(seeker, timeline)
    _record(timeline, seeker, EventType.COACH_ASSIGNED, {"coach_id": "c1"})  # after put
    given = cache.get(seeker)
    assert given is not None and given.version == 1
    assert given.pending_events == []  # kept as stored: nothing left to write
    _record(given, seeker, EventType.COACH_ASSIGNED, {"coach_id": "c2"})  # a decision on it
    again = cache.get(seeker)
    assert again is not None and again.version == 1
    assert [f.type for f in again.facts] == [EventType.JOB_SEARCH_STARTED]


def test_the_least_recently_used_timeline_goes_first() -> None:
    cache = TimelineCache(2)
    a, b, c = _opened(), _opened(), _opened()
    cache.put(str(a.id), a)
    cache.put(str(b.id), b)
    assert cache.get(str(a.id)) is not None  # a is now more recent than b
    cache.put(str(c.id), c)
    assert (str(a.id) in cache, str(b.id) in cache, str(c.id) in cache) == (True, False, True)
    assert len(cache) == 2


def test_size_zero_keeps_nothing() -> None:
    cache = TimelineCache(0)
    timeline = _opened()
    cache.put(str(timeline.id), timeline)
    assert cache.get(str(timeline.id)) is None
    assert len(cache) == 0


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = TimelineCache(10)
    old = _opened()
    seeker = str(old.id)
    cache.put(seeker, old)
    newer = cache.get(seeker)
    assert newer is not None
    _record(newer, seeker, EventType.COACH_ASSIGNED, {"coach_id": "c1"})
    cache.put(seeker, newer)
    cache.put(seeker, old)  # a slower thread puts what it loaded earlier
    kept = cache.get(seeker)
    assert kept is not None and kept.version == 2
    cache.evict(seeker)
    assert seeker not in cache
