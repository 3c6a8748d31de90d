"""Stored timeline events decoded straight into facts (issue 12; ADR 0009 §6).

The library's mapper builds a domain event object for every stored event (topic resolution,
an object per event, the originator id's type found) and :func:`fact_from_event` then copies it
into a :class:`Fact`: most of a projection's time on a rebuild. :class:`FactDecoder` reads the
stored state with ``orjson.loads`` (3.5 µs an event less than :func:`json.loads` on the demo's
states; measured by ``ops/bench/decode_rebuild.py --orjson``) and builds the fact directly,
knowing how the library's ``JSONTranscoder`` wrote it: UTF-8 JSON with
``separators=(",", ":")`` and ``ensure_ascii=False``, and the one non-JSON value of our events,
the ``timestamp`` (a ``datetime``), as ``{"_type_": "datetime_iso", "_data_": <isoformat>}``.
(Whatever orjson refuses that the library's ``json`` reads — ``NaN``, integers beyond 64 bits —
goes the mapper's way below.)

Stored form 2 (:mod:`timeline.store.form2`, the timeline's mapper): the fast path decodes the
*clear* part only — no key, nothing decrypted — so a fact's ``data`` holds the clear fields,
every field a rule, a scope or a statistic reads (ADR 0009 §3), and an erasure (a destroyed
key) changes no projection. The mapper path of a form-2 event keeps the same clear fields.

Correctness first: the fast path gives exactly the fact the mapper path gives, or it is not
taken. The mapper path (:meth:`FactDecoder.fact` falls back to it, and raises what it raises)
decodes

- every event when the mapper is not the library's plain ``Mapper`` with a ``JSONTranscoder``
  whose ``datetime_iso`` is the library's (a cipher or a compressor is configured, or another
  transcoder),
- an event whose topic is not one of the timeline's event classes as they are named now (a
  renamed or removed class: the library resolves or refuses it),
- an event whose state holds another transcoded value (``"_type_"`` more than once: the
  encoder never escapes a key's plain ASCII, so each transcoded value shows as that text), or a
  ``class_version`` (an upcast), and
- an event the fast path fails on in any way (bad JSON or UTF-8, a field missing or of the
  wrong type, an invalid id or date): the mapper path then raises the error the reader
  quarantined before, from the same place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic
from orjson import loads

from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.timeline import EVENT_CLASSES, Timeline, fact_from_event
from timeline.store import form2
from timeline.store.mapper import TimelineMapper

__all__ = ["FactDecoder", "positioned"]

#: the stored topic of each timeline event class, and the type its facts get
TOPICS: dict[str, EventType] = {
    get_topic(Timeline.Opened): Timeline.Opened.WIRE_TYPE,
    **{get_topic(cls): type_ for type_, cls in EVENT_CLASSES.items()},
}

_TYPE_KEY = b'"_type_"'
_FORM2 = bytes((form2.FORM,))
_new_fact = object.__new__
_from_date = date.fromisoformat
_from_datetime = datetime.fromisoformat
_day_date = form2.day_date


def _fast_path_applies(mapper: object) -> bool:
    """Whether ``mapper`` stores events as the fast path reads them (see the module's doc)."""
    if type(mapper) not in (Mapper, TimelineMapper):
        return False
    assert isinstance(mapper, Mapper)
    transcoder = mapper.transcoder
    return (
        mapper.cipher is None
        and mapper.compressor is None
        and type(transcoder) is JSONTranscoder
        and type(transcoder.names.get("datetime_iso")) is DatetimeAsISO
    )


#: each seeker's id as text (a rebuild reads ~85 events a seeker; ``str(UUID)`` is a µs)
_SEEKER_TEXT: dict[Any, str] = {}
_SEEKER_TEXT_SIZE = 50_000


def _seeker_text(originator: Any) -> str:
    """``str(originator if isinstance(originator, UUID) else UUID(originator))``, memoised."""
    found = _SEEKER_TEXT.get(originator)
    if found is None:
        found = str(originator if isinstance(originator, UUID) else UUID(originator))
        if len(_SEEKER_TEXT) >= _SEEKER_TEXT_SIZE:
            _SEEKER_TEXT.clear()
        _SEEKER_TEXT[originator] = found
    return found


def _make(fields: dict[str, Any]) -> Fact:
    """A fact from its fields, as the dataclass's ``__init__`` would make it (a frozen
    dataclass sets each field through ``object.__setattr__``: the slow part of a fact)."""
    fact: Fact = _new_fact(Fact)
    fact.__dict__.update(fields)
    return fact


def positioned(fact: Fact, position: int | None) -> Fact:
    """``fact`` given log position ``position``, in place: for a fact just decoded, that no one
    else holds yet (a copy of every field would cost a fact a rebuild)."""
    fact.__dict__["position"] = position
    return fact


class FactDecoder:
    """Decodes stored timeline events of ``mapper``'s store into facts."""

    def __init__(self, mapper: object) -> None:
        self._to_event = cast(Callable[[StoredEvent], object], mapper.to_domain_event)  # type: ignore[attr-defined]
        self.fast = _fast_path_applies(mapper)

    def slow(self, stored: StoredEvent, position: int | None = None) -> Fact:
        """The fact through the mapper and :func:`fact_from_event` (the reference); of a
        form-2 event with the clear part of its data only, as the fast path reads it (a
        projection never holds a personal field, whichever path decoded it)."""
        fact = fact_from_event(cast(Timeline.Recorded, self._to_event(stored)), position=position)
        if stored.state[:1] != _FORM2:
            return fact
        fields = dict(fact.__dict__)
        fields.pop("_sort_key", None)
        fields["data"] = form2.clear_data(fact.type, fact.data)
        return _make(fields)

    def fact(self, stored: StoredEvent, position: int | None = None) -> Fact:
        """The fact ``stored`` records, at log position ``position``; raises what the mapper
        path raises for an event that cannot be read."""
        if self.fast:
            try:
                fact = self._fast(stored, position)
            except Exception:  # the mapper path decides, and raises as before
                fact = None
            if fact is not None:
                return fact
        return self.slow(stored, position)

    __call__ = fact

    @staticmethod
    def _fast(stored: StoredEvent, position: int | None) -> Fact | None:
        """The fact, or None when the fast path does not apply (raises when it fails)."""
        type_ = TOPICS.get(stored.topic)
        state = stored.state
        if type_ is not None and state[:1] == _FORM2:
            return _clear_fact(stored, type_, position)
        if type_ is None or state.count(_TYPE_KEY) != 1:
            return None
        d = loads(state)
        stamp = d["timestamp"]
        if len(stamp) != 2 or stamp["_type_"] != "datetime_iso" or "class_version" in d:
            return None
        occurred_at = d["occurred_at"]
        return _make(
            {
                "event_id": d["event_id"],
                "seeker_id": _seeker_text(stored.originator_id),
                "type": type_,
                "occurred_on": _from_date(d["occurred_on"]),
                "recorded_at": _from_datetime(stamp["_data_"]),
                "version": stored.originator_version,
                "data": d["data"],
                "occurred_at": _from_datetime(occurred_at) if occurred_at else None,
                "actor": d["actor"],
                "source": d["source"],
                "position": position,
                "corrected_by": None,
            }
        )


def _clear_fact(stored: StoredEvent, type_: EventType, position: int | None) -> Fact:
    """The fact of a form-2 event from its clear part alone (no key, nothing decrypted):
    its ``data`` holds the clear fields (:func:`timeline.store.form2.clear_data`), every
    field a rule, a scope or a statistic reads, so an erasure changes no projection."""
    event_id, recorded_at, occurred_on, actor, source, occurred_at, data = form2.decode_clear(
        stored.state, type_
    )
    return _make(
        {
            "event_id": event_id,
            "seeker_id": _seeker_text(stored.originator_id),
            "type": type_,
            "occurred_on": _day_date(occurred_on),
            "recorded_at": recorded_at,
            "version": stored.originator_version,
            "data": data,
            "occurred_at": _from_datetime(occurred_at) if occurred_at else None,
            "actor": actor,
            "source": source,
            "position": position,
            "corrected_by": None,
        }
    )
