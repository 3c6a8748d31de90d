"""Loading a generated dataset into a store, as the backends would have sent it over the years."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo.stream import DemoEvent
from timeline.vocabulary import ParsedEvent, parse_event

DEMO_WINDOW = timedelta(minutes=60)
REQUEST_LIMIT = 500  # events per request at most (as `timeline import` batches)
WRITE_CHUNK = 5000  # events per transaction (as `timeline import` writes)


def load_demo(
    app: TimelineApp,
    clock: FixedClock | None,
    events: Iterable[DemoEvent],
    *,
    progress: Callable[[int, int], object] | None = None,
) -> int:
    """Append demo events as backends would have sent them, recorded late where the demo says
    so; the number of events. Events sent within an hour of each other form one request (at
    most ``REQUEST_LIMIT`` events), recorded at its last time: each request is decided at that
    moment, as an append then would be, and then every decided event is written in chunks of
    ``WRITE_CHUNK``, as ``timeline import`` does (one transaction per chunk, not per request).
    ``clock``, when given, is moved along to each request's time (the caller's clock then
    stands at the last one). ``progress(written, to_write)`` is called before the writes
    (``written`` 0) and after each chunk; ``to_write`` leaves out the events already stored."""
    requests: list[tuple[datetime, list[ParsedEvent]]] = []
    batch: list[ParsedEvent] = []
    batch_at = first_at = datetime.min.replace(tzinfo=UTC)
    for demo in events:
        if batch and (demo.recorded_at - first_at > DEMO_WINDOW or len(batch) >= REQUEST_LIMIT):
            requests.append((batch_at, batch))
            batch = []
        if not batch:
            first_at = demo.recorded_at
        batch_at = demo.recorded_at
        batch.append(parse_event(demo.envelope, allow_test_identity_codes=True))
    if batch:
        requests.append((batch_at, batch))
    if not requests:
        return 0
    everything = [e for _, request in requests for e in request]
    appender = app.appender
    decisions = appender.decisions(requests[0][0], [e.event_id for e in everything])
    decisions.load(list(dict.fromkeys(e.seeker_id for e in everything)))
    for at, request in requests:
        if clock is not None:
            clock.set(at)
        decisions.now = at
        decisions.decide(appender.prepare(request, at))
    planned = decisions.planned
    if progress is not None:
        progress(0, len(planned))
    for start in range(0, len(planned), WRITE_CHUNK):
        chunk = planned[start : start + WRITE_CHUNK]
        decisions.save(chunk)
        if progress is not None:
            progress(start + len(chunk), len(planned))
    return len(everything)
