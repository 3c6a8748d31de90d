"""PostgreSQL's event store layouts (docs/storage.md) and their conversion by ``timeline
migrate-store --to 3``: layout 1 (the index's hashes as hex text, type names) and layout 2
(the library's events table and the index table, hashes as bytes, the type as its code) are
refused by the service until converted, converted in place into layout 3 (the single log
table) with every value read back the same, and a store converted has the log a new store
makes."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import sql

from tests import pg
from tests.factories import VALID_CODE, event, new_seeker
from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.store.index import IndexRow
from timeline.store.postgres import (
    INDEX_DDL,
    INDEX_PERSON_DDL,
    LAYOUT_2_EVENTS_DDL,
    IndexLayoutOutdated,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store_v1"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()

#: The index table exactly as the code before layout 2 made it (main at ce2d231,
#: src/timeline/store/postgres.py), and its values as that code wrote them.
LAYOUT_1_DDL = (
    "CREATE TABLE timeline_event_index ("
    "event_id uuid PRIMARY KEY, seeker_id uuid NOT NULL, version bigint NOT NULL, "
    "position bigint NOT NULL UNIQUE, type text NOT NULL, occurred_at text, "
    "occurred_on date NOT NULL, recorded_at timestamptz NOT NULL, "
    "digest text NOT NULL, hash text NOT NULL, person_ref text, "
    "UNIQUE (seeker_id, version))",
    "CREATE INDEX timeline_event_index_person ON timeline_event_index (person_ref) "
    "WHERE person_ref IS NOT NULL",
)


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMELINE_ENVIRONMENT", "test")
    monkeypatch.setenv("TIMELINE_MASTER_KEY", MASTER_KEY)
    monkeypatch.delenv("TIMELINE_DATABASE_URL", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _connect(url: str) -> psycopg.Connection[Any]:
    parsed = urlparse(url)
    conn = psycopg.connect(pg.admin_dsn(parsed.path[1:]), autocommit=True)
    schema = parsed.query.split("=", 1)[1] if "schema=" in parsed.query else "public"
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def _sql(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    with _connect(url) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def _shape(
    url: str, table: str = "timeline_event_index"
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A table's columns (name, type, null allowed, in their stored order) and its indexes'
    definitions (names included)."""
    columns = _sql(
        url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    indexes = _sql(
        url,
        "SELECT indexname, regexp_replace(indexdef, ' ON \\S+ ', ' ON t ') FROM pg_indexes "
        "WHERE schemaname = current_schema() AND tablename = %s ORDER BY indexname",
        (table,),
    )
    return columns, indexes


def _to_layout_2(url: str) -> None:
    """Rewrite a store of this code (the log) as the code before layout 3 stored it: the
    library's events table and the layout-2 index table, with their DDL (eventsourcing 9.5's,
    and the index's as main had it at 34d41bd), the same values and sequence."""
    with _connect(url) as conn, conn.transaction():
        conn.execute("CREATE TEMPORARY TABLE e2 AS SELECT * FROM timeline_events")
        conn.execute("CREATE TEMPORARY TABLE i2 AS SELECT * FROM timeline_event_index")
        [(last, called)] = conn.execute(
            "SELECT last_value, is_called FROM timeline_log_notification_id_seq"
        ).fetchall()
        conn.execute("DROP VIEW timeline_events, timeline_event_index")
        conn.execute("DROP TABLE timeline_log")
        events, index = sql.Identifier("timeline_events"), sql.Identifier("timeline_event_index")
        conn.execute(sql.SQL(LAYOUT_2_EVENTS_DDL[0]).format(events))
        conn.execute(
            sql.SQL(LAYOUT_2_EVENTS_DDL[1]).format(
                sql.Identifier("timeline_events_notification_id_idx"), events
            )
        )
        conn.execute(sql.SQL(INDEX_DDL).format(index))
        conn.execute(
            sql.SQL(INDEX_PERSON_DDL).format(sql.Identifier("timeline_event_index_person"), index)
        )
        conn.execute(
            "INSERT INTO timeline_events (originator_id, originator_version, topic, state, "
            "notification_id) SELECT originator_id, originator_version, topic, state, "
            "notification_id FROM e2"
        )
        conn.execute("SELECT setval('timeline_events_notification_id_seq', %s, %s)", (last, called))
        conn.execute(
            "INSERT INTO timeline_event_index (event_id, seeker_id, version, position, type, "
            "occurred_at, occurred_on, recorded_at, digest, hash, person_ref) SELECT event_id, "
            "seeker_id, version, position, type, occurred_at, occurred_on, recorded_at, "
            "digest, hash, person_ref FROM i2"
        )


def _to_layout_1(url: str) -> None:
    """Rewrite the index table as the code before layout 2 stored it (its DDL, hex text)."""
    with _connect(url) as conn, conn.transaction():
        conn.execute("ALTER TABLE timeline_event_index RENAME TO new_index")
        for index in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'new_index'"
        ).fetchall():
            conn.execute(f'ALTER INDEX "{index[0]}" RENAME TO "{index[0]}_x"')
        for statement in LAYOUT_1_DDL:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO timeline_event_index SELECT event_id, seeker_id, version, position, "
            "(ARRAY['job_search_started','coach_assigned','labour_market_status_changed',"
            "'contact_made','meeting_scheduled','meeting_held','meeting_missed',"
            "'employment_plan_agreed','job_search_requirement_set','application_reported',"
            "'service_referred','service_started','service_ended','decision_recorded',"
            "'job_search_ended','seeker_transferred','correction','retraction'])[type], "
            "occurred_at, occurred_on, recorded_at, "
            "CASE WHEN length(digest) = 33 THEN 'jcs:' || encode(substr(digest, 2), 'hex') "
            "ELSE encode(digest, 'hex') END, encode(hash, 'hex'), encode(person_ref, 'hex') "
            "FROM new_index"
        )
        conn.execute("DROP TABLE new_index")


def _as_read(rows: list[IndexRow]) -> list[tuple[Any, ...]]:
    return [r.as_params() for r in rows]


def _layout_1_rows(url: str) -> list[tuple[Any, ...]]:
    """A layout-1 table's rows as the service reads them (the text as stored)."""
    rows = _sql(
        url,
        "SELECT event_id::text, seeker_id::text, version, position, type, occurred_at, "
        "occurred_on::text, recorded_at, digest, hash, person_ref FROM timeline_event_index "
        "ORDER BY position",
    )
    return [
        IndexRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]).as_params()
        for r in rows
    ]


def _notifications(url: str) -> list[tuple[Any, ...]]:
    """Every stored event as the library's recorder reads it (position, seeker, version,
    topic, state bytes)."""
    app = TimelineApp(settings=Settings(database_url=url, environment="test"))
    try:
        found = app.recorder.select_notifications(None, 1000)
        return [
            (n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
            for n in found
        ]
    finally:
        app.close()


def _events_table(url: str) -> list[tuple[Any, ...]]:
    """A layout-2 events table's rows, as :func:`_notifications` gives them."""
    rows = _sql(
        url,
        "SELECT notification_id, originator_id::text, originator_version, topic, state "
        "FROM timeline_events ORDER BY notification_id",
    )
    return [(*r[:4], bytes(r[4])) for r in rows]


@pytest.fixture
def written_2(
    postgres_url: str, clock: FixedClock
) -> tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A store written by this code (digests of both algorithms, person_refs, an event without
    a time), then put back into layout 2 as the code before wrote it: its URL, the index rows
    as the service read them before and the stored events as the recorder read them."""
    before = _write(postgres_url, clock)
    events = _notifications(postgres_url)
    _to_layout_2(postgres_url)
    # (the SQL that rebuilt each state for the view made what the recorder read, byte for byte)
    assert _events_table(postgres_url) == events
    return postgres_url, before, events


@pytest.fixture
def written(postgres_url: str, clock: FixedClock) -> tuple[str, list[tuple[Any, ...]]]:
    """A store written by this code, then put back into layout 1 as the code before layout 2
    wrote it: its URL and the index rows as the service read them before."""
    before = _write(postgres_url, clock)
    _to_layout_2(postgres_url)
    _to_layout_1(postgres_url)
    assert _layout_1_rows(postgres_url) == before
    return postgres_url, before


def _write(postgres_url: str, clock: FixedClock) -> list[tuple[Any, ...]]:
    """Events of three seekers written by this code: the index rows as the service reads them."""
    seekers = [new_seeker() for _ in range(3)]
    for algorithm in (1, 2):
        settings = Settings(
            database_url=postgres_url,
            environment="test",
            digest_algorithm=algorithm,
        )
        app = TimelineApp(settings=settings, clock=clock)
        for seeker in seekers:
            if algorithm == 1:
                app.append([event("job_search_started", seeker)])  # (with VALID_CODE)
            clock.advance(hours=1)
            app.append(
                [
                    event("contact_made", seeker, {"channel": "phone", "direction": "outbound"}),
                    event(
                        "meeting_held",
                        seeker,
                        {"kind": "initial_interview", "channel": "phone"},
                        at="2025-06-02T10:00:00+03:00",
                    ),
                ]
            )
        app.close()
    app = TimelineApp(settings=Settings(database_url=postgres_url, environment="test"))
    before = _as_read(app.index.index_after_position(0, 1000))
    app.close()
    assert len(before) == 15
    assert {r[8][:4] == "jcs:" for r in before} == {True, False}
    assert sum(r[10] is not None for r in before) == 3
    return before


def test_a_layout_1_index_is_refused_then_converted_by_migrate_store(
    written: tuple[str, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, before = written
    with pytest.raises(IndexLayoutOutdated, match="timeline migrate-store --to 3"):
        TimelineApp(settings=Settings(database_url=url, environment="test"))
    code, _, err = run(capsys, "verify", "--db", url, "--quiet")
    assert code == 2 and "is in index layout 1" in err and "timeline migrate-store --to 3" in err

    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url, "--dry-run")
    assert code == 0, err
    dry = json.loads(out)
    assert dry["index_table"]["layout_before"] == dry["index_table"]["layout_after"] == 1
    assert (dry["index_table"]["rows"], dry["index_table"]["converted"]) == (15, 0)
    assert dry["log_table"]["layout_before"] == dry["log_table"]["layout_after"] == 1
    assert _layout_1_rows(url) == before

    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url)
    assert code == 0, err
    assert "converting the index table" in err and "15 rows" in err
    assert "into the log" in err
    index = json.loads(out)["index_table"]
    assert (index["layout_before"], index["layout_after"], index["converted"]) == (1, 2, 15)
    assert index["size_before"] > 0 and index["size_after"] > 0  # (pages: 15 rows fit in one)
    log = json.loads(out)["log_table"]
    assert (log["layout_before"], log["layout_after"], log["converted"]) == (2, 3, 15)
    assert log["stripped"] == 15  # (every state kept without E)

    app = TimelineApp(settings=Settings(database_url=url, environment="test"))
    try:
        assert _as_read(app.index.index_after_position(0, 1000)) == before
        assert list(verify_all(app)) == []
        seeker = before[0][1]
        assert app.lookup_person(VALID_CODE) == sorted({r[1] for r in before})
        head = [r for r in before if r[1] == seeker][-1]
        assert app.index.index_for_seeker(seeker)[-1].as_params() == head
    finally:
        app.close()

    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url)
    assert code == 0, err
    again = json.loads(out)
    assert (again["index_table"]["layout_before"], again["index_table"]["converted"]) == (3, 0)
    assert (again["log_table"]["layout_before"], again["log_table"]["converted"]) == (3, 0)


def test_a_converted_store_has_the_log_a_new_store_makes(
    written: tuple[str, list[tuple[Any, ...]]],
    capsys: pytest.CaptureFixture[str],
    url_for: Any,
) -> None:
    url, _ = written
    assert run(capsys, "migrate-store", "--to", "3", "--db", url, "--quiet")[0] == 0
    fresh = url_for("postgres")
    TimelineApp(settings=Settings(database_url=fresh, environment="test")).close()
    for table in ("timeline_log", "timeline_events", "timeline_event_index"):
        assert _shape(url, table) == _shape(fresh, table), table
    columns, indexes = _shape(fresh, "timeline_log")
    assert [c[:2] for c in columns][:7] == [
        ("notification_id", "bigint"),
        ("recorded_at", "timestamp with time zone"),
        ("originator_id", "uuid"),
        ("event_id", "uuid"),
        ("originator_version", "integer"),
        ("occurred_on", "date"),
        ("type", "smallint"),
    ]
    assert {c[1] for c in columns if c[0] in ("state", "digest", "hash", "person_ref")} == {"bytea"}
    assert [i[0] for i in indexes] == [
        "timeline_log_event_key",
        "timeline_log_person",
        "timeline_log_pkey",
        "timeline_log_position_key",
    ]
    assert _sql(url, "SELECT to_regclass('timeline_events_layout2')") == [(None,)]  # dropped


def test_a_value_layout_2_cannot_hold_refuses_the_conversion_and_changes_nothing(
    written: tuple[str, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, before = written
    position = before[4][3]
    _sql(url, "UPDATE timeline_event_index SET hash = 'F00D' WHERE position = %s", (position,))
    altered = _layout_1_rows(url)
    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url)
    assert code == 2 and out == ""
    assert f"the hash of the rows at positions {position} " in err
    assert "nothing was converted" in err
    assert _layout_1_rows(url) == altered
    assert _shape(url)[0][8] == ("digest", "text", "NO")  # still layout 1


def test_the_v1_fixture_store_is_converted_with_its_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The store written by the code of stored form 1 (tests/fixtures/store_v1, layout 1):
    one run converts the index and rewrites the events; the service reads the index as
    before (heads, positions, types) and the look-up by identity code still finds its
    seeker."""
    with pg.temporary_database() as name:
        restored = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.admin_dsn(name)],
            input=gzip.decompress((FIXTURE / "store_v1.sql.gz").read_bytes()),
            capture_output=True,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr.decode()
        url = pg.url(name)
        before = _layout_1_rows(url)
        code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url, "--quiet")
        assert code == 0, err
        done = json.loads(out)
        assert done["index_table"]["converted"] == EXPECTED["events"] == done["rewritten"]
        assert done["log_table"]["converted"] == EXPECTED["events"]
        app = TimelineApp(settings=Settings(database_url=url, environment="test"))
        try:
            assert _as_read(app.index.index_after_position(0, 1_000_000)) == before
            code_of = EXPECTED["personal_identity_code"]
            assert app.lookup_person(code_of) == [EXPECTED["seeker"]]
        finally:
            app.close()


def test_a_layout_2_store_is_refused_then_moved_into_the_log_as_it_was(
    written_2: tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]],
    capsys: pytest.CaptureFixture[str],
    clock: FixedClock,
) -> None:
    """A store as the code before the log wrote it (the library's events table and the
    layout-2 index): every event keeps its position, topic and state bytes, every index row
    its values, and the positions continue after the last one the old sequence gave."""
    url, before, events = written_2
    with pytest.raises(IndexLayoutOutdated, match="timeline migrate-store --to 3"):
        TimelineApp(settings=Settings(database_url=url, environment="test"))
    # a value the sequence gave to an insert rolled back: the log's must not give it again
    [(burnt,)] = _sql(url, "SELECT nextval('timeline_events_notification_id_seq')")
    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url, "--dry-run")
    assert code == 0, err
    assert json.loads(out)["log_table"]["rows"] == 15
    assert _events_table(url) == events  # (nothing changed)

    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url)
    assert code == 0, err
    done = json.loads(out)
    assert (done["examined"], done["rewritten"]) == (15, 0)  # (all in form 2 already)
    log = done["log_table"]
    assert (log["layout_before"], log["layout_after"], log["converted"]) == (2, 3, 15)
    assert log["stripped"] == 15
    assert log["size_after"] < log["size_before"]

    assert _notifications(url) == events  # the recorder reads every event as it was
    assert _events_table(url) == events  # and so does the view
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    try:
        assert _as_read(app.index.index_after_position(0, 1000)) == before
        assert list(verify_all(app)) == []
        seeker = before[0][1]
        app.append([event("coach_assigned", seeker, {"coach_id": "coach-9"})])
        last = app.index.index_for_seeker(seeker)[-1]
        assert last.position == burnt + 1
        assert list(verify_all(app)) == []
    finally:
        app.close()


def test_an_index_row_without_its_event_refuses_the_move_and_changes_nothing(
    written_2: tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, before, events = written_2
    position = before[4][3]
    _sql(url, "DELETE FROM timeline_events WHERE notification_id = %s", (position,))
    code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url)
    assert code == 2 and out == ""
    assert f"the index rows at positions {position} have no stored event" in err
    assert "nothing was converted" in err
    assert _events_table(url) == [e for e in events if e[0] != position]
    assert _sql(url, "SELECT to_regclass('timeline_log')") == [(None,)]
