"""The service's periodic work (:class:`Jobs`) and the nightly audit (:class:`NightlyAudit`):
each job a few lines that call the application or a view, run under its :class:`JobLock`,
logged and recorded in ``timeline_job_runs``."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from timeline import telemetry
from timeline.application import TimelineApp
from timeline.audit.access_log import AccessLog
from timeline.audit.checks import verify_store
from timeline.audit.digests import Digests
from timeline.clock import Clock
from timeline.domain.zone import HELSINKI
from timeline.jobs.lock import JobLock

log = logging.getLogger("timeline.jobs")


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

    def __init__(
        self, jobs: Jobs, app: TimelineApp, access_log: AccessLog, digests: Digests
    ) -> None:
        self.jobs = jobs
        self.app = app
        self.access_log = access_log
        self.digests = digests

    def __call__(self) -> str:
        return self.jobs.run("nightly_audit", self.work)

    def work(self) -> str:
        today = self.jobs.today()
        yesterday = today - timedelta(days=1)
        kept = self.digests.kept()
        day = date.fromisoformat(kept[-1].day) + timedelta(days=1) if kept else yesterday
        sealed = 0
        while day <= yesterday:
            self.digests.seal(day)
            sealed += 1
            day += timedelta(days=1)
        report = verify_store(
            self.app,
            self.access_log,
            self.digests,
            kept_digests=[d.to_dict() for d in self.digests.kept()],
        )
        if not report.ok:
            raise RuntimeError(f"verification failed: {report.to_dict()}")
        return f"{sealed} day digest(s) sealed; {report.seekers_checked} seekers verified clean"
