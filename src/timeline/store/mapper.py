"""The timeline's mapper (``TimelineApp.construct_mapper``): timeline events are written in
stored form 2 (:mod:`timeline.store.form2`: a clear part and a personal part sealed with the
seeker's data key from the key ring, :mod:`timeline.store.keys`), and read back from form 2 or
from the library's JSON (form 1, first byte ``{``: stores not yet migrated). Every other domain
event goes the library's way.

An event whose seeker's key was destroyed (erasure) decodes without error into its domain
event with the clear fields only: its ``data`` holds no personal field and no personal extras,
and :func:`~timeline.store.form2.is_erased` is true for it (and for its fact)."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, resolve_topic

from timeline.domain.event_types import EventType
from timeline.domain.timeline import EVENT_CLASSES, Timeline
from timeline.store import form2
from timeline.store.form2 import is_erased
from timeline.store.keys import KeyRing, MasterKeyError, SeekerErased

__all__ = ["TOPICS", "TimelineMapper", "is_erased"]

#: each timeline event class by its stored topic, with the type its payload is laid out as
TOPICS: Final[dict[str, tuple[type[Any], EventType]]] = {
    get_topic(Timeline.Opened): (Timeline.Opened, Timeline.Opened.WIRE_TYPE),
    **{get_topic(cls): (cls, type_) for type_, cls in EVENT_CLASSES.items()},
}
_TYPES: Final[dict[type[Any], EventType]] = dict(TOPICS.values())
_TIMELINE_TOPIC: Final = get_topic(Timeline)
_FIELDS: Final = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "event_id",
        "occurred_at",
        "occurred_on",
        "actor",
        "source",
        "data",
        "digest_algorithm",
    }
)
_OPENED_FIELDS: Final = _FIELDS | {"originator_topic"}


class TimelineMapper(Mapper[UUID]):
    """The library's ``Mapper`` with form 2 for timeline events (see the module's doc)."""

    def __init__(
        self,
        transcoder: Transcoder,
        keys: KeyRing,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self.keys = keys

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        type_ = _TYPES.get(type(domain_event))
        state = vars(domain_event)
        opened = type(domain_event) is Timeline.Opened
        if type_ is None or state.keys() != (_OPENED_FIELDS if opened else _FIELDS):
            return super().to_stored_event(domain_event)
        seeker = state["originator_id"]
        version = state["originator_version"]
        topic = state.get("originator_topic")
        return StoredEvent(
            originator_id=seeker,
            originator_version=version,
            topic=get_topic(type(domain_event)),
            state=form2.encode_event(
                type_,
                event_id=state["event_id"],
                recorded_at=state["timestamp"],
                occurred_on=state["occurred_on"],
                occurred_at=state["occurred_at"],
                actor=state["actor"],
                source=state["source"],
                data=state["data"],
                digest_algorithm=state["digest_algorithm"],
                originator_topic=topic if opened and topic != _TIMELINE_TOPIC else None,
                seeker_id=seeker,
                version=version,
                key=lambda: self._write_key(seeker),
            ),
        )

    def _write_key(self, seeker: UUID) -> tuple[int, bytes]:
        """The seeker's data key, made (and committed) if it has none; SeekerErased if its key
        was destroyed: nothing more is written for an erased seeker."""
        found = self.keys.data_key(seeker, create=True)
        assert found is not None
        return found

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        state = stored_event.state
        if not state or state[0] != form2.FORM:
            return super().to_domain_event(stored_event)
        found = TOPICS.get(stored_event.topic)
        seeker = stored_event.originator_id
        version = stored_event.originator_version
        if found is None:  # a renamed class (registered with the library), or an error
            cls = resolve_topic(stored_event.topic)
            if cls not in _TYPES:
                msg = f"form 2 state of stored event of a non-timeline topic '{stored_event.topic}'"
                raise MapperDeserialisationError(msg)
            found = (cls, _TYPES[cls])
        cls, type_ = found
        try:
            seeker_id = seeker if isinstance(seeker, UUID) else UUID(str(seeker))
            alg, event_id, recorded_at, occurred_on, topic, actor, source, occurred_at, data = (
                form2.decode_event(
                    state,
                    type_,
                    seeker_id=seeker_id,
                    version=version,
                    key=lambda key_version: self._read_key(seeker_id, key_version),
                )
            )
        except (MasterKeyError, MapperDeserialisationError):
            raise
        except Exception as e:
            msg = (
                f"Failed to decode form 2 state of stored event with topic "
                f"'{stored_event.topic}', originator_id '{seeker}' and originator_version "
                f"{version}: {e}"
            )
            raise MapperDeserialisationError(msg) from e
        # (in the order the events' own construction gives their fields)
        if cls is Timeline.Opened:
            event_state: dict[str, Any] = {
                "originator_id": seeker_id,
                "originator_version": version,
                "timestamp": recorded_at,
                "originator_topic": topic or _TIMELINE_TOPIC,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "occurred_on": occurred_on,
                "actor": actor,
                "source": source,
                "data": data,
                "digest_algorithm": alg,
            }
        else:
            event_state = {
                "originator_id": seeker_id,
                "originator_version": version,
                "timestamp": recorded_at,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "occurred_on": occurred_on,
                "actor": actor,
                "source": source,
                "data": data,
                "digest_algorithm": alg,
            }
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event  # type: ignore[no-any-return]

    def _read_key(self, seeker: UUID, key_version: int) -> bytes | None:
        """The key that opens a personal part of ``key_version``; None if it was destroyed."""
        try:
            found = self.keys.data_key(seeker)
        except SeekerErased:
            return None
        if found is None:
            msg = (
                f"no data key for seeker {seeker} in {self.keys.table.where}: its personal "
                "fields cannot be read (is TIMELINE_KEYS_URL right? the key table must be "
                "restored from its own backup)"
            )
            raise MapperDeserialisationError(msg)
        version, key = found
        if version != key_version:
            msg = f"seeker {seeker} has data key version {version}, the event needs {key_version}"
            raise MapperDeserialisationError(msg)
        return key
