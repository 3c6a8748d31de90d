"""``TIMELINE_AGGREGATE_CACHE_SIZE`` bounds the timelines a process keeps in memory, and 0 keeps
none, as documented. (The library reads a maximum size of 0 as "no bound": 0 was passed
through and made the cache unbounded.)"""

from __future__ import annotations

import pytest
from eventsourcing.application import LRUCache

from timeline.application import TimelineApp
from timeline.settings import Settings


def test_a_cache_size_of_zero_keeps_no_timeline_in_memory() -> None:
    app = TimelineApp(settings=Settings(database_url="memory:", aggregate_cache_size=0))
    try:
        assert app.repository.cache is None
    finally:
        app.close()


@pytest.mark.parametrize("size", [1, 10_000])
def test_a_positive_cache_size_bounds_the_cache(size: int) -> None:
    app = TimelineApp(settings=Settings(database_url="memory:", aggregate_cache_size=size))
    try:
        assert isinstance(app.repository.cache, LRUCache)
        assert app.repository.cache.maxsize == size
    finally:
        app.close()
