"""Whose seeker it is now, and whether a writer's scope may write an event to it.

A seeker belongs to the municipality of its latest *effective* start or transfer in valid-time
order (after corrections and retractions): the municipality of its open spell, or of its last
spell once that has ended. Scope is decided by that, read from the stored timeline, never by
what a request claims (``actor.organisation`` is recorded, not trusted).

A writer whose scope is a set of municipality codes may:

- start a seeker (its first ``job_search_started``) only in a municipality of its scope;
- write anything else — a transfer, a new spell, a correction, a retraction — only to a seeker
  whose municipality now is in its scope. A transfer's target may be anywhere (the receiving
  side sees the seeker once it is transferred); a new spell must also name a municipality of the
  scope, and so must a correction that puts a ``job_search_started`` in place of the original
  (it states where the spell began, like a start).

Nothing here reads a clock or a store: the application hands in the seeker's facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from timeline.domain.errors import FieldError
from timeline.domain.event_types import AMENDMENTS, EventType
from timeline.domain.facts import Fact, effective_facts

#: the event types that place a seeker in a municipality, and the field that names it
PLACE_FIELDS: Mapping[EventType, str] = {
    EventType.JOB_SEARCH_STARTED: "municipality",
    EventType.SEEKER_TRANSFERRED: "to_municipality",
}


@dataclass(frozen=True, slots=True)
class Place:
    """From ``since`` (valid time) the seeker belongs to ``municipality``; set by ``event_id``."""

    since: date
    municipality: str
    event_id: str


def places(effective: Iterable[Fact]) -> list[Place]:
    """Every change of municipality in ``effective`` facts (already corrected, in valid-time
    order, as :func:`~timeline.domain.facts.effective_facts` returns them)."""
    return [
        Place(f.occurred_on, str(f.data.get(PLACE_FIELDS[f.type])), f.event_id)
        for f in effective
        if f.type in PLACE_FIELDS
    ]


def municipality_of(effective: Iterable[Fact]) -> str | None:
    """The municipality a seeker belongs to after ``effective`` facts (as :func:`places` takes
    them): that of the latest start or transfer; None when there is none."""
    found = places(effective)
    return found[-1].municipality if found else None


def municipality_now(facts: Iterable[Fact]) -> str | None:
    """The municipality a seeker belongs to now, from its recorded facts (any order; corrections
    and retractions applied). None when no start is in effect."""
    recorded = list(facts)
    # Only starts, transfers and what amends them decide it (a correction may turn any event
    # into a transfer, so the events corrected are kept too): a much smaller sort.
    correction = EventType.CORRECTION  # (a local name: compared once per fact)
    corrected = {str(f.data.get("corrects_event_id")) for f in recorded if f.type == correction}
    relevant = [
        f
        for f in recorded
        if f.type in PLACE_FIELDS or f.type in AMENDMENTS or f.event_id in corrected
    ]
    return municipality_of(effective_facts(relevant))


def scope_refusal(
    facts: Sequence[Fact], type_: EventType, data: Mapping[str, Any], scope: Iterable[str]
) -> FieldError | None:
    """Why a writer whose scope is ``scope`` may not write an event of ``type_`` with ``data``
    to the seeker of ``facts`` (its recorded facts so far), or None if it may.

    A non-start to a seeker with no facts is not refused here: the timeline's rules refuse it
    (the first event must be a start), whoever writes it."""
    codes = frozenset(scope)
    named = _codes(codes)
    if facts:
        now = municipality_now(facts)
        if now is None or now not in codes:
            return FieldError(
                "seeker_id",
                f"this seeker is outside your scope ({named}): only the municipality it "
                "belongs to now (its latest start or transfer) may write to it",
                "scope",
            )
    if type_ == EventType.JOB_SEARCH_STARTED:
        municipality = str(data.get("municipality"))
        if municipality not in codes:
            return FieldError(
                "data.municipality",
                f"municipality {municipality} is outside your scope ({named})",
                "scope",
            )
    if type_ == EventType.CORRECTION:
        replacement = data.get("replacement") or {}
        if replacement.get("type") == EventType.JOB_SEARCH_STARTED:
            municipality = str((replacement.get("data") or {}).get("municipality"))
            if municipality not in codes:
                return FieldError(
                    "data.replacement.data.municipality",
                    f"municipality {municipality} is outside your scope ({named}); a start "
                    "can be moved elsewhere only by a seeker_transferred",
                    "scope",
                )
    return None


def _codes(codes: frozenset[str]) -> str:
    return ", ".join(sorted(codes)) or "no municipality"
