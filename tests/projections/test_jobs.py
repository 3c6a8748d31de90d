"""Scheduled jobs: the day change, one instance across processes, every run recorded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

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


# -- one instance per job without stray files (issue 10 §8) and jobs that wait their turn -----

HOLDER = """
import sys, time
from timeline.application import TimelineApp
from timeline.settings import Settings
from projections.obligations import ObligationsView
from timeline.jobs import JobLock
app = TimelineApp(settings=Settings(database_url=sys.argv[1], environment="test"))
lock = JobLock(ObligationsView(app).db)
with lock.hold("day_change") as held:
    print("held" if held else "refused", flush=True)
    time.sleep(600)
"""


def _all_jobs(jobs: Jobs) -> list[str]:
    return [jobs.catch_up(), jobs.statistics(), jobs.day_change(), jobs.month_close()]


def test_jobs_leave_no_files_beside_the_database(tmp_path: Path, clock: FixedClock) -> None:
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    view = ObligationsView(app)
    jobs = Jobs(app, view, clock, OutcomesView(app, view.db))
    app.append([event("job_search_started", new_seeker(), on="2025-06-02")])
    assert _all_jobs(jobs) == ["ok"] * 4
    with jobs.lock.hold("catch_up") as held:
        assert held
        left = set(os.listdir(tmp_path))
    jobs.close()
    view.close()
    app.close()
    # the database, SQLite's own companions and the seekers' keys (the store's own file,
    # docs/storage.md) only (a lock file would be untracked clutter)
    store = {"timeline.db", "timeline.db-wal", "timeline.db-shm", "timeline.keys.db"}
    assert left <= store
    assert set(os.listdir(tmp_path)) <= store


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_job_held_by_a_killed_process_is_free_again(
    kind: str, url_for: Callable[[str], str], clock: FixedClock
) -> None:
    url = url_for(kind)
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    jobs = Jobs(app, ObligationsView(app), clock)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert jobs.day_change() == "skipped"  # another process holds it
        with jobs.lock.hold("day_change") as held:
            assert not held
    finally:
        holder.send_signal(signal.SIGKILL)  # no chance to release anything
        holder.wait(timeout=10)
    outcomes = []
    deadline = time.monotonic() + 30  # PostgreSQL ends the killed session's locks
    while time.monotonic() < deadline:
        outcomes.append(jobs.day_change())
        if outcomes[-1] == "ok":
            break
        time.sleep(0.1)
    assert outcomes[-1] == "ok"
    jobs.close()
    app.close()


def test_a_lease_is_taken_over_only_when_it_expired_or_its_holder_is_gone(
    tmp_path: Path, clock: FixedClock
) -> None:
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    view = ObligationsView(app)
    jobs = Jobs(app, view, clock)

    def lease(holder: str, seconds_from_now: float) -> None:
        with view.db.transaction() as tx:
            tx.execute("DELETE FROM timeline_job_leases")
            tx.execute(
                "INSERT INTO timeline_job_leases VALUES "
                "('day_change', ?, (julianday('now') - 2440587.5) * 86400.0 + ?)",
                [holder, seconds_from_now],
            )

    lease("other-host:123:abc", 60)  # alive elsewhere, not expired
    assert jobs.day_change() == "skipped"
    lease(f"{socket.gethostname()}:{os.getpid()}:other", 60)  # another holder in a live process
    assert jobs.day_change() == "skipped"
    lease("other-host:123:abc", -1)  # expired
    assert jobs.day_change() == "ok"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lease(f"{socket.gethostname()}:{dead.pid}:gone", 60)  # its process on this host ended
    assert jobs.day_change() == "ok"
    with view.db.transaction() as tx:  # released: no lease left behind
        assert tx.execute("SELECT count(*) FROM timeline_job_leases") == [(0,)]
    jobs.close()
    view.close()
    app.close()


def test_the_day_change_waits_for_a_catch_up_in_progress(store_url: str, clock: FixedClock) -> None:
    """Two jobs writing the obligations tables at once both started a fresh projection
    (a unique violation on obligations_state at every start) or evaluated the same seekers
    from different snapshots."""
    app = TimelineApp(settings=Settings(database_url=store_url, environment="test"), clock=clock)
    view = ObligationsView(app)
    jobs = Jobs(app, view, clock)
    app.append([event("job_search_started", new_seeker(), on="2025-06-02")])
    clock.advance(days=1)  # a day to change to
    released = threading.Event()
    early: list[bool] = []
    change_day = view.change_day

    def watched(on: Any) -> int:
        early.append(not released.is_set())
        return change_day(on)

    view.change_day = watched  # type: ignore[method-assign]
    outcome: list[str] = []
    with jobs.lock.hold("catch_up") as held:  # a catch-up is running
        assert held
        day_change = threading.Thread(target=lambda: outcome.append(jobs.day_change()))
        day_change.start()
        time.sleep(0.5)  # room for a day change that does not wait to run (wrongly)
        released.set()
    day_change.join(timeout=30)
    assert outcome == ["ok"]
    assert early == [False]  # it evaluated the day only after the catch-up had finished
    jobs.close()
    view.close()
    app.close()


def test_jobs_that_find_their_pool_busy_wait_their_turn(
    postgres_url: str, clock: FixedClock
) -> None:
    from timeline.bootstrap import bootstrap

    services = bootstrap(
        Settings(database_url=postgres_url, environment="test", jobs_pool_size=2),
        clock,
        for_jobs=True,
    )
    jobs = Jobs(services.app, services.obligations, clock, services.outcomes)
    services.app.append([event("job_search_started", new_seeker(), on="2025-06-02")])
    pool = services.db._pool
    taken = [pool.getconn(), pool.getconn()]  # the jobs' pool is busy
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(jobs.day_change()))
    worker.start()
    deadline = time.monotonic() + 30
    while pool.get_stats().get("requests_waiting", 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.get_stats().get("requests_waiting", 0) == 1  # waiting, not failed
    for conn in taken:
        pool.putconn(conn)
    worker.join(timeout=60)
    assert outcome == ["ok"]
    jobs.close()
    services.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_every_job_at_once_on_a_backlog_fails_none(
    kind: str, url_for: Callable[[str], str]
) -> None:
    """The class of the start-up stall: however many jobs run at once, on however small a
    pool, none fails for want of a connection (each waits its turn)."""
    from timeline.bootstrap import bootstrap
    from timeline.demo import generate, load_demo
    from timeline.jobs import NightlyAudit

    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    settings = Settings(database_url=url_for(kind), environment="test", jobs_pool_size=2)
    loader = TimelineApp(settings=settings, clock=clock)
    load_demo(loader, clock, generate(seekers=12, seed=2))
    loader.close()
    services = bootstrap(settings, clock, for_jobs=True)
    jobs = Jobs(services.app, services.obligations, clock, services.outcomes)
    nightly = NightlyAudit(jobs, services.app, services.access_log, services.digests)
    work = [jobs.catch_up, jobs.statistics, jobs.day_change, jobs.month_close, nightly]
    work += [jobs.catch_up, jobs.statistics]  # a second instance of each: skipped or waiting
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda w=w: outcomes.append(w())) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert "failed" not in outcomes, _failures(services.obligations)
    assert outcomes.count("ok") >= 5
    log_end = services.app.recorder.max_notification_id()
    assert services.obligations.position() == services.outcomes.position() == log_end
    jobs.close()
    services.close()


def _failures(view: ObligationsView) -> list[str]:
    with view.db.read() as tx:
        return [
            f"{job}: {detail[:300]}"
            for job, detail in tx.execute(
                "SELECT job, detail FROM timeline_job_runs WHERE outcome = 'failed'"
            )
        ]


def test_a_catch_up_busy_with_a_stream_of_events_gives_way_to_the_day_change(
    app: TimelineApp, clock: FixedClock
) -> None:
    """The follower takes the catch-up lock again right after each catch-up; a day change
    waiting for it must still get it (not only if it happens to poll in a gap)."""
    view = ObligationsView(app)
    jobs = Jobs(app, view, clock)
    app.append([event("job_search_started", new_seeker(), on="2025-06-02")])
    clock.advance(days=1)
    stop = threading.Event()
    rounds: list[bool] = []

    def follower() -> None:
        while not stop.is_set():
            with jobs.lock.hold("catch_up") as held:
                rounds.append(held)
                if held:
                    time.sleep(0.002)

    busy = threading.Thread(target=follower)
    busy.start()
    while True not in rounds:
        time.sleep(0.001)
    outcome: list[str] = []
    day_change = threading.Thread(target=lambda: outcome.append(jobs.day_change()))
    day_change.start()
    day_change.join(timeout=60)
    stop.set()
    busy.join(timeout=10)
    assert outcome == ["ok"]
    assert False in rounds  # the follower gave way
    jobs.close()
    view.close()


def test_the_jobs_process_stops_within_its_grace_even_if_a_job_does_not() -> None:
    """An orphaned jobs' process whose jobs waited for a dropped database never ended."""
    from timeline.jobs import JobsRuntime, stop_within

    release = threading.Event()

    class Stuck:
        def shutdown(self) -> None:  # waits for a job that waits for a connection
            release.wait(60)

    class Quick:
        def shutdown(self) -> None:
            pass

    try:
        assert stop_within(cast(JobsRuntime, Quick()), 5) is True
        assert stop_within(cast(JobsRuntime, Stuck()), 0.2) is False
    finally:
        release.set()
