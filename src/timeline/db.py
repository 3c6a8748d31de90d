"""SQL beside the event store: the events' own SQLite file or PostgreSQL database (or, for the
in-memory store, a private in-memory SQLite database), for projections and the audit tables.
SQL is written once with ``?`` placeholders and runs on both."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg_pool import ConnectionPool

from timeline.application import TimelineApp
from timeline.settings import libpq_params

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


@dataclass(frozen=True)
class PoolSpec:
    """A PostgreSQL connection pool of a :class:`SideDatabase`: its name (in /ready and in
    errors), how many connections it may hold, and how long a caller waits for one before
    ``psycopg_pool.PoolTimeout``."""

    name: str
    max_size: int
    timeout: float


def request_pool(app: TimelineApp) -> PoolSpec:
    """The pool serving requests (projection reads, access-log writes), from the settings."""
    settings = app.settings
    return PoolSpec("requests", settings.request_pool_size, settings.request_pool_timeout)


class SideDatabase:
    """A database beside the event store (see the module docstring)."""

    def __init__(
        self,
        app: TimelineApp,
        *,
        schema: str | None = None,
        path: str | None = None,
        pool: PoolSpec | None = None,
    ) -> None:
        """``schema`` (PostgreSQL) or ``path`` (SQLite) put the tables elsewhere than beside
        the events: a shadow for an online rebuild (:meth:`shadow`). ``pool``: the PostgreSQL
        connections it may hold (default: the request pool of the app's settings); each
        instance has its own pool (on SQLite its own connection), so the requests' and the
        jobs' never wait for each other."""
        env = app.env
        self.app = app
        self._lock = threading.RLock()
        module = str(env.get("PERSISTENCE_MODULE", ""))
        self.path: str | None = None
        self.pool = pool or request_pool(app)
        if module == "eventsourcing.postgres":
            self.dialect: Dialect = "postgres"
            self.schema = schema or str(env.get("POSTGRES_SCHEMA") or "public")
            # every libpq parameter of the URL (several hosts, target_session_attrs…)
            kwargs: dict[str, Any] = libpq_params(env)
            password = kwargs.pop("password", None)
            self._conninfo = psycopg.conninfo.make_conninfo(**kwargs)
            kwargs = {"password": password} if password else {}
            kwargs["options"] = f"-c search_path={self.schema}"
            self._kwargs = kwargs
            self._pool: Any = ConnectionPool(
                self._conninfo,
                kwargs=kwargs,
                min_size=1,
                max_size=self.pool.max_size,
                timeout=self.pool.timeout,
                name=f"timeline-{self.pool.name}",
                open=True,
            )
        else:
            self.dialect = "sqlite"
            path = path or str(env.get("SQLITE_DBNAME") or ":memory:")
            self.path = path
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
        """A PostgreSQL connection of the pool, in autocommit mode (DDL)."""
        with self._pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                conn.autocommit = False

    def dedicated_connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A new PostgreSQL connection outside the pool, in autocommit mode, for a session
        that lasts: the follower's LISTEN, the jobs' advisory locks. The caller closes it."""
        return psycopg.connect(self._conninfo, autocommit=True, **self._kwargs)

    def pool_stats(self) -> dict[str, int] | None:
        """The pool's counters (``psycopg_pool`` ``get_stats``: size, available, waiting,
        timeouts as ``requests_errors``, …); None on SQLite."""
        if self.dialect != "postgres":
            return None
        return dict(self._pool.get_stats())

    # -- online rebuilds ------------------------------------------------------------------------

    @property
    def can_shadow(self) -> bool:
        """False for a private in-memory database (the memory store), which has no second
        place to build in."""
        return self.dialect == "postgres" or self.path not in (None, "", ":memory:")

    def shadow(self, name: str) -> SideDatabase:
        """An empty place beside this database to build tables ``name`` in while readers keep
        using these: a schema ``<schema>_rebuild_<name>`` on PostgreSQL, a file
        ``<path>.rebuild-<name>`` on SQLite."""
        if self.dialect == "postgres":
            schema = f"{self.schema}_rebuild_{name}"[:63]
            with self.connection() as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                conn.execute(f'CREATE SCHEMA "{schema}"')
            return SideDatabase(self.app, schema=schema, pool=self.pool)
        path = f"{self.path}.rebuild-{name}"
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)
        return SideDatabase(self.app, path=path, pool=self.pool)

    def replace_tables(self, shadow: SideDatabase, tables: Sequence[str], lock_sql: str) -> None:
        """In one transaction, after ``lock_sql`` (which locks what writers of these tables
        lock), replace the rows of ``tables`` with the shadow's. Readers see the old rows until
        the commit, then the new; indexes and grants stay. The tables must have the same
        columns in the same order."""
        if self.dialect == "postgres":
            with self.transaction() as tx:
                tx.execute(lock_sql)
                for t in tables:
                    tx.execute(f"DELETE FROM {t}")
                    tx.execute(f'INSERT INTO {t} SELECT * FROM "{shadow.schema}".{t}')
            return
        with self._lock:
            self._sqlite.execute("ATTACH DATABASE ? AS shadow", [shadow.path])
            try:
                with self.transaction() as tx:
                    tx.execute(lock_sql)
                    for t in tables:
                        tx.execute(f"DELETE FROM main.{t}")
                        tx.execute(f"INSERT INTO main.{t} SELECT * FROM shadow.{t}")
            finally:
                self._sqlite.execute("DETACH DATABASE shadow")

    def drop(self) -> None:
        """Remove a shadow made by :meth:`shadow` (closes it)."""
        if self.dialect == "postgres":
            with self.connection() as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            self.close()
            return
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{self.path}{suffix}")

    def close(self) -> None:
        if self.dialect == "postgres":
            self._pool.close()
        else:
            self._sqlite.close()
