"""The reader chooser: which database serves a read — a read replica (a hot standby,
``TIMELINE_READ_DATABASE_URL``) or the primary — with read-your-writes.

An append answers each event's position. A read may pass ``min_position`` (query) or
``X-Min-Position`` (header): it is served from the replica only once the replica has replayed
that far — for the log (history, the feed) its largest notification id, for a projection
(obligations, worklists, statistics) that projection's tracking position as replicated — and
otherwise, after waiting at most ``TIMELINE_READ_WAIT_MS``, from the primary. A read without it
is served from the replica. The answer says which served it (``X-Served-By``). Without a
replica every read is the primary's, as before (ops/adr/0010-read-replicas.md).

Appends, the access log and the scope checks (whose seeker it is *now*) are the primary's."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import psycopg
from eventsourcing.persistence import OperationalError
from fastapi import Depends, Header, Query, Request, Response
from psycopg_pool import PoolTimeout

from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from timeline.application import TimelineApp
from timeline.vocabulary import MAX_INT64

__all__ = [
    "SERVED_BY",
    "FromLog",
    "FromObligations",
    "FromOutcomes",
    "MinPosition",
    "ReadSide",
    "ReaderChooser",
    "Source",
    "replicated_position",
    "served_by_doc",
]

#: the response header naming the database that served a read
SERVED_BY = "X-Served-By"

#: what a read reads: the log, or one projection's tables
Source = Literal["log", "obligations", "outcomes"]


class ReadSide(Protocol):
    """What the reads are served from: the primary's services or the replica's."""

    @property
    def app(self) -> TimelineApp: ...

    @property
    def obligations(self) -> ObligationsView: ...

    @property
    def outcomes(self) -> OutcomesView: ...


def replicated_position(side: ReadSide, source: Source) -> int:
    """How far ``side`` has the log (its largest notification id: appends commit in the order
    of their positions, under the event store's table lock, so every position up to it is
    there) or a projection (its tracking position)."""
    if source == "log":
        return side.app.recorder.max_notification_id() or 0
    view = side.obligations if source == "obligations" else side.outcomes
    return view.position()


@dataclass(frozen=True)
class Choice:
    """The side chosen and its name for ``X-Served-By``."""

    side: ReadSide
    by: Literal["primary", "replica"]


@dataclass
class ReaderChooser:
    """Chooses the side of each read (see the module docstring). ``position``, ``monotonic``
    and ``sleep`` are injected for tests."""

    primary: ReadSide
    replica: ReadSide | None = None
    #: the longest a read with ``min_position`` waits for the replica
    wait_seconds: float = 0.2
    #: how often the replica's position is asked again while waiting
    poll_seconds: float = 0.01
    position: Callable[[ReadSide, Source], int] = replicated_position
    monotonic: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], object] = field(default=time.sleep)

    def choose(self, source: Source, min_position: int | None) -> Choice:
        """The replica when there is one and it has ``source`` up to ``min_position`` (at once,
        or within ``wait_seconds``); otherwise the primary. A replica that cannot be asked
        (down, its pool exhausted) is passed over for the primary."""
        if self.replica is None:
            return Choice(self.primary, "primary")
        if min_position is None:
            return Choice(self.replica, "replica")
        deadline = self.monotonic() + self.wait_seconds
        while True:
            try:
                reached = self.position(self.replica, source)
            except (psycopg.OperationalError, OperationalError, PoolTimeout):
                return Choice(self.primary, "primary")
            if reached >= min_position:
                return Choice(self.replica, "replica")
            left = deadline - self.monotonic()
            if left <= 0:
                return Choice(self.primary, "primary")
            self.sleep(min(self.poll_seconds, left))


_MIN_POSITION = (
    "read-your-writes: the position an append answered; the read is served from a read "
    "replica only once it has replayed that far (otherwise, after a bounded wait, from the "
    "primary)"
)


def _min_position(
    min_position: Annotated[
        int | None, Query(ge=0, le=MAX_INT64, description=_MIN_POSITION)
    ] = None,
    x_min_position: Annotated[
        int | None,
        Header(ge=0, le=MAX_INT64, description=f"{_MIN_POSITION}; as the query's min_position"),
    ] = None,
) -> int | None:
    """The larger of ``?min_position=`` and ``X-Min-Position`` (None when neither is given)."""
    given = [p for p in (min_position, x_min_position) if p is not None]
    return max(given) if given else None


#: the position a read must see, from the query or the header
MinPosition = Annotated[int | None, Depends(_min_position)]


def _reader(source: Source) -> Callable[..., ReadSide]:
    """A route's dependency: the side that serves its read of ``source`` (chosen by the app's
    ``state.readers``), named in the answer's ``X-Served-By``."""

    def side(request: Request, response: Response, min_position: MinPosition) -> ReadSide:
        chooser: ReaderChooser = request.app.state.readers
        choice = chooser.choose(source, min_position)
        response.headers[SERVED_BY] = choice.by
        return choice.side

    return side


#: the side serving a read of the log (history, the feed)
FromLog = Annotated[ReadSide, Depends(_reader("log"))]
#: the side serving a read of the obligations' tables (a seeker's obligations, worklists)
FromObligations = Annotated[ReadSide, Depends(_reader("obligations"))]
#: the side serving a read of the statistics' tables
FromOutcomes = Annotated[ReadSide, Depends(_reader("outcomes"))]


def served_by_doc() -> dict[int | str, dict[str, Any]]:
    """The OpenAPI of the ``X-Served-By`` header of a read's answer (merged into its 200)."""
    return {
        200: {
            "description": "Successful Response",
            "headers": {
                SERVED_BY: {
                    "description": "which database served the read: `replica` (a hot standby, "
                    "TIMELINE_READ_DATABASE_URL) or `primary`",
                    "schema": {"type": "string", "enum": ["replica", "primary"]},
                }
            },
        }
    }
