"""``TIMELINE_AGGREGATE_CACHE_SIZE`` bounds the timelines a process keeps in memory, and 0 keeps
none, as documented. (The library's own cache read a maximum size of 0 as "no bound": 0 made
the cache unbounded. The timelines are now kept by ``timeline.cache.TimelineCache``; the
library's cache stays off.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.settings import Settings


def _append_starts(size: int, seekers: int) -> tuple[int, object]:
    app = TimelineApp(
        settings=Settings(database_url="memory:", aggregate_cache_size=size),
        clock=FixedClock(datetime(2025, 6, 10, 9, 0, tzinfo=UTC)),
    )
    try:
        for _ in range(seekers):
            app.append([event("job_search_started", new_seeker())])
        return len(app.cache), app.repository.cache
    finally:
        app.close()


def test_a_cache_size_of_zero_keeps_no_timeline_in_memory() -> None:
    kept, library_cache = _append_starts(0, 5)
    assert kept == 0
    assert library_cache is None


@pytest.mark.parametrize("size", [1, 3])
def test_a_positive_cache_size_bounds_the_timelines_kept(size: int) -> None:
    kept, library_cache = _append_starts(size, 5)
    assert kept == size
    assert library_cache is None
