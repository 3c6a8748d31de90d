"""The event types of the vocabulary (docs/events.md): one enum member per type, whose value is
its wire name — what backends send, what the store keeps and what every answer shows. A member
*is* that string (``StrEnum``), so a stored or sent type compares, hashes and serialises as the
text it always was: no migration, and code reads ``EventType.MEETING_HELD``, never
``"meeting_held"``.

Reading a member off the class costs about 90 ns on Python 3.11 (``EnumType`` has a
``__getattr__``, so every class attribute lookup goes through Python), ten times a module name:
code that compares types once per fact binds the members it needs to module names
(``_HELD = EventType.MEETING_HELD``), and code that reads many stored names uses
:data:`BY_NAME`."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum, unique


@unique
class EventType(StrEnum):
    """A type of event; the value is the wire name. Declared in the vocabulary's order."""

    JOB_SEARCH_STARTED = "job_search_started"
    COACH_ASSIGNED = "coach_assigned"
    LABOUR_MARKET_STATUS_CHANGED = "labour_market_status_changed"
    CONTACT_MADE = "contact_made"
    MEETING_SCHEDULED = "meeting_scheduled"
    MEETING_HELD = "meeting_held"
    MEETING_MISSED = "meeting_missed"
    EMPLOYMENT_PLAN_AGREED = "employment_plan_agreed"
    JOB_SEARCH_REQUIREMENT_SET = "job_search_requirement_set"
    APPLICATION_REPORTED = "application_reported"
    SERVICE_REFERRED = "service_referred"
    SERVICE_STARTED = "service_started"
    SERVICE_ENDED = "service_ended"
    DECISION_RECORDED = "decision_recorded"
    JOB_SEARCH_ENDED = "job_search_ended"
    SEEKER_TRANSFERRED = "seeker_transferred"
    CORRECTION = "correction"
    RETRACTION = "retraction"


#: the types that amend another event of the seeker instead of recording something new
AMENDMENTS = frozenset({EventType.CORRECTION, EventType.RETRACTION})
#: the types that open and close a job-search spell
SPELL_BOUNDS = frozenset({EventType.JOB_SEARCH_STARTED, EventType.JOB_SEARCH_ENDED})
#: each type by its wire name: for reading many stored names (a dict lookup, where
#: ``EventType(name)`` goes through ``EnumType.__call__``); KeyError for an unknown name
BY_NAME: Mapping[str, EventType] = {t.value: t for t in EventType}
#: the types that record something new (each has its own data model in the vocabulary)
RECORDING_TYPES: tuple[EventType, ...] = tuple(t for t in EventType if t not in AMENDMENTS)
