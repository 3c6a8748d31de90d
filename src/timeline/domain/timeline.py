"""The job seeker's timeline: one aggregate per seeker, one explicit event class per wire type.

Decisions (is this event allowed here?) are plain methods that read the state and raise
:class:`InvalidEvent`; :meth:`Timeline.record` then triggers the event. ``apply`` bodies only
record facts, so a replay is deterministic and cheap. The event's library ``timestamp`` *is* the
recorded time (set from the injected clock by the application).
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from timeline.domain.canonical import GENESIS_HASH, chain_hash, content_digest, iso_utc
from timeline.domain.errors import FieldError, InvalidEvent
from timeline.domain.event_types import AMENDMENTS, SPELL_BOUNDS, EventType
from timeline.domain.facts import Fact, Spell, effective_facts, spells


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

    class Recorded(Aggregate.Event):
        """Base of every later event; subclasses only name their type."""

        WIRE_TYPE: ClassVar[EventType]
        event_id: str
        occurred_at: str | None
        occurred_on: str
        actor: dict[str, str]
        source: str | None
        data: dict[str, Any]

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
    ) -> None:
        content = event_content(
            event_id, str(self.id), type_, occurred_at, occurred_on, actor, source, data
        )
        digest = content_digest(content)
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
) -> Timeline:
    """The seeker's timeline with one more event decided: for a seeker without a timeline
    (``timeline`` None) a new one, opened by this event, which must be a
    ``job_search_started``; otherwise ``timeline`` itself with the event recorded after its
    rules are checked. Raises :class:`InvalidEvent` (nothing recorded) if the event may not
    come here; ``recorded_at`` becomes the event's recorded time."""
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
    )
    return timeline


def check_first(type_: EventType) -> None:
    """Refuse anything but a ``job_search_started`` as a seeker's first event: it opens the
    timeline (and the seeker's first spell)."""
    if type_ != EventType.JOB_SEARCH_STARTED:
        raise _invalid(
            "type",
            "this seeker has no timeline yet: the first event must be "
            f"{EventType.JOB_SEARCH_STARTED}",
        )


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


# -- the timeline's rules, as pure functions of the facts so far --------------------------------

_SPELL_INPUTS = SPELL_BOUNDS | AMENDMENTS


def _spell_on(all_spells: list[Spell], day: date) -> Spell | None:
    return next((s for s in reversed(all_spells) if s.covers(day)), None)


def check_event(
    facts: list[Fact], type_: EventType, occurred_on: date, data: dict[str, Any]
) -> None:
    """Raise :class:`InvalidEvent` if an event of ``type_`` on ``occurred_on`` may not follow
    ``facts`` (this seeker's recorded facts, in version order)."""
    if type_ in AMENDMENTS:
        _check_amendment(facts, type_, data)
        return
    # Only spell boundaries (and what amends them) decide spells: a much smaller sort.
    all_spells = spells(effective_facts(f for f in facts if f.type in _SPELL_INPUTS))
    spell = _spell_on(all_spells, occurred_on)
    if type_ == EventType.JOB_SEARCH_STARTED:
        if spell is not None:
            raise _invalid(
                "occurred_on",
                "a job-search spell is already open on that day "
                f"(started {spell.started_on.isoformat()})",
            )
        if (
            all_spells
            and all_spells[-1].ended_on is None
            and all_spells[-1].started_on > occurred_on
        ):
            raise _invalid("occurred_on", "a later job-search spell is open; end it first")
        return
    if spell is None:
        raise _invalid(
            "occurred_on",
            "no job-search spell is open on that day; only job_search_started may open one",
        )
    if type_ == EventType.JOB_SEARCH_ENDED and spell.ended_on is not None:
        raise _invalid("occurred_on", "the job-search spell of that day has already ended")
    if type_ in (EventType.SERVICE_STARTED, EventType.SERVICE_ENDED):
        service_id = str(data["service_id"])
        _check_service(
            effective_facts(
                f for f in facts if f.type in AMENDMENTS or f.data.get("service_id") == service_id
            ),
            type_,
            service_id,
        )
    if type_ == EventType.DECISION_RECORDED:
        known = {f.event_id for f in facts}
        missing = [str(i) for i in data["basis_event_ids"] if str(i) not in known]
        if missing:
            raise _invalid("data.basis_event_ids", f"names no event of this seeker: {missing[0]}")


def _check_amendment(facts: list[Fact], type_: EventType, data: dict[str, Any]) -> None:
    """A correction or retraction names an existing, not yet retracted event of this seeker;
    spell boundaries are corrected only by their own type."""
    key = "corrects_event_id" if type_ == EventType.CORRECTION else "retracts_event_id"
    target = next((f for f in facts if f.event_id == str(data[key])), None)
    if target is None:
        raise _invalid(f"data.{key}", "names no event of this seeker")
    if target.type in AMENDMENTS:
        raise _invalid(f"data.{key}", "a correction or retraction cannot itself be corrected")
    retraction = EventType.RETRACTION  # (a local name: compared once per fact)
    if any(f.type == retraction and f.data["retracts_event_id"] == target.event_id for f in facts):
        raise _invalid(f"data.{key}", "that event is already retracted")
    if type_ == EventType.CORRECTION:
        new_type = str(data["replacement"]["type"])
        if (target.type in SPELL_BOUNDS or new_type in SPELL_BOUNDS) and new_type != target.type:
            raise _invalid(
                "data.replacement.type", f"a {target.type} can only be corrected by a {target.type}"
            )


def _check_service(effective: list[Fact], type_: EventType, service_id: str) -> None:
    seen = {f.type for f in effective if f.data.get("service_id") == service_id}
    if type_ == EventType.SERVICE_STARTED and EventType.SERVICE_REFERRED not in seen:
        raise _invalid("data.service_id", "no earlier service_referred for this service_id")
    if type_ == EventType.SERVICE_ENDED and EventType.SERVICE_STARTED not in seen:
        raise _invalid("data.service_id", "no earlier service_started for this service_id")


def _invalid(loc: str, msg: str) -> InvalidEvent:
    return InvalidEvent([FieldError(loc=loc, msg=msg, kind="timeline_rule")])
