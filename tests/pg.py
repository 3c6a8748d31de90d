"""PostgreSQL for tests: a uniquely named database per test session, dropped afterwards.

Under ``CI=true`` an unreachable server is a failure, never a skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

PG_HOST = os.environ.get("TIMELINE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TIMELINE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TIMELINE_TEST_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("TIMELINE_TEST_PG_PASSWORD", "")


def admin_dsn(dbname: str = "postgres") -> str:
    return psycopg.conninfo.make_conninfo(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname=dbname,
        **({"password": PG_PASSWORD} if PG_PASSWORD else {}),
    )


def url(dbname: str, schema: str | None = None) -> str:
    auth = PG_USER + (f":{PG_PASSWORD}" if PG_PASSWORD else "")
    suffix = f"?schema={schema}" if schema else ""
    return f"postgresql://{auth}@{PG_HOST}:{PG_PORT}/{dbname}{suffix}"


def require_postgres() -> None:
    try:
        with psycopg.connect(admin_dsn(), connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT} as {PG_USER}: {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} — PostgreSQL tests are mandatory under CI=true", pytrace=False)
        pytest.skip(f"{message} (start it, or run under CI=true to make this a failure)")


@contextmanager
def temporary_database() -> Iterator[str]:
    """Create ``timeline_test_<random>``; drop it (ending its connections) afterwards."""
    require_postgres()
    name = f"timeline_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(admin_dsn(), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def fresh_schema(dbname: str) -> str:
    schema = f"s_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn(dbname), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema
