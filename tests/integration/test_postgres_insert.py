"""The PostgreSQL recorder's insert of events with their index rows (one query: the lock, the
notify, one statement for the events and their index rows, the commit): positions in the order
given, each index row at its event's position, values stored as given, and a refused insert
leaves nothing behind and the connection usable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresDatastore

from tests import pg
from timeline.store.index import IndexRow
from timeline.store.postgres import TimelinePostgresRecorder

AT = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def recorder(pg_database: str) -> Iterator[TimelinePostgresRecorder]:
    schema = f"ins_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.admin_dsn(pg_database), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # one connection: a refused insert's transaction must not be left open on it
    datastore = PostgresDatastore(
        pg_database,
        pg.PG_HOST,
        pg.PG_PORT,
        pg.PG_USER,
        pg.PG_PASSWORD,
        schema=schema,
        pool_size=1,
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


def _event(seeker: uuid.UUID, version: int) -> StoredEvent:
    return StoredEvent(
        originator_id=seeker,
        originator_version=version,
        topic="timeline.domain.timeline:Timeline.Recorded",
        state=f"state of {seeker} {version}".encode(),
    )


def _row(event: StoredEvent, event_id: str | None = None) -> IndexRow:
    return IndexRow(
        event_id=event_id or str(uuid.uuid4()),
        seeker_id=str(event.originator_id),
        version=event.originator_version,
        position=None,
        type="contact_made",
        occurred_at=None,
        occurred_on="2025-06-09",
        recorded_at=AT,
        digest="jcs:" + "ab" * 32,
        hash="cd" * 32,
        person_ref=None,
    )


def _counts(recorder: TimelinePostgresRecorder) -> tuple[int, int]:
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        schema = recorder.datastore.schema
        curs.execute(f'SELECT count(*) AS n FROM "{schema}"."{recorder.events_table_name}"')
        events = curs.fetchone()
        curs.execute(f'SELECT count(*) AS n FROM "{schema}".timeline_event_index')
        index = curs.fetchone()
        assert events is not None and index is not None
        return int(events["n"]), int(index["n"])


def test_positions_come_back_in_the_order_given_and_each_index_row_has_its_events(
    recorder: TimelinePostgresRecorder,
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    events = [_event(b, 1), _event(a, 1), _event(b, 2), _event(a, 2), _event(a, 3)]
    rows = [_row(e) for e in events]
    # the index rows need not come in the events' order: each goes with its seeker and version
    ids = recorder.insert_events(events, index_rows=list(reversed(rows)))

    assert len(ids) == len(events)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stored = {
        (n.originator_id, n.originator_version): n.id for n in recorder.select_notifications(0, 10)
    }
    assert [stored[(e.originator_id, e.originator_version)] for e in events] == ids
    by_id = recorder.index_by_event_ids([r.event_id for r in rows])
    assert [by_id[r.event_id].position for r in rows] == ids
    assert by_id[rows[2].event_id] == rows[2].with_position(ids[2])


def test_a_taken_event_id_refuses_the_whole_insert_and_the_next_one_lands(
    recorder: TimelinePostgresRecorder,
) -> None:
    seeker = uuid.uuid4()
    first = _event(seeker, 1)
    first_row = _row(first)
    recorder.insert_events([first], index_rows=[first_row])

    other = uuid.uuid4()
    batch = [_event(other, 1), _event(seeker, 2)]
    with pytest.raises(IntegrityError):
        recorder.insert_events(
            batch, index_rows=[_row(batch[0]), _row(batch[1], first_row.event_id)]
        )
    assert _counts(recorder) == (1, 1)  # nothing of the refused insert

    ids = recorder.insert_events(batch, index_rows=[_row(e) for e in batch])
    assert len(ids) == 2
    assert _counts(recorder) == (3, 3)


def test_a_taken_version_refuses_the_whole_insert_and_the_next_one_lands(
    recorder: TimelinePostgresRecorder,
) -> None:
    seeker = uuid.uuid4()
    recorder.insert_events([_event(seeker, 1)], index_rows=[_row(_event(seeker, 1))])

    batch = [_event(uuid.uuid4(), 1), _event(seeker, 1)]
    with pytest.raises(IntegrityError):
        recorder.insert_events(batch, index_rows=[_row(e) for e in batch])
    assert _counts(recorder) == (1, 1)

    later = [_event(seeker, 2)]
    assert len(recorder.insert_events(later, index_rows=[_row(later[0])])) == 1
    assert _counts(recorder) == (2, 2)


def test_values_are_stored_as_given_whatever_characters_they_hold(
    recorder: TimelinePostgresRecorder,
) -> None:
    # (the insert goes as one query with its values bound as a quoted literal)
    event = StoredEvent(
        originator_id=uuid.uuid4(),
        originator_version=1,
        topic='a\'topic\\with; COMMIT; --"odd" ä€',
        state=bytes(range(256)),
    )
    # (layout 2 keeps the hashes and person_ref as bytes and the type as its code: the text
    # left to hold odd characters is the topic, the state and occurred_at)
    row = replace(
        _row(event),
        occurred_at="x'); DROP TABLE t; --\\x00'\"ü\u2028\t\n",
        person_ref="ef" * 32,
    )
    [position] = recorder.insert_events([event], index_rows=[row])

    [stored] = recorder.select_notifications(position, 1)
    assert (stored.topic, stored.state) == (event.topic, event.state)
    assert recorder.index_by_event_ids([row.event_id])[row.event_id] == row.with_position(position)
