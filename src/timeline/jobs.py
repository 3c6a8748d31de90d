"""Scheduled jobs (APScheduler 3): projection catch-up, day change, month close, the
statistics' catch-up and the nightly audit.

Each job is a few lines that call the application or a view. One instance of each job runs
across processes: on PostgreSQL a session advisory lock per job, on SQLite an exclusive file
lock beside the database. Every run is logged (logger ``timeline.jobs``) and recorded in the
``timeline_job_runs`` table with its outcome."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from projections.runtime import ViewDatabase
from timeline.application import TimelineApp
from timeline.audit.checks import verify_store
from timeline.bootstrap import Services
from timeline.clock import Clock
from timeline.vocabulary import HELSINKI

log = logging.getLogger("timeline.jobs")

RUNS_TABLE = (
    "CREATE TABLE IF NOT EXISTS timeline_job_runs (job TEXT NOT NULL, started_at TEXT NOT NULL, "
    "finished_at TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT)"
)


class JobLock:
    """At most one holder per job name across processes."""

    def __init__(self, db: ViewDatabase, app: TimelineApp) -> None:
        self.db = db
        self.path = str(app.env.get("SQLITE_DBNAME") or "")

    @contextmanager
    def hold(self, job: str) -> Iterator[bool]:
        if self.db.dialect == "postgres":
            key = int.from_bytes(hashlib.sha256(job.encode()).digest()[:8], "big", signed=True)
            with self.db.connection() as conn:
                got = conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
                try:
                    yield bool(got)
                finally:
                    if got:
                        conn.execute("SELECT pg_advisory_unlock(%s)", [key])
            return
        if not self.path or self.path == ":memory:":
            yield True  # one process owns an in-memory store
            return
        fd = os.open(f"{self.path}.{job}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class Jobs:
    """The service's periodic work, callable directly (tests, CLI) or on a scheduler."""

    def __init__(
        self,
        app: TimelineApp,
        view: ObligationsView,
        clock: Clock,
        outcomes: OutcomesView | None = None,
    ) -> None:
        self.app = app
        self.view = view
        self.outcomes = outcomes
        self.clock = clock
        self.lock = JobLock(view.db, app)
        with view.db.transaction() as tx:
            tx.execute(RUNS_TABLE)

    def run(self, job: str, work: Callable[[], Any]) -> str:
        """Run ``work`` under the job's lock; record and log the outcome."""
        started = self.clock()
        with self.lock.hold(job) as held:
            if not held:
                log.debug("%s: another process holds the lock; skipped", job)
                return "skipped"
            t0 = time.perf_counter()
            try:
                detail = work()
                outcome = "ok"
            except Exception as exc:  # recorded, logged, and retried at the next run
                outcome, detail = "failed", f"{exc!r}\n{traceback.format_exc(limit=5)}"
            ms = (time.perf_counter() - t0) * 1000
        quiet = job in {"catch_up", "statistics"} and outcome == "ok" and not detail
        if not quiet:
            (log.info if outcome == "ok" else log.error)(
                "%s %s in %.0f ms: %s", job, outcome, ms, detail
            )
            with self.view.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO timeline_job_runs VALUES (?,?,?,?,?)",
                    [
                        job,
                        started.isoformat(),
                        self.clock().isoformat(),
                        outcome,
                        str(detail)[:4000],
                    ],
                )
        return outcome

    def today(self) -> Any:
        return self.clock().astimezone(HELSINKI).date()

    def catch_up(self) -> str:
        return self.run("catch_up", lambda: self.view.catch_up() or "")

    def statistics(self) -> str:
        """Catch the outcome statistics up (each applied batch re-publishes every row, so this
        runs every minute rather than every second; statistics are monthly)."""
        outcomes = self.outcomes
        if outcomes is None:
            return "skipped"

        def work() -> str:
            n = outcomes.catch_up()
            return f"{n} events applied; published at position {outcomes.position()}" if n else ""

        return self.run("statistics", work)

    def day_change(self) -> str:
        """Re-evaluate every seeker for today (Europe/Helsinki) if not done yet."""

        def work() -> str:
            self.view.catch_up()
            today = self.today()
            if self.view.evaluated_on() == today:
                return f"already evaluated for {today}"
            return f"{self.view.change_day(today)} seekers evaluated for {today}"

        return self.run("day_change", work)

    def month_close(self) -> str:
        """On the 1st: review periods of the previous month close; shortfalls become visible."""

        def work() -> str:
            self.view.catch_up()
            n = self.view.change_day(self.today())
            flags = self.view.worklist(self.today(), status="open", limit=100_000)
            shortfalls = sum(1 for f in flags if f["kind"] == "requirement_shortfall")
            return f"{n} seekers re-evaluated; {shortfalls} open requirement shortfalls"

        return self.run("month_close", work)


class NightlyAudit:
    """Seal yesterday's digest (and any earlier unsealed day since the last one), then verify
    every seeker's chain, the access log, and every kept digest against the store. (A full pass:
    at national scale run it weekly and use ``timeline verify --since`` nightly.)"""

    def __init__(self, jobs: Jobs, services: Services) -> None:
        self.jobs = jobs
        self.services = services

    def __call__(self) -> str:
        return self.jobs.run("nightly_audit", self.work)

    def work(self) -> str:
        today = self.jobs.today()
        yesterday = today - timedelta(days=1)
        kept = self.services.digests.kept()
        day = date.fromisoformat(kept[-1].day) + timedelta(days=1) if kept else yesterday
        sealed = 0
        while day <= yesterday:
            self.services.digests.seal(day)
            sealed += 1
            day += timedelta(days=1)
        report = verify_store(
            self.services, kept_digests=[d.to_dict() for d in self.services.digests.kept()]
        )
        if not report.ok:
            raise RuntimeError(f"verification failed: {report.to_dict()}")
        return f"{sealed} day digest(s) sealed; {report.seekers_checked} seekers verified clean"


class PostgresFollower:
    """Follows the PostgreSQL log by subscription: LISTEN on the channel the event store NOTIFYs
    on every insert, and catch the projection up (in batches) on each notification. A dropped
    connection is logged and re-established; the interval catch-up job stays as a safety net."""

    def __init__(self, jobs: Jobs, *, idle_seconds: float = 30.0) -> None:
        self.jobs = jobs
        self.idle_seconds = idle_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        channel = str(getattr(self.jobs.app.recorder, "channel_name", "timeline_events"))
        while not self._stop.is_set():
            try:
                with self.jobs.view.db.connection() as conn:
                    conn.execute(f'LISTEN "{channel}"')
                    self.jobs.catch_up()
                    idle = 0.0
                    while not self._stop.is_set():
                        woke = any(True for _ in conn.notifies(timeout=1.0, stop_after=1))
                        idle = 0.0 if woke else idle + 1.0
                        if woke or idle >= self.idle_seconds:
                            self.jobs.catch_up()
                            idle = 0.0
            except Exception:  # restarted below; the error is logged with its traceback
                log.exception("follower lost its connection; restarting in 1 s")
                self._stop.wait(1.0)


def build_scheduler(
    jobs: Jobs,
    *,
    catch_up_seconds: float = 1.0,
    statistics_seconds: float = 60.0,
    nightly: NightlyAudit | None = None,
) -> BackgroundScheduler:
    """Catch-up every second, statistics every minute, day change just after midnight in
    Helsinki (and at start), month close on the 1st, the nightly audit at 02:00. Each job:
    one instance at a time, missed runs coalesced."""
    scheduler = BackgroundScheduler(
        timezone=HELSINKI,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    scheduler.add_job(jobs.catch_up, IntervalTrigger(seconds=catch_up_seconds), id="catch_up")
    if jobs.outcomes is not None:
        scheduler.add_job(
            jobs.statistics,
            IntervalTrigger(seconds=statistics_seconds),
            id="statistics",
            next_run_time=jobs.clock(),
        )
    scheduler.add_job(
        jobs.day_change,
        CronTrigger(hour=0, minute=5, timezone=HELSINKI),
        id="day_change",
        next_run_time=jobs.clock(),
    )
    scheduler.add_job(
        jobs.month_close, CronTrigger(day=1, hour=0, minute=20, timezone=HELSINKI), id="month_close"
    )
    if nightly is not None:
        scheduler.add_job(
            nightly, CronTrigger(hour=2, minute=0, timezone=HELSINKI), id="nightly_audit"
        )
    return scheduler
