"""Scheduled jobs: the day change, one instance across processes, every run recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.jobs import Jobs
from timeline.settings import Settings


def _runs(view: ObligationsView) -> list[tuple[str, str]]:
    with view.db.transaction() as tx:
        return [
            (r[0], r[1])
            for r in tx.execute("SELECT job, outcome FROM timeline_job_runs ORDER BY started_at")
        ]


def test_the_day_change_evaluates_everyone_for_today_and_is_recorded(
    app: TimelineApp, clock: FixedClock
) -> None:
    view = ObligationsView(app)
    jobs = Jobs(app, view, clock)
    s = new_seeker()
    app.append([event("job_search_started", s, on="2025-06-02")])
    assert jobs.catch_up() == "ok"
    clock.set(datetime(2025, 6, 20, 22, 30, tzinfo=UTC))  # 21 June in Helsinki
    assert jobs.day_change() == "ok"
    assert str(view.evaluated_on()) == "2025-06-21"
    assert jobs.day_change() == "ok"  # idempotent
    assert [r for r in _runs(view) if r[0] == "day_change"] == [("day_change", "ok")] * 2
    view.close()


def test_the_statistics_job_publishes_the_log_and_records_what_it_did(
    app: TimelineApp, clock: FixedClock
) -> None:
    view = ObligationsView(app)
    outcomes = OutcomesView(app, view.db)
    jobs = Jobs(app, view, clock, outcomes)
    app.append([event("job_search_started", new_seeker(), on="2025-06-02") for _ in range(6)])
    assert jobs.statistics() == "ok"
    assert outcomes.position() == app.recorder.max_notification_id()
    [inflow] = outcomes.monthly("2025-06", "2025-06", "all", "inflow")
    assert (inflow["value"], inflow["suppressed"]) == (6.0, False)
    assert jobs.statistics() == "ok"  # nothing new: quiet, not recorded again
    assert [r for r in _runs(view) if r[0] == "statistics"] == [("statistics", "ok")]
    view.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_job_held_by_another_process_is_skipped(
    kind: str, url_for: Callable[[str], str], clock: FixedClock
) -> None:
    url = url_for(kind)
    first = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    second = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    a = Jobs(first, ObligationsView(first), clock)
    b = Jobs(second, ObligationsView(second), clock)
    with a.lock.hold("day_change") as held:
        assert held
        assert b.day_change() == "skipped"
    assert b.day_change() == "ok"
    for app in (first, second):
        app.close()


def test_a_failing_job_is_recorded_as_failed(app: TimelineApp, clock: FixedClock) -> None:
    view = ObligationsView(app)
    jobs = Jobs(app, view, clock)

    def boom() -> None:
        raise RuntimeError("disk full")

    assert jobs.run("catch_up", boom) == "failed"
    assert _runs(view)[-1] == ("catch_up", "failed")
    view.close()


def test_postgres_is_followed_by_notification_without_polling(
    postgres_url: str, clock: FixedClock
) -> None:
    import time

    from timeline.jobs import PostgresFollower

    app = TimelineApp(settings=Settings(database_url=postgres_url, environment="test"), clock=clock)
    view = ObligationsView(app)
    follower = PostgresFollower(Jobs(app, view, clock), idle_seconds=60)
    follower.start()
    try:
        time.sleep(0.3)  # listening
        [appended] = app.append([event("job_search_started", new_seeker())])
        deadline = time.monotonic() + 10
        while view.runner.position() < appended.position and time.monotonic() < deadline:
            time.sleep(0.05)
        # idle_seconds=60: only the notification can have woken it within the deadline
        assert view.runner.position() >= appended.position
    finally:
        follower.stop()
        view.close()
        app.close()
