"""The stored form of the import's accepted events, behind two small interfaces, so another
stored form (ADR 0009's log) replaces the encoding and the writing without touching the
streaming and the validation:

- a :class:`RowEncoder` turns an event the validation pass accepted (:class:`Accepted`) into a
  spool record, a tuple of plain values (kept in a temporary file between the passes);
- a :class:`BulkSink` writes a chunk of those records in one transaction.

Today's form (:class:`StoredEvents`): the library's stored event — the application's mapper's
output (stored form 2, :mod:`timeline.store.form2`) for the very domain event the aggregate
would have triggered — and our index row. So a bulk import stores what ``timeline append``
stores: the same clear part byte for byte, the personal part sealed with the same seeker key
(each seal has a random nonce of its own, so no two seals are equal bytes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from timeline.domain.canonical import JCS, JCS_PREFIX, LEGACY, digest_algorithm
from timeline.domain.event_types import EventType
from timeline.domain.timeline import EVENT_CLASSES, Timeline
from timeline.store import form2
from timeline.store.index import IndexRow
from timeline.store.keys import KeyRing, SeekerErased
from timeline.store.mapper import TimelineMapper
from timeline.vocabulary import ParsedEvent

#: a spool record: plain values only (written with ``marshal``)
Record = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event the validation pass accepted: its place and chain values, as decided."""

    event: ParsedEvent
    seeker: UUID  # the event's seeker_id as a UUID
    data: dict[str, Any]  # the event's data, with ``person_ref`` when it had an identity code
    person_ref: str | None
    version: int
    digest: str
    hash: str


class RowEncoder(Protocol):
    def prepare(self, seeker_ids: Sequence[str]) -> None:
        """Get ready to encode events of these seekers (a block's), e.g. their keys at once."""
        ...

    def encode(self, accepted: Accepted) -> Record: ...


class BulkSink(Protocol):
    def write(self, records: Sequence[Record]) -> None:
        """Write the records in one transaction; ``IntegrityError`` (nothing written) if one
        of their versions or event ids is taken."""
        ...


_TIMELINE_TOPIC = get_topic(Timeline)
#: the opening event's stored topic and the type its payload is laid out as (the mapper's)
_OPENED = (get_topic(Timeline.Opened), Timeline.Opened.WIRE_TYPE)
#: every other event's, by its type
_RECORDED: dict[EventType, tuple[str, EventType]] = {
    type_: (get_topic(cls), type_) for type_, cls in EVENT_CLASSES.items()
}


class StoredEvents:
    """Today's stored form: the library's stored event (the mapper's: form 2) and our index
    row.

    With the timeline's own mapper (:class:`~timeline.store.mapper.TimelineMapper`) and
    ``direct`` (the default), an event's state is encoded straight from what the validation
    pass decided (:meth:`encode_direct`: :func:`form2.encode_event` with the arguments the
    mapper would give it), without the domain event and the mapper's look at it; otherwise,
    and always when ``direct`` is False, through :meth:`domain_event` and the mapper. The
    bytes are the same (``tests/integration/test_bulk_import.py`` imports a file both ways)."""

    def __init__(self, mapper: Mapper[UUID], recorded_at: datetime, *, direct: bool = True) -> None:
        self.mapper = mapper
        self.recorded_at = recorded_at
        self.keys: KeyRing | None = getattr(mapper, "keys", None)
        self.direct = direct and type(mapper) is TimelineMapper and self.keys is not None

    def prepare(self, seeker_ids: Sequence[str]) -> None:
        """The block's seekers' keys in one read, the missing ones made in one write (and
        committed, before any event sealed with them is written); an erased seeker's events
        are refused when they are encoded (:class:`~timeline.store.keys.SeekerErased`)."""
        if self.keys is None:
            return
        ids = [UUID(s) for s in dict.fromkeys(seeker_ids)]
        try:
            self.keys.data_keys(ids, create=True)
        except SeekerErased:
            erased = self.keys.erased(ids)
            self.keys.data_keys([s for s in ids if s not in erased], create=True)

    def domain_event(self, a: Accepted) -> Timeline.Opened | Timeline.Recorded:
        """The event the aggregate would trigger (:meth:`Timeline.open`/``record``)."""
        e = a.event
        fields: dict[str, Any] = {
            "originator_id": a.seeker,
            "originator_version": a.version,
            "timestamp": self.recorded_at,
            "event_id": e.event_id,
            "occurred_at": e.occurred_at,
            "occurred_on": e.occurred_on,
            "actor": e.actor,
            "source": e.source,
            "data": a.data,
            "digest_algorithm": digest_algorithm(a.digest),
        }
        if a.version == 1:
            return Timeline.Opened(originator_topic=_TIMELINE_TOPIC, **fields)
        return EVENT_CLASSES[e.type](**fields)

    def encode_direct(self, a: Accepted) -> tuple[str, bytes]:
        """(topic, state) of the event as the mapper stores :meth:`domain_event`'s."""
        e = a.event
        topic, layout = _OPENED if a.version == 1 else _RECORDED[e.type]
        keys = self.keys
        assert keys is not None
        seeker = a.seeker

        def key() -> tuple[int, bytes]:  # (the mapper's: made and committed if missing)
            found = keys.data_key(seeker, create=True)
            assert found is not None
            return found

        state = form2.encode_event(
            layout,
            event_id=e.event_id,
            recorded_at=self.recorded_at,
            occurred_on=e.occurred_on,
            occurred_at=e.occurred_at,
            actor=e.actor,
            source=e.source,
            data=a.data,
            digest_algorithm=JCS if a.digest.startswith(JCS_PREFIX) else LEGACY,
            originator_topic=None,  # (the opening event's is the timeline's own: not stored)
            seeker_id=seeker,
            version=a.version,
            key=key,
        )
        return topic, state

    def encode(self, a: Accepted) -> Record:
        if self.direct:
            topic, state = self.encode_direct(a)
        else:
            stored = self.mapper.to_stored_event(self.domain_event(a))
            topic, state = stored.topic, stored.state
        e = a.event
        return (
            e.seeker_id,
            a.version,
            topic,
            state,
            e.event_id,
            str(e.type),
            e.occurred_at,
            e.occurred_on,
            a.digest,
            a.hash,
            a.person_ref,
        )

    def stored_events(self, records: Sequence[Record], *, uuids: bool) -> list[StoredEvent]:
        """The records' stored events, their originator ids as UUIDs or (``uuids`` False: for
        a recorder that takes text, as PostgreSQL's COPY does) as the id's text."""
        if not uuids:
            return [StoredEvent(r[0], r[1], r[2], r[3]) for r in records]
        known: dict[str, UUID] = {}
        return [
            StoredEvent(known.get(r[0]) or known.setdefault(r[0], UUID(r[0])), r[1], r[2], r[3])
            for r in records
        ]

    def index_rows(self, records: Sequence[Record]) -> list[IndexRow]:
        at = self.recorded_at
        return [
            IndexRow(r[4], r[0], r[1], None, r[5], r[6], r[7], at, r[8], r[9], r[10])
            for r in records
        ]


#: the name of :class:`StoredEvents` before stored form 2
StoredForm1 = StoredEvents


class RecorderSink:
    """Writes through the recorder's ``insert_events`` with the index rows (the library's
    insert path: one transaction a chunk; SQLite and the memory store)."""

    def __init__(self, recorder: Any, form: StoredEvents) -> None:
        self.recorder = recorder
        self.form = form

    def write(self, records: Sequence[Record]) -> None:
        self.recorder.insert_events(
            self.form.stored_events(records, uuids=True), index_rows=self.form.index_rows(records)
        )


class CopySink:
    """PostgreSQL: the recorder's ``copy_events`` (``COPY`` under the library's table lock)."""

    def __init__(self, recorder: Any, form: StoredEvents) -> None:
        self.recorder = recorder
        self.form = form

    def write(self, records: Sequence[Record]) -> None:
        events = self.form.stored_events(records, uuids=False)
        self.recorder.copy_events(events, self.form.index_rows(records))


def sink_for(recorder: Any, form: StoredEvents) -> BulkSink:
    """``COPY`` where the recorder has it, else its ``insert_events``."""
    if callable(getattr(recorder, "copy_events", None)):
        return CopySink(recorder, form)
    return RecorderSink(recorder, form)
