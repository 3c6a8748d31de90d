"""The SQL beside the store writes rows exactly as given, whichever path a dialect takes for a
bulk write (PostgreSQL: COPY for ``copy``, multi-row statements for ``insert``), and runs each
dialect's own statements as written (no placeholder is rewritten: a ``?`` in a PostgreSQL
string literal stays a question mark)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest

from timeline.settings import Settings
from timeline.store import side
from timeline.store.side import SideDatabase

AWKWARD = ["plain", "tab\there", "line\nbreak", "back\\slash", "\\N", "", "ääkköset", "quote'\""]
COLUMNS = ("k", "n", "x", "t")


@pytest.fixture
def db(store_url: str) -> Iterator[SideDatabase]:
    side_db = SideDatabase(Settings(database_url=store_url, environment="test"))
    with side_db.transaction() as tx:
        tx.execute("DROP TABLE IF EXISTS side_test")
        tx.execute(
            "CREATE TABLE side_test (k TEXT PRIMARY KEY, n INTEGER, x DOUBLE PRECISION, t TEXT)"
        )
    yield side_db
    side_db.close()


def test_copied_rows_keep_every_value_as_given(db: SideDatabase) -> None:
    rows = [(f"k{i}", i, i / 3 if i % 2 else None, text) for i, text in enumerate(AWKWARD)]
    rows += [(f"n{i}", None, float(i), None) for i in range(5000)]
    with db.transaction() as tx:
        tx.copy("side_test", COLUMNS, rows)
        got = tx.execute("SELECT k, n, x, t FROM side_test")
    assert sorted(got, key=repr) == sorted(rows, key=repr)


def test_inserts_with_a_conflict_clause_insert_and_update_in_one_call(
    db: SideDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(side, "MAX_PARAMS", 4)  # two rows a statement: several statements
    with db.transaction() as tx:
        tx.insert("side_test", ("k", "n"), [("a", 1), ("b", 5)])
        tx.insert(
            "side_test",
            ("k", "n", "t"),
            [("a", 10, AWKWARD[1]), ("b", 10, AWKWARD[4]), ("c", 10, AWKWARD[7])],
            on_conflict="(k) DO UPDATE SET n = side_test.n + excluded.n, t = excluded.t",
        )
        got = tx.execute("SELECT k, n, t FROM side_test ORDER BY k")
    assert got == [("a", 11, AWKWARD[1]), ("b", 15, AWKWARD[4]), ("c", 10, AWKWARD[7])]


def test_statements_run_as_written_in_the_dialects_placeholders(db: SideDatabase) -> None:
    p = db.sql.P
    with db.transaction() as tx:
        tx.execute(f"INSERT INTO side_test (k, t) VALUES ({p}, 'what?')", ["q"])
        tx.executemany(f"INSERT INTO side_test (k, n) VALUES ({p}, {p})", [("r", 1), ("s", 2)])
    assert db.query(f"SELECT t FROM side_test WHERE k = {p}", ["q"]) == [("what?",)]
    assert db.query("SELECT count(*) FROM side_test WHERE t = 'what?' OR n > 0") == [(3,)]


@pytest.mark.parametrize("bulk", ["copy", "insert"])
def test_a_failed_bulk_write_writes_nothing(db: SideDatabase, bulk: str) -> None:
    refused = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)
    with pytest.raises(refused), db.transaction() as tx:
        getattr(tx, bulk)("side_test", ("k", "n"), [("a", 1), ("a", 2)])
    assert db.query("SELECT count(*) FROM side_test") == [(0,)]
