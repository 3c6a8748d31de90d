"""TIMELINE_READ_DATABASE_URL: refused unless both it and the primary are PostgreSQL; a
replica's transactions pass over the schema statements the primary runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from timeline.settings import Settings
from timeline.store.replica import is_schema_statement

PG = "postgresql://postgres@127.0.0.1:5432/timeline"


def test_a_replica_of_sqlite_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError, match="TIMELINE_DATABASE_URL must be a postgresql://"):
        Settings(database_url="sqlite:///x.db", read_database_url=PG)
    with pytest.raises(ValidationError, match="TIMELINE_READ_DATABASE_URL must be a postgresql"):
        Settings(database_url=PG, read_database_url="memory:")


def test_several_standbys_in_one_url_are_accepted() -> None:
    url = "postgresql://postgres@10.0.0.2:5432,10.0.0.3:5432/timeline?target_session_attrs=standby"
    assert Settings(database_url=PG, read_database_url=url).read_database_url == url
    assert Settings(database_url="sqlite:///x.db").read_database_url is None


@pytest.mark.parametrize(
    ("sql", "schema"),
    [
        ("CREATE TABLE IF NOT EXISTS t (id INTEGER)", True),
        ("  create index if not exists i on t (x)", True),
        ("ALTER TABLE t ADD COLUMN stale TEXT", True),
        ("DROP TABLE IF EXISTS legacy", True),
        ("INSERT INTO t (id, position) SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM t)", True),
        ("INSERT INTO t (id) VALUES (1)", False),
        ("SELECT position FROM t WHERE id = 1", False),
        ("UPDATE t SET position = 2", False),
    ],
)
def test_only_schema_statements_are_passed_over_on_a_replica(sql: str, schema: bool) -> None:
    assert is_schema_statement(sql) is schema
