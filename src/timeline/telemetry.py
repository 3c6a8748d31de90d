"""What the service counts where it happens, for ``/metrics`` (see docs/operations.md).

Two kinds of figures reach a scrape. Those that can be read from the store at scrape time (log
and projection positions, lag, quarantine, rebuild progress) are read then, by
:mod:`timeline.status` and :mod:`timeline.api.metrics`, and are right whichever process serves
the scrape. The rest only exist as they happen — an append answered, a group committed, an
access-log entry written, a job run — and are counted here, by one-line calls from those
places into a :class:`Telemetry`.

**One per process.** The calls come from objects built in many places (the HTTP app, the group
committer, the access log, the job scheduler, a rebuild's runner, tests, benchmarks); passing a
telemetry object through each of their constructors would widen six signatures for a counter.
So each process has one :class:`Telemetry`, made on first use by :func:`current`, holding its
own :class:`~prometheus_client.CollectorRegistry` — never prometheus_client's global default
registry, so nothing else registers into it and a test may build a private ``Telemetry()``.
Prometheus counters are per process by nature: a scraper sums them over the processes it
scrapes.

Rebuild progress is the exception to "counted here, in memory": ``timeline rebuild`` runs in a
process nobody scrapes, so :func:`tracks_rebuild` writes its progress to a row of
``timeline_rebuild_progress`` in the store, which every process reads at scrape time."""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram

from timeline.store.side import SideDatabase, Tx

#: the outcomes of ``POST /v1/events`` (label ``outcome`` of the append metrics)
APPEND_OUTCOMES = ("accepted", "duplicate", "rejected", "failed")
#: seconds: an append is a few milliseconds; a group commit under load a few tens
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: events (or requests) in one committed group
GROUP_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
JOB_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class Telemetry:
    """The counters and histograms of one process, in a registry of their own."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.append_requests = Counter(
            "timeline_append_requests",
            "POST /v1/events requests answered, by outcome: accepted (2xx, at least one new "
            "event), duplicate (2xx, every event already stored), rejected (4xx: invalid, "
            "conflict, refused, too large), failed (5xx).",
            ["outcome"],
            registry=r,
        )
        self.append_seconds = Histogram(
            "timeline_append_request_duration_seconds",
            "Time from receiving a POST /v1/events request to its answer sent, by outcome.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        for outcome in APPEND_OUTCOMES:  # every outcome present from the start, at 0
            self.append_requests.labels(outcome)
            self.append_seconds.labels(outcome)
        self.appended_events = Counter(
            "timeline_appended_events",
            "Events POST /v1/events stored as new.",
            registry=r,
        )
        self.duplicate_events = Counter(
            "timeline_duplicate_events",
            "Events POST /v1/events answered as duplicates (already stored: the original "
            "position returned, nothing written).",
            registry=r,
        )
        self.group_events = Histogram(
            "timeline_group_commit_events",
            "Events written per group-commit transaction (the writer gathers concurrent "
            "appends into one).",
            buckets=GROUP_BUCKETS,
            registry=r,
        )
        self.group_requests = Histogram(
            "timeline_group_commit_requests",
            "Append requests answered per group-commit transaction.",
            buckets=GROUP_BUCKETS,
            registry=r,
        )
        self.group_fallbacks = Counter(
            "timeline_group_commit_fallbacks",
            "Groups that lost a race with another writer and were appended request by request.",
            registry=r,
        )
        self.access_log_writes = Counter(
            "timeline_access_log_writes",
            "Entries written to the access log, by action (history, obligations, lookup, …; "
            "refusals as <action>:denied).",
            ["action"],
            registry=r,
        )
        self.job_runs = Counter(
            "timeline_job_runs",
            "Scheduled job runs in this process, by job and outcome (ok, failed, skipped: "
            "another process held the job's lock).",
            ["job", "outcome"],
            registry=r,
        )
        self.job_seconds = Histogram(
            "timeline_job_duration_seconds",
            "Time a scheduled job ran (ok or failed), by job.",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=r,
        )

    # -- the hooks (one call each, from the place where it happens) ----------------------

    def append_answered(self, status: int, stored_new: bool | None, seconds: float) -> None:
        """A ``POST /v1/events`` answered with ``status``; ``stored_new``: whether any of its
        events was new (None when the route did not say)."""
        if status < 300:
            outcome = "accepted" if stored_new else "duplicate"
        elif status < 500:
            outcome = "rejected"
        else:
            outcome = "failed"
        self.append_requests.labels(outcome).inc()
        self.append_seconds.labels(outcome).observe(seconds)

    def appended(self, results: Sequence[Any]) -> None:
        """What an append answered (items with ``duplicate``); tells the request's outcome to
        the HTTP middleware, if one is measuring this request."""
        new = sum(1 for a in results if not a.duplicate)
        self.appended_events.inc(new)
        self.duplicate_events.inc(len(results) - new)
        holder = _APPEND.get()
        if holder is not None:
            holder.append(new > 0)

    def group_committed(self, requests: int, events: int) -> None:
        self.group_requests.observe(requests)
        self.group_events.observe(events)

    def group_fell_back(self) -> None:
        self.group_fallbacks.inc()

    def access_logged(self, action: str) -> None:
        self.access_log_writes.labels(action).inc()

    def job_ran(self, job: str, outcome: str, seconds: float | None = None) -> None:
        self.job_runs.labels(job, outcome).inc()
        if seconds is not None:
            self.job_seconds.labels(job).observe(seconds)


_lock = threading.Lock()
_process: Telemetry | None = None


def current() -> Telemetry:
    """This process's :class:`Telemetry` (made on first use; see the module docstring)."""
    global _process  # noqa: PLW0603 - the one per-process instance, made once
    if _process is not None:  # the hot path: no lock once it exists
        return _process
    with _lock:
        if _process is None:
            _process = Telemetry()
        return _process


#: set by the HTTP middleware around one append request: whether each append it made stored
#: something new (see :meth:`Telemetry.appended`)
_APPEND: ContextVar[list[bool] | None] = ContextVar("timeline_append_outcome", default=None)


@contextmanager
def measuring_append() -> Iterator[list[bool]]:
    """Around one ``POST /v1/events`` request: collect what :meth:`Telemetry.appended` says."""
    holder: list[bool] = []
    token = _APPEND.set(holder)
    try:
        yield holder
    finally:
        _APPEND.reset(token)


# -- rebuild progress, kept in the store ---------------------------------------------------

PROGRESS_TABLE = "timeline_rebuild_progress"


@dataclass(frozen=True)
class RebuildState:
    """The last rebuild of a projection: events read of the total, whether it still runs
    (``running`` stays true if the rebuilding process was killed: ``updated_at`` then stops
    moving), and when it started and last reported."""

    projection: str
    done: int
    total: int
    running: bool
    started_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "running": self.running,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }


class RebuildProgress:
    """Rows of ``timeline_rebuild_progress`` in the side database: one per projection."""

    def __init__(self, db: SideDatabase) -> None:
        self.db = db
        big = "BIGINT" if db.dialect == "postgres" else "INTEGER"
        with db.transaction() as tx:
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (projection TEXT PRIMARY KEY, "
                f"done {big} NOT NULL, total {big} NOT NULL, running INTEGER NOT NULL, "
                "started_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )

    def write(self, state: RebuildState) -> None:
        with self.db.transaction() as tx:
            _upsert(tx, state)

    def states(self) -> dict[str, RebuildState]:
        with self.db.read() as tx:
            rows = tx.execute(
                f"SELECT projection, done, total, running, started_at, updated_at "
                f"FROM {PROGRESS_TABLE} ORDER BY projection"
            )
        return {
            str(r[0]): RebuildState(str(r[0]), int(r[1]), int(r[2]), bool(r[3]), r[4], r[5])
            for r in rows
        }


def _upsert(tx: Tx, s: RebuildState) -> None:
    p = tx.sql.P
    tx.execute(
        f"INSERT INTO {PROGRESS_TABLE} (projection, done, total, running, started_at, "
        f"updated_at) VALUES ({p},{p},{p},{p},{p},{p}) ON CONFLICT (projection) DO UPDATE SET "
        "done = excluded.done, total = excluded.total, running = excluded.running, "
        "started_at = excluded.started_at, updated_at = excluded.updated_at",
        [s.projection, s.done, s.total, int(s.running), s.started_at, s.updated_at],
    )


class _Rebuilding(Protocol):
    """What :func:`tracks_rebuild` needs of a view (``projections.runtime.DatedView``)."""

    @property
    def db(self) -> SideDatabase: ...

    @property
    def log(self) -> Any: ...  # the EventLog (TimelineApp): its recorder and injected clock

    @property
    def runner(self) -> Any: ...  # its projection's name


#: at most one progress row written per this many seconds while a rebuild runs
PROGRESS_EVERY_SECONDS = 0.5

R = TypeVar("R", bound=Callable[..., int])


def tracks_rebuild(rebuild: R) -> R:
    """Decorate a view's ``rebuild(limit, progress, ...)``: while it runs, its progress (events
    read of the log's length at the start) is kept in ``timeline_rebuild_progress``, and the
    row says it ended (or failed) when it returns."""
    signature = inspect.signature(rebuild)

    @functools.wraps(rebuild)
    def tracked(view: _Rebuilding, *args: Any, **kwargs: Any) -> int:
        bound = signature.bind(view, *args, **kwargs)
        caller = bound.arguments.get("progress")
        store = RebuildProgress(view.db)
        name = str(view.runner.projection.name)
        started = _now(view)
        total = int(view.log.recorder.max_notification_id() or 0)
        done = 0
        last_write = 0.0

        def note(running: bool) -> None:
            store.write(RebuildState(name, done, max(total, done), running, started, _now(view)))

        def progress(n: int) -> None:
            nonlocal done, last_write
            done += n
            if time.monotonic() - last_write >= PROGRESS_EVERY_SECONDS:
                last_write = time.monotonic()
                note(True)
            if caller is not None:
                caller(n)

        note(True)
        bound.arguments["progress"] = progress
        try:
            done_events = int(rebuild(*bound.args, **bound.kwargs))
        except BaseException:
            with contextlib.suppress(Exception):  # the rebuild's own error is the one to see
                note(False)
            raise
        note(False)
        return done_events

    return cast(R, tracked)


def _now(view: _Rebuilding) -> str:
    """The application's clock (injected), in UTC ISO form."""
    moment: datetime = view.log.clock()
    return moment.astimezone(UTC).isoformat()
