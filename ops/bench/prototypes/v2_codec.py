"""Prototype of the stored form v2 payload (ADR 0009): one event's content as two msgpack
blobs, a *clear* part (what rules, scope and statistics read) and a *personal* part (what
crypto-shredding destroys), and back, losslessly.

Not production code: the implementation after the issue-11 restructure takes the layout and
the codes from here (and the EventType enum). Everything here is checked by
``v2_payloads.py`` on every event of a demo: ``decode(encode(content)) == content`` and the
JCS digest of the decoded content equals today's digest.

Byte layout (v2):

- clear    = ``0x02`` (form) ``alg`` (digest algorithm: 1 = the project canonical JSON, 2 = RFC 8785
  JCS) then msgpack ``[origin, occurred_at, [clear fields…], replacement?]``; ``origin`` is
  ``[actor.id, actor.role, actor.organisation, source]`` inline, or nil when it is interned (a
  column holding an id into ``timeline_origins``); ``replacement`` (corrections only) is
  ``[type code, occurred_at, occurred_on, [its clear fields…]]``
- personal = ``0x00`` (plain) then msgpack ``[[personal fields…], [replacement's]?, {extras}?]``; in
  production
  ``0x01`` key_version(1) nonce(12) AES-256-GCM(plain msgpack)+tag(16) with the seeker's key and
  AAD = seeker uuid ‖ event uuid ‖ version (see ``v2_store.seal``)

Field values: enumerations as their index in a fixed, append-only list (an unknown value stays
text); days as days since 1970-01-01 (a non-canonical one stays text); UUIDs as 16 raw bytes; the
person_ref as 32 raw bytes; everything else as is. Absent optional fields are nil; trailing nils
are dropped. Anything the layout does not know (a key of a later vocabulary, an explicit null,
an unexpected shape) goes verbatim to the *personal* extras, so nothing is ever lost and nothing
unknown is ever left in clear."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

import msgspec
import orjson

FORM_V2: Final = 2
ALG_CANONICAL: Final = 1  # SHA-256 of the project's canonical JSON (today's events)
ALG_JCS: Final = 2  # SHA-256 of RFC 8785 (JCS) bytes (new events)
PLAIN: Final = 0
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

# -- codes (stable, append-only: a code once written means the same for ever) -----------------

TYPE_CODES: Final[dict[str, int]] = {
    "job_search_started": 1,
    "coach_assigned": 2,
    "labour_market_status_changed": 3,
    "contact_made": 4,
    "meeting_scheduled": 5,
    "meeting_held": 6,
    "meeting_missed": 7,
    "employment_plan_agreed": 8,
    "job_search_requirement_set": 9,
    "application_reported": 10,
    "service_referred": 11,
    "service_started": 12,
    "service_ended": 13,
    "decision_recorded": 14,
    "job_search_ended": 15,
    "seeker_transferred": 16,
    "correction": 17,
    "retraction": 18,
}
TYPE_NAMES: Final[dict[int, str]] = {v: k for k, v in TYPE_CODES.items()}

LMS = ("unemployed", "laid_off", "part_time", "employed", "student", "outside_labour_force")
CHANNEL = ("phone", "video", "in_person", "message", "letter")
MEETING = (
    "initial_interview",
    "job_search_conversation",
    "supplementary_conversation",
    "intensified_period_conversation",
    "other",
)
MISS = ("no_show", "cancelled_by_seeker", "cancelled_by_service", "illness", "other")
PLAN = ("employment_plan", "integration_plan", "activation_plan", "multisectoral_plan")
APPLICATION = (
    "vacancy",
    "open_application",
    "agency_registration",
    "self_employment_step",
    "other_agreed",
)
SERVICE = (
    "labour_market_training",
    "coaching",
    "work_trial",
    "pay_subsidy",
    "rehabilitative_work_activity",
    "startup_grant",
    "career_guidance",
    "other",
)
PROVIDER = ("public", "private", "third_sector")
SERVICE_END = ("completed", "interrupted", "employed", "other")
END = (
    "employed_open_market",
    "employed_subsidised",
    "self_employed",
    "studies",
    "moved_abroad",
    "not_renewed",
    "other",
)
DIRECTION = ("outbound", "inbound")
PERIOD = ("month", "three_months")

# -- value codecs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How one field's JSON value is stored, and read back (exactly)."""

    name: str
    enc: Callable[[Any], Any]
    dec: Callable[[Any], Any]


def _same(v: Any) -> Any:
    return v


def _enum(values: Sequence[str]) -> Kind:
    index = {v: i for i, v in enumerate(values)}

    def enc(v: Any) -> Any:
        return index.get(v, v) if isinstance(v, str) else _raise(v)

    def dec(v: Any) -> Any:
        return values[v] if isinstance(v, int) else v

    return Kind("enum", enc, dec)


def _raise(v: Any) -> Any:
    raise _Unfit(v)


class _Unfit(Exception):
    """The value does not fit the field's kind: the field goes to the extras verbatim."""


def _day_enc(v: Any) -> Any:
    if isinstance(v, str) and len(v) == 10:
        try:
            d = date.fromisoformat(v)
        except ValueError:
            return v
        if d.isoformat() == v:
            return d.toordinal() - EPOCH_ORDINAL
        return v
    return _raise(v)


def _day_dec(v: Any) -> Any:
    return date.fromordinal(v + EPOCH_ORDINAL).isoformat() if isinstance(v, int) else v


def _uuid_enc(v: Any) -> Any:
    if isinstance(v, str):
        u = UUID(v)
        return u.bytes if str(u) == v else v
    return _raise(v)


def _uuid_dec(v: Any) -> Any:
    return str(UUID(bytes=v)) if isinstance(v, bytes) else v


def _uuids_enc(v: Any) -> Any:
    if isinstance(v, list):
        return [_uuid_enc(x) for x in v]
    return _raise(v)


def _uuids_dec(v: Any) -> Any:
    return [_uuid_dec(x) for x in v]


def _hex32_enc(v: Any) -> Any:
    if isinstance(v, str) and len(v) == 64:
        b = bytes.fromhex(v)
        return b if b.hex() == v else v
    return _raise(v)


def _hex32_dec(v: Any) -> Any:
    return v.hex() if isinstance(v, bytes) else v


def _str_enc(v: Any) -> Any:
    return v if isinstance(v, str) else _raise(v)


def _int_enc(v: Any) -> Any:
    return v if isinstance(v, int) and not isinstance(v, bool) else _raise(v)


def _strs_enc(v: Any) -> Any:
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else _raise(v)


STR = Kind("str", _str_enc, _same)
INT = Kind("int", _int_enc, _same)
DAY = Kind("day", _day_enc, _day_dec)
INSTANT = Kind("instant", _str_enc, _same)
UUID_ = Kind("uuid", _uuid_enc, _uuid_dec)
UUIDS = Kind("uuids", _uuids_enc, _uuids_dec)
HEX32 = Kind("hex32", _hex32_enc, _hex32_dec)
STRS = Kind("strs", _strs_enc, _same)

Field = tuple[str, Kind]

#: Per type: (clear fields, personal fields), in stored order. New optional fields of a later
#: vocabulary are appended at the end of the part they belong to; nothing is ever reordered.
LAYOUT: Final[dict[str, tuple[tuple[Field, ...], tuple[Field, ...]]]] = {
    "job_search_started": (
        (("municipality", STR), ("labour_market_status", _enum(LMS))),
        (("person_ref", HEX32), ("birth_year", INT), ("language", STR), ("channel", STR)),
    ),
    "coach_assigned": ((("coach_id", STR), ("team", STR)), ()),
    "labour_market_status_changed": ((("labour_market_status", _enum(LMS)),), ()),
    "contact_made": (
        (("channel", _enum(CHANNEL)), ("direction", _enum(DIRECTION))),
        (("purpose", STR),),
    ),
    "meeting_scheduled": (
        (("kind", _enum(MEETING)), ("planned_at", INSTANT), ("channel", _enum(CHANNEL))),
        (("meeting_id", STR),),
    ),
    "meeting_held": (
        (("kind", _enum(MEETING)), ("channel", _enum(CHANNEL))),
        (("meeting_id", STR),),
    ),
    "meeting_missed": (
        (("kind", _enum(MEETING)), ("reason", _enum(MISS))),
        (("meeting_id", STR),),
    ),
    "employment_plan_agreed": (
        (("plan_kind", _enum(PLAN)), ("review_on", DAY)),
        (("services_planned", STRS),),
    ),
    "job_search_requirement_set": (
        (
            ("applications_per_period", INT),
            ("period", _enum(PERIOD)),
            ("valid_from", DAY),
            ("valid_until", DAY),
        ),
        (("grounds", STR),),
    ),
    "application_reported": (
        (("applied_on", DAY), ("kind", _enum(APPLICATION))),
        (
            ("employer_name", STR),
            ("employer_business_id", STR),
            ("vacancy_ref", STR),
            ("job_title", STR),
        ),
    ),
    "service_referred": (
        (("service_id", STR), ("service_type", _enum(SERVICE)), ("provider", _enum(PROVIDER))),
        (("provider_name", STR),),
    ),
    "service_started": ((("service_id", STR),), ()),
    "service_ended": ((("service_id", STR), ("end_reason", _enum(SERVICE_END))), ()),
    "decision_recorded": (
        (("decision_type", STR), ("basis_event_ids", UUIDS)),
        (("text", STR),),
    ),
    "job_search_ended": ((("reason", _enum(END)),), ()),
    "seeker_transferred": ((("to_municipality", STR),), ()),
    # correction: the replacement is handled by encode_data (its own type's layout, nested)
    "correction": ((("corrects_event_id", UUID_),), (("reason", STR),)),
    "retraction": ((("retracts_event_id", UUID_),), (("reason", STR),)),
}

# -- data ---------------------------------------------------------------------------------------


def _pack(layout: tuple[Field, ...], data: Mapping[str, Any], extras: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for name, kind in layout:
        v = data.get(name)
        if v is None:
            if name in data:  # an explicit null is content: keep it verbatim
                extras[name] = None
            out.append(None)
            continue
        try:
            out.append(kind.enc(v))
        except (_Unfit, ValueError):
            extras[name] = v
            out.append(None)
    while out and out[-1] is None:
        out.pop()
    return out


def _unpack(layout: tuple[Field, ...], values: Sequence[Any], into: dict[str, Any]) -> None:
    for (name, kind), v in zip(layout, values, strict=False):
        if v is not None:
            into[name] = kind.dec(v)


def encode_data(type_: str, data: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """(clear, personal) msgpack-ready values of one event's ``data``."""
    clear_layout, personal_layout = LAYOUT[type_]
    known = {n for n, _ in clear_layout} | {n for n, _ in personal_layout}
    extras: dict[str, Any] = {k: v for k, v in data.items() if k not in known}
    clear: list[Any] = [_pack(clear_layout, data, extras)]
    personal: list[Any] = [_pack(personal_layout, data, extras)]
    if type_ == "correction":
        extras.pop("replacement", None)
        rep = data.get("replacement")
        if isinstance(rep, dict) and set(rep) == {"type", "occurred_at", "occurred_on", "data"}:
            rep_type = rep["type"]
            if rep_type in LAYOUT and rep_type not in ("correction", "retraction"):
                rc, rp = encode_data(rep_type, rep["data"])
                clear.append(
                    [TYPE_CODES[rep_type], rep["occurred_at"], _day_or_text(rep["occurred_on"]), rc]
                )
                personal.append(rp)
            else:
                extras["replacement"] = rep
        elif rep is not None:
            extras["replacement"] = rep
    if extras:
        personal.append(extras)  # verbatim, and never in clear
    return clear, personal


def _day_or_text(v: Any) -> Any:
    try:
        return _day_enc(v)
    except _Unfit:
        return v


def decode_data(type_: str, clear: Sequence[Any], personal: Sequence[Any] | None) -> dict[str, Any]:
    """``data`` from its parts; ``personal`` None (erased, or not wanted): the clear fields only."""
    clear_layout, personal_layout = LAYOUT[type_]
    out: dict[str, Any] = {}
    _unpack(clear_layout, clear[0], out)
    extras: dict[str, Any] = {}
    if personal is not None:
        _unpack(personal_layout, personal[0], out)
        if personal and isinstance(personal[-1], dict):
            extras = personal[-1]
    if type_ == "correction" and len(clear) > 1:
        code, at, on, rc = clear[1]
        rep_type = TYPE_NAMES[code]
        rp = personal[1] if personal is not None and len(personal) > 1 else None
        rep_data = decode_data(rep_type, rc, rp if isinstance(rp, list) else None)
        out["replacement"] = {
            "type": rep_type,
            "occurred_at": at,
            "occurred_on": _day_dec(on),
            "data": rep_data,
        }
    out.update(extras)
    return out


# -- whole events --------------------------------------------------------------------------------

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder()


@dataclass(frozen=True, slots=True)
class Parts:
    """What one event is stored as, besides its columns."""

    clear: bytes
    personal: bytes | None  # None: no personal field at all


def encode(
    content: Mapping[str, Any], *, alg: int = ALG_CANONICAL, interned: bool = False
) -> Parts:
    """The parts of an event's canonical content (``event_content``: event_id, seeker_id, type,
    occurred_at, occurred_on, actor, source, data). The ids, type and days are columns;
    ``interned``: so is the origin (actor and source, an id into ``timeline_origins``), and the
    clear part holds nil in its place."""
    clear_data, personal_data = encode_data(content["type"], content["data"])
    actor = content["actor"]
    who: Any = None
    if not interned:
        if set(actor) == {"id", "role", "organisation"}:
            who = [actor["id"], actor["role"], actor["organisation"], content["source"]]
        else:  # an actor of another shape: verbatim
            who = [dict(actor), content["source"]]
    head = bytes((FORM_V2, alg))
    clear = head + _ENC.encode([who, content["occurred_at"], *clear_data])
    has_personal = any(personal_data[0]) or len(personal_data) > 1
    personal = bytes((PLAIN,)) + _ENC.encode(personal_data) if has_personal else None
    return Parts(clear, personal)


def decode(
    *,
    event_id: str,
    seeker_id: str,
    type_: str,
    occurred_on: str,
    clear: bytes,
    personal: bytes | None,
    origin: tuple[str, str, str, str | None] | None = None,
) -> dict[str, Any]:
    """The canonical content back (personal None: as stored without a personal part);
    ``origin``: (actor id, role, organisation, source) of an interned origin."""
    if clear[0] != FORM_V2:
        raise ValueError(f"stored form {clear[0]} is not 2")
    who, occurred_at, *clear_data = _DEC.decode(clear[2:])
    personal_data = None
    if personal is not None:
        if personal[0] != PLAIN:
            raise ValueError("encrypted personal parts are not in this prototype")
        personal_data = _DEC.decode(personal[1:])
    if who is None:
        assert origin is not None
        a_id, role, org, source = origin
        actor: dict[str, str] = {"id": a_id, "role": role, "organisation": org}
    elif len(who) == 4:
        actor = {"id": who[0], "role": who[1], "organisation": who[2]}
        source = who[3]
    else:
        actor, source = who
    data = decode_data(type_, clear_data, personal_data if personal_data is not None else [[]])
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


def clear_facts_data(type_: str, clear: bytes) -> tuple[str | None, dict[str, Any]]:
    """(occurred_at, data with the clear fields only): what rules and statistics read, without
    touching the personal part (a rebuild never decrypts)."""
    _, occurred_at, *clear_data = _DEC.decode(clear[2:])
    return occurred_at, decode_data(type_, clear_data, None)


# -- digests ------------------------------------------------------------------------------------


def jcs(content: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of event content. orjson's sorted, compact output equals JCS for what the
    vocabulary admits (strings, integers below 2**53, booleans, null, arrays and objects with
    ASCII keys; no floats): checked against the rfc8785 package in v2_payloads.py."""
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def digest(content: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(jcs(content)).digest()


def chain(prev: bytes, digest_: bytes, seeker_id: str, version: int, recorded_at: str) -> bytes:
    """Today's chain link (domain/canonical.py chain_hash) over hex text, as raw bytes."""
    link = f"{prev.hex()}|{seeker_id}|{version}|{recorded_at}|{digest_.hex()}".encode("ascii")
    return hashlib.sha256(link).digest()


def bucket(seeker: UUID) -> int:
    """The seeker's stable bucket, 0…4095: the first 12 bits of SHA-256 of its 16 bytes.
    Partition k of N holds buckets [k·4096/N, (k+1)·4096/N)."""
    h = hashlib.sha256(seeker.bytes).digest()
    return (h[0] << 4) | (h[1] >> 4)


def occurred_at_value(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
