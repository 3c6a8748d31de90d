"""Stored form 2 of a timeline event's payload (ADR 0009 §3 and its 2026-12-02 addendum): the
``state`` bytes of the library's events table, split into a *clear* part — what obligations,
scope and statistics read, and codes with no personal content — and a *personal* part sealed
with the seeker's data key (:mod:`timeline.store.keys`), which crypto-shredding destroys.

Byte layout of ``state`` (``uvarint`` = unsigned LEB128)::

    0x02                      form
    alg                       digest algorithm of the event (1 canonical JSON, 2 JCS)
    uvarint len(E) · E        envelope, msgpack [event_id, recorded_at, occurred_on,
                              originator_topic?] — what the events table's columns
                              (originator_id, originator_version, topic) do not carry
    uvarint len(C) · C        clear part, msgpack [origin, occurred_at, [clear fields…],
                              replacement?] exactly as ADR 0009 §3 (origin inline:
                              [actor id, role, organisation, source])
    P                         personal part, ADR 0009 §3: empty when the event has no
                              personal field; else 0x01 · key version (1 B) · nonce (12 B) ·
                              AES-256-GCM(msgpack [[personal fields…], [replacement's]?,
                              {extras}?]) with its 16-byte tag; AAD = seeker uuid (16 B) ‖
                              event uuid (16 B) ‖ version (int32 big-endian). (0x00 · msgpack:
                              plain, tests only.)

A later merge into ADR 0009's ``timeline_log`` moves bytes only: E's values become columns,
``0x02 · alg · C`` is the log's ``clear`` and P its ``personal`` (nothing re-encrypted).

Values: enumerations as their index in a fixed append-only list, days as days since
1970-01-01, uuids as 16 bytes, ``person_ref`` as 32 bytes, ``recorded_at`` as a msgpack
timestamp (UTC), other text as text; absent optional fields nil, trailing nils dropped. A value
that does not fit its field's kind is stored verbatim (an unknown code, a non-canonical day) or,
when it is not even of the kind's type, in the personal extras; so is every key the layout does
not know and every explicit null: the form is lossless and nothing unknown is ever in clear.
Evolution: fields and codes are appended, never reordered; a new layout is a new form byte.

An event whose personal part cannot be opened (its seeker's key was destroyed) decodes into its
clear fields only, its ``data`` a :class:`ClearOnly` dict: :func:`is_erased` says so.

Two codes read and write these bytes: the general functions (:func:`encode`, :func:`parse`,
:func:`open_personal`, :func:`decode_content`, :func:`decode_data`), the reference, and the
fast paths every event of the mapper and of the projections goes through (:func:`encode_event`,
:func:`decode_event`, :func:`decode_clear`; see "the fast paths" below), which give the same
bytes and values and leave whatever they are not sure of to the general functions."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from timeline.domain.event_types import EventType

FORM: Final = 2
#: the first byte of the library's JSON state (form 1)
FORM1_FIRST: Final = ord("{")
PLAIN: Final = 0
SEALED: Final = 1
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()

# -- codes (stable, append-only: a code once written means the same for ever) -----------------
# (written out rather than taken from the vocabulary's Literals, whose order may change;
# tests/unit/test_form2.py checks that every vocabulary code has its number here)

TYPE_CODES: Final[dict[EventType, int]] = {
    EventType.JOB_SEARCH_STARTED: 1,
    EventType.COACH_ASSIGNED: 2,
    EventType.LABOUR_MARKET_STATUS_CHANGED: 3,
    EventType.CONTACT_MADE: 4,
    EventType.MEETING_SCHEDULED: 5,
    EventType.MEETING_HELD: 6,
    EventType.MEETING_MISSED: 7,
    EventType.EMPLOYMENT_PLAN_AGREED: 8,
    EventType.JOB_SEARCH_REQUIREMENT_SET: 9,
    EventType.APPLICATION_REPORTED: 10,
    EventType.SERVICE_REFERRED: 11,
    EventType.SERVICE_STARTED: 12,
    EventType.SERVICE_ENDED: 13,
    EventType.DECISION_RECORDED: 14,
    EventType.JOB_SEARCH_ENDED: 15,
    EventType.SEEKER_TRANSFERRED: 16,
    EventType.CORRECTION: 17,
    EventType.RETRACTION: 18,
}
TYPE_NAMES: Final[dict[int, EventType]] = {v: k for k, v in TYPE_CODES.items()}

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


# -- value kinds -------------------------------------------------------------------------------


class _Unfit(Exception):
    """The value is not of its field's type: the field goes to the personal extras verbatim."""


def _unfit(v: Any) -> Any:
    raise _Unfit


@dataclass(frozen=True)
class Kind:
    """How one field's JSON value is stored, and read back (exactly)."""

    name: str
    enc: Callable[[Any], Any]
    dec: Callable[[Any], Any]
    #: an enumeration's codes, in stored order (the fast paths' look-up tables)
    codes: tuple[str, ...] = ()


def _same(v: Any) -> Any:
    return v


def _enum(values: Sequence[str]) -> Kind:
    index = {v: i for i, v in enumerate(values)}

    def enc(v: Any) -> Any:
        return index.get(v, v) if isinstance(v, str) else _unfit(v)

    def dec(v: Any) -> Any:
        return values[v] if isinstance(v, int) else v

    return Kind("enum", enc, dec, tuple(values))


def _day_enc(v: Any) -> Any:
    if not isinstance(v, str):
        return _unfit(v)
    if len(v) == 10:
        try:
            d = date.fromisoformat(v)
        except ValueError:
            return v
        if d.isoformat() == v:
            return d.toordinal() - EPOCH_ORDINAL
    return v


def _day_dec(v: Any) -> Any:
    return date.fromordinal(v + EPOCH_ORDINAL).isoformat() if isinstance(v, int) else v


def _uuid_enc(v: Any) -> Any:
    """A uuid's canonical text (lower-case, hyphenated) as its 16 bytes; other text verbatim.
    (Without ``uuid.UUID``: three times faster, and the same answer.)"""
    if not isinstance(v, str):
        return _unfit(v)
    if len(v) != 36 or v[8] != "-" or v[13] != "-" or v[18] != "-" or v[23] != "-":
        return v
    h = v[:8] + v[9:13] + v[14:18] + v[19:23] + v[24:]
    try:
        b = bytes.fromhex(h)
    except ValueError:
        return v
    return b if len(b) == 16 and b.hex() == h else v


def _uuid_text(b: bytes) -> str:
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid_dec(v: Any) -> Any:
    return _uuid_text(v) if isinstance(v, bytes) and len(v) == 16 else v


def _uuids_enc(v: Any) -> Any:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        return _unfit(v)
    return [_uuid_enc(x) for x in v]


def _uuids_dec(v: Any) -> Any:
    return [_uuid_dec(x) for x in v]


def _hex32_enc(v: Any) -> Any:
    if not isinstance(v, str):
        return _unfit(v)
    if len(v) == 64:
        try:
            b = bytes.fromhex(v)
        except ValueError:
            return v
        if b.hex() == v:
            return b
    return v


def _hex32_dec(v: Any) -> Any:
    return v.hex() if isinstance(v, bytes) else v


def _str_enc(v: Any) -> Any:
    return v if isinstance(v, str) else _unfit(v)


def _int_enc(v: Any) -> Any:
    ok = isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**64
    return v if ok else _unfit(v)


def _strs_enc(v: Any) -> Any:
    return v if isinstance(v, list) and all(isinstance(x, str) for x in v) else _unfit(v)


STR = Kind("str", _str_enc, _same)
INT = Kind("int", _int_enc, _same)
DAY = Kind("day", _day_enc, _day_dec)
INSTANT = Kind("instant", _str_enc, _same)
UUID_ = Kind("uuid", _uuid_enc, _uuid_dec)
UUIDS = Kind("uuids", _uuids_enc, _uuids_dec)
HEX32 = Kind("hex32", _hex32_enc, _hex32_dec)
STRS = Kind("strs", _strs_enc, _same)

Field = tuple[str, Kind]
E = EventType

#: Per type: (clear fields, personal fields), in stored order (ADR 0009 §3's table). New fields
#: of a later vocabulary are appended at the end of the part they belong to, never reordered.
LAYOUT: Final[dict[EventType, tuple[tuple[Field, ...], tuple[Field, ...]]]] = {
    E.JOB_SEARCH_STARTED: (
        (("municipality", STR), ("labour_market_status", _enum(LMS))),
        (("person_ref", HEX32), ("birth_year", INT), ("language", STR), ("channel", STR)),
    ),
    E.COACH_ASSIGNED: ((("coach_id", STR), ("team", STR)), ()),
    E.LABOUR_MARKET_STATUS_CHANGED: ((("labour_market_status", _enum(LMS)),), ()),
    E.CONTACT_MADE: (
        (("channel", _enum(CHANNEL)), ("direction", _enum(DIRECTION))),
        (("purpose", STR),),
    ),
    E.MEETING_SCHEDULED: (
        (("kind", _enum(MEETING)), ("planned_at", INSTANT), ("channel", _enum(CHANNEL))),
        (("meeting_id", STR),),
    ),
    E.MEETING_HELD: (
        (("kind", _enum(MEETING)), ("channel", _enum(CHANNEL))),
        (("meeting_id", STR),),
    ),
    E.MEETING_MISSED: (
        (("kind", _enum(MEETING)), ("reason", _enum(MISS))),
        (("meeting_id", STR),),
    ),
    E.EMPLOYMENT_PLAN_AGREED: (
        (("plan_kind", _enum(PLAN)), ("review_on", DAY)),
        (("services_planned", STRS),),
    ),
    E.JOB_SEARCH_REQUIREMENT_SET: (
        (
            ("applications_per_period", INT),
            ("period", _enum(PERIOD)),
            ("valid_from", DAY),
            ("valid_until", DAY),
        ),
        (("grounds", STR),),
    ),
    E.APPLICATION_REPORTED: (
        (("applied_on", DAY), ("kind", _enum(APPLICATION))),
        (
            ("employer_name", STR),
            ("employer_business_id", STR),
            ("vacancy_ref", STR),
            ("job_title", STR),
        ),
    ),
    E.SERVICE_REFERRED: (
        (("service_id", STR), ("service_type", _enum(SERVICE)), ("provider", _enum(PROVIDER))),
        (("provider_name", STR),),
    ),
    E.SERVICE_STARTED: ((("service_id", STR),), ()),
    E.SERVICE_ENDED: ((("service_id", STR), ("end_reason", _enum(SERVICE_END))), ()),
    E.DECISION_RECORDED: (
        (("decision_type", STR), ("basis_event_ids", UUIDS)),
        (("text", STR),),
    ),
    E.JOB_SEARCH_ENDED: ((("reason", _enum(END)),), ()),
    E.SEEKER_TRANSFERRED: ((("to_municipality", STR),), ()),
    # the replacement of a correction: its own type's layout, nested (encode_data)
    E.CORRECTION: ((("corrects_event_id", UUID_),), (("reason", STR),)),
    E.RETRACTION: ((("retracts_event_id", UUID_),), (("reason", STR),)),
}
_KNOWN: Final = {t: {n for n, _ in c} | {n for n, _ in p} for t, (c, p) in LAYOUT.items()}
_REPLACEMENT_KEYS: Final = {"type", "occurred_at", "occurred_on", "data"}


class ClearOnly(dict[str, Any]):
    """The ``data`` of an event decoded without its personal part (its seeker's key was
    destroyed): the clear fields only. Equal to a plain dict of the same items."""


def is_erased(event_or_data: object) -> bool:
    """Whether a decoded timeline event (or a fact, or their ``data``) lost its personal
    fields because its seeker's key was destroyed."""
    data = getattr(event_or_data, "data", event_or_data)
    return isinstance(data, ClearOnly)


# -- data ---------------------------------------------------------------------------------------


def _pack(layout: tuple[Field, ...], data: Mapping[str, Any], extras: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    for name, kind in layout:
        v = data.get(name)
        if v is None:
            if name in data:  # an explicit null is content: kept verbatim, in the extras
                extras[name] = None
            out.append(None)
            continue
        try:
            out.append(kind.enc(v))
        except _Unfit:
            extras[name] = v
            out.append(None)
    while out and out[-1] is None:
        out.pop()
    return out


def _unpack(layout: tuple[Field, ...], values: Sequence[Any], into: dict[str, Any]) -> None:
    for (name, kind), v in zip(layout, values, strict=False):
        if v is not None:
            into[name] = kind.dec(v)


def _replacement_fits(rep: Any) -> bool:
    return (
        isinstance(rep, dict)
        and set(rep) == _REPLACEMENT_KEYS
        and isinstance(rep["type"], str)
        and rep["type"] in TYPE_CODES
        and rep["type"] not in (E.CORRECTION, E.RETRACTION)
        and (rep["occurred_at"] is None or isinstance(rep["occurred_at"], str))
        and isinstance(rep["occurred_on"], str)
        and isinstance(rep["data"], dict)
    )


def encode_data(type_: EventType, data: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """(clear, personal) msgpack-ready values of one event's ``data``: clear =
    ``[[fields…], replacement?]``, personal = ``[[fields…], [replacement's]?, {extras}?]``
    with empty trailing parts dropped (personal ``[]``: no personal field at all)."""
    clear_layout, personal_layout = LAYOUT[type_]
    known = _KNOWN[type_]
    extras: dict[str, Any] = {k: v for k, v in data.items() if k not in known}
    clear: list[Any] = [_pack(clear_layout, data, extras)]
    personal: list[Any] = [_pack(personal_layout, data, extras)]
    if type_ == E.CORRECTION and "replacement" in extras:
        rep = extras["replacement"]
        if _replacement_fits(rep):
            del extras["replacement"]
            rep_type = EventType(rep["type"])
            rc, rp = encode_data(rep_type, rep["data"])
            clear.append(
                [TYPE_CODES[rep_type], rep["occurred_at"], _day_enc(rep["occurred_on"]), *rc]
            )
            if rp:
                personal.append(rp)
    if extras:
        personal.append(extras)  # verbatim, and never in clear
    if len(personal) == 1 and not personal[0]:
        personal = []
    return clear, personal


def decode_data(
    type_: EventType, clear: Sequence[Any], personal: Sequence[Any] | None
) -> dict[str, Any]:
    """``data`` from its parts; ``personal`` None (not opened): the clear fields only, as a
    :class:`ClearOnly` dict."""
    clear_layout, personal_layout = LAYOUT[type_]
    out: dict[str, Any] = {} if personal is not None else ClearOnly()
    _unpack(clear_layout, clear[0], out)
    extras: dict[str, Any] = {}
    rep_personal: Sequence[Any] | None = None
    if personal is not None:
        if personal:
            _unpack(personal_layout, personal[0], out)
        for part in personal[1:]:
            if isinstance(part, dict):
                extras = part
            else:
                rep_personal = part
    if len(clear) > 1:
        code, at, on, *rc = clear[1]
        rep_type = TYPE_NAMES[code]
        rep_data = decode_data(
            rep_type,
            rc,
            (rep_personal if rep_personal is not None else [[]]) if personal is not None else None,
        )
        out["replacement"] = {
            "type": rep_type.value,
            "occurred_at": at,
            "occurred_on": _day_dec(on),
            "data": rep_data,
        }
    out.update(extras)
    return out


# -- the whole state -----------------------------------------------------------------------------

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder()


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_uvarint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[i]
        i += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, i
        shift += 7


def _stamp_enc(t: datetime) -> Any:
    return t if t.tzinfo is UTC else t.isoformat()


def _stamp_dec(v: Any) -> datetime:
    return v if isinstance(v, datetime) else datetime.fromisoformat(v)


@dataclass(frozen=True, slots=True)
class Content:
    """One timeline event as form 2 stores it, besides the events table's columns."""

    event_id: str
    recorded_at: datetime
    occurred_on: str
    occurred_at: str | None
    actor: Any
    source: Any
    data: Mapping[str, Any]
    digest_algorithm: int
    #: the aggregate's topic of a ``Timeline.Opened`` when it is not the usual one
    originator_topic: str | None = None


def aad(seeker_id: UUID, event_id: str | bytes, version: int) -> bytes:
    """What a sealed personal part is bound to: seeker ‖ event ‖ version (int32 BE). The event
    as its 16 bytes (its uuid; an id that is no canonical uuid text: its UTF-8)."""
    if isinstance(event_id, str):
        found = _uuid_enc(event_id)
        event = found if isinstance(found, bytes) else event_id.encode("utf-8")
    else:
        event = event_id
    return seeker_id.bytes + event + version.to_bytes(4, "big", signed=True)


def _check_plain(value: Any, where: str) -> None:
    """Refuse what msgpack would not give back as it is: form 2 keeps JSON values only (the
    vocabulary's; text keys, integers within 64 bits), never a tuple, a uuid, a date…"""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                msg = f"{where} holds a key {k!r} that is not text: stored form 2 keeps JSON only"
                raise TypeError(msg)
            _check_plain(v, where)
    elif kind is list:
        for v in value:
            _check_plain(v, where)
    elif kind is int:
        if not -(2**63) <= value < 2**64:
            msg = f"{where} holds an integer beyond 64 bits: stored form 2 keeps JSON only"
            raise TypeError(msg)
    elif kind not in (str, float, bool, type(None)):
        msg = f"{where} holds a {kind.__name__} value: stored form 2 keeps JSON values only"
        raise TypeError(msg)


@functools.lru_cache(maxsize=4096)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def encode(
    c: Content,
    type_: EventType,
    *,
    seeker_id: UUID,
    version: int,
    key: Callable[[], tuple[int, bytes]] | None,
) -> bytes:
    """The ``state`` bytes of an event. ``key`` gives (key version, data key) to seal the
    personal part, called only when there is one (None: plain, for tests; never the
    mapper's way)."""
    if not 0 <= c.digest_algorithm <= 255:
        msg = f"digest algorithm {c.digest_algorithm} does not fit form 2"
        raise ValueError(msg)
    clear_data, personal_data = encode_data(type_, c.data)
    if personal_data and isinstance(personal_data[-1], dict):
        _check_plain(personal_data[-1], "data")
    _check_plain([c.actor, c.source, c.occurred_at], "the envelope")
    event_key = _uuid_enc(c.event_id) if isinstance(c.event_id, str) else c.event_id
    envelope: list[Any] = [
        event_key,
        _stamp_enc(c.recorded_at),
        _day_enc(c.occurred_on) if isinstance(c.occurred_on, str) else c.occurred_on,
    ]
    if c.originator_topic is not None:
        envelope.append(c.originator_topic)
    actor = c.actor
    if (
        isinstance(actor, dict)
        and set(actor) == {"id", "role", "organisation"}
        and all(isinstance(v, str) for v in actor.values())
    ):
        origin: list[Any] = [actor["id"], actor["role"], actor["organisation"], c.source]
    else:  # an actor of another shape: verbatim
        origin = [actor, c.source]
    env = _ENC.encode(envelope)
    clear = _ENC.encode([origin, c.occurred_at, *clear_data])
    head = bytes((FORM, c.digest_algorithm)) + uvarint(len(env)) + env + uvarint(len(clear))
    if not personal_data:
        return head + clear
    plain = _ENC.encode(personal_data)
    if key is None:
        return head + clear + bytes((PLAIN,)) + plain
    key_version, data_key = key()
    nonce = secrets.token_bytes(NONCE_BYTES)
    bound = event_key if isinstance(event_key, bytes) else c.event_id
    sealed = _cipher(data_key).encrypt(nonce, plain, aad(seeker_id, bound, version))
    return head + clear + bytes((SEALED, key_version)) + nonce + sealed


@dataclass(frozen=True, slots=True)
class Parsed:
    """A form-2 state split, nothing decrypted."""

    digest_algorithm: int
    event_id: str
    recorded_at: datetime
    occurred_on: str
    originator_topic: str | None
    actor: Any
    source: Any
    occurred_at: str | None
    clear: list[Any]  # [[clear fields…], replacement?]
    personal: bytes  # as stored (empty: no personal field)
    #: the event id as stored (16 bytes, or its text): what the AAD names
    event_key: Any = None

    @property
    def key_version(self) -> int | None:
        """The data key version a sealed personal part needs (None: nothing sealed)."""
        return self.personal[1] if self.personal and self.personal[0] == SEALED else None


def parse(state: bytes) -> Parsed:
    """Split a form-2 state (ValueError if it is not one)."""
    if not state or state[0] != FORM:
        msg = f"not stored form 2 (first byte {state[:1]!r})"
        raise ValueError(msg)
    n, i = read_uvarint(state, 2)
    envelope = _DEC.decode(state[i : i + n])
    i += n
    n, i = read_uvarint(state, i)
    origin, occurred_at, *clear = _DEC.decode(state[i : i + n])
    if len(origin) == 4:
        actor: Any = {"id": origin[0], "role": origin[1], "organisation": origin[2]}
        source = origin[3]
    else:
        actor, source = origin
    return Parsed(
        digest_algorithm=state[1],
        event_id=_uuid_dec(envelope[0]),
        recorded_at=_stamp_dec(envelope[1]),
        occurred_on=_day_dec(envelope[2]),
        originator_topic=envelope[3] if len(envelope) > 3 else None,
        actor=actor,
        source=source,
        occurred_at=occurred_at,
        clear=clear,
        personal=state[i + n :],
        event_key=envelope[0],
    )


class SealedPartError(ValueError):
    """A sealed personal part that does not open with its seeker's key: altered, or moved
    from another row (the AAD binds it to seeker, event and version)."""


def open_personal(
    p: Parsed, *, seeker_id: UUID, version: int, key: bytes | None
) -> list[Any] | None:
    """The personal values of ``p`` (``[]`` when it has none); None if they are sealed and
    ``key`` is None (the seeker's key was destroyed). Raises :class:`SealedPartError`."""
    part = p.personal
    if not part:
        return []
    if part[0] == PLAIN:
        return list(_DEC.decode(part[1:]))
    if part[0] != SEALED or len(part) < 2 + NONCE_BYTES + TAG_BYTES:
        msg = f"the personal part of event {p.event_id} is malformed"
        raise SealedPartError(msg)
    if key is None:
        return None
    nonce = part[2 : 2 + NONCE_BYTES]
    try:
        bound = p.event_key if isinstance(p.event_key, bytes) else p.event_id
        plain = _cipher(key).decrypt(nonce, part[2 + NONCE_BYTES :], aad(seeker_id, bound, version))
    except InvalidTag:
        msg = (
            f"the sealed personal part of event {p.event_id} (seeker {seeker_id}, version "
            f"{version}) does not open with the seeker's key: it was altered or moved from "
            "another row"
        )
        raise SealedPartError(msg) from None
    return list(_DEC.decode(plain))


def decode_content(p: Parsed, type_: EventType, personal: list[Any] | None) -> Content:
    """The event's content from its parts (``personal`` None: clear fields only)."""
    return Content(
        event_id=p.event_id,
        recorded_at=p.recorded_at,
        occurred_on=p.occurred_on,
        occurred_at=p.occurred_at,
        actor=p.actor,
        source=p.source,
        data=decode_data(type_, p.clear, personal),
        digest_algorithm=p.digest_algorithm,
        originator_topic=p.originator_topic,
    )


def clear_data(type_: EventType, data: Mapping[str, Any]) -> dict[str, Any]:
    """What of ``data`` form 2 keeps in clear (a :class:`ClearOnly` dict): what projections
    and statistics read without any key."""
    clear, _ = encode_data(type_, data)
    return decode_data(type_, clear, None)


# -- the fast paths ------------------------------------------------------------------------------
#
# What the mapper and the projections' decoder call for every event: the same bytes and the same
# values as the general code above (encode, parse, open_personal, decode_content, decode_data),
# which stays the reference and decides every event the fast paths are not sure of (an unknown
# key, an explicit null, a value that does not fit its kind, a correction's replacement, an
# actor of another shape…), as ``timeline.vocabulary.fast`` does for import lines. What makes
# them faster: no ``Parsed``/``Content`` objects, no call for a value stored as it is (text,
# integers, instants, lists of text), enumerations as a dict or tuple look-up, and the days
# memoised (a store names a few thousand distinct days). tests/unit/test_form2_fast.py holds
# them to the general code on every type and edge value, and to bytes main's code wrote.

#: memo size of each day table (a day's text ⇄ its number: ~100 B an entry)
_MEMO: Final = 100_000
_DAY_NUMBER: dict[str, Any] = {}  # day text → what _day_enc stores for it
_DAY_TEXT: dict[int, str] = {}  # days since 1970 → the day's ISO text
_DAY_DATE: dict[int, date] = {}  # days since 1970 → the date


def _day_number(v: str) -> Any:
    """``_day_enc(v)`` of a text ``v``, memoised."""
    found = _DAY_NUMBER.get(v)
    if found is None:
        found = _day_enc(v)
        if len(_DAY_NUMBER) < _MEMO:
            _DAY_NUMBER[v] = found
    return found


def _day_text(v: Any) -> Any:
    """``_day_dec(v)``, memoised for day numbers."""
    if type(v) is not int:
        return _day_dec(v)
    found = _DAY_TEXT.get(v)
    if found is None:
        found = _day_dec(v)
        if len(_DAY_TEXT) < _MEMO:
            _DAY_TEXT[v] = found
    return found


def day_date(v: Any) -> date:
    """The date of an envelope's stored ``occurred_on``: ``date.fromisoformat(_day_dec(v))``,
    memoised for day numbers (dates are immutable: one object serves every event)."""
    if type(v) is not int:
        return date.fromisoformat(_day_dec(v))
    found = _DAY_DATE.get(v)
    if found is None:
        found = date.fromisoformat(_day_dec(v))
        if len(_DAY_DATE) < _MEMO:
            _DAY_DATE[v] = found
    return found


# encoding ops: text stored as it is (STR, INSTANT), a 64-bit integer, a day (memoised), an
# enumeration's index (the dict), or the kind's own ``enc`` (raising _Unfit)
_AS_TEXT: Final = "text"
_AS_INT: Final = "int"
_AS_DAY: Final = "day"
_EncOp = str | dict[str, int] | Callable[[Any], Any]


def _enc_op(kind: Kind) -> _EncOp:
    if kind is STR or kind is INSTANT:
        return _AS_TEXT
    if kind is INT:
        return _AS_INT
    if kind is DAY:
        return _AS_DAY
    if kind.name == "enum":
        return {v: i for i, v in enumerate(kind.codes)}
    return kind.enc


def _dec_op(kind: Kind) -> Callable[[Any], Any] | None:
    """None: the stored value is the value (no call)."""
    if kind.dec is _same:
        return None
    if kind is DAY:
        return _day_text
    return kind.dec


_ENC_OPS: Final = {
    t: (tuple((n, _enc_op(k)) for n, k in c), tuple((n, _enc_op(k)) for n, k in p))
    for t, (c, p) in LAYOUT.items()
}
_DEC_OPS: Final = {
    t: (tuple((n, _dec_op(k)) for n, k in c), tuple((n, _dec_op(k)) for n, k in p))
    for t, (c, p) in LAYOUT.items()
}
_INT_MIN: Final = -(2**63)
_INT_END: Final = 2**64


def _pack_fast(  # noqa: PLR0912 - one flat chain of tests per field: the point of it
    ops: tuple[tuple[str, _EncOp], ...], data: dict[str, Any]
) -> list[Any] | None:
    """``_pack`` of ``data`` with nothing for the extras; None when something would go there
    (an explicit null, a value not of its kind's type)."""
    out: list[Any] = []
    for name, op in ops:
        v = data.get(name)
        if v is None:
            if name in data:
                return None
            out.append(None)
        elif op is _AS_TEXT:
            if type(v) is not str:
                return None
            out.append(v)
        elif type(op) is dict:
            if type(v) is not str:
                return None
            out.append(op.get(v, v))
        elif op is _AS_DAY:
            if type(v) is not str:
                return None
            out.append(_day_number(v))
        elif op is _AS_INT:
            if type(v) is not int or not _INT_MIN <= v < _INT_END:
                return None
            out.append(v)
        else:
            try:
                out.append(op(v))  # type: ignore[operator]
            except _Unfit:
                return None
    while out and out[-1] is None:
        out.pop()
    return out


def _encode_data_fast(type_: EventType, data: Any) -> tuple[list[Any], list[Any]] | None:
    """``encode_data(type_, data)`` when ``data`` has no extras (no unknown key, no replacement,
    no explicit null, every value of its kind's type); None otherwise."""
    if type(data) is not dict or not data.keys() <= _KNOWN[type_]:
        return None
    clear_ops, personal_ops = _ENC_OPS[type_]
    clear = _pack_fast(clear_ops, data)
    if clear is None:
        return None
    personal = _pack_fast(personal_ops, data) if personal_ops else []
    if personal is None:
        return None
    return [clear], ([personal] if personal else [])


def _head(n: int) -> bytes:
    return bytes((n,)) if n < 0x80 else uvarint(n)


def encode_event(
    type_: EventType,
    *,
    event_id: Any,
    recorded_at: Any,
    occurred_on: Any,
    occurred_at: Any,
    actor: Any,
    source: Any,
    data: Any,
    digest_algorithm: Any,
    originator_topic: str | None,
    seeker_id: UUID,
    version: int,
    key: Callable[[], tuple[int, bytes]] | None,
) -> bytes:
    """``encode(Content(…), type_, …)``, byte for byte (the seal's nonce aside), faster for the
    usual event; anything else goes through :func:`encode`."""
    parts = None
    if (
        type(event_id) is str
        and type(recorded_at) is datetime
        and type(occurred_on) is str
        and (occurred_at is None or type(occurred_at) is str)
        and (source is None or type(source) is str)
        and type(digest_algorithm) is int
        and 0 <= digest_algorithm <= 255
        and type(actor) is dict
        and len(actor) == 3
    ):
        actor_id, role, organisation = actor.get("id"), actor.get("role"), actor.get("organisation")
        if type(actor_id) is str and type(role) is str and type(organisation) is str:
            parts = _encode_data_fast(type_, data)
    if parts is None:
        content = Content(
            event_id=event_id,
            recorded_at=recorded_at,
            occurred_on=occurred_on,
            occurred_at=occurred_at,
            actor=actor,
            source=source,
            data=data,
            digest_algorithm=digest_algorithm,
            originator_topic=originator_topic,
        )
        return encode(content, type_, seeker_id=seeker_id, version=version, key=key)
    clear_data, personal_data = parts
    event_key = _uuid_enc(event_id)
    envelope: list[Any] = [
        event_key,
        recorded_at if recorded_at.tzinfo is UTC else recorded_at.isoformat(),
        _day_number(occurred_on),
    ]
    if originator_topic is not None:
        envelope.append(originator_topic)
    env = _ENC.encode(envelope)
    clear = _ENC.encode([[actor_id, role, organisation, source], occurred_at, *clear_data])
    head = b"".join(
        (bytes((FORM, digest_algorithm)), _head(len(env)), env, _head(len(clear)), clear)
    )
    if not personal_data:
        return head
    plain = _ENC.encode(personal_data)
    if key is None:
        return b"".join((head, bytes((PLAIN,)), plain))
    key_version, data_key = key()
    nonce = secrets.token_bytes(NONCE_BYTES)
    bound = event_key if isinstance(event_key, bytes) else event_id.encode("utf-8")
    sealed = _cipher(data_key).encrypt(
        nonce, plain, seeker_id.bytes + bound + version.to_bytes(4, "big", signed=True)
    )
    return b"".join((head, bytes((SEALED, key_version)), nonce, sealed))


def _split(state: bytes) -> tuple[list[Any], list[Any], bytes]:
    """(envelope, clear part, personal bytes) of a form-2 state, as :func:`parse` reads them."""
    if not state or state[0] != FORM:
        msg = f"not stored form 2 (first byte {state[:1]!r})"
        raise ValueError(msg)
    n = state[2]
    if n < 0x80:
        i = 3
    else:
        n, i = read_uvarint(state, 2)
    j = i + n
    envelope = _DEC.decode(state[i:j])
    n = state[j]
    if n < 0x80:
        i = j + 1
    else:
        n, i = read_uvarint(state, j)
    j = i + n
    return envelope, _DEC.decode(state[i:j]), state[j:]


def _decode_data_fast(
    type_: EventType, clear: Sequence[Any], personal: Sequence[Any] | None
) -> dict[str, Any]:
    """``decode_data(type_, clear, personal)``; the general code for a replacement or extras."""
    if len(clear) != 1 or (personal is not None and len(personal) > 1):
        return decode_data(type_, clear, personal)
    clear_ops, personal_ops = _DEC_OPS[type_]
    out: dict[str, Any] = {} if personal is not None else ClearOnly()
    # (zip without strict=: the keyword alone costs ~70 ns a call; shorter values are the
    # trailing nils dropped, as _unpack reads them)
    for (name, dec), v in zip(clear_ops, clear[0]):  # noqa: B905
        if v is not None:
            out[name] = v if dec is None else dec(v)
    if personal:
        for (name, dec), v in zip(personal_ops, personal[0]):  # noqa: B905
            if v is not None:
                out[name] = v if dec is None else dec(v)
    return out


#: (digest algorithm, event id, recorded at, occurred on, originator topic or None, actor,
#: source, occurred at, data)
Decoded = tuple[int, Any, datetime, Any, Any, Any, Any, Any, dict[str, Any]]


def decode_event(
    state: bytes,
    type_: EventType,
    *,
    seeker_id: UUID,
    version: int,
    key: Callable[[int], bytes | None],
) -> Decoded:
    """What ``decode_content(parse(state), type_, open_personal(…))`` gives, as a tuple (see
    :data:`Decoded`). ``key(key_version)`` gives the data key a sealed part needs (None: it was
    destroyed, and ``data`` is a :class:`ClearOnly` dict); raises as the general code does."""
    envelope, clear, part = _split(state)
    origin, occurred_at, *rest = clear
    if len(origin) == 4:
        actor: Any = {"id": origin[0], "role": origin[1], "organisation": origin[2]}
        source = origin[3]
    else:
        actor, source = origin
    event_key = envelope[0]
    if type(event_key) is bytes and len(event_key) == 16:
        h = event_key.hex()
        event_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    else:
        event_id = _uuid_dec(event_key)
    personal: list[Any] | None
    if not part:
        personal = []
    elif part[0] == SEALED:
        data_key = key(part[1])
        if data_key is None or len(part) < 2 + NONCE_BYTES + TAG_BYTES:
            # destroyed (None), or malformed (raises, with the general code's message)
            personal = open_personal(
                parse(state), seeker_id=seeker_id, version=version, key=data_key
            )
        else:
            bound = event_key if isinstance(event_key, bytes) else event_id
            try:
                plain = _cipher(data_key).decrypt(
                    part[2 : 2 + NONCE_BYTES],
                    part[2 + NONCE_BYTES :],
                    aad(seeker_id, bound, version),
                )
            except InvalidTag:
                personal = open_personal(
                    parse(state), seeker_id=seeker_id, version=version, key=data_key
                )  # raises SealedPartError, with its message
            else:
                personal = list(_DEC.decode(plain))
    else:  # plain (tests) or malformed: the general code
        personal = open_personal(parse(state), seeker_id=seeker_id, version=version, key=None)
    stamp = envelope[1]
    return (
        state[1],
        event_id,
        stamp if type(stamp) is datetime else _stamp_dec(stamp),
        _day_text(envelope[2]),
        envelope[3] if len(envelope) > 3 else None,
        actor,
        source,
        occurred_at,
        _decode_data_fast(type_, rest, personal),
    )


#: (event id, recorded at, stored occurred on — see :func:`day_date`, actor, source, occurred
#: at, clear data)
Clear = tuple[Any, datetime, Any, Any, Any, Any, dict[str, Any]]


def decode_clear(state: bytes, type_: EventType) -> Clear:
    """The clear part of ``state`` alone (no key, nothing decrypted): what
    ``decode_content(parse(state), type_, None)`` gives, as a tuple (see :data:`Clear`)."""
    envelope, clear, _ = _split(state)
    origin, occurred_at, *rest = clear
    if len(origin) == 4:
        actor: Any = {"id": origin[0], "role": origin[1], "organisation": origin[2]}
        source = origin[3]
    else:
        actor, source = origin
    event_key, stamp, occurred_on = envelope[:3]
    if type(event_key) is bytes and len(event_key) == 16:
        h = event_key.hex()
        event_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    else:
        event_id = _uuid_dec(event_key)
    return (
        event_id,
        stamp if type(stamp) is datetime else _stamp_dec(stamp),
        occurred_on,
        actor,
        source,
        occurred_at,
        _decode_data_fast(type_, rest, None),
    )
