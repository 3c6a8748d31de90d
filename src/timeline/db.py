"""SQL beside the event store: the events' own SQLite file or PostgreSQL database (or, for the
in-memory store, a private in-memory SQLite database), for projections and the audit tables.
SQL is written once with ``?`` placeholders and runs on both."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from psycopg_pool import ConnectionPool

from timeline.application import TimelineApp

Dialect = Literal["sqlite", "postgres"]

#: ``INSERT … VALUES (?, …, ?) [tail]``: head, the placeholder group, the tail
_VALUES = re.compile(r"^(INSERT\s.+?)\s+VALUES\s*\(((?:\s*\?\s*,)*\s*\?\s*)\)(.*)$", re.S)
_MAX_PARAMS = 30_000


class Tx:
    """A transaction on the view database. SQL is written with ``?`` placeholders."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(self._sql(sql), tuple(params))
        return list(cur.fetchall()) if cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per row. On PostgreSQL a plain ``INSERT … VALUES (?,…)`` is sent
        as COPY, and one with a tail (``ON CONFLICT …``) as multi-row statements of up to
        ~30,000 parameters — whose ``DO UPDATE`` must then not meet the same key twice in
        one call."""
        if not rows:
            return
        if self.dialect == "sqlite":
            self._conn.executemany(sql, [tuple(r) for r in rows])
            return
        match = _VALUES.match(sql)
        if match is None:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])
            return
        head, marks, tail = match.groups()
        if not tail.strip():  # a plain insert: COPY, no statement to parse at all
            target = head.split(None, 2)[2]  # "INSERT INTO table (columns)" -> "table (columns)"
            with self._conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            return
        width = marks.count("?")
        group = "(" + ",".join(["%s"] * width) + ")"
        per = max(1, _MAX_PARAMS // width)
        with self._conn.cursor() as cur:
            for i in range(0, len(rows), per):
                chunk = rows[i : i + per]
                cur.execute(
                    f"{head} VALUES {','.join([group] * len(chunk))}{self._sql(tail)}",
                    [v for r in chunk for v in r],
                )


class SideDatabase:
    """A database beside the event store (see the module docstring)."""

    def __init__(self, app: TimelineApp) -> None:
        env = app.env
        self._lock = threading.RLock()
        module = str(env.get("PERSISTENCE_MODULE", ""))
        if module == "eventsourcing.postgres":
            self.dialect: Dialect = "postgres"
            self.schema = str(env.get("POSTGRES_SCHEMA") or "public")
            conninfo = (
                f"host={env.get('POSTGRES_HOST')} port={env.get('POSTGRES_PORT')} "
                f"dbname={env.get('POSTGRES_DBNAME')} user={env.get('POSTGRES_USER')}"
            )
            password = env.get("POSTGRES_PASSWORD")
            kwargs: dict[str, Any] = {"password": password} if password else {}
            kwargs["options"] = f"-c search_path={self.schema}"
            self._pool: Any = ConnectionPool(
                conninfo, kwargs=kwargs, min_size=1, max_size=4, open=True
            )
        else:
            self.dialect = "sqlite"
            path = str(env.get("SQLITE_DBNAME") or ":memory:")
            self._sqlite = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._sqlite.execute("PRAGMA busy_timeout = 30000")

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.dialect == "postgres":
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, "postgres")
            return
        with self._lock:
            self._sqlite.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._sqlite, "sqlite")
            except BaseException:
                self._sqlite.execute("ROLLBACK")
                raise
            self._sqlite.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction: on SQLite a deferred one, so readers do not queue behind a
        writer (WAL mode gives them the last committed snapshot)."""
        if self.dialect == "postgres":
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, "postgres")
            return
        with self._lock:
            self._sqlite.execute("BEGIN")
            try:
                yield Tx(self._sqlite, "sqlite")
            finally:
                self._sqlite.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One read statement outside any explicit transaction (one round trip on PostgreSQL:
        no BEGIN/COMMIT); the statement is its own consistent snapshot."""
        if self.dialect == "postgres":
            with self._pool.connection() as conn:
                conn.autocommit = True
                try:
                    cur = conn.execute(sql.replace("?", "%s"), tuple(params))
                    return list(cur.fetchall()) if cur.description else []
                finally:
                    conn.autocommit = False
        with self._lock:
            cur = self._sqlite.execute(sql, tuple(params))
            return list(cur.fetchall()) if cur.description else []

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A PostgreSQL connection of the pool, in autocommit mode (advisory locks)."""
        with self._pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                conn.autocommit = False

    def close(self) -> None:
        if self.dialect == "postgres":
            self._pool.close()
        else:
            self._sqlite.close()
