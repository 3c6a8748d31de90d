"""Scheduled jobs (APScheduler 3): projection catch-up, day change, month close, the
statistics' catch-up and the nightly audit.

Each job is a few lines that call the application or a view. One instance of each job runs
across processes (:class:`JobLock`): on PostgreSQL a session advisory lock per job, on SQLite a
lease row in the database itself. Every run is logged (logger ``timeline.jobs``) and recorded
in the ``timeline_job_runs`` table with its outcome.

:func:`start_jobs` runs them beside a server on services of their own (their own connection
pools, see :func:`timeline.bootstrap.jobs_services`): a request never waits for a connection a
job holds, and a job that finds its pools busy waits its turn instead of failing."""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import psycopg
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from timeline import telemetry
from timeline.application import TimelineApp
from timeline.audit.checks import verify_store
from timeline.bootstrap import Services, bootstrap, is_in_memory, jobs_services
from timeline.clock import Clock
from timeline.domain.zone import HELSINKI
from timeline.settings import Settings, to_env
from timeline.store import sql_postgres, sql_sqlite
from timeline.store.side import SideDatabase

log = logging.getLogger("timeline.jobs")


class JobLock:
    """At most one holder per job name across processes (and threads).

    - PostgreSQL: a session advisory lock per job, taken on one connection of this lock's own,
      outside every pool; the server releases it when that session ends, even if the process
      was killed.
    - SQLite: a lease row per job in ``timeline_job_leases`` (holder, expiry by the database's
      clock), renewed every ``lease_seconds / 3`` while held and deleted when released. A
      lease whose holder died is taken over at once when the holder ran on this host (its
      process is gone); otherwise when it expires. No file is made beside the database.
    - The in-memory store: within this process only (it has no other).
    """

    def __init__(self, db: SideDatabase, *, lease_seconds: float = 60.0) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self._local: dict[str, threading.Lock] = {}
        self._waiting: dict[str, int] = {}  # threads of this process waiting for a job's lock
        self._guard = threading.Lock()  # the dict above, the lock connection, the held leases
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._held: set[str] = set()
        self._renewer: threading.Thread | None = None
        self._closed = threading.Event()
        self.kind = (
            "advisory"
            if db.dialect == "postgres"
            else ("process" if db.path in (None, "", ":memory:") else "lease")
        )
        if self.kind == "lease":
            with db.transaction() as tx:
                tx.execute(sql_sqlite.JOB_LEASES_TABLE)

    @contextmanager
    def hold(self, job: str, *, wait: bool = False, poll_seconds: float = 0.2) -> Iterator[bool]:
        """Yield True while this caller holds ``job``'s lock; False at once if another does
        (or, in this process, waits for it), or, with ``wait``, wait for it: first for this
        process's holder — whose next attempt gives way to the waiter —, then polling for
        another process's."""
        with self._guard:
            local = self._local.setdefault(job, threading.Lock())
            waiting = self._waiting.get(job, 0)
            if wait:
                self._waiting[job] = waiting + 1
        if not wait and waiting:
            yield False
            return
        try:
            acquired = local.acquire(blocking=wait)
        finally:
            if wait:
                with self._guard:
                    self._waiting[job] -= 1
        if not acquired:
            yield False
            return
        try:
            got = self._acquire(job)
            while wait and not got:
                time.sleep(poll_seconds)
                got = self._acquire(job)
            try:
                yield got
            finally:
                if got:
                    self._release(job)
        finally:
            local.release()

    def close(self) -> None:
        """Stop renewing; close the lock connection (its advisory locks go with it)."""
        self._closed.set()
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- PostgreSQL: advisory locks --------------------------------------------------------

    @staticmethod
    def _key(job: str) -> int:
        return int.from_bytes(hashlib.sha256(job.encode()).digest()[:8], "big", signed=True)

    def _advisory(self, sql: str, job: str, *, reconnect: bool) -> bool:
        """Run ``sql`` on the lock connection (made on first use); if that session was lost,
        ``reconnect`` once (its locks went with it)."""
        with self._guard:
            while True:
                if self._conn is None or self._conn.closed:
                    self._conn = self.db.dedicated_connection()
                try:
                    row = self._conn.execute(sql, [self._key(job)]).fetchone()
                    return bool(row and row[0])
                except psycopg.OperationalError:
                    log.warning("the job lock connection was lost", exc_info=True)
                    self._conn.close()
                    self._conn = None
                    if not reconnect:
                        raise
                    reconnect = False

    # -- SQLite: leases --------------------------------------------------------------------

    def _lease(self, job: str) -> bool:
        with self.db.transaction() as tx:
            rows = tx.execute(sql_sqlite.LEASE_OF, [job])
            if rows and rows[0][1] and rows[0][0] != self.holder and not _gone(rows[0][0]):
                return False
            tx.execute(sql_sqlite.LEASE_TAKE, [job, self.holder, self.lease_seconds])
        with self._guard:
            self._held.add(job)
            if self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew, name="timeline-job-leases", daemon=True
                )
                self._renewer.start()
        return True

    def _renew(self) -> None:
        while not self._closed.wait(self.lease_seconds / 3):
            with self._guard:
                held = sorted(self._held)
            for job in held:
                try:
                    with self.db.transaction() as tx:
                        tx.execute(sql_sqlite.LEASE_RENEW, [self.lease_seconds, job, self.holder])
                except Exception:  # the next round tries again; the lease lasts until then
                    log.warning("could not renew the lease of %s", job, exc_info=True)

    def _unlease(self, job: str) -> None:
        with self._guard:
            self._held.discard(job)
        with self.db.transaction() as tx:
            tx.execute(sql_sqlite.LEASE_DROP, [job, self.holder])

    # -- either ----------------------------------------------------------------------------

    def _acquire(self, job: str) -> bool:
        if self.kind == "advisory":
            return self._advisory(sql_postgres.ADVISORY_TRY, job, reconnect=True)
        if self.kind == "lease":
            return self._lease(job)
        return True

    def _release(self, job: str) -> None:
        try:
            if self.kind == "advisory":
                self._advisory(sql_postgres.ADVISORY_UNLOCK, job, reconnect=False)
            elif self.kind == "lease":
                self._unlease(job)
        except Exception:  # the lock ends with its session, the lease when it expires
            log.warning("could not release the lock of %s", job, exc_info=True)


def _gone(holder: str) -> bool:
    """Whether a lease holder (``host:pid:token``) was a process on this host that has ended."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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
        self.lock = JobLock(view.db)
        with view.db.transaction() as tx:
            tx.execute(tx.sql.JOB_RUNS_TABLE)

    def close(self) -> None:
        self.lock.close()

    def run(self, job: str, work: Callable[[], Any]) -> str:
        """Run ``work`` under the job's lock; record and log the outcome."""
        started = self.clock()
        with self.lock.hold(job) as held:
            if not held:
                log.debug("%s: another process holds the lock; skipped", job)
                telemetry.current().job_ran(job, "skipped")
                return "skipped"
            t0 = time.perf_counter()
            try:
                detail = work()
                outcome = "ok"
            except Exception as exc:  # recorded, logged, and retried at the next run
                outcome, detail = "failed", f"{exc!r}\n{traceback.format_exc(limit=5)}"
            ms = (time.perf_counter() - t0) * 1000
        telemetry.current().job_ran(job, outcome, ms / 1000)
        quiet = job in {"catch_up", "statistics"} and outcome == "ok" and not detail
        if not quiet:
            (log.info if outcome == "ok" else log.error)(
                "%s %s in %.0f ms: %s", job, outcome, ms, detail
            )
            with self.view.db.transaction() as tx:
                tx.execute(
                    tx.sql.JOB_RUN_INSERT,
                    [
                        job,
                        started.isoformat(),
                        self.clock().isoformat(),
                        outcome,
                        str(detail)[:4000],
                    ],
                )
        return outcome

    @contextmanager
    def catching_up(self) -> Iterator[None]:
        """Hold the catch-up job's lock, waiting for it if another thread or process holds it:
        the jobs that write the obligations tables (catch-up, day change, month close) never
        run at once (two at once would both start a fresh projection, or evaluate the same
        seekers from different snapshots). While one waits, this process's follower gives
        way: a follower busy with a stream of events does not keep the day change waiting."""
        with self.lock.hold("catch_up", wait=True):
            yield

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
            with self.catching_up():
                return evaluate()

        def evaluate() -> str:
            self.view.catch_up()
            today = self.today()
            if self.view.evaluated_on() == today:
                return f"already evaluated for {today}"
            return f"{self.view.change_day(today)} seekers evaluated for {today}"

        return self.run("day_change", work)

    def month_close(self) -> str:
        """On the 1st: review periods of the previous month close; shortfalls become visible."""

        def work() -> str:
            with self.catching_up():
                return close()

        def close() -> str:
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
    """The jobs running beside a server (or alone, ``timeline worker``): their services, the
    follower (PostgreSQL) and the scheduler. :meth:`shutdown` stops them and closes their
    connections."""

    def __init__(self, services: Services) -> None:
        self.services = jobs_services(services)
        self._own = self.services is not services
        s = self.services
        self.jobs = Jobs(s.app, s.obligations, s.clock, s.outcomes)
        following = s.db.dialect == "postgres"
        # Each job holds one connection of each jobs' pool at a time; the follower is one
        # more thread: the scheduler runs the rest of the pool's worth at once.
        workers = max(1, s.settings.jobs_pool_size - (1 if following else 0))
        self.follower = PostgresFollower(self.jobs) if following else None
        self.scheduler = build_scheduler(
            self.jobs,
            nightly=NightlyAudit(self.jobs, s),
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
        if self._own:
            self.services.close()


class JobsProcess:
    """The jobs in a child process (``python -m timeline.jobs``) beside a server, with the
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
                    [sys.executable, "-m", "timeline.jobs", "--parent", str(os.getpid())],
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


def start_jobs(services: Services, *, separate_process: bool = False) -> JobsRuntime | JobsProcess:
    """Start the scheduled jobs (and, on PostgreSQL, the follower) beside ``services``: in
    threads of this process on pools of their own, or (``separate_process``, unless the store
    lives in this process only) in a child process."""
    if separate_process and not is_in_memory(services):
        return JobsProcess(services.settings).start()
    return JobsRuntime(services).start()


def main(argv: Sequence[str] | None = None) -> int:
    """The child process of :class:`JobsProcess`: the jobs on the settings of the environment,
    until SIGTERM or until the parent process is gone."""
    parser = argparse.ArgumentParser(prog="python -m timeline.jobs", description=main.__doc__)
    parser.add_argument("--parent", type=int, metavar="PID", help="stop when PID is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("timeline").setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    services = bootstrap(Settings(), for_jobs=True)
    runtime = JobsRuntime(services).start()
    if services.settings.jobs_metrics_port:  # this process's metrics (docs/operations.md)
        from timeline.api.metrics import serve_metrics  # noqa: PLC0415 - FastAPI only if asked

        serve_metrics(runtime.services, services.settings.jobs_metrics_port)
    while not stop.wait(1.0):
        if args.parent is not None and os.getppid() != args.parent:
            log.warning("the server (pid %s) is gone; the jobs stop", args.parent)
            break
    if not stop_within(runtime, STOP_GRACE_SECONDS):
        # A job still waiting (e.g. for a database that went away): what it did not commit is
        # rolled back with its connection, and it runs again at the next start.
        log.warning("jobs still running after %.0f s; stopping without them", STOP_GRACE_SECONDS)
        os._exit(0)
    services.close()
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
