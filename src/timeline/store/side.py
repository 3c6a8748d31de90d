"""The side database: tables beside the event store — the projections' and the audit's — in the
events' own SQLite file or PostgreSQL database (for the in-memory store, a private in-memory
SQLite database). Built from :class:`~timeline.settings.Settings`, never from the library's env.

SQL is the dialect's own: each transaction knows its dialect and its named statements
(``tx.sql``: :mod:`timeline.store.sql_sqlite` or :mod:`timeline.store.sql_postgres`, with the
placeholder ``tx.sql.P``). Nothing rewrites a statement. Bulk writes say what they are:
:meth:`Tx.copy` for plain rows (COPY on PostgreSQL), :meth:`Tx.insert` for rows with an
``ON CONFLICT`` clause (multi-row statements on PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg_pool import ConnectionPool

from timeline.settings import Database, Settings, database
from timeline.store import sql_postgres, sql_sqlite
from timeline.store.sql import Statements

Dialect = Literal["sqlite", "postgres"]
STATEMENTS: dict[Dialect, Statements] = {"sqlite": sql_sqlite, "postgres": sql_postgres}

#: the most parameters one multi-row statement of :meth:`Tx.insert` carries on PostgreSQL
MAX_PARAMS = 30_000


class Tx:
    """A transaction on the side database."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self.dialect: Dialect = dialect
        self.sql: Statements = STATEMENTS[dialect]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (placeholders ``tx.sql.P``); its rows, if it returns any."""
        cur = self._conn.execute(sql, tuple(params))
        return list(cur.fetchall()) if cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row."""
        if not rows:
            return
        if self.dialect == "sqlite":
            self._conn.executemany(sql, [tuple(r) for r in rows])
            return
        with self._conn.cursor() as cur:
            cur.executemany(sql, [tuple(r) for r in rows])

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Add ``rows`` to ``table``: COPY on PostgreSQL (no statement per row), one prepared
        INSERT run per row on SQLite."""
        if not rows:
            return
        names = ",".join(columns)
        if self.dialect == "sqlite":
            marks = ",".join("?" * len(columns))
            self._conn.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks})", [tuple(r) for r in rows]
            )
            return
        with self._conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        on_conflict: str = "",
    ) -> None:
        """``INSERT INTO table (columns) VALUES … ON CONFLICT <on_conflict>`` for every row:
        on PostgreSQL as multi-row statements of at most :data:`MAX_PARAMS` parameters (so a
        ``DO UPDATE`` must not meet the same key twice in one call), on SQLite one prepared
        statement run per row. ``on_conflict`` is the clause after ``ON CONFLICT`` (the
        dialect's own SQL, without parameters); empty for none."""
        if not rows:
            return
        head = f"INSERT INTO {table} ({','.join(columns)}) VALUES "
        tail = f" ON CONFLICT {on_conflict}" if on_conflict else ""
        group = "(" + ",".join([self.sql.P] * len(columns)) + ")"
        if self.dialect == "sqlite":
            self._conn.executemany(head + group + tail, [tuple(r) for r in rows])
            return
        per = max(1, MAX_PARAMS // len(columns))
        with self._conn.cursor() as cur:
            for i in range(0, len(rows), per):
                chunk = rows[i : i + per]
                cur.execute(
                    head + ",".join([group] * len(chunk)) + tail, [v for r in chunk for v in r]
                )


#: a SQLite write transaction held longer than this (s) is followed by a pause (see transaction);
#: shorter ones (a request's, a test's) pay nothing
YIELD_AFTER = 0.25
#: the longest such pause (s): longer than the busy handler's longest poll interval (100 ms),
#: so a process waiting to write polls at least once while the lock is free
YIELD_MAX = 0.12


@dataclass(frozen=True)
class PoolSpec:
    """A PostgreSQL connection pool of a :class:`SideDatabase`: its name (in /ready and in
    errors), how many connections it may hold, and how long a caller waits for one before
    ``psycopg_pool.PoolTimeout``."""

    name: str
    max_size: int
    timeout: float


def request_pool(settings: Settings) -> PoolSpec:
    """The pool serving requests (projection reads, access-log writes), from the settings."""
    return PoolSpec("requests", settings.request_pool_size, settings.request_pool_timeout)


class SideDatabase:
    """The database beside the event store of ``settings`` (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        pool: PoolSpec | None = None,
        schema: str | None = None,
        path: str | None = None,
    ) -> None:
        """``pool``: the PostgreSQL connections it may hold (default: the request pool of the
        settings); each instance has its own pool (on SQLite its own connection), so the
        requests' and the jobs' never wait for each other. ``schema`` (PostgreSQL) or ``path``
        (SQLite) put the tables elsewhere than beside the events: a shadow for an online
        rebuild (:meth:`shadow`)."""
        self.settings = settings
        self.location: Database = database(settings.database_url)
        self.pool = pool or request_pool(settings)
        self._lock = threading.RLock()
        self.path: str | None = None
        if self.location.kind == "postgres":
            self.dialect: Dialect = "postgres"
            self.schema = schema or self.location.schema
            # every libpq parameter of the URL (several hosts, target_session_attrs…)
            libpq = self.location.libpq()
            password = libpq.pop("password", None)
            self._conninfo = psycopg.conninfo.make_conninfo(**libpq)
            kwargs: dict[str, Any] = {"options": f"-c search_path={self.schema}"}
            if password:
                kwargs["password"] = password
            self._kwargs = kwargs
            self._pool: ConnectionPool[Any] = ConnectionPool(
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
            self.path = path or self.location.path or ":memory:"
            self._sqlite = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._sqlite.execute("PRAGMA busy_timeout = 30000")
        self.sql: Statements = STATEMENTS[self.dialect]

    @property
    def in_memory(self) -> bool:
        """Whether the event store lives in this process only (``memory:``): then so does
        this database, privately."""
        return self.location.kind == "memory"

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.dialect == "postgres":
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, "postgres")
            return
        with self._lock:
            self._sqlite.execute("BEGIN IMMEDIATE")
            began = time.perf_counter()
            try:
                yield Tx(self._sqlite, "sqlite")
            except BaseException:
                self._sqlite.execute("ROLLBACK")
                raise
            self._sqlite.execute("COMMIT")
            held = time.perf_counter() - began
            if held > YIELD_AFTER:
                # SQLite has one writer and its busy handler polls (every 100 ms at most): a
                # process that commits a long write and begins the next at once (the jobs
                # catching up, in several threads) can starve another process's short write (a
                # request's access-log entry) for seconds. Pausing, still holding this
                # process's lock so its other threads wait too, gives the waiters their turn.
                time.sleep(min(YIELD_MAX, held / 2))

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
                    cur = conn.execute(sql, tuple(params))
                    return list(cur.fetchall()) if cur.description else []
                finally:
                    conn.autocommit = False
        with self._lock:
            cur = self._sqlite.execute(sql, tuple(params))
            return list(cur.fetchall()) if cur.description else []

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
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
            return SideDatabase(self.settings, schema=schema, pool=self.pool)
        path = f"{self.path}.rebuild-{name}"
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)
        return SideDatabase(self.settings, path=path, pool=self.pool)

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
