"""The port projections read the global log through, and the reader that turns it into facts.

:class:`EventLog` is what a projection needs of the write side, and all it may know of it:
notifications after a position, the decoder that turns one into a timeline event, the event
index (for an undecodable event's id and recorded time), and the settings of the store (the
projection's tables live in the events' own database). ``timeline.application.TimelineApp``
satisfies it structurally; projections never import the application (an import-linter
contract), so anything with these members — another application, a test double — will do.

:class:`LogReader` is the one place that decodes: :meth:`LogReader.read` gives the facts after a
position, keeping out (as ``decode`` quarantine entries) the events it cannot read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from typing import Protocol, cast

from eventsourcing.persistence import Notification, StoredEvent

from projections.runtime.quarantine import Entry, describe, is_poison
from timeline.domain.facts import Fact
from timeline.domain.timeline import Timeline, fact_from_event
from timeline.domain.zone import HELSINKI
from timeline.settings import Settings
from timeline.store.index import IndexRow

__all__ = ["Batch", "EventLog", "LogReader"]


class Notifications(Protocol):
    """The global log in position order (the library's application recorder)."""

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...


class Decoder(Protocol):
    """Turns a stored event into the domain event it records (the library's mapper)."""

    def to_domain_event(self, stored_event: StoredEvent) -> object: ...


class PositionIndex(Protocol):
    """The event index by log position."""

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]: ...


class EventLog(Protocol):
    """What a projection reads: the log, its decoder, its index, and where it is stored."""

    @property
    def recorder(self) -> Notifications: ...

    @property
    def mapper(self) -> Decoder: ...

    @property
    def index(self) -> PositionIndex: ...

    @property
    def settings(self) -> Settings:
        """The store's settings: a projection's tables go in the same database."""
        ...


@dataclass(frozen=True)
class Batch:
    """What one read of the log gave: the facts, the events that could not be read (as
    quarantine entries), the position of the last notification, how many were read."""

    facts: list[Fact]
    kept_out: list[Entry]
    last: int
    count: int


class LogReader:
    """Reads an :class:`EventLog` for the projection called ``name``, decoded into facts."""

    def __init__(self, log: EventLog, name: str) -> None:
        self.log = log
        self.name = name

    def max_position(self) -> int:
        """The position of the log's last event (0: the log is empty)."""
        return self.log.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int) -> Batch:
        """The facts after a log position; an event that cannot be decoded into a fact is
        kept out as a ``decode`` quarantine entry instead of stopping the batch."""
        notifications = self.log.recorder.select_notifications(
            after, limit, inclusive_of_start=False
        )
        to_event = self.log.mapper.to_domain_event
        facts: list[Fact] = []
        kept: list[Entry] = []
        for n in notifications:
            try:
                facts.append(fact_from_event(cast(Timeline.Recorded, to_event(n)), position=n.id))
            except Exception as exc:
                if not is_poison(exc):
                    raise
                kept.append(self._undecodable(n.id, str(n.originator_id), exc))
        last = notifications[-1].id if notifications else after
        return Batch(facts, kept, last, len(notifications))

    def _undecodable(self, position: int, seeker_id: str, exc: Exception) -> Entry:
        """A ``decode`` entry, with the event id and recorded time from the event index when
        it has them (the event itself could not be read)."""
        event_id = recorded_at = None
        try:
            rows = self.log.index.index_after_position(position - 1, 1)
        except Exception as lookup:
            if not is_poison(lookup):
                raise
            rows = []
        if rows and rows[0].position == position:
            event_id = rows[0].event_id
            recorded_at = rows[0].recorded_at.astimezone(UTC).isoformat()
        return Entry(
            projection=self.name,
            seeker_id=seeker_id,
            stage="decode",
            error=describe(exc),
            position=position,
            event_id=event_id,
            recorded_at=recorded_at,
        )

    def last_recorded_day(self, window: int = 100) -> date | None:
        """The Helsinki day on which the log's last readable event was recorded."""
        last = self.max_position()
        while last > 0:
            first = max(1, last - window + 1)
            for notification in reversed(self.log.recorder.select_notifications(first, window)):
                if notification.id > last:
                    continue
                try:
                    event = cast(Timeline.Recorded, self.log.mapper.to_domain_event(notification))
                except Exception as exc:
                    if not is_poison(exc):
                        raise
                    continue  # kept out by the runner (quarantined): look further back
                return event.timestamp.astimezone(HELSINKI).date()
            last = first - 1
        return None
