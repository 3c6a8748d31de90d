"""The job seeker's timeline: one aggregate per seeker, one explicit event class per wire type.

:func:`decide` is the one entry for deciding an event: it opens a timeline with a seeker's first
event or records a later one. Whether an event is allowed here is decided by the pure rules of
:mod:`timeline.domain.timeline_rules`, which raise :class:`InvalidEvent`; :meth:`Timeline.record`
then triggers the event. ``apply`` bodies only record facts, so a replay is deterministic and
cheap. The event's library ``timestamp`` *is* the
recorded time (set from the injected clock by the application).
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from timeline.domain.canonical import (
    GENESIS_HASH,
    JCS,
    LEGACY,
    chain_hash,
    content_digest,
    iso_utc,
)
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.timeline_rules import check_event, check_first


class Timeline(Aggregate):
    """A job seeker's timeline (työnhakijan aikajana). Its id is the ``seeker_id``."""

    class Opened(Aggregate.Created):
        """The first ``job_search_started`` of a seeker; it creates the timeline."""

        WIRE_TYPE: ClassVar[EventType] = EventType.JOB_SEARCH_STARTED
        event_id: str
        occurred_at: str | None
        occurred_on: str
        actor: dict[str, str]
        source: str | None
        data: dict[str, Any]
        #: the content digest's algorithm (domain.canonical); events stored before it existed
        #: have no such field and read this default
        digest_algorithm: int = LEGACY

    class Recorded(Aggregate.Event):
        """Base of every later event; subclasses only name their type."""

        WIRE_TYPE: ClassVar[EventType]
        event_id: str
        occurred_at: str | None
        occurred_on: str
        actor: dict[str, str]
        source: str | None
        data: dict[str, Any]
        digest_algorithm: int = LEGACY  # as Opened's

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Timeline)
            aggregate._remember(self)

    class JobSearchStarted(Recorded):
        WIRE_TYPE = EventType.JOB_SEARCH_STARTED

    class CoachAssigned(Recorded):
        WIRE_TYPE = EventType.COACH_ASSIGNED

    class LabourMarketStatusChanged(Recorded):
        WIRE_TYPE = EventType.LABOUR_MARKET_STATUS_CHANGED

    class ContactMade(Recorded):
        WIRE_TYPE = EventType.CONTACT_MADE

    class MeetingScheduled(Recorded):
        WIRE_TYPE = EventType.MEETING_SCHEDULED

    class MeetingHeld(Recorded):
        WIRE_TYPE = EventType.MEETING_HELD

    class MeetingMissed(Recorded):
        WIRE_TYPE = EventType.MEETING_MISSED

    class EmploymentPlanAgreed(Recorded):
        WIRE_TYPE = EventType.EMPLOYMENT_PLAN_AGREED

    class JobSearchRequirementSet(Recorded):
        WIRE_TYPE = EventType.JOB_SEARCH_REQUIREMENT_SET

    class ApplicationReported(Recorded):
        WIRE_TYPE = EventType.APPLICATION_REPORTED

    class ServiceReferred(Recorded):
        WIRE_TYPE = EventType.SERVICE_REFERRED

    class ServiceStarted(Recorded):
        WIRE_TYPE = EventType.SERVICE_STARTED

    class ServiceEnded(Recorded):
        WIRE_TYPE = EventType.SERVICE_ENDED

    class DecisionRecorded(Recorded):
        WIRE_TYPE = EventType.DECISION_RECORDED

    class JobSearchEnded(Recorded):
        WIRE_TYPE = EventType.JOB_SEARCH_ENDED

    class SeekerTransferred(Recorded):
        WIRE_TYPE = EventType.SEEKER_TRANSFERRED

    class Corrected(Recorded):
        WIRE_TYPE = EventType.CORRECTION

    class Retracted(Recorded):
        WIRE_TYPE = EventType.RETRACTION

    def __init__(
        self,
        event_id: str,
        occurred_at: str | None,
        occurred_on: str,
        actor: dict[str, str],
        source: str | None,
        data: dict[str, Any],
        digest_algorithm: int = LEGACY,
    ) -> None:
        self.facts: list[Fact] = []
        self.digests: dict[str, str] = {}
        self.hashes: dict[str, str] = {}
        self.chain_head = GENESIS_HASH
        self._remember_values(
            event_id,
            EventType.JOB_SEARCH_STARTED,
            occurred_at,
            occurred_on,
            actor,
            source,
            data,
            version=1,
            recorded_at=self.created_on,
            digest_algorithm=digest_algorithm,
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> Timeline:
        """Cheap copies for the timeline cache: facts, digests and hashes are immutable values,
        so the copy gets new containers holding the same values."""
        clone = copy.copy(self)
        clone.facts = list(self.facts)
        clone.digests = dict(self.digests)
        clone.hashes = dict(self.hashes)
        clone._pending_events = list(self._pending_events)
        return clone

    # -- state ---------------------------------------------------------------------------------

    def _remember(self, event: Timeline.Recorded) -> None:
        self._remember_values(
            event.event_id,
            event.WIRE_TYPE,
            event.occurred_at,
            event.occurred_on,
            event.actor,
            event.source,
            event.data,
            version=event.originator_version,
            recorded_at=event.timestamp,
            digest_algorithm=event.digest_algorithm,
        )

    def _remember_values(
        self,
        event_id: str,
        type_: EventType,
        occurred_at: str | None,
        occurred_on: str,
        actor: dict[str, str],
        source: str | None,
        data: dict[str, Any],
        *,
        version: int,
        recorded_at: datetime,
        digest_algorithm: int,
    ) -> None:
        content = event_content(
            event_id, str(self.id), type_, occurred_at, occurred_on, actor, source, data
        )
        digest = content_digest(content, algorithm=digest_algorithm)
        self.chain_head = chain_hash(
            self.chain_head,
            digest=digest,
            seeker_id=str(self.id),
            version=version,
            recorded_at=iso_utc(recorded_at),
        )
        self.hashes[event_id] = self.chain_head
        self.digests[event_id] = digest
        self.facts.append(
            Fact(
                event_id=event_id,
                seeker_id=str(self.id),
                type=type_,
                occurred_on=date.fromisoformat(occurred_on),
                recorded_at=recorded_at,
                version=version,
                data=data,
                occurred_at=datetime.fromisoformat(occurred_at) if occurred_at else None,
                actor=actor,
                source=source,
            )
        )

    # -- decisions -----------------------------------------------------------------------------

    def check(self, type_: EventType, occurred_on: date, data: dict[str, Any]) -> None:
        """Refuse an event that breaks the timeline's rules (nothing is written)."""
        check_event(self.facts, type_, occurred_on, data)

    def record(
        self,
        type_: EventType,
        *,
        event_id: str,
        occurred_at: str | None,
        occurred_on: str,
        actor: dict[str, str],
        source: str | None,
        data: dict[str, Any],
        recorded_at: datetime,
        digest_algorithm: int,
    ) -> None:
        self.check(type_, date.fromisoformat(occurred_on), data)
        self.trigger_event(
            EVENT_CLASSES[type_],
            timestamp=recorded_at,
            event_id=event_id,
            occurred_at=occurred_at,
            occurred_on=occurred_on,
            actor=actor,
            source=source,
            data=data,
            digest_algorithm=digest_algorithm,
        )

    @classmethod
    def open(
        cls,
        seeker_id: UUID,
        *,
        event_id: str,
        occurred_at: str | None,
        occurred_on: str,
        actor: dict[str, str],
        source: str | None,
        data: dict[str, Any],
        recorded_at: datetime,
        digest_algorithm: int,
    ) -> Timeline:
        return cls._create(
            cls.Opened,
            id=seeker_id,
            timestamp=recorded_at,
            event_id=event_id,
            occurred_at=occurred_at,
            occurred_on=occurred_on,
            actor=actor,
            source=source,
            data=data,
            digest_algorithm=digest_algorithm,
        )


def decide(
    timeline: Timeline | None,
    seeker_id: str,
    type_: EventType,
    *,
    event_id: str,
    occurred_at: str | None,
    occurred_on: str,
    actor: dict[str, str],
    source: str | None,
    data: dict[str, Any],
    recorded_at: datetime,
    digest_algorithm: int = JCS,
) -> Timeline:
    """The seeker's timeline with one more event decided: for a seeker without a timeline
    (``timeline`` None) a new one, opened by this event, which must be a
    ``job_search_started``; otherwise ``timeline`` itself with the event recorded after its
    rules are checked. Raises :class:`InvalidEvent` (nothing recorded) if the event may not
    come here; ``recorded_at`` becomes the event's recorded time, and ``digest_algorithm``
    the algorithm of its content digest (:mod:`timeline.domain.canonical`)."""
    if timeline is None:
        check_first(type_)
        return Timeline.open(
            UUID(seeker_id),
            event_id=event_id,
            occurred_at=occurred_at,
            occurred_on=occurred_on,
            actor=actor,
            source=source,
            data=data,
            recorded_at=recorded_at,
            digest_algorithm=digest_algorithm,
        )
    timeline.record(
        type_,
        event_id=event_id,
        occurred_at=occurred_at,
        occurred_on=occurred_on,
        actor=actor,
        source=source,
        data=data,
        recorded_at=recorded_at,
        digest_algorithm=digest_algorithm,
    )
    return timeline


EVENT_CLASSES: dict[EventType, type[Timeline.Recorded]] = {
    cls.WIRE_TYPE: cls
    for cls in vars(Timeline).values()
    if isinstance(cls, type) and issubclass(cls, Timeline.Recorded) and cls is not Timeline.Recorded
}


def fact_from_event(
    event: Timeline.Opened | Timeline.Recorded, position: int | None = None
) -> Fact:
    """The fact a stored timeline event records (for projections reading the global log)."""
    return Fact(
        event_id=event.event_id,
        seeker_id=str(event.originator_id),
        type=event.WIRE_TYPE,
        occurred_on=date.fromisoformat(event.occurred_on),
        recorded_at=event.timestamp,
        version=event.originator_version,
        data=event.data,
        occurred_at=datetime.fromisoformat(event.occurred_at) if event.occurred_at else None,
        actor=event.actor,
        source=event.source,
        position=position,
    )


def wire_type(event: object) -> str:
    """The wire name of a stored timeline event (``meeting_held`` for ``Timeline.MeetingHeld``),
    as plain text: what the event index holds."""
    found = getattr(event, "WIRE_TYPE", "")
    return found.value if isinstance(found, EventType) else str(found)


def event_content(
    event_id: str,
    seeker_id: str,
    type_: str,
    occurred_at: str | None,
    occurred_on: str,
    actor: dict[str, str],
    source: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The canonical content of an event: what the digest covers and what makes a retry "the
    same" (``expected_version`` is a precondition, not content)."""
    return {
        "event_id": event_id,
        "seeker_id": seeker_id,
        "type": type_,
        "occurred_at": occurred_at,
        "occurred_on": occurred_on,
        "actor": actor,
        "source": source,
        "data": data,
    }
