"""The row of the PostgreSQL log table (``timeline_log``, index layout 3; ops/adr/0009 §1 and
its addendum "the single log table"): what of a stored event's ``state`` and ``topic`` the log
keeps besides its columns, and how the exact bytes are rebuilt from the row.

A form-2 state is ``0x02 · alg · uvarint len(E) · E · uvarint len(C) · C · P`` with
``E = msgpack [event_id, recorded_at, occurred_on, originator_topic?]``: E repeats three of the
log's columns. The log's ``state`` column holds the state without E when E is exactly what
:func:`envelope` makes from the row's columns (compared byte for byte when written), marked by
its first byte :data:`STRIPPED`; any other state is kept verbatim (one whose first byte is a
marker gets :data:`ESCAPED` in front). So every state reads back byte for byte, whatever it
holds, and the usual one costs E's ~28 bytes less.

The ``topic`` column is NULL when the topic is the one the type code and version name
(:func:`derived_topic`); any other topic (a foreign event, a renamed class) is kept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from uuid import UUID

import msgspec
from eventsourcing.utils import get_topic

from timeline.domain.timeline import EVENT_CLASSES, Timeline
from timeline.store.form2 import EPOCH_ORDINAL, FORM, TYPE_CODES, read_uvarint, uvarint

#: first byte of a state kept without its envelope E
STRIPPED: Final = 3
#: first byte put before a state kept verbatim whose own first byte is a marker
ESCAPED: Final = 0
_MARKERS: Final = frozenset((STRIPPED, ESCAPED))
_ENC: Final = msgspec.msgpack.Encoder()

#: the topic of the event class of each type code (a ``Timeline.Opened`` at version 1)
_TOPIC_OF_CODE: Final = {TYPE_CODES[t]: get_topic(cls) for t, cls in EVENT_CLASSES.items()}
OPENED_CODE: Final = TYPE_CODES[Timeline.Opened.WIRE_TYPE]
_OPENED_TOPIC: Final = get_topic(Timeline.Opened)


def derived_topic(code: int | None, version: int) -> str | None:
    """The stored topic the type code implies (None: none; the row must keep its topic)."""
    if code is None:
        return None
    if code == OPENED_CODE and version == 1:
        return _OPENED_TOPIC
    return _TOPIC_OF_CODE.get(code)


def envelope(event_id: bytes, recorded_at: datetime, day: int) -> bytes:
    """E as form 2 writes it for an event with these values: the uuid's 16 bytes, the instant
    (timezone-aware: whatever its zone, msgpack's timestamp of the instant), the day as days
    since 1970-01-01 (:func:`day_number`)."""
    return _ENC.encode([event_id, recorded_at, day])


def day_number(day: date) -> int:
    """A day as days since 1970-01-01 (as form 2 and the SQL ``occurred_on - '1970-01-01'``)."""
    return day.toordinal() - EPOCH_ORDINAL


def pack_state(
    state: bytes, event_id: str | None, recorded_at: datetime | None, occurred_on: str | None
) -> bytes:
    """What the log's ``state`` column holds for a stored event's ``state`` whose row has these
    column values (None: the event has no index values: kept verbatim)."""
    if (
        event_id is not None
        and recorded_at is not None
        and occurred_on is not None
        and len(state) > 3
        and state[0] == FORM
    ):
        n, i = state[2], 3
        if n >= 0x80:
            n, i = read_uvarint(state, 2)
        try:
            made = envelope(
                UUID(event_id).bytes,
                recorded_at.astimezone(UTC),
                day_number(date.fromisoformat(occurred_on)),
            )
        except ValueError:
            made = b""
        if made and state[i : i + n] == made:
            return bytes((STRIPPED, state[1])) + state[i + n :]
    if state[:1] and state[0] in _MARKERS:
        return bytes((ESCAPED,)) + state
    return state


def unpack_state(
    body: bytes, event_id: bytes | None, recorded_at: datetime | None, day: int | None
) -> bytes:
    """The stored event's ``state`` from the log's ``state`` column and the row's values: the
    event id's 16 bytes (SQL ``uuid_send(event_id)``), the recorded instant and the day's
    :func:`day_number` (SQL ``occurred_on - '1970-01-01'``), as read without any parsing (a
    stripped state whose columns were cleared reads as it is stored: unreadable)."""
    if not body:
        return body
    first = body[0]
    if first == STRIPPED:
        if event_id is None or recorded_at is None or day is None:
            return body
        e = envelope(event_id, recorded_at, day)
        return b"".join((bytes((FORM, body[1])), uvarint(len(e)), e, body[2:]))
    if first == ESCAPED:
        return body[1:]
    return body


#: every type code a derived topic can come from (0: none)
TYPE_CODE_RANGE: Final = range(1, max(TYPE_CODES.values()) + 1)
