"""Stored events decoded straight into facts (issue 12): the fast decoder gives every fact the
library's mapper and ``fact_from_event`` give, on every store; whatever it does not know (a
topic, a cipher or a compressor, another transcoded value) or cannot read goes the mapper's
way, so an unreadable event is kept out exactly as before."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Mapper, Notification, StoredEvent
from eventsourcing.utils import _topic_cache  # the library's topic registry (register_topic)

from projections.runtime import LogReader
from projections.runtime.decode import TOPICS, FactDecoder
from projections.runtime.quarantine import describe
from tests.factories import event, new_seeker
from tests.projections.poison import set_topic
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.domain.event_types import EventType
from timeline.domain.timeline import Timeline, fact_from_event
from timeline.settings import Settings
from timeline.store.form2 import clear_data

START = datetime(2022, 1, 1, tzinfo=UTC)


def _open(
    url: str, env: dict[str, str] | None = None, start: datetime = START
) -> tuple[TimelineApp, FixedClock]:
    clock = FixedClock(start)
    app = TimelineApp(env, settings=Settings(database_url=url, environment="test"), clock=clock)
    return app, clock


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def demo(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> Iterator[TimelineApp]:
    app, clock = _open(url_for(request.param))
    load_demo(app, clock, generate(seekers=30, seed=5))
    yield app
    app.close()


def _log(app: TimelineApp) -> list[Notification]:
    return list(app.recorder.select_notifications(1, 1_000_000))


def _same(a: Any, b: Any) -> bool:
    """Equal facts with equal fields, field for field (the ``_sort_key`` memo aside)."""
    fields = {f.name for f in dataclasses.fields(a)}
    return a == b and {k: v for k, v in vars(a).items() if k in fields} == {
        k: v for k, v in vars(b).items() if k in fields
    }


def test_every_demo_event_decodes_to_the_mappers_fact(demo: TimelineApp) -> None:
    log = _log(demo)
    decoder = FactDecoder(demo.mapper)
    assert decoder.fast
    # the reference: the mapper's domain event and fact_from_event, with the clear fields of
    # its data (form 2's fast path opens no personal part)
    reference = []
    for n in log:
        full = fact_from_event(demo.mapper.to_domain_event(n), n.id)  # type: ignore[arg-type]
        reference.append(dataclasses.replace(full, data=clear_data(full.type, full.data)))
    assert all(_same(decoder.slow(n, n.id), f) for n, f in zip(log, reference, strict=True))
    assert not any(
        {"person_ref", "employer_name", "job_title", "purpose", "text"} & set(f.data)
        for f in reference
    )
    # every event type of the demo, corrections and retractions among them
    assert {f.type for f in reference} >= {EventType.CORRECTION, EventType.RETRACTION}
    assert len({f.type for f in reference}) >= 15
    for n, expected in zip(log, reference, strict=True):
        fast = FactDecoder._fast(n, n.id)  # the fast path itself, not its fallback
        assert fast is not None and _same(fast, expected), n.id
        assert _same(decoder.fact(n, n.id), expected)
        assert _same(decoder.fact(n), dataclasses.replace(expected, position=None))

    # and so the reader's facts, read in order and read again per seeker, are the mapper's
    reader = LogReader(demo, "test")
    batch = reader.read(0, len(log) + 1)
    assert batch.kept_out == [] and len(batch.facts) == len(reference)
    assert all(_same(a, b) for a, b in zip(batch.facts, reference, strict=True))
    by_seeker: dict[str, list[Any]] = {}
    for f in reference:
        by_seeker.setdefault(f.seeker_id, []).append(f)
    again = reader.facts_of(by_seeker, upto=len(log), page=7)
    assert again.keys() == by_seeker.keys()
    for seeker_id, facts in by_seeker.items():
        assert all(_same(a, b) for a, b in zip(again[seeker_id], facts, strict=True))


def test_every_demo_event_in_form_1_decodes_to_the_mappers_fact(demo: TimelineApp) -> None:
    """A store not yet migrated (the library's JSON, form 1): the fast path gives the
    mapper's fact, personal fields and all, as before form 2."""
    decoder = FactDecoder(demo.mapper)
    types = set()
    for n in _log(demo):
        old = _with_state(n, _form1(demo, demo.mapper.to_domain_event(n)).state)
        assert old.state[:1] == b"{"
        expected = fact_from_event(demo.mapper.to_domain_event(old), old.id)  # type: ignore[arg-type]
        assert _same(expected, fact_from_event(demo.mapper.to_domain_event(n), n.id))  # type: ignore[arg-type]
        fast = FactDecoder._fast(old, old.id)
        assert fast is not None and _same(fast, expected), n.id
        assert _same(decoder.slow(old, old.id), expected)
        types.add(expected.type)
    assert len(types) >= 15


def _first_events(url: str, env: dict[str, str] | None = None) -> TimelineApp:
    app, _ = _open(url, env, datetime(2025, 6, 10, 9, tzinfo=UTC))
    s = new_seeker()
    app.append([event("job_search_started", s, on="2025-05-05")])
    app.append([event("coach_assigned", s, {"coach_id": "c-1"}, on="2025-05-06")])
    return app


def test_a_topic_the_fast_path_does_not_know_goes_the_mappers_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _first_events("memory:")
    _, n = _log(app)
    renamed = "timeline.domain.old_names:Timeline.CoachNamed"  # a class renamed since
    assert renamed not in TOPICS
    monkeypatch.setitem(_topic_cache, renamed, Timeline.CoachAssigned)
    old = dataclasses.replace(n, topic=renamed)
    decoder = FactDecoder(app.mapper)
    assert FactDecoder._fast(old, old.id) is None
    assert _same(decoder.fact(old, old.id), decoder.slow(n, n.id))
    assert decoder.fact(old, old.id).type == EventType.COACH_ASSIGNED

    gone = dataclasses.replace(n, topic="timeline.x:Gone")
    assert describe(_error(decoder.fact, gone)) == describe(_error(decoder.slow, gone))


@pytest.mark.parametrize(
    "env",
    [
        {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": "x" * 24},
        {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"},
    ],
    ids=["cipher", "compressor"],
)
def test_a_ciphered_or_compressed_store_goes_the_mappers_way(env: dict[str, str]) -> None:
    if "CIPHER_KEY" in env:
        from eventsourcing.cipher import AESCipher

        env = {**env, "CIPHER_KEY": AESCipher.create_key(16)}
    app = _first_events("memory:", env)
    decoder = FactDecoder(app.mapper)
    assert not decoder.fast
    facts = LogReader(app, "test").read(0, 10).facts
    assert [f.type for f in facts] == [EventType.JOB_SEARCH_STARTED, EventType.COACH_ASSIGNED]
    assert all(_same(f, decoder.slow(n, n.id)) for f, n in zip(facts, _log(app), strict=True))


def _form1(app: TimelineApp, event_: object) -> StoredEvent:
    """``event_`` stored in form 1, the library's JSON (as a store not yet migrated holds)."""
    return Mapper.to_stored_event(app.mapper, event_)  # type: ignore[arg-type]


def test_another_transcoded_value_in_the_state_goes_the_mappers_way() -> None:
    app = _first_events("memory:")
    _, n = _log(app)
    event_ = app.mapper.to_domain_event(n)
    marker = UUID("12345678-1234-5678-1234-567812345678")
    event_.__dict__["data"] = {"coach_id": marker}  # a value the transcoder tags (uuid_hex)
    stored = _form1(app, event_)
    decoder = FactDecoder(app.mapper)
    assert FactDecoder._fast(stored, 1) is None
    assert decoder.fact(stored, 1).data == {"coach_id": marker}  # a UUID, as the mapper gives
    # form 2 keeps JSON values only: such an event is refused, not stored differently
    with pytest.raises(TypeError, match="UUID value"):
        app.mapper.to_stored_event(event_)


def test_what_orjson_refuses_and_json_reads_goes_the_mappers_way() -> None:
    app = _first_events("memory:")
    _, n = _log(app)
    event_ = app.mapper.to_domain_event(n)
    event_.__dict__["data"] = {"huge": 2**70, "nan": float("nan")}  # json writes both
    stored = _form1(app, event_)
    fact = FactDecoder(app.mapper).fact(stored, 1)
    assert fact.data["huge"] == 2**70 and math.isnan(fact.data["nan"])


def _error(decode: Callable[[Notification, int], object], n: Notification) -> Exception:
    """What decoding ``n`` raises."""
    try:
        decode(n, n.id)
    except Exception as exc:
        return exc
    raise AssertionError("decoded")


def _with_state(n: Notification, state: bytes) -> StoredEvent:
    return dataclasses.replace(n, state=state)


@pytest.mark.parametrize(
    "state",
    [
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2025-05-06T',  # cut short
        b'{"timestamp":{"_type_":"datetime_nope","_data_":"x"},"event_id":"e"}',  # unknown tag
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2025-05-06T09:00:00+00:00"},'
        b'"event_id":"e","occurred_at":null,"actor":{},"source":null,"data":{}}',  # no day
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2025-05-06T09:00:00+00:00"},'
        b'"event_id":"e","occurred_at":null,"occurred_on":"2025-13-01","actor":{},'
        b'"source":null,"data":{}}',  # no such day
        b"\xff\xfe not text",
    ],
    ids=["cut", "tag", "missing", "date", "bytes"],
)
def test_an_unreadable_event_is_kept_out_as_the_mapper_path_failed(state: bytes) -> None:
    app = _first_events("memory:")
    first, n = _log(app)
    bad = _with_state(n, state)
    decoder = FactDecoder(app.mapper)
    mapper_error = _error(decoder.slow, bad)
    # the same error, raised from the same place: the quarantine entry reads as before
    assert describe(_error(decoder.fact, bad)) == describe(mapper_error)

    recorder: Any = app.recorder  # the in-memory store, as tests/projections/poison.py edits it
    recorder._stored_events[n.id - 1] = StoredEvent(
        n.originator_id, n.originator_version, n.topic, state
    )
    batch = LogReader(app, "test").read(0, 10)
    assert [f.event_id for f in batch.facts] == [decoder.slow(first).event_id]
    [entry] = batch.kept_out
    assert (entry.stage, entry.position, entry.seeker_id) == ("decode", n.id, str(n.originator_id))
    assert entry.error == describe(mapper_error)
    facts = LogReader(app, "test").facts_of([str(n.originator_id)], upto=n.id)
    assert [f.event_id for f in facts[str(n.originator_id)]] == [decoder.slow(first).event_id]


class _IndexOfTwoReads:
    """An event index without ``seekers_notifications``: the reader's other way, its stored
    events and then their positions from the index."""

    def __init__(self, index: object) -> None:
        self._index = index

    def __getattr__(self, name: str) -> Any:
        if name == "seekers_notifications":
            raise AttributeError(name)
        return getattr(self._index, name)


class _LogOfTwoReads:
    def __init__(self, app: TimelineApp) -> None:
        self.recorder, self.mapper, self.settings = app.recorder, app.mapper, app.settings
        self.index = _IndexOfTwoReads(app.index)


def test_seekers_re_read_in_one_read_are_the_facts_of_two(postgres_url: str) -> None:
    """On PostgreSQL the reader re-reads seekers' events with their positions in one read
    (``seekers_notifications``); it gives the facts the stored events and the index gave —
    events after ``upto``, unreadable events and those ``without`` left out."""
    app, clock = _open(postgres_url)
    load_demo(app, clock, generate(seekers=12, seed=3))
    assert hasattr(app.index, "seekers_notifications")
    log = _log(app)
    last = log[-1].id
    ids = [FactDecoder(app.mapper)(n).event_id for n in log]
    unreadable = [log[5], log[len(log) // 2]]
    for n in unreadable:
        set_topic(app, n.id, "timeline.domain.timeline:Gone")
    # (an event without its index entry, which the two reads meet on SQLite, cannot be on
    # PostgreSQL: the log holds both in one row)
    seekers = list(dict.fromkeys(str(n.originator_id) for n in log))
    without = {FactDecoder(app.mapper)(log[7]).event_id}
    one, two = LogReader(app, "test"), LogReader(_LogOfTwoReads(app), "test")  # type: ignore[arg-type]
    for upto in (last, log[len(log) * 2 // 3].id):
        for page in (5, 200):
            a = one.facts_of([*seekers, str(UUID(int=1))], upto, without, page=page)
            b = two.facts_of([*seekers, str(UUID(int=1))], upto, without, page=page)
            assert a.keys() == b.keys() and len(a) > 1
            for seeker_id, facts in a.items():
                assert len(facts) == len(b[seeker_id])
                assert all(_same(x, y) for x, y in zip(facts, b[seeker_id], strict=True))
            read = {f.event_id: f.position for fs in a.values() for f in fs}
            kept = {ids[i] for i, n in enumerate(log) if n.id <= upto and n not in unreadable}
            assert read.keys() == kept - without
            assert all(read[ids[i]] == n.id for i, n in enumerate(log) if ids[i] in read)
    app.close()
