"""The jobs running: the PostgreSQL follower, the scheduler, :class:`JobsRuntime` (in threads
of this process) and :class:`JobsProcess` (a child process, ``python -m timeline.worker``)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from timeline.domain.zone import HELSINKI
from timeline.jobs.work import Jobs, NightlyAudit
from timeline.settings import Settings, to_env

log = logging.getLogger("timeline.jobs")


class PostgresFollower:
    """Follows the PostgreSQL log by subscription: LISTEN on the channel the event store NOTIFYs
    on every insert, and catch the projection up (in batches) on each notification. The LISTEN
    session is a connection of its own, outside every pool (it lasts as long as the follower).
    A dropped connection is logged and re-established; the interval catch-up job stays as a
    safety net."""

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
                with self.jobs.view.db.dedicated_connection() as conn:
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
    workers: int = 3,
) -> BackgroundScheduler:
    """Catch-up every second, statistics every minute, day change just after midnight in
    Helsinki (and at start), month close on the 1st, the nightly audit at 02:00. Each job:
    one instance at a time, missed runs coalesced. At most ``workers`` jobs run at once; the
    others wait their turn in the executor's queue."""
    scheduler = BackgroundScheduler(
        timezone=HELSINKI,
        executors={"default": ThreadPoolExecutor(max_workers=workers)},
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


class JobsRuntime:
    """The jobs running beside a server (or alone, ``timeline worker``): the jobs, the
    follower (``following``: on PostgreSQL) and the scheduler, whose threads share the jobs'
    pools of ``pool_size`` connections. :meth:`shutdown` stops them and calls ``close`` (the
    jobs' own services, when they were made for them)."""

    def __init__(
        self,
        jobs: Jobs,
        nightly: NightlyAudit,
        *,
        following: bool,
        pool_size: int,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self._close = close
        # Each job holds one connection of each jobs' pool at a time; the follower is one
        # more thread: the scheduler runs the rest of the pool's worth at once.
        workers = max(1, pool_size - (1 if following else 0))
        self.follower = PostgresFollower(jobs) if following else None
        self.scheduler = build_scheduler(
            jobs,
            nightly=nightly,
            catch_up_seconds=30.0 if following else 1.0,  # PostgreSQL: polling is a safety net
            workers=workers,
        )

    def start(self) -> JobsRuntime:
        if self.follower is not None:
            self.follower.start()
        self.scheduler.start()
        return self

    def shutdown(self) -> None:
        self.scheduler.shutdown()
        if self.follower is not None:
            self.follower.stop()
        self.jobs.close()
        if self._close is not None:
            self._close()


class JobsProcess:
    """The jobs in a child process (``python -m timeline.worker``) beside a server, with the
    server's settings: their CPU work (a catch-up of a backlog, the statistics) runs in an
    interpreter of its own, on another core, so it never slows a request down. The child stops
    with the server (and stops by itself if the server is gone); if it dies, it is restarted
    after a pause that doubles up to a minute."""

    def __init__(self, settings: Settings) -> None:
        # exactly the server's settings: none of this environment's TIMELINE_… but those
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
        self.env.update(to_env(settings))
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(
            target=self._supervise, name="timeline-jobs-supervisor", daemon=True
        )

    def start(self) -> JobsProcess:
        self._spawn()
        self._supervisor.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
                    [sys.executable, "-m", "timeline.worker", "--parent", str(os.getpid())],
                    env=self.env,
                )

    def _supervise(self) -> None:
        pause = 1.0
        while not self._stopping.is_set():
            proc = self.proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stopping.is_set():
                return
            if code == 0:
                log.warning("the jobs process stopped; this server runs no jobs any more")
                return
            pause = 1.0 if time.monotonic() - started > 60 else pause
            log.error("the jobs process exited with %s; restarting it in %.0f s", code, pause)
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, 60.0)
            self._spawn()

    def shutdown(self) -> None:
        """Stop the child (SIGTERM: it finishes the jobs running; SIGKILL after 30 s)."""
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


#: How long the jobs' process waits for running jobs when it stops (the server sends SIGKILL
#: after 30 s; an orphan has no one to do that).
STOP_GRACE_SECONDS = 20.0


def stop_within(runtime: JobsRuntime, seconds: float) -> bool:
    """Shut ``runtime`` down, waiting at most ``seconds`` for its running jobs; whether it
    finished."""
    stopper = threading.Thread(target=runtime.shutdown, name="timeline-jobs-stop", daemon=True)
    stopper.start()
    stopper.join(seconds)
    return not stopper.is_alive()
