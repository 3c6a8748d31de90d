"""Stored states as an administrator with database access sees them (tests of tampering and
of the stored forms): form 2 split and re-encoded without any key, and form 1 (the library's
JSON) as the code before form 2 wrote it."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from timeline.application import TimelineApp
from timeline.domain.event_types import EventType
from timeline.store import form2
from timeline.store.postgres import digest_bytes


def clear_changed(state: bytes, type_: EventType, **changes: Any) -> bytes:
    """``state`` (form 2, with no personal part) with clear fields changed, re-encoded as an
    administrator who knows the form could, without any key."""
    parsed = form2.parse(state)
    assert parsed.personal == b"", "a sealed part cannot be re-encoded without its key"
    content = form2.decode_content(parsed, type_, [])
    assert set(changes) <= set(content.data), changes
    changed = dataclasses.replace(content, data={**content.data, **changes})
    # (seeker and version bind a sealed part only: there is none)
    return form2.encode(changed, type_, seeker_id=UUID(int=0), version=0, key=None)


def split(state: bytes) -> tuple[bytes, bytes]:
    """(form byte, digest algorithm, envelope and clear part; the personal part)."""
    personal = form2.parse(state).personal
    return state[: len(state) - len(personal)], personal


def as_form1(app: TimelineApp, stored: StoredEvent) -> bytes:
    """The state the library's own mapper writes for the event ``stored`` records (form 1,
    JSON): what the code before form 2 stored."""
    return Mapper.to_stored_event(app.mapper, app.mapper.to_domain_event(stored)).state  # type: ignore[arg-type]


def index_value(kind: str, column: str, value: Any) -> Any:
    """The value an administrator writes into the index table's ``column`` for the service to
    read ``value`` there: itself on SQLite; on PostgreSQL (layout 2, docs/storage.md) a
    digest, hash or ``person_ref`` as its bytes and the type as its code. A value ``bytes``
    already (one no append writes) is written as it is."""
    if kind != "postgres" or value is None or isinstance(value, bytes):
        return value
    if column == "digest":
        return digest_bytes(value)
    if column in ("hash", "person_ref"):
        return bytes.fromhex(value)
    if column == "type":
        return form2.TYPE_CODES[EventType(value)]
    return value
