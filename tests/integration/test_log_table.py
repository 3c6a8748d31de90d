"""PostgreSQL's single log table (index layout 3, docs/storage.md): every stored event reads
back byte for byte, through every read of the recorder and through the ``timeline_events``
view, whether its state was kept without its envelope E (rebuilt from the row's columns) or
verbatim (an E the columns do not give, a state in another form, one whose first byte is a
marker), and its topic whether the type code implies it or not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore

from tests import pg
from timeline.domain.event_types import EventType
from timeline.store import form2
from timeline.store.index import IndexRow
from timeline.store.log import (
    ESCAPED,
    STRIPPED,
    day_number,
    envelope,
    pack_state,
    unpack_state,
)
from timeline.store.postgres import TimelinePostgresRecorder

AT = datetime(2025, 6, 10, 9, 0, 0, 123456, tzinfo=UTC)
RECORDED = "timeline.domain.timeline:Timeline.CoachAssigned"
ACTOR = {"id": "cw-1", "role": "caseworker", "organisation": "KEHA"}


@pytest.fixture
def recorder(pg_database: str) -> Iterator[TimelinePostgresRecorder]:
    schema = f"log_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.admin_dsn(pg_database), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    datastore = PostgresDatastore(
        pg_database,
        pg.PG_HOST,
        pg.PG_PORT,
        pg.PG_USER,
        pg.PG_PASSWORD,
        schema=schema,
        pool_size=2,
        max_overflow=0,
    )
    recorder = TimelinePostgresRecorder(datastore)
    recorder.create_table()
    try:
        yield recorder
    finally:
        datastore.close()
        with psycopg.connect(pg.admin_dsn(pg_database), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _sql(recorder: TimelinePostgresRecorder, sql: str, params: Any = ()) -> list[Any]:
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(f'SET search_path TO "{recorder.datastore.schema}"')
        curs.execute(sql, params)
        return [tuple(r.values()) for r in curs.fetchall()] if curs.description else []


def _state(event_id: str, recorded_at: datetime, occurred_on: str, **extra: Any) -> bytes:
    content = form2.Content(
        event_id=event_id,
        recorded_at=recorded_at,
        occurred_on=occurred_on,
        occurred_at=None,
        actor=ACTOR,
        source="test",
        data={"coach_id": "coach-7"},
        digest_algorithm=2,
        **extra,
    )
    return form2.encode(
        content, EventType.COACH_ASSIGNED, seeker_id=uuid.UUID(int=0), version=0, key=None
    )


def _row(seeker: uuid.UUID, version: int, event_id: str, recorded_at: datetime) -> IndexRow:
    return IndexRow(
        event_id,
        str(seeker),
        version,
        None,
        "coach_assigned",
        None,
        "2025-06-02",
        recorded_at,
        "jcs:" + "ab" * 32,
        "cd" * 32,
        None,
    )


def _cases(seeker: uuid.UUID) -> list[tuple[StoredEvent, IndexRow | None, int]]:
    """(stored event, its index row or None, the first byte the log keeps its state with)."""
    cases: list[tuple[StoredEvent, IndexRow | None, int]] = []

    def add(state: bytes, first: int, *, topic: str = RECORDED, at: datetime = AT) -> None:
        version = len(cases) + 1
        event_id = str(uuid.uuid4())
        row = _row(seeker, version, event_id, at)
        stored = StoredEvent(seeker, version, topic, state.replace(b"EVENTID", b""))
        cases.append((stored, row, first))

    def form2_state(**changes: Any) -> bytes:
        values = {"event_id": "", "recorded_at": AT, "occurred_on": "2025-06-02", **changes}
        return _state(values.pop("event_id"), values.pop("recorded_at"), **values)

    # the usual event: E is what the columns give (filled in below, with its event id)
    add(b"", STRIPPED)
    # E names another recorded time than the index row: kept whole
    add(b"", form2.FORM, at=AT + timedelta(seconds=1))
    # a state in form 1 (the library's JSON), and states whose first byte is a marker
    add(b'{"a": 1}', ord("{"))
    add(bytes((STRIPPED, 2, 0)), ESCAPED)
    add(bytes((ESCAPED,)), ESCAPED)
    add(b"", ESCAPED)  # (empty)
    # a topic the type code does not imply (a renamed class): kept in its column
    add(b"", STRIPPED, topic="timeline.somewhere_else:Coach")
    out = []
    for i, (stored, row, marker) in enumerate(cases):
        assert row is not None
        state = stored.state
        if i in (0, 1, 6):  # the form-2 ones: E with the row's event id and day
            state = _state(row.event_id, AT, "2025-06-02")
        first = -1 if marker == ESCAPED and not state else marker  # (empty stays empty)
        out.append(
            (StoredEvent(seeker, stored.originator_version, stored.topic, state), row, first)
        )
    return out


def test_every_state_and_topic_reads_back_exactly_through_every_read(
    recorder: TimelinePostgresRecorder,
) -> None:
    seeker, other = uuid.uuid4(), uuid.uuid4()
    cases = _cases(seeker)
    stored = [c[0] for c in cases]
    rows = [c[1] for c in cases if c[1] is not None]
    ids = recorder.insert_events(stored, index_rows=rows)
    # a foreign event, written without an index row (the library's way): topic and state kept
    foreign = StoredEvent(
        other, 1, "somewhere.else:Thing", _state(str(uuid.uuid4()), AT, "2025-06-02")
    )
    [foreign_id] = recorder.insert_events([foreign])

    kept = dict(
        _sql(
            recorder,
            "SELECT originator_version, state FROM timeline_log WHERE originator_id = %s",
            [seeker],
        )
    )
    for event, _, first in cases:
        column = bytes(kept[event.originator_version])
        assert (column[:1] or b"\xff")[0] == (first if first >= 0 else 0xFF), event
    assert bytes(kept[1]) == pack_state(stored[0].state, rows[0].event_id, AT, "2025-06-02")
    assert len(bytes(kept[1])) < len(stored[0].state)  # (E left out)

    def key(e: Any) -> tuple[Any, ...]:
        return (str(e.originator_id), e.originator_version, e.topic, bytes(e.state))

    expected = [key(e) for e in stored]
    assert [key(e) for e in recorder.select_events(seeker)] == expected
    assert [key(e) for e in recorder.select_events(seeker, gt=2, desc=True, limit=2)] == [
        expected[-1],
        expected[-2],
    ]
    notes = recorder.select_notifications(None, 100)
    assert [key(n) for n in notes] == [*expected, key(foreign)]
    assert [n.id for n in notes] == [*ids, foreign_id]
    assert [key(n) for n in recorder.select_notifications(ids[1], 3, stop=ids[3])] == expected[1:4]
    assert [n.id for n in recorder.select_notifications(None, 100, topics=[RECORDED])] == [
        i for i, e in zip(ids, stored, strict=True) if e.topic == RECORDED
    ]
    assert [n.id for n in recorder.select_notifications(None, 9, topics=[foreign.topic])] == [
        foreign_id
    ]
    assert [key(n) for n in recorder.seeker_notifications(str(seeker))] == expected
    assert [key(e) for e, _ in recorder.events_with_index(str(seeker))] == expected
    after = recorder.select_events_after({str(seeker): 5, str(other): 0})
    assert [key(e) for e in after[str(seeker)]] == expected[5:]
    assert [key(e) for e in after[str(other)]] == [key(foreign)]
    _, events, _ = recorder.read_before_append([], {str(seeker): 0})
    assert [key(e) for e in events[str(seeker)]] == expected
    assert recorder.max_notification_id() == foreign_id
    # the index reads skip the event without an index row
    assert [r.position for r in recorder.index_after_position(0, 100)] == ids
    # the view of layout 2's events table, its state rebuilt in SQL: the same bytes
    view = _sql(
        recorder,
        "SELECT originator_id::text, originator_version, topic, state FROM timeline_events "
        "ORDER BY notification_id",
    )
    assert [(s, v, t, bytes(b)) for s, v, t, b in view] == [*expected, key(foreign)]


@pytest.mark.parametrize(
    "recorded_at",
    [
        datetime(2025, 6, 10, 9, 0, tzinfo=UTC),
        datetime(2025, 6, 10, 9, 0, 0, 1, tzinfo=UTC),
        datetime(2025, 6, 10, 9, 0, 0, 999999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1960, 1, 1, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC),  # (2^32 seconds: the 8-byte form)
        datetime(2514, 5, 30, 1, 53, 4, tzinfo=UTC),  # (2^34 seconds: the 12-byte form)
        datetime(2600, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize(
    "day",
    [
        date(1970, 1, 1),
        date(1970, 5, 8),  # 127
        date(1970, 5, 9),  # 128
        date(1970, 9, 13),  # 255
        date(1970, 9, 14),  # 256
        date(2025, 6, 2),
        date(2149, 6, 7),  # 65536
        date(1969, 12, 1),  # -31
        date(1969, 11, 29),  # -33
        date(1969, 8, 25),  # -129
        date(1880, 1, 1),  # below -32768
        date(1, 1, 1),
    ],
)
def test_the_sql_envelope_is_the_python_one(
    recorder: TimelinePostgresRecorder, recorded_at: datetime, day: date
) -> None:
    """The SQL that rebuilds E for the view and the migration writes msgpack's bytes as the
    encoder does, for every timestamp and integer size."""
    event_id = uuid.uuid4()
    [(made,)] = _sql(
        recorder, "SELECT timeline_log_envelope(%s, %s, %s)", [event_id, recorded_at, day]
    )
    assert bytes(made) == envelope(event_id.bytes, recorded_at, day_number(day))
    state = _state(str(event_id), recorded_at, day.isoformat())
    body = pack_state(state, str(event_id), recorded_at, day.isoformat())
    assert body[0] == STRIPPED
    assert unpack_state(body, event_id.bytes, recorded_at, day_number(day)) == state
    [(rebuilt,)] = _sql(
        recorder, "SELECT timeline_log_state(%s, %s, %s, %s)", [body, event_id, recorded_at, day]
    )
    assert bytes(rebuilt) == state


def test_an_update_through_the_events_view_is_kept_verbatim(
    recorder: TimelinePostgresRecorder,
) -> None:
    """What an administrator writes into ``timeline_events.state`` is what the service then
    reads (tampering stays visible as such)."""
    seeker = uuid.uuid4()
    [(event, row, _)] = _cases(seeker)[:1]
    recorder.insert_events([event], index_rows=[row])
    for written in (b"\x00\xff", b"\x03\x02", b"{}", event.state):
        _sql(
            recorder,
            "UPDATE timeline_events SET state = %s WHERE originator_id = %s",
            [written, seeker],
        )
        [read] = recorder.select_events(seeker)
        assert bytes(read.state) == written


def test_a_topic_filter_pages_exactly_by_the_topic_each_row_reads_with(
    recorder: TimelinePostgresRecorder,
) -> None:
    """Type 1 reads as ``Timeline.Opened`` at version 1 and as ``JobSearchStarted`` after: a
    page of notifications of one of them is never cut short by rows of the other."""
    opened = "timeline.domain.timeline:Timeline.Opened"
    started = "timeline.domain.timeline:Timeline.JobSearchStarted"
    seeker = uuid.uuid4()
    events, rows = [], []
    for version, topic in ((1, opened), (2, started), (3, started), (4, opened)):
        event_id = str(uuid.uuid4())
        row = _row(seeker, version, event_id, AT)
        rows.append(
            IndexRow(*(("job_search_started" if f == "type" else v) for f, v in _fields(row)))
        )
        events.append(StoredEvent(seeker, version, topic, b"{}"))
    ids = recorder.insert_events(events, index_rows=rows)
    kept = _sql(recorder, "SELECT originator_version, topic FROM timeline_log ORDER BY 1")
    assert kept == [(1, None), (2, None), (3, None), (4, opened)]  # (only v4's is not implied)
    assert [n.id for n in recorder.select_notifications(None, 1, topics=[started])] == [ids[1]]
    assert [n.id for n in recorder.select_notifications(None, 5, topics=[opened])] == [
        ids[0],
        ids[3],
    ]
    assert [n.topic for n in recorder.select_notifications(ids[1], 9, topics=[started])] == [
        started,
        started,
    ]


def _fields(row: IndexRow) -> list[tuple[str, Any]]:
    return [(f, getattr(row, f)) for f in row.__slots__]  # type: ignore[attr-defined]
