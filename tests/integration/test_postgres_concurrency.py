"""Concurrent writers on PostgreSQL: optimistic concurrency holds and nothing extra is written."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.audit.verify import verify_seeker
from timeline.clock import FixedClock
from timeline.domain.errors import Conflict
from timeline.results import Appended
from timeline.settings import Settings


def test_ten_concurrent_appends_with_the_same_expected_version_accept_exactly_one(
    postgres_url: str, clock: FixedClock
) -> None:
    app = TimelineApp(
        settings=Settings(database_url=postgres_url, environment="test", postgres_pool_size=12),
        clock=clock,
    )
    try:
        seeker = new_seeker()
        app.append([event("job_search_started", seeker)])
        contenders = [
            event("coach_assigned", seeker, {"coach_id": f"coach-{i}"}, expected_version=1)
            for i in range(10)
        ]
        gate = threading.Barrier(10)

        def attempt(e: object) -> Appended | Conflict:
            gate.wait()
            try:
                return app.append([e])[0]  # type: ignore[list-item]
            except Conflict as conflict:
                return conflict

        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(pool.map(attempt, contenders))
        accepted = [o for o in outcomes if isinstance(o, Appended)]
        conflicts = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(accepted) == 1
        assert len(conflicts) == 9
        assert all(c.current_version == 2 for c in conflicts)
        history = app.history(seeker)
        assert [e.index.version for e in history] == [1, 2]
        assert history[1].fact.event_id == accepted[0].event_id
        assert len(app.feed(0, 100)) == 2
    finally:
        app.close()


def test_concurrent_writers_without_expected_version_all_land_in_order(
    postgres_url: str, clock: FixedClock
) -> None:
    app = TimelineApp(
        settings=Settings(database_url=postgres_url, environment="test", postgres_pool_size=10),
        clock=clock,
    )
    try:
        seeker = new_seeker()
        app.append([event("job_search_started", seeker)])
        writes = [event("coach_assigned", seeker, {"coach_id": f"c{i}"}) for i in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda e: app.append([e])[0], writes))
        assert sorted(r.version for r in results) == list(range(2, 10))
        feed = app.feed(0, 100)
        assert [f["position"] for f in feed] == sorted(f["position"] for f in feed)
        assert verify_seeker(app, seeker) is None
    finally:
        app.close()
