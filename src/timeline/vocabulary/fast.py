"""A fast path for parsing a JSON line into a :class:`ParsedEvent` (ADR 0009 §8): ``msgspec``
decodes the line straight into typed structs mirroring the vocabulary's pydantic models, and
:func:`parse_line` builds the very :class:`ParsedEvent` that :func:`parse_event` would.

It only ever *vouches*: :func:`parse_line` returns ``None`` for any line it is not sure of — any
decoding or constraint error, any value it has no check of its own for — and the caller then
parses the line the ordinary way (``json.loads`` and :func:`parse_event`), whose refusals carry
the field errors. So a bad line reads exactly as before, and the one promise this module makes
is: whatever it returns, :func:`parse_event` returns too, equal and with its dicts in the same
key order (``tests/unit/test_vocabulary_fast.py`` checks this on generated valid and invalid
events of every type and field).

What is checked where:

- by the structs (C code in ``msgspec``): unknown fields, required fields, JSON types (no
  bool or float for an integer), closed code sets, lengths, integer ranges, the UUID form
  (lowercase, hyphenated: the only form ``str(UUID(...))`` gives back unchanged), the
  municipality form;
- by the vocabulary's own functions, here: instants and days (:func:`parse_instant`,
  :func:`parse_day`: the same parser and the same plausible ranges), identity codes, business
  ids and municipality codes (:mod:`timeline.domain.identity`), and the model validators
  (exactly one of ``occurred_at``/``occurred_on``, a meeting id or kind, the requirement's
  period and grounds, no identity code in a replacement);
- not at all: control characters. A line whose bytes could decode to a control character, DEL
  or an unpaired surrogate in any string (a ``\\u00XX`` escape of one, a short escape such as
  ``\\n``, a surrogate escape, a raw DEL or C1 byte) is left to :func:`parse_event` whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeAlias

import msgspec
from pydantic_core import to_jsonable_python

from timeline.domain.event_types import AMENDMENTS, EventType
from timeline.domain.identity import (
    validate_business_id,
    validate_municipality_code,
    validate_personal_identity_code,
)
from timeline.domain.zone import HELSINKI
from timeline.vocabulary.envelope import ParsedEvent
from timeline.vocabulary.fields import (
    MAX_INT64,
    MAX_REQUIREMENT_PERIOD,
    ApplicationKind,
    ContactChannel,
    EndReason,
    LabourMarketStatus,
    MeetingKind,
    MissReason,
    PlanKind,
    ServiceType,
    parse_day,
    parse_instant,
)

__all__ = ["parse_line"]

# --- the field types (each as strict as its vocabulary counterpart, or stricter) --------------

#: NonEmpty (a Text of 1–200 characters)
_NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
#: Municipality (three ASCII digits)
_Municipality = Annotated[str, msgspec.Meta(pattern="^[0-9]{3}$")]
#: a UUID as ``str(UUID(...))`` writes it (any other form is parse_event's)
_Uuid = Annotated[
    str, msgspec.Meta(pattern="^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]
#: Count (a JSON integer, 0 … 2**63 - 1)
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
#: an instant or a day: the text, parsed by the vocabulary's own functions
_When: TypeAlias = str


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


# --- the data of each type, field for field as in timeline.vocabulary.data -------------------


class _JobSearchStarted(_Strict):
    municipality: _Municipality
    labour_market_status: LabourMarketStatus
    personal_identity_code: str | None = None
    birth_year: Annotated[int, msgspec.Meta(ge=1900, le=2100)] | None = None
    language: Annotated[str, msgspec.Meta(min_length=2, max_length=8)] | None = None
    channel: _NonEmpty | None = None


class _CoachAssigned(_Strict):
    coach_id: _NonEmpty
    team: _NonEmpty | None = None


class _LabourMarketStatusChanged(_Strict):
    labour_market_status: LabourMarketStatus


class _ContactMade(_Strict):
    channel: ContactChannel
    direction: Literal["outbound", "inbound"]
    purpose: _NonEmpty | None = None


class _MeetingScheduled(_Strict):
    meeting_id: _NonEmpty
    kind: MeetingKind
    planned_at: _When
    channel: ContactChannel | None = None


class _MeetingHeld(_Strict):
    kind: MeetingKind
    channel: ContactChannel
    meeting_id: _NonEmpty | None = None


class _MeetingMissed(_Strict, kw_only=True):  # (the model's field order: dumped in it)
    meeting_id: _NonEmpty | None = None
    kind: MeetingKind | None = None
    reason: MissReason


class _EmploymentPlanAgreed(_Strict):
    plan_kind: PlanKind
    review_on: _When | None = None
    services_planned: Annotated[list[_NonEmpty], msgspec.Meta(max_length=100)] | None = None


class _JobSearchRequirementSet(_Strict):
    applications_per_period: Annotated[int, msgspec.Meta(ge=0, le=4)]
    period: Literal["month", "three_months"]
    valid_from: _When
    valid_until: _When | None = None
    grounds: _NonEmpty | None = None


class _ApplicationReported(_Strict):
    applied_on: _When
    kind: ApplicationKind
    employer_name: _NonEmpty | None = None
    employer_business_id: str | None = None
    vacancy_ref: _NonEmpty | None = None
    job_title: _NonEmpty | None = None


class _ServiceReferred(_Strict):
    service_id: _NonEmpty
    service_type: ServiceType
    provider: Literal["public", "private", "third_sector"] | None = None
    provider_name: _NonEmpty | None = None


class _ServiceStarted(_Strict):
    service_id: _NonEmpty


class _ServiceEnded(_Strict):
    service_id: _NonEmpty
    end_reason: Literal["completed", "interrupted", "employed", "other"] | None = None


class _DecisionRecorded(_Strict):
    decision_type: _NonEmpty
    basis_event_ids: Annotated[list[_Uuid], msgspec.Meta(min_length=1, max_length=1000)]
    text: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None


class _JobSearchEnded(_Strict):
    reason: EndReason


class _SeekerTransferred(_Strict):
    to_municipality: _Municipality


class _Replacement(_Strict):
    type: str
    data: msgspec.Raw
    occurred_at: _When | None = None
    occurred_on: _When | None = None


class _Correction(_Strict):
    corrects_event_id: _Uuid
    reason: _NonEmpty
    replacement: _Replacement


class _Retraction(_Strict):
    retracts_event_id: _Uuid
    reason: _NonEmpty


class _Actor(_Strict):
    id: _NonEmpty
    role: _NonEmpty
    organisation: _NonEmpty


class _Envelope(_Strict):
    event_id: _Uuid
    seeker_id: _Uuid
    type: str
    actor: _Actor
    data: msgspec.Raw
    occurred_at: _When | None = None
    occurred_on: _When | None = None
    source: _NonEmpty | None = None
    expected_version: _Count | None = None


class _NotSure(Exception):
    """The fast path does not vouch for this line."""


# --- from a decoded struct to the data parse_event dumps ------------------------------------

_Data: TypeAlias = dict[str, Any]


def _instant_json(text: str) -> str:
    """An instant inside ``data``, as pydantic dumps it in JSON mode."""
    return str(to_jsonable_python(parse_instant(text)))


def _day_json(text: str) -> str:
    """A day inside ``data``: its text, which parse_day accepts only as ``YYYY-MM-DD`` (so the
    date's ISO form, the JSON dump, is the text itself)."""
    parse_day(text)
    return text


def _fields(obj: msgspec.Struct) -> _Data:
    """The struct's set fields, in the model's field order (as ``model_dump`` orders them),
    None left out (``exclude_none``)."""
    return {
        name: value for name in obj.__struct_fields__ if (value := getattr(obj, name)) is not None
    }


def _job_search_started(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    data = _fields(obj)
    code = data.pop("personal_identity_code", None)
    if code is not None:
        code = validate_personal_identity_code(code, allow_temporary=allow)
    return data, code


def _meeting_scheduled(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    data = _fields(obj)
    data["planned_at"] = _instant_json(obj.planned_at)
    return data, None


def _meeting_missed(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    if obj.meeting_id is None and obj.kind is None:
        raise _NotSure
    return _fields(obj), None


def _employment_plan_agreed(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    if obj.review_on is not None:
        _day_json(obj.review_on)
    return _fields(obj), None


def _requirement_set(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    start = parse_day(obj.valid_from)
    if obj.valid_until is not None:
        until = parse_day(obj.valid_until)
        if until < start or until - start > MAX_REQUIREMENT_PERIOD:
            raise _NotSure
    if obj.period == "month" and obj.applications_per_period < 4 and not obj.grounds:
        raise _NotSure
    return _fields(obj), None


def _application_reported(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    parse_day(obj.applied_on)
    data = _fields(obj)
    if obj.employer_business_id is not None:
        data["employer_business_id"] = _business_id(obj.employer_business_id)
    return data, None


def _seeker_transferred(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    return {"to_municipality": validate_municipality_code(obj.to_municipality)}, None


def _plain(obj: Any, allow: bool) -> tuple[_Data, str | None]:
    return _fields(obj), None


#: a business id is one of a few thousand employers': its check (and normal form) cached
_business_id = lru_cache(maxsize=1 << 16)(validate_business_id)

_DataFn: TypeAlias = Callable[[Any, bool], tuple[_Data, str | None]]
#: each recording type: the decoder of its data and what makes parse_event's data of it
_DATA: dict[str, tuple[msgspec.json.Decoder[Any], _DataFn]] = {
    t.value: (msgspec.json.Decoder(struct), fn)
    for t, struct, fn in (
        (EventType.JOB_SEARCH_STARTED, _JobSearchStarted, _job_search_started),
        (EventType.COACH_ASSIGNED, _CoachAssigned, _plain),
        (EventType.LABOUR_MARKET_STATUS_CHANGED, _LabourMarketStatusChanged, _plain),
        (EventType.CONTACT_MADE, _ContactMade, _plain),
        (EventType.MEETING_SCHEDULED, _MeetingScheduled, _meeting_scheduled),
        (EventType.MEETING_HELD, _MeetingHeld, _plain),
        (EventType.MEETING_MISSED, _MeetingMissed, _meeting_missed),
        (EventType.EMPLOYMENT_PLAN_AGREED, _EmploymentPlanAgreed, _employment_plan_agreed),
        (EventType.JOB_SEARCH_REQUIREMENT_SET, _JobSearchRequirementSet, _requirement_set),
        (EventType.APPLICATION_REPORTED, _ApplicationReported, _application_reported),
        (EventType.SERVICE_REFERRED, _ServiceReferred, _plain),
        (EventType.SERVICE_STARTED, _ServiceStarted, _plain),
        (EventType.SERVICE_ENDED, _ServiceEnded, _plain),
        (EventType.DECISION_RECORDED, _DecisionRecorded, _plain),
        (EventType.JOB_SEARCH_ENDED, _JobSearchEnded, _plain),
        (EventType.SEEKER_TRANSFERRED, _SeekerTransferred, _seeker_transferred),
    )
}
assert set(_DATA) | {t.value for t in AMENDMENTS} == {t.value for t in EventType}
_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_ENVELOPE = msgspec.json.Decoder(_Envelope)
_CORRECTION = msgspec.json.Decoder(_Correction)
_RETRACTION = msgspec.json.Decoder(_Retraction)

#: bytes that may decode to a control character, DEL or an unpaired surrogate somewhere in the
#: line (fields.py's ``_NOT_TEXT``): an escape of one (``\\u0000``–``\\u001f``, ``\\u007f``–
#: ``\\u009f``, ``\\ud800``–``\\udfff``, ``\\b \\f \\n \\r \\t``), a raw DEL, a raw C1 character
#: (UTF-8 ``C2 80``–``C2 9F``) or a raw surrogate (``ED A0``–``ED BF``, not UTF-8 at all).
#: An escaped backslash before such text is a false alarm, which costs only the slow path.
_MAYBE_CONTROL = re.compile(
    rb"\\(?:u00[01][0-9a-fA-F]|u007[fF]|u00[89][0-9a-fA-F]|u[dD][89a-fA-F]|[bfnrt])"
    rb"|\x7f|\xc2[\x80-\x9f]|\xed[\xa0-\xbf]"
)


def _when(at: str | None, on: str | None) -> tuple[str | None, str]:
    """(occurred_at, occurred_on) as parse_event writes them."""
    if at is not None:
        if on is not None:
            raise _NotSure
        moment = parse_instant(at)
        return moment.isoformat(), moment.astimezone(HELSINKI).date().isoformat()
    if on is None:
        raise _NotSure
    return None, parse_day(on).isoformat()


def _parse(line: bytes, allow: bool) -> ParsedEvent:
    env = _ENVELOPE.decode(line)
    type_ = _TYPES[env.type]
    code = None
    if type_ == EventType.CORRECTION:
        corr = _CORRECTION.decode(env.data)
        rep = corr.replacement
        if rep.type not in _DATA:
            raise _NotSure
        decoder, make = _DATA[rep.type]
        rep_data, rep_code = make(decoder.decode(rep.data), allow)
        if rep_code is not None:
            raise _NotSure
        rep_at, rep_on = _when(rep.occurred_at, rep.occurred_on)
        data: _Data = {
            "corrects_event_id": corr.corrects_event_id,
            "reason": corr.reason,
            "replacement": {
                "type": rep.type,
                "occurred_at": rep_at,
                "occurred_on": rep_on,
                "data": rep_data,
            },
        }
    elif type_ == EventType.RETRACTION:
        ret = _RETRACTION.decode(env.data)
        data = {"retracts_event_id": ret.retracts_event_id, "reason": ret.reason}
    else:
        decoder, make = _DATA[env.type]
        data, code = make(decoder.decode(env.data), allow)
    at, on = _when(env.occurred_at, env.occurred_on)
    actor = env.actor
    return ParsedEvent(
        event_id=env.event_id,
        seeker_id=env.seeker_id,
        type=type_,
        occurred_at=at,
        occurred_on=on,
        actor={"id": actor.id, "role": actor.role, "organisation": actor.organisation},
        source=env.source,
        data=data,
        expected_version=env.expected_version,
        personal_identity_code=code,
    )


def parse_line(line: bytes, *, allow_test_identity_codes: bool = False) -> ParsedEvent | None:
    """The :class:`ParsedEvent` that ``parse_event(json.loads(line))`` gives, or None when this
    fast path does not vouch for the line (then ask :func:`parse_event`: it may accept the
    line, or refuse it naming the fields). ``line``: one JSON document, UTF-8, no BOM."""
    if _MAYBE_CONTROL.search(line) is not None:
        return None
    try:
        return _parse(line, allow_test_identity_codes)
    except Exception:
        return None
