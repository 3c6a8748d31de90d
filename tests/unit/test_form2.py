"""Stored form 2 (src/timeline/store/form2.py): lossless for every type — the vocabulary's
values, values that do not fit their field's kind, unknown keys, corrections with
replacements — with nothing personal or unknown in the clear part, the personal part bound to
its row, and the timeline's mapper writing it and reading both forms."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timeline.domain.event_types import EventType
from timeline.domain.timeline import EVENT_CLASSES, Timeline
from timeline.store import form2
from timeline.store.form2 import LAYOUT, Content, SealedPartError, is_erased
from timeline.store.keys import KeyRing, MemoryKeyTable
from timeline.store.mapper import TimelineMapper

KINDS = {
    "str": st.text(max_size=12),
    "int": st.integers(-(2**63), 2**64 - 1),
    "day": st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat),
    "instant": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    "uuid": st.uuids().map(str),
    "uuids": st.lists(st.uuids().map(str), max_size=3),
    "hex32": st.binary(min_size=32, max_size=32).map(bytes.hex),
    "strs": st.lists(st.text(max_size=8), max_size=3),
}
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
#: values that do not fit a field: an unknown code, a day or uuid not in canonical form,
#: another JSON type, an explicit null
ODD = (
    st.sampled_from(
        ["no_such_code", "2025-6-1", "2025-02-30", "ABCDEF00-0000-0000-0000-000000000000", "A" * 64]
    )
    | JSON
)


ENUMS = (
    *(form2.LMS, form2.CHANNEL, form2.MEETING, form2.MISS, form2.PLAN, form2.APPLICATION),
    *(form2.SERVICE, form2.PROVIDER, form2.SERVICE_END, form2.END, form2.DIRECTION, form2.PERIOD),
)


def _field_value(kind: form2.Kind) -> st.SearchStrategy[Any]:
    if kind.name == "enum":
        codes = next(
            values for values in ENUMS if kind.enc(values[0]) == 0 and kind.dec(0) == values[0]
        )
        return st.sampled_from(codes)
    return KINDS[kind.name]


@st.composite
def data_of(draw: st.DrawFn, type_: EventType, *, nested: bool = True) -> dict[str, Any]:
    clear, personal = LAYOUT[type_]
    out: dict[str, Any] = {}
    for name, kind in clear + personal:
        choice = draw(st.sampled_from(["absent", "fit", "fit", "odd"]))
        if choice == "fit":
            out[name] = draw(_field_value(kind))
        elif choice == "odd":
            out[name] = draw(ODD)
    out.update(draw(st.dictionaries(st.sampled_from(["later_field", "x", "municipality2"]), JSON)))
    if type_ == EventType.CORRECTION and nested and draw(st.booleans()):
        rep_type = draw(st.sampled_from([t for t in EventType if t not in form2_amendments]))
        out["replacement"] = draw(
            st.fixed_dictionaries(
                {
                    "type": st.just(rep_type.value),
                    "occurred_at": st.none() | KINDS["instant"],
                    "occurred_on": KINDS["day"] | st.just("2025-1-1"),
                    "data": data_of(rep_type, nested=False),
                }
            )
            | JSON
        )
    return out


form2_amendments = (EventType.CORRECTION, EventType.RETRACTION)


@st.composite
def contents(draw: st.DrawFn) -> tuple[EventType, Content]:
    type_ = draw(st.sampled_from(list(EventType)))
    actor = draw(
        st.fixed_dictionaries(
            {"id": st.text(max_size=8), "role": st.text(max_size=8), "organisation": st.text()}
        )
        | st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2)
    )
    stamp = draw(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)))
    zone = draw(st.sampled_from([UTC, timezone(timedelta(hours=2))]))
    return type_, Content(
        event_id=draw(st.uuids().map(str) | st.text(max_size=10)),
        recorded_at=stamp.replace(tzinfo=zone),
        occurred_on=draw(KINDS["day"] | st.just("2025-1-1")),
        occurred_at=draw(st.none() | KINDS["instant"]),
        actor=actor,
        source=draw(st.none() | st.text(max_size=8)),
        data=draw(data_of(type_)),
        digest_algorithm=draw(st.sampled_from([1, 2])),
        originator_topic=draw(st.none() | st.just("timeline.domain.old:Timeline")),
    )


KEY = (1, secrets.token_bytes(32))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(contents(), st.booleans())
def test_decode_of_encode_is_the_event_for_every_type(
    case: tuple[EventType, Content], sealed: bool
) -> None:
    type_, content = case
    seeker, version = uuid4(), 7
    state = form2.encode(
        content, type_, seeker_id=seeker, version=version, key=(lambda: KEY) if sealed else None
    )
    parsed = form2.parse(state)
    personal = form2.open_personal(parsed, seeker_id=seeker, version=version, key=KEY[1])
    assert form2.decode_content(parsed, type_, personal) == content
    # the clear part alone: the clear fields, nothing else, and no key needed
    clear_only = form2.decode_content(parsed, type_, None)
    assert is_erased(clear_only.data)
    assert clear_only.data == form2.clear_data(type_, content.data)
    assert set(clear_only.data) <= {n for n, _ in LAYOUT[type_][0]} | {"replacement"}


def _state(type_: EventType, data: dict[str, Any], **kw: Any) -> tuple[bytes, UUID, str]:
    seeker, event_id = uuid4(), str(uuid4())
    content = Content(
        event_id=event_id,
        recorded_at=datetime(2025, 6, 2, 9, tzinfo=UTC),
        occurred_on="2025-06-02",
        occurred_at=None,
        actor={"id": "caseworker:1", "role": "coach", "organisation": "398"},
        source="backend",
        data=data,
        digest_algorithm=2,
    )
    return (
        form2.encode(content, type_, seeker_id=seeker, version=3, key=lambda: KEY),
        seeker,
        event_id,
    )


PERSON_REF = "ab" * 32
PERSONAL = {
    EventType.JOB_SEARCH_STARTED: {
        "municipality": "398",
        "labour_market_status": "unemployed",
        "person_ref": PERSON_REF,
        "birth_year": 1987,
        "language": "sv-FI",
        "channel": "walk-in desk Kallio",
    },
    EventType.APPLICATION_REPORTED: {
        "applied_on": "2025-06-02",
        "kind": "vacancy",
        "employer_name": "Konepaja Virtanen Oy",
        "employer_business_id": "0737546-2",
        "vacancy_ref": "TE-2025-88121",
        "job_title": "CNC-koneistaja",
        "a_later_field": "unknown keys are personal",
    },
    EventType.CONTACT_MADE: {
        "channel": "phone",
        "direction": "outbound",
        "purpose": "velkaneuvonta",
    },
    EventType.CORRECTION: {
        "corrects_event_id": str(uuid4()),
        "reason": "typo in the employer",
        "replacement": {
            "type": "application_reported",
            "occurred_at": None,
            "occurred_on": "2025-06-01",
            "data": {"applied_on": "2025-06-01", "kind": "vacancy", "employer_name": "Oy Ab Ltd"},
        },
    },
}


@pytest.mark.parametrize("type_", list(PERSONAL))
def test_no_personal_value_is_in_clear_and_the_clear_fields_need_no_key(type_: EventType) -> None:
    data = PERSONAL[type_]
    state, _, _ = _state(type_, data)
    for value in _texts(data, personal_only=type_):
        assert value.encode() not in state, value
    assert bytes.fromhex(PERSON_REF) not in state
    clear = form2.decode_content(form2.parse(state), type_, None).data
    assert clear == _clear_expected(type_)


def _clear_expected(type_: EventType) -> dict[str, Any]:
    return {
        EventType.JOB_SEARCH_STARTED: {"municipality": "398", "labour_market_status": "unemployed"},
        EventType.APPLICATION_REPORTED: {"applied_on": "2025-06-02", "kind": "vacancy"},
        EventType.CONTACT_MADE: {"channel": "phone", "direction": "outbound"},
        EventType.CORRECTION: {
            "corrects_event_id": PERSONAL[EventType.CORRECTION]["corrects_event_id"],
            "replacement": {
                "type": "application_reported",
                "occurred_at": None,
                "occurred_on": "2025-06-01",
                "data": {"applied_on": "2025-06-01", "kind": "vacancy"},
            },
        },
    }[type_]


def _texts(data: dict[str, Any], personal_only: EventType) -> list[str]:
    clear_names = {n for n, _ in LAYOUT[personal_only][0]}
    out = []
    for k, v in data.items():
        if k in clear_names:
            continue
        if isinstance(v, str):
            out.append(v)
        elif k == "replacement":
            out.append(v["data"]["employer_name"])
    return out


def test_a_sealed_part_opens_only_in_its_own_row() -> None:
    state, seeker, _ = _state(EventType.CONTACT_MADE, PERSONAL[EventType.CONTACT_MADE])
    parsed = form2.parse(state)
    assert form2.open_personal(parsed, seeker_id=seeker, version=3, key=KEY[1]) is not None
    for other_seeker, version in ((uuid4(), 3), (seeker, 4)):
        with pytest.raises(SealedPartError, match="moved from another row"):
            form2.open_personal(parsed, seeker_id=other_seeker, version=version, key=KEY[1])
    other = form2.parse(_state(EventType.CONTACT_MADE, {"purpose": "x"})[0])
    moved = form2.Parsed(**{**_fields(other), "personal": parsed.personal})
    with pytest.raises(SealedPartError):  # another event's id in the AAD
        form2.open_personal(moved, seeker_id=seeker, version=3, key=KEY[1])
    flipped = bytearray(parsed.personal)
    flipped[-1] ^= 1
    altered = form2.Parsed(**{**_fields(parsed), "personal": bytes(flipped)})
    with pytest.raises(SealedPartError):
        form2.open_personal(altered, seeker_id=seeker, version=3, key=KEY[1])
    # without the key (destroyed): the clear part, and None for the personal values
    assert form2.open_personal(parsed, seeker_id=seeker, version=3, key=None) is None


def _fields(p: form2.Parsed) -> dict[str, Any]:
    return {name: getattr(p, name) for name in form2.Parsed.__slots__}


def test_an_event_without_personal_fields_has_no_personal_part() -> None:
    state, _, _ = _state(EventType.COACH_ASSIGNED, {"coach_id": "c-1", "team": "t"})
    assert form2.parse(state).personal == b""
    # values: codes as their index, days as day numbers, the person_ref as 32 bytes
    state, _, _ = _state(EventType.MEETING_MISSED, {"kind": "other", "reason": "no_show"})
    assert b"no_show" not in state and b"other" not in state


# -- the mapper ---------------------------------------------------------------------------------


def _mapper(keys: KeyRing | None = None) -> TimelineMapper:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # the application's
        transcoder.register(transcoding)
    return TimelineMapper(transcoder, keys or KeyRing(MemoryKeyTable(), secrets.token_bytes(32)))


def _domain_event(type_: EventType, data: dict[str, Any], version: int) -> Any:
    fields = {
        "originator_id": uuid4(),
        "originator_version": version,
        "timestamp": datetime(2025, 6, 2, 9, 30, 1, 123456, tzinfo=UTC),
        "event_id": str(uuid4()),
        "occurred_at": "2025-06-02T12:30:00+03:00",
        "occurred_on": "2025-06-02",
        "actor": {"id": "caseworker:1", "role": "coach", "organisation": "398"},
        "source": "backend",
        "data": data,
        "digest_algorithm": 2,
    }
    if version == 1:
        return Timeline.Opened(originator_topic="timeline.domain.timeline:Timeline", **fields)
    return EVENT_CLASSES[type_](**fields)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(EventType)).flatmap(lambda t: st.tuples(st.just(t), data_of(t))))
def test_the_mapper_writes_form_2_and_reads_both_forms(case: tuple[EventType, Any]) -> None:
    type_, data = case
    mapper = _mapper()
    for version in (1, 2) if type_ == EventType.JOB_SEARCH_STARTED else (2,):
        event = _domain_event(type_, data, version)
        stored = mapper.to_stored_event(event)
        assert stored.state[0] == form2.FORM
        assert vars(mapper.to_domain_event(stored)) == vars(event)
        old = Mapper.to_stored_event(mapper, event)  # the library's JSON (form 1)
        assert old.state[:1] == b"{"
        assert vars(mapper.to_domain_event(old)) == vars(event)


def test_an_erased_seekers_event_decodes_to_its_clear_fields() -> None:
    keys = KeyRing(MemoryKeyTable(), secrets.token_bytes(32))
    mapper = _mapper(keys)
    event = _domain_event(
        EventType.APPLICATION_REPORTED, PERSONAL[EventType.APPLICATION_REPORTED], 2
    )
    stored = mapper.to_stored_event(event)
    assert not is_erased(mapper.to_domain_event(stored))
    keys.destroy([event.originator_id], datetime(2026, 1, 1, tzinfo=UTC))
    erased = mapper.to_domain_event(stored)
    assert is_erased(erased) and type(erased) is Timeline.ApplicationReported
    assert erased.data == {"applied_on": "2025-06-02", "kind": "vacancy"}
    assert {k: v for k, v in vars(erased).items() if k != "data"} == {
        k: v for k, v in vars(event).items() if k != "data"
    }
    # an event with no personal part reads whole: nothing of it was sealed
    plain = mapper.to_stored_event(_domain_event(EventType.COACH_ASSIGNED, {"coach_id": "c"}, 3))
    assert not is_erased(mapper.to_domain_event(plain))


def test_an_event_of_another_shape_goes_the_librarys_way() -> None:
    mapper = _mapper()
    event = _domain_event(EventType.JOB_SEARCH_STARTED, {}, 1)
    event.__dict__["something_else"] = 1  # not the shape form 2 knows
    stored = mapper.to_stored_event(event)
    assert stored.state[:1] == b"{"
    assert vars(mapper.to_domain_event(stored)) == vars(event)


def test_text_with_every_kind_of_character_round_trips() -> None:
    text = string.printable + "äöå€\u0000\U0001f600"
    mapper = _mapper()
    event = _domain_event(
        EventType.CONTACT_MADE, {"channel": "phone", "direction": "inbound", "purpose": text}, 2
    )
    assert vars(mapper.to_domain_event(mapper.to_stored_event(event))) == vars(event)


def test_every_code_of_the_vocabulary_has_its_stored_number() -> None:
    """The code lists are written out, not derived from the vocabulary's ``Literal``s: a
    stored number must mean the same for ever, whatever order the vocabulary later lists its
    codes in. So a code added to the vocabulary must be appended to its list here too (until
    then it is stored verbatim: lossless, but larger)."""
    from typing import get_args

    from timeline.vocabulary import fields

    pairs = {
        "LabourMarketStatus": (fields.LabourMarketStatus, form2.LMS),
        "ContactChannel": (fields.ContactChannel, form2.CHANNEL),
        "MeetingKind": (fields.MeetingKind, form2.MEETING),
        "MissReason": (fields.MissReason, form2.MISS),
        "PlanKind": (fields.PlanKind, form2.PLAN),
        "ApplicationKind": (fields.ApplicationKind, form2.APPLICATION),
        "ServiceType": (fields.ServiceType, form2.SERVICE),
        "EndReason": (fields.EndReason, form2.END),
    }
    missing = {
        name: sorted(set(get_args(literal)) - set(codes))
        for name, (literal, codes) in pairs.items()
        if set(get_args(literal)) - set(codes)
    }
    assert missing == {}
