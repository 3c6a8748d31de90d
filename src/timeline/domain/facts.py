"""Facts: the recorded events of one seeker as plain values, and the *effective* view of them
after corrections and retractions. Rules, projections and the aggregate all read facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from timeline.domain.event_types import EventType

# (compared once per fact: module names, not class attributes; see timeline.domain.event_types)
_CORRECTION, _RETRACTION = EventType.CORRECTION, EventType.RETRACTION
_START, _END = EventType.JOB_SEARCH_STARTED, EventType.JOB_SEARCH_ENDED


@dataclass(frozen=True)
class Fact:
    """One event of a seeker's timeline.

    ``occurred_on`` is the Europe/Helsinki calendar day it happened in the world (valid time);
    ``recorded_at`` is when the store accepted it (recorded time, UTC). ``version`` is its place
    in the seeker's stream (1-based); ``position`` its place in the global log when known.
    """

    event_id: str
    seeker_id: str
    type: EventType
    occurred_on: date
    recorded_at: datetime
    version: int
    data: Mapping[str, Any]
    occurred_at: datetime | None = None
    actor: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    position: int | None = None
    #: set on an effective fact whose content was replaced by a ``correction``
    corrected_by: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Fact:
        # Facts are immutable values: copies of a cached timeline can share them.
        return self

    def sort_key(self) -> tuple[date, datetime, int]:
        """Valid-time order: the day, then the instant if known, then recording order."""
        key = self.__dict__.get("_sort_key")
        if key is None:
            at = self.occurred_at or datetime.combine(self.occurred_on, datetime.min.time())
            if at.tzinfo is not None:
                at = at.replace(tzinfo=None)
            key = (self.occurred_on, at, self.version)
            object.__setattr__(self, "_sort_key", key)  # memo on a frozen value
        return key


def effective_facts(facts: Iterable[Fact]) -> list[Fact]:
    """Apply ``correction`` and ``retraction`` facts; return the remaining facts in valid-time
    order. A corrected fact keeps its ``event_id`` and ``version`` and takes the replacement's
    type, data and times; a retracted fact disappears. Corrections apply in recording order, so a
    later correction of the same event wins; corrections and retractions themselves are not in
    the result."""
    by_id: dict[str, Fact] = {}
    order: list[str] = []
    for fact in sorted(facts, key=lambda f: f.version):
        if fact.type == _CORRECTION:
            target = str(fact.data["corrects_event_id"])
            original = by_id.get(target)
            if original is None:
                continue
            rep = fact.data["replacement"]
            occurred_at = rep.get("occurred_at")
            by_id[target] = replace(
                original,
                type=EventType(rep["type"]),
                data=dict(rep["data"]),
                occurred_on=date.fromisoformat(str(rep["occurred_on"])),
                occurred_at=datetime.fromisoformat(occurred_at) if occurred_at else None,
                corrected_by=fact.event_id,
            )
        elif fact.type == _RETRACTION:
            by_id.pop(str(fact.data["retracts_event_id"]), None)
        else:
            by_id[fact.event_id] = fact
            order.append(fact.event_id)
    return sorted((by_id[i] for i in order if i in by_id), key=Fact.sort_key)


@dataclass(frozen=True)
class Spell:
    """A job-search spell (työnhakujakso): from a ``job_search_started`` to its
    ``job_search_ended`` (``ended_on`` None while open)."""

    started_on: date
    start_event_id: str
    ended_on: date | None = None
    end_event_id: str | None = None
    end_reason: str | None = None

    def covers(self, day: date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day <= self.ended_on)


def spells(effective: Sequence[Fact]) -> list[Spell]:
    """The spells of a seeker from effective facts in valid-time order. A start while a spell is
    open, or an end with none open, is ignored (the aggregate refuses both at append time)."""
    out: list[Spell] = []
    for fact in effective:
        if fact.type == _START:
            if out and out[-1].ended_on is None:
                continue
            out.append(Spell(started_on=fact.occurred_on, start_event_id=fact.event_id))
        elif fact.type == _END and out and out[-1].ended_on is None:
            out[-1] = replace(
                out[-1],
                ended_on=fact.occurred_on,
                end_event_id=fact.event_id,
                end_reason=str(fact.data.get("reason")),
            )
    return out
