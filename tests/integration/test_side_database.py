"""The SQL beside the store writes rows exactly as given, whichever path a dialect takes
(PostgreSQL: COPY for plain inserts, multi-row statements for upserts)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest

from timeline.application import TimelineApp
from timeline.db import SideDatabase
from timeline.settings import Settings

AWKWARD = ["plain", "tab\there", "line\nbreak", "back\\slash", "\\N", "", "ääkköset", "quote'\""]


@pytest.fixture
def db(store_url: str) -> Iterator[SideDatabase]:
    app = TimelineApp(settings=Settings(database_url=store_url, environment="test"))
    side = SideDatabase(app)
    with side.transaction() as tx:
        tx.execute("DROP TABLE IF EXISTS side_test")
        tx.execute(
            "CREATE TABLE side_test (k TEXT PRIMARY KEY, n INTEGER, x DOUBLE PRECISION, t TEXT)"
        )
    yield side
    side.close()
    app.close()


def test_plain_inserts_keep_every_value_as_given(db: SideDatabase) -> None:
    rows = [(f"k{i}", i, i / 3 if i % 2 else None, text) for i, text in enumerate(AWKWARD)]
    rows += [(f"n{i}", None, float(i), None) for i in range(5000)]
    with db.transaction() as tx:
        tx.executemany("INSERT INTO side_test (k, n, x, t) VALUES (?, ?, ?, ?)", rows)
        got = tx.execute("SELECT k, n, x, t FROM side_test")
    assert sorted(got, key=repr) == sorted(rows, key=repr)


def test_upserts_insert_and_update_in_one_call(db: SideDatabase) -> None:
    with db.transaction() as tx:
        tx.executemany("INSERT INTO side_test (k, n) VALUES (?, ?)", [("a", 1), ("b", 5)])
        tx.executemany(
            "INSERT INTO side_test (k, n) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET "
            "n = side_test.n + excluded.n",
            [("a", 10), ("b", 10), ("c", 10)],
        )
        got = tx.execute("SELECT k, n FROM side_test ORDER BY k")
    assert got == [("a", 11), ("b", 15), ("c", 10)]


def test_a_failed_batch_writes_nothing(db: SideDatabase) -> None:
    refused = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
    with pytest.raises(refused), db.transaction() as tx:
        tx.executemany("INSERT INTO side_test (k, n) VALUES (?, ?)", [("a", 1), ("a", 2)])
    assert db.query("SELECT count(*) FROM side_test") == [(0,)]
