"""The library's own recorder test cases, run against every recorder subclass we wrote
(EVENTSOURCING.md: "run them against any recorder subclass you write")."""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from tests import pg
from timeline.store.memory import TimelineMemoryRecorder
from timeline.store.postgres import TimelinePostgresRecorder
from timeline.store.sqlite import TimelineSQLiteRecorder


def _join_stray_threads(before: set[threading.Thread]) -> None:
    """The library's concurrency tests signal their reader threads to stop but do not join
    them: closing the datastore under a reader still in a query crashed the SQLite driver
    (segmentation fault). Wait for them before closing."""
    for thread in set(threading.enumerate()) - before:
        if "(read_continuously)" in thread.name:  # Thread(target=read_continuously)
            thread.join(timeout=10)


class TestMemoryRecorder(ApplicationRecorderTestCase[TimelineMemoryRecorder]):
    def create_recorder(self) -> TimelineMemoryRecorder:
        return TimelineMemoryRecorder()


class TestSQLiteRecorder(ApplicationRecorderTestCase[TimelineSQLiteRecorder]):
    def setUp(self) -> None:
        self.threads = set(threading.enumerate())
        self.tmp = tempfile.TemporaryDirectory()
        self.datastore = SQLiteDatastore(os.path.join(self.tmp.name, "events.db"))

    def tearDown(self) -> None:
        _join_stray_threads(self.threads)
        self.datastore.close()
        self.tmp.cleanup()

    def create_recorder(self) -> TimelineSQLiteRecorder:
        recorder = TimelineSQLiteRecorder(self.datastore)
        recorder.create_table()
        return recorder


@pytest.fixture(scope="class")
def pg_dbname(request: pytest.FixtureRequest) -> Iterator[None]:
    with pg.temporary_database() as name:
        request.cls.dbname = name
        yield


@pytest.mark.usefixtures("pg_dbname")
class TestPostgresRecorder(ApplicationRecorderTestCase[TimelinePostgresRecorder]):
    dbname: str
    EXPECT_CONTIGUOUS_NOTIFICATION_IDS = False

    def setUp(self) -> None:
        self.threads = set(threading.enumerate())
        self.schema = f"r_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg.admin_dsn(self.dbname), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
        self.datastore = PostgresDatastore(
            self.dbname,
            pg.PG_HOST,
            pg.PG_PORT,
            pg.PG_USER,
            pg.PG_PASSWORD,
            schema=self.schema,
            pool_size=12,
            max_overflow=12,
        )

    def tearDown(self) -> None:
        _join_stray_threads(self.threads)
        self.datastore.close()
        with psycopg.connect(pg.admin_dsn(self.dbname), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')

    def create_recorder(self) -> TimelinePostgresRecorder:
        recorder = TimelinePostgresRecorder(self.datastore)
        recorder.create_table()
        return recorder
