"""The port projections read the global log through, and the reader that turns it into facts.

:class:`EventLog` is what a projection needs of the write side, and all it may know of it:
notifications after a position, the decoder that turns one into a timeline event, the event
index (an undecodable event's id and recorded time; seekers' stored events and their
positions, to evaluate them again), and the settings of the store (the projection's tables live
in the events' own database). ``timeline.application.TimelineApp``
satisfies it structurally; projections never import the application (an import-linter
contract), so anything with these members — another application, a test double — will do.

:class:`LogReader` is the one place that decodes: :meth:`LogReader.read` gives the facts after a
position, keeping out (as ``decode`` quarantine entries) the events it cannot read;
:meth:`LogReader.facts_of` reads seekers' facts again, as they were when read, instead of each
projection keeping its own copy of every fact."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from typing import Protocol, cast

from eventsourcing.persistence import Notification, StoredEvent

from projections.runtime.decode import FactDecoder, positioned
from projections.runtime.quarantine import Entry, describe, is_poison
from timeline.domain.event_types import BY_NAME
from timeline.domain.facts import Fact
from timeline.domain.timeline import Timeline
from timeline.domain.zone import HELSINKI
from timeline.settings import Settings
from timeline.store.index import IndexRow

__all__ = ["Batch", "EventLog", "LogReader", "SeekerHistory"]


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
    """The event index (by log position, by event id), and seekers' stored events."""

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]: ...

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]: ...

    def select_events_after(self, versions: Mapping[str, int]) -> dict[str, list[StoredEvent]]:
        """For each seeker, its stored events after the given version, in version order."""
        ...

    def seeker_notifications(self, seeker_id: str) -> list[Notification]:
        """The seeker's stored events with their log positions, in version order (one indexed
        range read of the events table)."""
        ...


class SeekersNotifications(Protocol):
    """What an event index may have besides :class:`PositionIndex`: several seekers' stored
    events with their log positions in one read (``seeker_notifications`` of each)."""

    def __call__(self, seeker_ids: Sequence[str]) -> dict[str, list[Notification]]: ...


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


class SeekerHistory(Protocol):
    """Seekers' facts read again from the log, for re-evaluating them (what a projection reads
    instead of keeping its own copy of every fact)."""

    def facts_of(
        self, seeker_ids: Iterable[str], upto: int, without: Collection[str] = ()
    ) -> dict[str, list[Fact]]: ...


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

    def read(
        self,
        after: int,
        limit: int,
        stop: int | None = None,
        owns: Callable[[str], bool] | None = None,
    ) -> Batch:
        """The facts after a log position (up to ``stop`` if given); an event that cannot be
        decoded into a fact is kept out as a ``decode`` quarantine entry instead of stopping
        the batch.

        ``owns`` (a partitioned worker's seekers): the events of other seekers are not decoded;
        their facts come from the event index instead, without their data — enough to know
        their recorded time and position, which is all a partition uses them for."""
        if stop is not None and after >= stop:
            return Batch([], [], after, 0)
        notifications = self.log.recorder.select_notifications(
            after, limit, stop, inclusive_of_start=False
        )
        decode = FactDecoder(self.log.mapper)
        facts: list[Fact] = []
        kept: list[Entry] = []
        others = self._others(notifications, owns)
        for n in notifications:
            other = others.get(n.id)
            if other is not None:
                facts.append(other)
                continue
            try:
                facts.append(decode(n, n.id))
            except Exception as exc:
                if not is_poison(exc):
                    raise
                kept.append(self._undecodable(n.id, str(n.originator_id), exc))
        last = notifications[-1].id if notifications else after
        return Batch(facts, kept, last, len(notifications))

    def _others(
        self, notifications: Sequence[Notification], owns: Callable[[str], bool] | None
    ) -> dict[int, Fact]:
        """The facts of the events of seekers not ``owns``, from the event index, by
        position (an event the index lacks, or whose row cannot be read, is decoded)."""
        if owns is None or all(owns(str(n.originator_id)) for n in notifications):
            return {}
        rows = self.log.index.index_after_position(notifications[0].id - 1, len(notifications))
        wanted = {n.id for n in notifications if not owns(str(n.originator_id))}
        out: dict[int, Fact] = {}
        for row in rows:
            if row.position in wanted:
                with contextlib.suppress(KeyError, ValueError):
                    out[row.position] = Fact(
                        event_id=row.event_id,
                        seeker_id=row.seeker_id,
                        type=BY_NAME[row.type],
                        occurred_on=date.fromisoformat(row.occurred_on),
                        recorded_at=row.recorded_at,
                        version=row.version,
                        data={},
                        position=row.position,
                    )
        return out

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

    def facts_of(
        self,
        seeker_ids: Iterable[str],
        upto: int,
        without: Collection[str] = (),
        *,
        page: int = 200,
    ) -> dict[str, list[Fact]]:
        """These seekers' facts in version order, exactly as a projection that has applied the
        log up to position ``upto`` got them from :meth:`read`: events after ``upto``, events
        that cannot be decoded (kept out as ``decode``) and the events ``without`` (ids kept
        out as ``apply``) are left out. Seekers without facts are left out.

        One read a page of ``page`` seekers where the index has ``seekers_notifications``
        (PostgreSQL: their stored events with their positions, one indexed read of the events
        table); else two: their stored events (one indexed range read each) and the positions
        of those events from the index. (A page's stored and decoded events are let go before
        the next page is read.)"""
        ids = list(dict.fromkeys(seeker_ids))
        out: dict[str, list[Fact]] = {}
        for i in range(0, len(ids), page):
            out.update(self._facts_of_page(ids[i : i + page], upto, without))
        return out

    def _facts_of_page(
        self, ids: Sequence[str], upto: int, without: Collection[str]
    ) -> dict[str, list[Fact]]:
        decode = FactDecoder(self.log.mapper)
        out: dict[str, list[Fact]] = {}
        together = getattr(self.log.index, "seekers_notifications", None)
        if together is not None:  # the events with their positions, in one read
            found = cast(SeekersNotifications, together)(ids)
            for seeker_id in ids:
                facts = self._facts(self._decoded(decode, found.get(seeker_id, [])), upto, without)
                if facts:
                    out[seeker_id] = facts
            return out
        decoded: dict[str, list[Fact]] = {}
        for seeker_id, stored in self.log.index.select_events_after(dict.fromkeys(ids, 0)).items():
            events = decoded.setdefault(seeker_id, [])
            for s in stored:
                try:
                    events.append(decode(s))
                except Exception as exc:
                    if not is_poison(exc):
                        raise
        rows = self.log.index.index_by_event_ids(
            [e.event_id for events in decoded.values() for e in events]
        )
        for seeker_id in ids:
            events = decoded.get(seeker_id, [])
            if any(rows.get(e.event_id) is None for e in events):  # the index lacks an entry
                facts = self._facts_by_notification(seeker_id, upto, without)
            else:
                facts = self._facts(((e, rows[e.event_id].position) for e in events), upto, without)
            if facts:
                out[seeker_id] = facts
        return out

    def _facts(
        self,
        events: Iterable[tuple[Fact, int | None]],
        upto: int,
        without: Collection[str],
    ) -> list[Fact]:
        """The ``events`` (facts this reader has just decoded, each with its log position)
        up to ``upto``, without those ``without``, each given its position."""
        facts = []
        for event, position in events:
            if position is None or position > upto or event.event_id in without:
                continue
            facts.append(positioned(event, position))
        return facts

    def _facts_by_notification(
        self, seeker_id: str, upto: int, without: Collection[str]
    ) -> list[Fact]:
        """A seeker's facts read with their positions from the events table alone (for a
        seeker some of whose index entries are missing)."""
        decode = FactDecoder(self.log.mapper)
        events = self._decoded(decode, self.log.index.seeker_notifications(seeker_id))
        return self._facts(events, upto, without)

    @staticmethod
    def _decoded(
        decode: FactDecoder, notifications: Iterable[Notification]
    ) -> list[tuple[Fact, int | None]]:
        """Each notification that can be read, as a fact and its position (what cannot be read
        is left out: :meth:`read` kept it out)."""
        events: list[tuple[Fact, int | None]] = []
        for n in notifications:
            try:
                events.append((decode(n), n.id))
            except Exception as exc:
                if not is_poison(exc):
                    raise
        return events

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
