"""The import's fast parse (:func:`timeline.vocabulary.fast.parse_line`) against the one parser
of the vocabulary, :func:`parse_event`: on events of every type, valid and mutated field by field
into every edge of docs/events.md (ranges, lengths, codes, checksums, control characters, JSON
types, unknown and missing fields), whatever the fast path returns is exactly what
``parse_event(json.loads(line))`` returns (equal, dicts in the same key order, the same identity
code), and it returns nothing for a line that parse_event refuses. And it does earn its keep: it
takes every line of a demo file."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from timeline.demo import generate
from timeline.vocabulary import EventValidationError, ParsedEvent, parse_event
from timeline.vocabulary.fast import parse_line

# --- the differential check ------------------------------------------------------------------


def _shape(event: ParsedEvent) -> str:
    """Everything of a ParsedEvent, dict key order included (the stored JSON keeps it)."""
    return json.dumps(dataclasses.asdict(event), default=str)


def check(line: bytes, *, allow: bool = True) -> ParsedEvent | None:
    """Assert the fast path agrees with parse_event on ``line``; its answer."""
    try:
        expected: ParsedEvent | None = parse_event(
            json.loads(line.decode("utf-8")), allow_test_identity_codes=allow
        )
    except (ValueError, RecursionError, EventValidationError):
        expected = None
    got = parse_line(line, allow_test_identity_codes=allow)
    if got is not None:
        assert expected is not None, f"the fast path accepted what parse_event refuses: {line!r}"
        assert got == expected, line
        assert got.personal_identity_code == expected.personal_identity_code, line
        assert _shape(got) == _shape(expected), line
        assert type(got.type) is type(expected.type)
    return got


# --- values: valid ones and the edges --------------------------------------------------------

_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_SIGNS = {1800: "+", 1900: "-", 2000: "A"}


def _hetu(day: date, individual: int) -> str:
    century = day.year // 100 * 100
    digits = f"{day:%d%m}{day.year % 100:02d}{individual:03d}"
    return (
        f"{day:%d%m}{day.year % 100:02d}{_SIGNS[century]}{individual:03d}"
        + _CHECK[int(digits) % 31]
    )


def _ytunnus(number: int) -> str:
    digits = f"{number:07d}"
    total = sum(int(d) * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    check = 0 if total == 0 else 11 - total
    return f"{digits}-{check}"


identity_codes = st.one_of(
    st.builds(
        _hetu,
        st.dates(date(1900, 1, 1), date(2025, 12, 31)),
        st.integers(2, 999),  # 900–999: temporary codes, only with allow_test_identity_codes
    ),
    st.sampled_from(["131052-308T", "131052-308t", "131052-308U", "131052X308T", " 131052-308T"]),
    st.builds(
        lambda c: c[:-1],
        st.builds(_hetu, st.dates(date(1950, 1, 1), date(2025, 1, 1)), st.just(123)),
    ),
)
good_codes = st.builds(_hetu, st.dates(date(1900, 1, 1), date(2025, 12, 31)), st.integers(2, 899))
good_business_ids = st.builds(_ytunnus, st.integers(0, 9_999_999))
business_ids = st.one_of(
    st.builds(_ytunnus, st.integers(0, 9_999_999)),
    st.builds(lambda y: y.replace("-", ""), st.builds(_ytunnus, st.integers(0, 9_999_999))),
    st.sampled_from(["0737546-2", "0737546-3", "737546-2", "FI07375462", "0737546-2 "]),
)

_CONTROL = ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\ud800", "\udfff"]
edge_texts = st.one_of(
    st.sampled_from(["", "a", "ab", "a" * 8, "a" * 9, "a" * 199, "a" * 200, "a" * 201]),
    st.sampled_from(["ä" * 200, "ä" * 201, "😀" * 200, "😀" * 201, "\u00a0", "\\", '"', "\u2028"]),
    st.builds(lambda c, s: f"x{c}{s}", st.sampled_from(_CONTROL), st.text(max_size=3)),
    st.text(max_size=12),
)
#: text the vocabulary accepts (no control characters or surrogates): 1–30 characters
good_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30
)
texts = st.one_of(good_texts, edge_texts)
not_strings = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just([]),
    st.just({}),
    st.lists(st.text(max_size=3), max_size=2),
)

_OFFSETS = [
    UTC,
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=3)),
    timezone(timedelta(hours=-11, minutes=-30)),
    timezone(timedelta(hours=14)),
]
_SPECS = ["auto", "seconds", "minutes", "milliseconds", "microseconds"]


def _instant(d: datetime, tz: timezone, spec: str) -> str:
    return d.replace(tzinfo=tz).isoformat(timespec=spec)


good_instants = st.builds(
    _instant,
    st.datetimes(datetime(1990, 1, 2), datetime(2099, 12, 30)),
    st.sampled_from(_OFFSETS),
    st.sampled_from(_SPECS),
)
instants = st.one_of(
    good_instants,
    st.builds(
        _instant,
        st.datetimes(datetime(1989, 12, 30), datetime(2100, 1, 2)),
        st.sampled_from(_OFFSETS),
        st.sampled_from(_SPECS),
    ),
    st.builds(lambda d: d.isoformat(), st.datetimes(datetime(1990, 1, 2), datetime(2099, 1, 1))),
    st.sampled_from(
        [
            "1989-12-31T21:59:59Z",  # Helsinki 1989-12-31 23:59:59: out of range
            "1989-12-31T22:00:00Z",  # Helsinki 1990-01-01 00:00: in range
            "1990-01-01T00:00:00+02:00",
            "2099-12-31T21:59:59Z",
            "2099-12-31T22:00:00Z",  # Helsinki 2100-01-01: out of range
            "2099-12-31T23:59:59-12:00",
            "2025-06-01T12:00:00",  # no offset
            "2025-06-01T12:00:00+03:00",
            "2025-06-01T12:00:00.5+03:00",
            "2025-06-01T12:00:00.1234567+03:00",
            "2025-06-01T12:00+03",
            "2025-06-01 12:00:00+03:00",
            "2025-06-01t12:00:00z",
            "2025-06-01T12:00:00Z",
            "20250601T120000+0300",
            "2025-06-01T24:00:00+03:00",
            "2025-06-01",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59+00:00",
            "not a time",
        ]
    ),
)
good_days = st.builds(date.isoformat, st.dates(date(1990, 1, 1), date(2099, 12, 31)))
days = st.one_of(
    good_days,
    st.builds(date.isoformat, st.dates(date(1989, 12, 1), date(2100, 2, 1))),
    st.sampled_from(
        [
            "1989-12-31",
            "1990-01-01",
            "2099-12-31",
            "2100-01-01",
            "2024-02-29",
            "2025-02-29",
            "2025-1-01",
            "20250101",
            "2025-W01-1",
            "2025-06-02T00:00:00",
            "٢٠٢٥-٠٦-٠٢",
            "0001-01-01",
        ]
    ),
)
good_uuids = st.builds(str, st.uuids())
uuids = st.one_of(
    good_uuids,
    st.builds(lambda u: str(u).upper(), st.uuids()),
    st.builds(lambda u: u.hex, st.uuids()),
    st.builds(lambda u: "{" + str(u) + "}", st.uuids()),
    st.builds(lambda u: u.urn, st.uuids()),
    st.sampled_from(["", "x", "00000000-0000-0000-0000-00000000000g"]),
)
good_municipalities = st.from_regex(r"\A[0-9]{3}\Z")
municipalities = st.one_of(
    good_municipalities, st.sampled_from(["91", "0910", "abc", "٣٩٨", "398 ", "39 8"])
)


def ints(low: int, high: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(low, high),
        st.sampled_from([low - 1, low, high, high + 1, float(low), True, False, str(low)]),
    )


def choice(*values: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), st.sampled_from(["", "other ", "OTHER", "x"]))


_STATUS = ("unemployed", "laid_off", "part_time", "employed", "student", "outside_labour_force")
_CHANNEL = ("phone", "video", "in_person", "message", "letter")
_MEETING = (
    "initial_interview",
    "job_search_conversation",
    "supplementary_conversation",
    "intensified_period_conversation",
    "other",
)
_SERVICE = ("labour_market_training", "coaching", "work_trial", "pay_subsidy", "other")
_MISS = ("no_show", "cancelled_by_seeker", "cancelled_by_service", "illness", "other")
_PLANS = ("employment_plan", "integration_plan", "activation_plan", "multisectoral_plan")
_APPLICATIONS = ("vacancy", "open_application", "agency_registration", "other_agreed")
_END_REASONS = ("employed_open_market", "studies", "moved_abroad", "not_renewed", "other")


def one(*values: str) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """A closed code set: (its codes, its codes and near misses)."""
    return st.sampled_from(values), choice(*values)


def counted(low: int, high: int) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    return st.integers(low, high), ints(low, high)


TEXT = (good_texts, texts)
#: each recording type's fields: name -> (required, (valid values, values with the edges))
FIELDS: dict[str, dict[str, tuple[bool, tuple[st.SearchStrategy[Any], ...]]]] = {
    "job_search_started": {
        "municipality": (True, (good_municipalities, municipalities)),
        "labour_market_status": (True, one(*_STATUS)),
        "personal_identity_code": (False, (good_codes, identity_codes)),
        "birth_year": (False, counted(1900, 2100)),
        "language": (False, (st.sampled_from(["fi", "sv", "en", "se-FI", "x" * 8]), texts)),
        "channel": (False, TEXT),
    },
    "coach_assigned": {"coach_id": (True, TEXT), "team": (False, TEXT)},
    "labour_market_status_changed": {"labour_market_status": (True, one(*_STATUS))},
    "contact_made": {
        "channel": (True, one(*_CHANNEL)),
        "direction": (True, one("outbound", "inbound")),
        "purpose": (False, TEXT),
    },
    "meeting_scheduled": {
        "meeting_id": (True, TEXT),
        "kind": (True, one(*_MEETING)),
        "planned_at": (True, (good_instants, instants)),
        "channel": (False, one(*_CHANNEL)),
    },
    "meeting_held": {
        "kind": (True, one(*_MEETING)),
        "channel": (True, one(*_CHANNEL)),
        "meeting_id": (False, TEXT),
    },
    "meeting_missed": {
        "meeting_id": (False, TEXT),
        "kind": (False, one(*_MEETING)),
        "reason": (True, one(*_MISS)),
    },
    "employment_plan_agreed": {
        "plan_kind": (True, one(*_PLANS)),
        "review_on": (False, (good_days, days)),
        "services_planned": (
            False,
            (
                st.lists(good_texts, max_size=4),
                st.one_of(
                    st.lists(texts, max_size=4),
                    st.builds(lambda n: ["s"] * n, st.sampled_from([99, 100, 101])),
                ),
            ),
        ),
    },
    "job_search_requirement_set": {
        "applications_per_period": (True, counted(0, 4)),
        "period": (True, one("month", "three_months")),
        "valid_from": (True, (good_days, days)),
        "valid_until": (False, (good_days, days)),  # (and within five years: see data_of)
        "grounds": (False, TEXT),
    },
    "application_reported": {
        "applied_on": (True, (good_days, days)),
        "kind": (True, one(*_APPLICATIONS)),
        "employer_name": (False, TEXT),
        "employer_business_id": (False, (good_business_ids, business_ids)),
        "vacancy_ref": (False, TEXT),
        "job_title": (False, TEXT),
    },
    "service_referred": {
        "service_id": (True, TEXT),
        "service_type": (True, one(*_SERVICE)),
        "provider": (False, one("public", "private", "third_sector")),
        "provider_name": (False, TEXT),
    },
    "service_started": {"service_id": (True, TEXT)},
    "service_ended": {
        "service_id": (True, TEXT),
        "end_reason": (False, one("completed", "interrupted", "employed", "other")),
    },
    "decision_recorded": {
        "decision_type": (True, TEXT),
        "basis_event_ids": (
            True,
            (
                st.lists(good_uuids, min_size=1, max_size=3),
                st.one_of(
                    st.lists(uuids, max_size=3),
                    st.builds(
                        lambda n: [str(uuid.UUID(int=7))] * n, st.sampled_from([999, 1000, 1001])
                    ),
                ),
            ),
        ),
        "text": (
            False,
            (
                st.one_of(good_texts, st.just("x" * 10_000)),
                st.one_of(texts, st.sampled_from(["a\tb\nc\r", "x" * 10_001, "a\x0bb"])),
            ),
        ),
    },
    "job_search_ended": {"reason": (True, one(*_END_REASONS))},
    "seeker_transferred": {"to_municipality": (True, (good_municipalities, municipalities))},
}
RECORDING = list(FIELDS)


@st.composite
def mutate(draw: st.DrawFn, value: dict[str, Any], edges: dict[str, Any]) -> None:
    """One change to a dict: a field's value from the edges or of a wrong JSON type, a field
    dropped or set to null, or an unknown field added."""
    how = draw(st.integers(0, 9))
    names = sorted(set(value) | set(edges))
    if how <= 5 and names:
        name = draw(st.sampled_from(names))
        value[name] = draw(edges.get(name, not_strings) if how <= 3 else not_strings)
    elif how <= 7 and value:
        del value[draw(st.sampled_from(sorted(value)))]
    elif how == 8 and names:
        value[draw(st.sampled_from(names))] = None
    else:
        value[draw(st.sampled_from(["extra", "person_ref", "occurred_on", "Type"]))] = "x"


@st.composite
def data_of(draw: st.DrawFn, type_: str, mutations: int) -> dict[str, Any]:
    """The type's valid data (each optional field there or not), then ``mutations`` changes."""
    data: dict[str, Any] = {}
    for name, (required, (valid, _)) in FIELDS[type_].items():
        if required or draw(st.booleans()):
            data[name] = draw(valid)
    if type_ == "job_search_requirement_set" and "valid_until" in data and draw(st.booleans()):
        start = date.fromisoformat(data["valid_from"])
        data["valid_until"] = (start + timedelta(days=draw(st.integers(0, 1827)))).isoformat()
    if type_ == "meeting_missed" and "kind" not in data and draw(st.booleans()):
        data["kind"] = "other"
    edges = {name: strategies[1] for name, (_, strategies) in FIELDS[type_].items()}
    for _ in range(mutations):
        draw(mutate(data, edges))
    return data


@st.composite
def times(draw: st.DrawFn, into: dict[str, Any], mutated: bool) -> None:
    """occurred_at or occurred_on; mutated: also both, neither, null or an edge value."""
    how = draw(st.integers(0, 9 if mutated else 1))
    if how == 0:
        into["occurred_at"] = draw(good_instants)
    elif how == 1:
        into["occurred_on"] = draw(good_days)
    elif how <= 3:
        into["occurred_at"] = draw(instants)
    elif how <= 5:
        into["occurred_on"] = draw(days)
    elif how <= 7:
        into["occurred_at"], into["occurred_on"] = draw(instants), draw(days)
    elif how == 8:
        into[draw(st.sampled_from(["occurred_at", "occurred_on"]))] = None
    # (9: neither)


_ENVELOPE_EDGES: dict[str, Any] = {
    "event_id": uuids,
    "seeker_id": uuids,
    "type": st.sampled_from(["", "Correction", "job_search_started ", "x"]),
    "actor": st.fixed_dictionaries({"id": texts, "role": texts, "organisation": texts}),
    "source": texts,
    "expected_version": ints(0, 2**63 - 1),
}


@st.composite
def envelopes(draw: st.DrawFn, type_: str, *, valid: bool = False) -> dict[str, Any]:
    """A valid envelope of ``type_`` (always if ``valid``, else half of the time) or one with a
    few changes anywhere: the envelope, its actor, its data, a correction's replacement and its
    data."""
    mutated = not valid and draw(st.booleans())
    spots = ["envelope", "actor", "data", "replacement", "replacement data"]
    changes = draw(st.lists(st.sampled_from(spots), min_size=1, max_size=3)) if mutated else []
    env: dict[str, Any] = {
        "event_id": draw(good_uuids),
        "seeker_id": draw(good_uuids),
        "type": type_,
        "actor": {
            "id": draw(good_texts),
            "role": draw(st.sampled_from(["coach", "system"]) | good_texts),
            "organisation": draw(st.sampled_from(["398", "x" * 200]) | good_texts),
        },
    }
    draw(times(env, mutated))
    if draw(st.booleans()):
        env["source"] = draw(st.none() | good_texts)
    if draw(st.booleans()):
        env["expected_version"] = draw(st.none() | st.integers(0, 2**63 - 1))
    if type_ == "correction":
        rep_type = draw(st.sampled_from(RECORDING))
        if "replacement" in changes and draw(st.booleans()):
            rep_type = draw(st.sampled_from(["correction", "retraction", "x"]))
        rep_data = (
            draw(data_of(rep_type, changes.count("replacement data")))
            if rep_type in FIELDS
            else {"reason": "r"}
        )
        replacement: dict[str, Any] = {"type": rep_type, "data": rep_data}
        draw(times(replacement, "replacement" in changes))
        if "replacement" in changes:
            draw(mutate(replacement, {"type": st.sampled_from(RECORDING)}))
        env["data"] = {
            "corrects_event_id": draw(good_uuids),
            "reason": draw(good_texts),
            "replacement": replacement,
        }
        edges = {"corrects_event_id": uuids, "reason": texts}
    elif type_ == "retraction":
        env["data"] = {"retracts_event_id": draw(good_uuids), "reason": draw(good_texts)}
        edges = {"retracts_event_id": uuids, "reason": texts}
    else:
        env["data"] = draw(data_of(type_, changes.count("data")))
        edges = {}
    if type_ in ("correction", "retraction"):
        for _ in range(changes.count("data")):
            draw(mutate(env["data"], edges))
    for _ in range(changes.count("actor")):
        draw(mutate(env["actor"], dict.fromkeys(("id", "role", "organisation"), texts)))
    for _ in range(changes.count("envelope")):
        draw(mutate(env, _ENVELOPE_EDGES))
    return env


def _line(env: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(env, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("type_", [*RECORDING, "correction", "retraction"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_path_gives_what_parse_event_gives_or_nothing(type_: str, data: Any) -> None:
    env = data.draw(envelopes(type_))
    line = _line(env, data.draw(st.booleans()))
    got = check(line, allow=data.draw(st.booleans()))
    event("taken by the fast path" if got is not None else "left to parse_event")


@given(
    prefix=st.binary(max_size=3),
    cut=st.integers(0, 400),
    insert=st.sampled_from([b"", b",", b'"', b"\\", b"\xff", b"\x00", b" ", b"}", b"\\u0000"]),
)
@settings(max_examples=300, deadline=None)
@example(prefix=b"", cut=0, insert=b"")
def test_broken_json_is_never_accepted_by_the_fast_path(
    prefix: bytes, cut: int, insert: bytes
) -> None:
    line = _line(_VALID, ascii_only=False)
    check(prefix + line[:cut] + insert + line[cut:])


_SEEKER = "5b0c8a8e-0a57-4c4e-8d0e-3f1f7c9d2a10"
_VALID: dict[str, Any] = {
    "event_id": "0d9f0b6e-5e8a-4f7b-9b59-8f1f3c1d2e3f",
    "seeker_id": _SEEKER,
    "type": "job_search_started",
    "occurred_at": "2025-06-02T09:30:00+03:00",
    "actor": {"id": "caseworker:4711", "role": "coach", "organisation": "398"},
    "source": "ura",
    "expected_version": 0,
    "data": {
        "municipality": "398",
        "labour_market_status": "unemployed",
        "personal_identity_code": "131052-308T",
        "birth_year": 1952,
        "language": "fi",
    },
}


@pytest.mark.parametrize(
    "raw",
    [
        # JSON's own corners: the last of repeated keys counts (json.loads and msgspec alike)
        b'{"type":"retraction",' + _line(_VALID, False)[1:],
        _line(_VALID, False)[:-1] + b',"type":"coach_assigned"}',
        _line(_VALID, False)[:-1] + b',"data":{"coach_id":"c"},"type":"coach_assigned"}',
        _line(_VALID, False).replace(b'"fi"', b'"fi","language":"sv"'),
        _line(_VALID, False).replace(b'"fi"', b'"f\\u0069"'),
        _line(_VALID, False).replace(b'"fi"', b'"\\u00e4\\u00e4"'),
        _line(_VALID, False).replace(b'"fi"', b'"\\ud83d\\ude00"'),
        _line(_VALID, False).replace(b'"fi"', b'"\xf0\x9f\x98\x80"'),
        _line(_VALID, False).replace(b'"fi"', b'"\xed\xa0\x80x"'),
        _line(_VALID, False).replace(b'"fi"', b'"\xc2\x85x"'),
        _line(_VALID, False).replace(b'"fi"', b'"\x7fx"'),
        _line(_VALID, False).replace(b"1952", b"1952.0"),
        _line(_VALID, False).replace(b"1952", b"1.952e3"),
        _line(_VALID, False).replace(b"1952", b"NaN"),
        _line(_VALID, False).replace(b": 0,", b": -0,"),
        _line(_VALID, False).replace(b": 0,", b": 9223372036854775807,"),
        _line(_VALID, False).replace(b": 0,", b": 9223372036854775808,"),
        _line(_VALID, False) + b"\r\n",
        b"  " + _line(_VALID, False) + b"\n",
        b"[" + _line(_VALID, False) + b"]",
        b"null",
        b"",
    ],
)
def test_the_corners_of_json(raw: bytes) -> None:
    check(raw)


def test_test_identity_codes_only_when_allowed() -> None:
    env = json.loads(_line(_VALID, False))
    env["data"]["personal_identity_code"] = _hetu(date(1970, 1, 1), 901)
    line = _line(env, False)
    assert check(line, allow=True) is not None
    assert check(line, allow=False) is None


def test_every_line_of_a_demo_is_taken_by_the_fast_path() -> None:
    """The fast path is the import's common case: on the demo (every type, corrections and
    retractions among them) it vouches for every line, each equal to parse_event's."""
    lines = [
        json.dumps(e.envelope, ensure_ascii=False, separators=(",", ":")).encode()
        for e in generate(60, seed=3)
    ]
    types = {json.loads(line)["type"] for line in lines}
    assert {"correction", "retraction", "job_search_started", "meeting_scheduled"} <= types
    missed = [line for line in lines if check(line) is None]
    assert missed == []


def _targets() -> list[tuple[str, tuple[str, ...], st.SearchStrategy[Any]]]:
    """Every field of every type, of the envelope, its actor, a correction (and its
    replacement) and a retraction: (type, path, its values with the edges)."""
    out: list[tuple[str, tuple[str, ...], st.SearchStrategy[Any]]] = []
    for type_, fields in FIELDS.items():
        out += [(type_, ("data", name), edges) for name, (_, (_, edges)) in fields.items()]
    out += [("coach_assigned", (name,), edges) for name, edges in _ENVELOPE_EDGES.items()]
    out += [("meeting_held", ("occurred_at",), instants), ("meeting_held", ("occurred_on",), days)]
    out += [("contact_made", ("actor", name), texts) for name in ("id", "role", "organisation")]
    out += [
        ("correction", ("data", "corrects_event_id"), uuids),
        ("correction", ("data", "reason"), texts),
        ("correction", ("data", "replacement", "occurred_at"), instants),
        ("correction", ("data", "replacement", "occurred_on"), days),
        ("correction", ("data", "replacement", "type"), st.sampled_from([*RECORDING, "x"])),
        ("retraction", ("data", "retracts_event_id"), uuids),
        ("retraction", ("data", "reason"), texts),
    ]
    return out


@pytest.mark.parametrize(
    ("type_", "path", "edges"),
    _targets(),
    ids=lambda v: ".".join(v) if isinstance(v, tuple) else None,
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_field_at_its_edges(
    type_: str, path: tuple[str, ...], edges: st.SearchStrategy[Any], data: Any
) -> None:
    """A valid event but for one field, set to a value from its edges (valid or not)."""
    env = data.draw(envelopes(type_, valid=True))
    into = env
    for part in path[:-1]:
        into = into[part]
    into[path[-1]] = data.draw(edges)
    if path[-1] in ("occurred_at", "occurred_on"):
        into.pop("occurred_on" if path[-1] == "occurred_at" else "occurred_at", None)
    got = check(_line(env, data.draw(st.booleans())), allow=data.draw(st.booleans()))
    event("taken by the fast path" if got is not None else "left to parse_event")
