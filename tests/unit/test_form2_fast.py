"""The fast paths of stored form 2 (``form2.encode_event``, ``decode_event``, ``decode_clear``,
``day_date``: what the timeline's mapper and the projections' decoder call for every event)
give what the general code gives — the same bytes (the seal's random nonce aside), the same
values, dicts in the same key order and of the same class — on events of every type with every
edge value (values that do not fit their kind, unknown keys, explicit nulls, corrections with
replacements, retractions, erased events), and the bytes main's code wrote before them
(tests/fixtures/form2_pins, commit ce2d231): no stored byte changed. And they earn their keep:
the demo's events do not fall back to the general code."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_form2 import KEY, contents
from timeline.domain.event_types import EventType
from timeline.store import form2
from timeline.store.form2 import Content, SealedPartError

PINS = Path(__file__).parents[1] / "fixtures" / "form2_pins" / "states.jsonl.gz"


def _pins() -> Iterator[tuple[str, EventType, Content, UUID, int, bytes]]:
    with gzip.open(PINS, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            c = d["content"]
            content = Content(**{**c, "recorded_at": datetime.fromisoformat(c["recorded_at"])})
            yield (
                d["from"],
                EventType(d["type"]),
                content,
                UUID(d["seeker"]),
                d["version"],
                bytes.fromhex(d["state"]),
            )


def _encode_event(
    c: Content,
    type_: EventType,
    seeker: UUID,
    version: int,
    key: Callable[[], tuple[int, bytes]] | None,
) -> bytes:
    return form2.encode_event(
        type_,
        event_id=c.event_id,
        recorded_at=c.recorded_at,
        occurred_on=c.occurred_on,
        occurred_at=c.occurred_at,
        actor=c.actor,
        source=c.source,
        data=c.data,
        digest_algorithm=c.digest_algorithm,
        originator_topic=c.originator_topic,
        seeker_id=seeker,
        version=version,
        key=key,
    )


def _general(state: bytes, type_: EventType, seeker: UUID, version: int, key: bytes | None) -> Any:
    """What the general code decodes, as :func:`form2.decode_event` answers."""
    p = form2.parse(state)
    personal = form2.open_personal(p, seeker_id=seeker, version=version, key=key)
    c = form2.decode_content(p, type_, personal)
    return (
        c.digest_algorithm,
        c.event_id,
        c.recorded_at,
        c.occurred_on,
        c.originator_topic,
        c.actor,
        c.source,
        c.occurred_at,
        c.data,
    )


def _general_clear(state: bytes, type_: EventType) -> Any:
    p = form2.parse(state)
    c = form2.decode_content(p, type_, None)
    return (c.event_id, c.recorded_at, c.actor, c.source, c.occurred_at, c.data), p.occurred_on


def _same(got: Any, expected: Any) -> None:
    """Equal, and alike to the last detail: classes (``ClearOnly`` or a plain dict, bytes or
    text, a bool or an int), dict key order, time zones."""
    assert got == expected
    assert repr(got) == repr(expected)
    assert [type(x) for x in got] == [type(x) for x in expected]


def _check_decoders(
    state: bytes, type_: EventType, seeker: UUID, version: int, key: bytes | None
) -> None:
    asked: list[int] = []

    def key_of(key_version: int) -> bytes | None:
        asked.append(key_version)
        return key

    _same(
        form2.decode_event(state, type_, seeker_id=seeker, version=version, key=key_of),
        _general(state, type_, seeker, version, key),
    )
    assert asked == ([form2.parse(state).key_version] if form2.parse(state).key_version else [])
    event_id, recorded_at, occurred_on, actor, source, occurred_at, data = form2.decode_clear(
        state, type_
    )
    expected, expected_day = _general_clear(state, type_)
    _same((event_id, recorded_at, actor, source, occurred_at, data), expected)
    try:
        day: date | None = date.fromisoformat(expected_day)
    except (ValueError, TypeError):
        day = None
    if day is None:
        with pytest.raises((ValueError, TypeError)):
            form2.day_date(occurred_on)
    else:
        assert form2.day_date(occurred_on) == day


def test_the_bytes_main_wrote_are_written_and_read_the_same() -> None:
    pins = list(_pins())
    assert len(pins) == 1394
    assert {t for _, t, *_ in pins} == set(EventType)
    for _, type_, content, seeker, version, state in pins:
        assert _encode_event(content, type_, seeker, version, None) == state, content
        assert form2.encode(content, type_, seeker_id=seeker, version=version, key=None) == state
        _check_decoders(state, type_, seeker, version, None)
        assert form2.decode_event(
            state, type_, seeker_id=seeker, version=version, key=lambda _: None
        )[-1] == dict(content.data)


def _sealed_alike(fast: bytes, general: bytes, seeker: UUID, version: int) -> None:
    """The same bytes but for the nonce and what it changes (the ciphertext and the tag), and
    the same plain personal values inside."""
    a, b = form2.parse(fast), form2.parse(general)
    assert fast[: len(fast) - len(a.personal)] == general[: len(general) - len(b.personal)]
    assert len(a.personal) == len(b.personal)
    assert a.personal[:2] == b.personal[:2]
    opened = [form2.open_personal(p, seeker_id=seeker, version=version, key=KEY[1]) for p in (a, b)]
    assert repr(opened[0]) == repr(opened[1])


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(contents(), st.booleans(), st.integers(1, 2**31 - 1))
def test_the_fast_paths_are_the_general_code_on_every_type_and_edge(
    case: tuple[EventType, Content], sealed: bool, version: int
) -> None:
    type_, content = case
    seeker = uuid4()
    key = (lambda: KEY) if sealed else None
    fast = _encode_event(content, type_, seeker, version, key)
    general = form2.encode(content, type_, seeker_id=seeker, version=version, key=key)
    if sealed and form2.parse(general).personal:
        _sealed_alike(fast, general, seeker, version)
    else:
        assert fast == general
    for state in (fast, general):
        _check_decoders(state, type_, seeker, version, KEY[1])
        _check_decoders(state, type_, seeker, version, None)  # erased: the clear fields only


def test_what_does_not_fit_is_refused_as_the_general_code_refuses_it() -> None:
    content = Content(
        event_id=str(uuid4()),
        recorded_at=datetime.fromisoformat("2025-06-02T09:00:00+00:00"),
        occurred_on="2025-06-02",
        occurred_at=None,
        actor={"id": "a", "role": "r", "organisation": "o"},
        source=None,
        data={"purpose": "x", "later": (1, 2)},  # a tuple: not a JSON value
        digest_algorithm=1,
    )
    with pytest.raises(TypeError, match="JSON values only"):
        _encode_event(content, EventType.CONTACT_MADE, uuid4(), 2, None)
    with pytest.raises(ValueError, match="does not fit form 2"):
        _encode_event(
            Content(**{**_fields(content), "data": {}, "digest_algorithm": 256}),
            EventType.CONTACT_MADE,
            uuid4(),
            2,
            None,
        )


def _fields(c: Content) -> dict[str, Any]:
    return {name: getattr(c, name) for name in Content.__slots__}


def test_a_sealed_part_that_does_not_open_is_refused_by_the_fast_path_too() -> None:
    seeker = uuid4()
    content = Content(
        event_id=str(uuid4()),
        recorded_at=datetime.fromisoformat("2025-06-02T09:00:00+00:00"),
        occurred_on="2025-06-02",
        occurred_at=None,
        actor={"id": "a", "role": "r", "organisation": "o"},
        source="backend",
        data={"channel": "phone", "purpose": "velkaneuvonta"},
        digest_algorithm=2,
    )
    state = _encode_event(content, EventType.CONTACT_MADE, seeker, 3, lambda: KEY)
    flipped = bytearray(state)
    flipped[-1] ^= 1
    for bad, version, where in (
        (state, 4, "moved from another row"),  # another version in the AAD
        (bytes(flipped), 3, "moved from another row"),  # altered
        (state[:-30], 3, "malformed"),
    ):
        with pytest.raises(SealedPartError, match=where):
            form2.decode_event(
                bad, EventType.CONTACT_MADE, seeker_id=seeker, version=version, key=lambda _: KEY[1]
            )


def test_the_demos_events_take_the_fast_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Among the demo's events only a correction's replacement goes to the general code."""
    fell_back: list[str] = []

    def counted(name: str) -> Any:
        general = getattr(form2, name)

        def call(*args: Any, **kw: Any) -> Any:
            fell_back.append(name)
            return general(*args, **kw)

        return call

    for name in ("encode", "decode_data", "parse", "open_personal"):
        monkeypatch.setattr(form2, name, counted(name))
    demo = [p for p in _pins() if p[0] == "demo"]
    with_replacement = 0
    for _, type_, content, seeker, version, state in demo:
        sealed = _encode_event(content, type_, seeker, version, lambda: KEY)
        form2.decode_event(sealed, type_, seeker_id=seeker, version=version, key=lambda _: KEY[1])
        form2.decode_clear(state, type_)
        with_replacement += "replacement" in content.data
    assert len(demo) == 1178
    assert 0 < with_replacement < 30
    # encode_event once, decode_event and decode_clear once each, and the replacement's own
    # decode_data inside each of those two
    assert Counter(fell_back) == {"encode": with_replacement, "decode_data": 4 * with_replacement}
