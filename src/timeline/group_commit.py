"""Group commit: one writer thread per store gathers concurrent appends into one transaction.

The PostgreSQL recorder serialises writers with a table lock, so one event per transaction
is capped at about a thousand a second whatever the thread count. Callers of :meth:`submit`
queue their request and wait; the writer takes every queued request (up to ``max_batch``
events), decides them in arrival order against shared timelines, writes all accepted ones
with one save of the shared :class:`~timeline.decisions.Decisions`, and answers each caller
after that commit.

Each request keeps the contract of :meth:`TimelineApp.append` (all of it or none of it,
duplicates answered with the original, ``expected_version`` checked, its caller's scope judged
against the timelines as decided so far): a request that is refused fails alone and leaves no
trace in the shared decisions, so its batch-mates land. If
the combined save hits ``IntegrityError`` (another process took a version or an event_id),
the requests of that group are appended one by one with :meth:`TimelineApp.append`, which
decides again. A caller's requests are answered in order because it waits for each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError

from timeline import telemetry
from timeline.application import TimelineApp
from timeline.decisions import Prepared, Slot
from timeline.domain.errors import InvalidEvent
from timeline.results import Appended
from timeline.vocabulary import ParsedEvent


@dataclass
class _Request:
    events: Sequence[ParsedEvent]
    scope: frozenset[str] | None = None  # the caller's: travels with its request
    result: list[Appended] | None = None
    error: BaseException | None = None
    prepared: list[Prepared] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    finished: bool = False
    done: threading.Event | None = None  # what a thread in GroupCommitter.submit waits on
    # what a coroutine in :meth:`GroupCommitter.submit_async` awaits, and its event loop
    answered: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def finish(
        self, result: list[Appended] | None = None, error: BaseException | None = None
    ) -> None:
        """Record the outcome; a waiting thread is woken now, a coroutine once its group is
        done (:func:`_wake`: one call into each event loop per group, not one per request)."""
        self.result, self.error = result, error
        self.finished = True
        if self.done is not None:
            self.done.set()

    def outcome(self) -> list[Appended]:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def _wake(group: Sequence[_Request]) -> None:
    """Wake the coroutines of a group's answered requests, with one thread-safe call into each
    event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for request in group:
        if request.finished and request.loop is not None and request.answered is not None:
            by_loop.setdefault(request.loop, []).append(request.answered)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the caller's event loop is gone
            loop.call_soon_threadsafe(_resolve, futures)


@dataclass
class GroupStats:
    """Counters for the bench and for metrics: groups written and requests answered."""

    groups: int = 0
    requests: int = 0
    events: int = 0
    fallbacks: int = 0
    busy_seconds: float = 0.0  # the writer deciding and writing (not waiting for requests)


class GroupCommitter:
    """A single writer for one :class:`TimelineApp` (see the module docstring).

    ``max_batch`` bounds the events of one transaction (a larger single request is still
    written whole, alone). ``max_wait_ms`` is how long the writer waits for more requests
    when it finds fewer than ``max_batch`` events queued: under load, requests gather while
    the previous group commits, so a short wait (or none) is enough."""

    def __init__(
        self, app: TimelineApp, *, max_batch: int = 1000, max_wait_ms: float = 1.0
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.app = app
        self.max_batch = max_batch
        self.max_wait = max(max_wait_ms, 0.0) / 1000
        self.stats = GroupStats()
        self._queue: deque[_Request] = deque()
        self._queued_events = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="timeline-group-commit", daemon=True)
        self._thread.start()

    # -- callers -------------------------------------------------------------------------------

    def submit(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None = None
    ) -> list[Appended]:
        """Append ``events`` atomically (as :meth:`TimelineApp.append`, within the caller's
        ``scope``), committed together with other callers' requests; return after the commit.
        Raises what ``append`` raises."""
        if not events:
            return []
        done = threading.Event()
        request = _Request(events, scope, done=done)
        self._enqueue(request)
        done.wait()
        return request.outcome()

    async def submit_async(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None = None
    ) -> list[Appended]:
        """:meth:`submit` for a coroutine: the event loop is not blocked and no worker thread
        waits for the commit (an ``async`` route needs no thread-pool hop)."""
        if not events:
            return []
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()
        request = _Request(events, scope, answered=answered, loop=loop)
        self._enqueue(request)
        await answered
        return request.outcome()

    def _enqueue(self, request: _Request) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the group committer is closed")
            self._queue.append(request)
            self._queued_events += len(request.events)
            # Wake the writer only when it has something new to do: its first request (it
            # waits for one), or a full group (it waits up to max_wait for more). Waking it
            # for every request while it gathers would only pass the GIL back and forth.
            if len(self._queue) == 1 or self._queued_events >= self.max_batch:
                self._cond.notify()

    def close(self, timeout: float | None = 10.0) -> None:
        """Answer what is queued, then stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def __enter__(self) -> GroupCommitter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the writer ----------------------------------------------------------------------------

    def _take(self) -> list[_Request] | None:
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            if self.max_wait and self._queued_events < self.max_batch and not self._closed:
                deadline = time.monotonic() + self.max_wait
                while self._queued_events < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._closed:
                        break
                    self._cond.wait(left)
            group: list[_Request] = []
            count = 0
            while self._queue and (
                not group or count + len(self._queue[0].events) <= self.max_batch
            ):
                request = self._queue.popleft()
                group.append(request)
                count += len(request.events)
            self._queued_events -= count
            return group

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            start = time.perf_counter()
            try:
                self._write(group)
            except BaseException as exc:  # never leave a caller waiting
                for request in group:
                    if not request.finished:
                        request.finish(error=exc)
            finally:
                self.stats.busy_seconds += time.perf_counter() - start
                _wake(group)

    def _write(self, group: list[_Request]) -> None:
        app = self.app
        now = app.clock()
        live: list[_Request] = []
        for request in group:
            try:
                request.prepared = app.appender.prepare(request.events, now)
            except InvalidEvent as exc:
                request.finish(error=exc)
                continue
            live.append(request)
        if not live:
            return
        # Which events are stored, which seekers erased, and every seeker of the group loaded
        # (and fast-forwarded): one read for the group (one round trip on PostgreSQL).
        decisions = app.appender.decisions(
            now,
            [e.event_id for r in live for e in r.events],
            [e.seeker_id for r in live for e in r.events],
        )
        accepted: list[_Request] = []
        for request in live:
            try:
                request.slots = decisions.decide(request.prepared, scope=request.scope)
            except Exception as exc:  # a refusal (or a bug) fails its own request only
                request.finish(error=exc)
                continue
            accepted.append(request)
        try:
            saved = decisions.save()
        except IntegrityError:
            # Another writer won a race: decide and save the requests one by one.
            self.stats.fallbacks += 1
            telemetry.current().group_fell_back()
            for request in accepted:
                try:
                    request.finish(app.append(request.events, scope=request.scope))
                except Exception as exc:
                    request.finish(error=exc)
            return
        except Exception as exc:
            for request in accepted:
                request.finish(error=exc)
            return
        self.stats.groups += 1
        self.stats.requests += len(accepted)
        self.stats.events += len(decisions.planned)
        telemetry.current().group_committed(len(accepted), len(decisions.planned))
        for request in accepted:
            request.finish(decisions.answer(request.slots, saved))
