"""A fast path for the import's validation (ADR 0009): msgspec typed decoding with the
vocabulary's constraints, the vocabulary's own checks for what a type cannot say, and
``parse_event`` (pydantic) as the fallback for anything the fast path does not accept — so the
answer for a bad line (its field errors) is always pydantic's, and the fast path only needs
"accepted ⇒ pydantic accepts it with the same ParsedEvent", which this script checks on every
line of a file before it times both.

    .venv/bin/python ops/bench/prototypes/v2_validate.py FILE.jsonl [--repeat 3]

Not production code: the real fast path needs a differential property test (hypothesis, every
type and field) against ``parse_event``; this measures what it is worth."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
import orjson
from pydantic_core import to_jsonable_python

from timeline.domain.identity import (
    validate_business_id,
    validate_municipality_code,
    validate_personal_identity_code,
)
from timeline.vocabulary import (
    EARLIEST_DAY,
    HELSINKI,
    LATEST_DAY,
    MAX_REQUIREMENT_PERIOD,
    ParsedEvent,
    parse_event,
)

Text200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Muni = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{3}$")]
LMS = Literal["unemployed", "laid_off", "part_time", "employed", "student", "outside_labour_force"]
Channel = Literal["phone", "video", "in_person", "message", "letter"]
Meeting = Literal[
    "initial_interview",
    "job_search_conversation",
    "supplementary_conversation",
    "intensified_period_conversation",
    "other",
]
MAX_INT64 = 2**63 - 1


class _S(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class JobSearchStarted(_S):
    municipality: Muni
    labour_market_status: LMS
    personal_identity_code: str | None = None
    birth_year: Annotated[int, msgspec.Meta(ge=1900, le=2100)] | None = None
    language: Annotated[str, msgspec.Meta(min_length=2, max_length=8)] | None = None
    channel: Text200 | None = None


class CoachAssigned(_S):
    coach_id: Text200
    team: Text200 | None = None


class StatusChanged(_S):
    labour_market_status: LMS


class ContactMade(_S):
    channel: Channel
    direction: Literal["outbound", "inbound"]
    purpose: Text200 | None = None


class MeetingScheduled(_S):
    meeting_id: Text200
    kind: Meeting
    planned_at: datetime
    channel: Channel | None = None


class MeetingHeld(_S):
    kind: Meeting
    channel: Channel
    meeting_id: Text200 | None = None


class MeetingMissed(_S):
    reason: Literal["no_show", "cancelled_by_seeker", "cancelled_by_service", "illness", "other"]
    meeting_id: Text200 | None = None
    kind: Meeting | None = None


class PlanAgreed(_S):
    plan_kind: Literal[
        "employment_plan", "integration_plan", "activation_plan", "multisectoral_plan"
    ]
    review_on: date | None = None
    services_planned: Annotated[list[Text200], msgspec.Meta(max_length=100)] | None = None


class RequirementSet(_S):
    applications_per_period: Annotated[int, msgspec.Meta(ge=0, le=4)]
    period: Literal["month", "three_months"]
    valid_from: date
    valid_until: date | None = None
    grounds: Text200 | None = None


class ApplicationReported(_S):
    applied_on: date
    kind: Literal[
        "vacancy", "open_application", "agency_registration", "self_employment_step", "other_agreed"
    ]
    employer_name: Text200 | None = None
    employer_business_id: str | None = None
    vacancy_ref: Text200 | None = None
    job_title: Text200 | None = None


class ServiceReferred(_S):
    service_id: Text200
    service_type: Literal[
        "labour_market_training",
        "coaching",
        "work_trial",
        "pay_subsidy",
        "rehabilitative_work_activity",
        "startup_grant",
        "career_guidance",
        "other",
    ]
    provider: Literal["public", "private", "third_sector"] | None = None
    provider_name: Text200 | None = None


class ServiceStarted(_S):
    service_id: Text200


class ServiceEnded(_S):
    service_id: Text200
    end_reason: Literal["completed", "interrupted", "employed", "other"] | None = None


class DecisionRecorded(_S):
    decision_type: Text200
    basis_event_ids: Annotated[list[UUID], msgspec.Meta(min_length=1, max_length=1000)]
    text: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None


class SearchEnded(_S):
    reason: Literal[
        "employed_open_market",
        "employed_subsidised",
        "self_employed",
        "studies",
        "moved_abroad",
        "not_renewed",
        "other",
    ]


class Transferred(_S):
    to_municipality: Muni


class Replacement(_S):
    type: str
    data: msgspec.Raw
    occurred_at: datetime | None = None
    occurred_on: date | None = None


class Correction(_S):
    corrects_event_id: UUID
    reason: Text200
    replacement: Replacement


class Retraction(_S):
    retracts_event_id: UUID
    reason: Text200


class Actor(_S):
    id: Text200
    role: Text200
    organisation: Text200


class Envelope(_S):
    event_id: UUID
    seeker_id: UUID
    type: str
    actor: Actor
    data: msgspec.Raw
    occurred_at: datetime | None = None
    occurred_on: date | None = None
    source: Text200 | None = None
    expected_version: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)] | None = None


DATA: dict[str, type[_S]] = {
    "job_search_started": JobSearchStarted,
    "coach_assigned": CoachAssigned,
    "labour_market_status_changed": StatusChanged,
    "contact_made": ContactMade,
    "meeting_scheduled": MeetingScheduled,
    "meeting_held": MeetingHeld,
    "meeting_missed": MeetingMissed,
    "employment_plan_agreed": PlanAgreed,
    "job_search_requirement_set": RequirementSet,
    "application_reported": ApplicationReported,
    "service_referred": ServiceReferred,
    "service_started": ServiceStarted,
    "service_ended": ServiceEnded,
    "decision_recorded": DecisionRecorded,
    "job_search_ended": SearchEnded,
    "seeker_transferred": Transferred,
    "correction": Correction,
    "retraction": Retraction,
}
_ENVELOPE = msgspec.json.Decoder(Envelope)
_DECODERS = {k: msgspec.json.Decoder(v) for k, v in DATA.items()}


class NotFast(Exception):
    """The fast path does not vouch for this line: ask parse_event (it gives the errors)."""


def _day(d: date) -> str:
    if not EARLIEST_DAY <= d <= LATEST_DAY:
        raise NotFast
    return d.isoformat()


def _instant(t: datetime) -> datetime:
    if t.tzinfo is None or not EARLIEST_DAY <= t.astimezone(HELSINKI).date() <= LATEST_DAY:
        raise NotFast
    return t


#: the vocabulary's Text and FreeText refusals (C0/C1 controls, DEL, lone surrogates)
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


#: Control characters can only reach a decoded string through an escape (JSON forbids them raw)
#: or as DEL / UTF-8 C1 bytes: a line without any of these needs no per-string check.
_MAYBE_CONTROL = re.compile(
    rb"\\(?:u00[0-1][0-9a-fA-F]|u007[fF]|u00[89][0-9a-fA-F]|u[dD][89a-fA-F]|[bfnrt])"
    rb"|\x7f|\xc2[\x80-\x9f]"
)


def _texts(value: Any, free: bool = False) -> None:
    """Every string inside ``value`` is free of control characters (tab and line breaks too,
    unless ``free``), as the vocabulary's Text and FreeText are."""
    if not _CHECK_TEXTS[0]:
        return
    pattern = _NOT_FREE_TEXT if free else _NOT_TEXT
    if isinstance(value, str):
        if pattern.search(value):
            raise NotFast
    elif isinstance(value, list):
        for v in value:
            _texts(v, free)


def _data(type_: str, raw: bytes | msgspec.Raw) -> tuple[dict[str, Any], str | None]:
    """The type's data as parse_event dumps it (JSON mode, None left out) and the identity
    code taken out of it."""
    obj = _DECODERS[type_].decode(raw)
    out: dict[str, Any] = {}
    for name in obj.__struct_fields__:
        v = getattr(obj, name)
        if v is None:
            continue
        if isinstance(v, datetime):
            v = to_jsonable_python(_instant(v))
        elif isinstance(v, date):
            v = _day(v)
        elif isinstance(v, list) and v and isinstance(v[0], UUID):
            v = [str(u) for u in v]
        _texts(v, free=name == "text")
        out[name] = v
    code = out.pop("personal_identity_code", None)
    if code is not None:
        code = validate_personal_identity_code(code, allow_temporary=True)
    if type_ == "application_reported" and "employer_business_id" in out:
        out["employer_business_id"] = _business_id(out["employer_business_id"])
    elif type_ == "seeker_transferred":
        validate_municipality_code(out["to_municipality"])
    elif type_ == "job_search_requirement_set":
        start, until = date.fromisoformat(out["valid_from"]), out.get("valid_until")
        if until is not None and not (
            start <= date.fromisoformat(until) <= start + MAX_REQUIREMENT_PERIOD
        ):
            raise NotFast
        if (
            out["period"] == "month"
            and out["applications_per_period"] < 4
            and not out.get("grounds")
        ):
            raise NotFast
    elif type_ == "meeting_missed" and "meeting_id" not in out and "kind" not in out:
        raise NotFast
    return out, code


_CHECK_TEXTS = [True]  # (per line: whether its strings need the control-character check)
_business_id = lru_cache(maxsize=65536)(validate_business_id)


def fast_parse(line: bytes) -> ParsedEvent:
    """The ParsedEvent parse_event would give, or NotFast."""
    _CHECK_TEXTS[0] = _MAYBE_CONTROL.search(line) is not None
    try:
        env = _ENVELOPE.decode(line)
        if env.type not in DATA or (env.occurred_at is None) == (env.occurred_on is None):
            raise NotFast
        _texts([env.actor.id, env.actor.role, env.actor.organisation, env.source or ""])
        if env.type == "correction":
            corr = _DECODERS["correction"].decode(env.data)
            assert isinstance(corr, Correction)
            rep = corr.replacement
            rep_type = rep.type
            if rep_type not in DATA or rep_type in ("correction", "retraction"):
                raise NotFast
            if (rep.occurred_at is None) == (rep.occurred_on is None):
                raise NotFast
            rep_data, rep_code = _data(rep_type, rep.data)
            if rep_code is not None:
                raise NotFast
            _texts(corr.reason)
            rep_at = _instant(rep.occurred_at) if rep.occurred_at else None
            data: dict[str, Any] = {
                "corrects_event_id": str(corr.corrects_event_id),
                "reason": corr.reason,
                "replacement": {
                    "type": rep_type,
                    "occurred_at": rep_at.isoformat() if rep_at else None,
                    "occurred_on": _occurred_on(rep_at, rep.occurred_on),
                    "data": rep_data,
                },
            }
            code = None
        elif env.type == "retraction":
            ret = _DECODERS["retraction"].decode(env.data)
            assert isinstance(ret, Retraction)
            _texts(ret.reason)
            data = {"retracts_event_id": str(ret.retracts_event_id), "reason": ret.reason}
            code = None
        else:
            data, code = _data(env.type, env.data)
        at = _instant(env.occurred_at) if env.occurred_at else None
        return ParsedEvent(
            event_id=str(env.event_id),
            seeker_id=str(env.seeker_id),
            type=env.type,
            occurred_at=at.isoformat() if at else None,
            occurred_on=_occurred_on(at, env.occurred_on),
            actor={
                "id": env.actor.id,
                "role": env.actor.role,
                "organisation": env.actor.organisation,
            },
            source=env.source,
            data=data,
            expected_version=env.expected_version,
            personal_identity_code=code,
        )
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise NotFast from exc


def _occurred_on(at: datetime | None, on: date | None) -> str:
    if at is not None:
        return at.astimezone(HELSINKI).date().isoformat()
    assert on is not None
    return _day(on)


def parse(line: bytes) -> ParsedEvent:
    """The import's parse: the fast path, else parse_event (which raises the field errors)."""
    try:
        return fast_parse(line)
    except NotFast:
        return parse_event(orjson.loads(line), allow_test_identity_codes=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("file", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lines = args.file.read_bytes().splitlines()
    fast = slow = 0
    for i, line in enumerate(lines, start=1):
        expected = parse_event(orjson.loads(line), allow_test_identity_codes=True)
        try:
            got = fast_parse(line)
        except NotFast:
            slow += 1
            continue
        fast += 1
        if got != expected or got.personal_identity_code != expected.personal_identity_code:
            sys.exit(f"line {i}: the fast path differs from parse_event:\n{got}\n{expected}")
    print(
        f"{len(lines):,} lines: {fast:,} by the fast path, identical to parse_event; {slow:,} "
        "left to parse_event"
    )
    bad = [
        b'{"event_id":"x"}',
        lines[0].replace(b'"unemployed"', b'"jobless"'),
        lines[0].replace(b'"091"', b'"91"'),
        lines[0].replace(b'"fi"', b'"f\\u0001"'),
        lines[0].replace(b'"fi"', b'"f\\t"'),
        lines[0].replace(b'"fi"', b'"f\xc2\x85"'),
    ]
    for b in bad:
        try:
            fast_parse(b)
        except NotFast:
            continue
        sys.exit(f"the fast path accepted a bad line: {b!r}")

    def rate(f: Callable[[bytes], object]) -> str:
        rates = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            for line in lines:
                f(line)
            rates.append(len(lines) / (time.perf_counter() - start))
        return f"{min(rates):,.0f}–{max(rates):,.0f} ev/s"

    print(
        "orjson.loads + parse_event (today):",
        rate(lambda b: parse_event(orjson.loads(b), allow_test_identity_codes=True)),
    )
    print("fast path (msgspec + the vocabulary's checks):", rate(parse))
    print("msgspec envelope decode only:", rate(_ENVELOPE.decode))


if __name__ == "__main__":
    main()
