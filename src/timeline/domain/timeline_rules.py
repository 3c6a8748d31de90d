"""The timeline's rules, as pure functions of a seeker's facts so far: may an event of this type,
on this day, with this data, come next? Each raises :class:`InvalidEvent` naming the field and
the reason (kind ``timeline_rule``); nothing here changes anything. The aggregate
(:mod:`timeline.domain.timeline`) calls them before it records an event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from timeline.domain.errors import FieldError, InvalidEvent
from timeline.domain.event_types import AMENDMENTS, SPELL_BOUNDS, EventType
from timeline.domain.facts import Fact, Spell, effective_facts, spells

_SPELL_INPUTS = SPELL_BOUNDS | AMENDMENTS


def _spell_on(all_spells: list[Spell], day: date) -> Spell | None:
    return next((s for s in reversed(all_spells) if s.covers(day)), None)


def spells_of(facts: Iterable[Fact]) -> list[Spell]:
    """The spells ``facts`` (a seeker's, in version order) make, as :func:`check_event` reads
    them: only spell boundaries and what amends them decide spells."""
    return spells(effective_facts(f for f in facts if f.type in _SPELL_INPUTS))


def check_event(
    facts: list[Fact],
    type_: EventType,
    occurred_on: date,
    data: dict[str, Any],
    *,
    known_spells: list[Spell] | None = None,
) -> None:
    """Raise :class:`InvalidEvent` if an event of ``type_`` on ``occurred_on`` may not follow
    ``facts`` (this seeker's recorded facts, in version order). ``known_spells``: the caller's
    ``spells_of(facts)`` if it keeps them between events (the bulk import does: they change
    only with a spell bound or an amendment); computed here otherwise."""
    if type_ in AMENDMENTS:
        _check_amendment(facts, type_, data)
        return
    all_spells = spells_of(facts) if known_spells is None else known_spells
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


def check_first(type_: EventType) -> None:
    """Refuse anything but a ``job_search_started`` as a seeker's first event: it opens the
    timeline (and the seeker's first spell)."""
    if type_ != EventType.JOB_SEARCH_STARTED:
        raise _invalid(
            "type",
            "this seeker has no timeline yet: the first event must be "
            f"{EventType.JOB_SEARCH_STARTED}",
        )
