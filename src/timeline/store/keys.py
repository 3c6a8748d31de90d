"""The key ring: one 256-bit data key per seeker, which seals the personal part of its events
(stored form 2, :mod:`timeline.store.form2`; ADR 0009 §5 and its 2026-12-02 addendum), wrapped
by the master key (``TIMELINE_MASTER_KEY``) and kept in ``timeline_seeker_keys`` — **outside**
the data backup, so that destroying a key (erasure by crypto-shredding, issue 14) also makes
every older backup of that seeker's personal fields unreadable:

- SQLite: a database file of its own beside the store (``timeline.db`` → ``timeline.keys.db``);
- PostgreSQL: the schema ``timeline_keys`` of the same database (``<schema>_keys`` when the
  store is in another schema than ``public``), so hot standbys have the keys too;
- ``TIMELINE_KEYS_URL`` (``sqlite:///…`` or ``postgresql://…[?schema=s]``) puts them elsewhere;
- the memory store: in this process only.

A row is ``(seeker_id, key_version, wrapped, erased_at)``. ``wrapped`` is ``0x01`` · the
master key's id (8 bytes: the first 8 of SHA-256 of a label and the master key, so a row says
which master key wrapped it without revealing it) · a 12-byte nonce · AES-256-GCM(data key) with
the tag, its AAD the seeker's 16 bytes and the key version (int16 big-endian): a wrapped key
cannot be moved to another seeker. Erasure sets ``wrapped`` NULL and ``erased_at``.

Keys are made before the events sealed with them are written (:meth:`KeyRing.data_keys` with
``create=True`` commits them first): a key row without events is harmless, an event sealed with
a key that was never stored would be lost. Unwrapped keys are kept in this process (a bounded
cache); :meth:`KeyRing.destroy` evicts them here, another process forgets them when it restarts
or calls :meth:`KeyRing.evict`."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import sqlite3
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from timeline.settings import Database, Settings, base64_key, database

TABLE = "timeline_seeker_keys"
#: the key version of every data key made today (a later per-seeker re-key would add 2, …)
KEY_VERSION = 1
KEY_BYTES = 32
_WRAP_FORM = 1
_ID_LABEL = b"timeline master key id v1\x00"
#: unwrapped keys kept in a process (about 150 bytes each)
CACHE_SIZE = 200_000


class SeekerErased(Exception):
    """The seeker's data key was destroyed (erased): its personal fields cannot be read, and
    no new key is made for it."""

    def __init__(self, seeker_id: str) -> None:
        super().__init__(f"the data key of seeker {seeker_id} was destroyed (erased)")
        self.seeker_id = seeker_id


class MasterKeyError(Exception):
    """The master key is missing, malformed, or does not open a stored data key."""


# -- the master key --------------------------------------------------------------------------


def parse_master_key(variable: str, text: str) -> bytes:
    """The 32 bytes of a base64 master key; ValueError naming ``variable`` and the reason."""
    return base64_key(variable, text)


def new_master_key() -> str:
    """A new master key, as ``TIMELINE_MASTER_KEY`` takes it (base64 of 32 random bytes)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def master_key_id(master: bytes) -> bytes:
    """The 8-byte id of a master key stored with each wrapped key (reveals nothing of it)."""
    return hashlib.sha256(_ID_LABEL + master).digest()[:8]


def dev_key_file(settings: Settings) -> Path | None:
    """Where a development store keeps its generated master key: beside the SQLite file
    (``timeline.db`` → ``timeline.master-key``), in the working directory for PostgreSQL;
    None for the memory store (a random key in the process)."""
    db = database(settings.database_url)
    if db.kind == "memory" or db.path == ":memory:":
        return None
    if db.kind == "sqlite":
        path = Path(db.path)
        return path.with_name(path.stem + ".master-key")
    return Path("timeline.master-key")


def _read_or_make_key_file(path: Path) -> bytes:
    """The master key in ``path``, made (mode 0600) if there is none; a warning on stderr."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_master_key(f"the master key file {path}", path.read_text("ascii"))
    text = new_master_key()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
    print(
        f"timeline: WARNING: TIMELINE_MASTER_KEY is not set; made a development master key in "
        f"{path} (mode 0600). Personal fields are sealed with keys wrapped by it: keep the file "
        "with the store, and never use this in production.",
        file=sys.stderr,
    )
    return base64.b64decode(text)


def master_keys(settings: Settings) -> tuple[bytes, bytes | None]:
    """(current, previous) master keys of ``settings``: ``TIMELINE_MASTER_KEY`` (required in
    production, checked by the settings), else a development key (:func:`dev_key_file`; the
    memory store: random), and ``TIMELINE_MASTER_KEY_PREVIOUS`` if set (for a rotation)."""
    previous = (
        parse_master_key(
            "TIMELINE_MASTER_KEY_PREVIOUS", settings.master_key_previous.get_secret_value()
        )
        if settings.master_key_previous is not None
        and settings.master_key_previous.get_secret_value().strip()
        else None
    )
    if settings.master_key is not None and settings.master_key.get_secret_value().strip():
        current = parse_master_key("TIMELINE_MASTER_KEY", settings.master_key.get_secret_value())
        return current, previous
    if settings.environment == "production":  # (the settings refuse this already)
        raise MasterKeyError("TIMELINE_MASTER_KEY must be set in production")
    path = dev_key_file(settings) if settings.keys_url is None else None
    if path is None:
        if settings.keys_url is None:  # the store lives in this process only
            return secrets.token_bytes(KEY_BYTES), previous
        msg = "TIMELINE_MASTER_KEY must be set when TIMELINE_KEYS_URL is set"
        raise MasterKeyError(msg)
    return _read_or_make_key_file(path), previous


# -- where the rows live -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRow:
    seeker_id: UUID
    key_version: int
    wrapped: bytes | None
    erased_at: datetime | None


class KeyTable(Protocol):
    """The ``timeline_seeker_keys`` rows, wherever they live."""

    where: str

    def select(self, seeker_ids: Sequence[UUID]) -> dict[UUID, KeyRow]: ...
    def insert_new(self, rows: Sequence[KeyRow]) -> None:
        """Insert rows whose seeker has none yet (a concurrent writer's row wins)."""

    def destroy(self, seeker_ids: Sequence[UUID], at: datetime) -> list[UUID]: ...
    def scan(self, after: UUID | None, limit: int) -> list[KeyRow]: ...
    def rewrap(self, rows: Sequence[tuple[UUID, bytes]]) -> None: ...
    def close(self) -> None: ...


class MemoryKeyTable:
    where = "memory (this process)"

    def __init__(self) -> None:
        self._rows: dict[UUID, KeyRow] = {}
        self._lock = threading.Lock()

    def select(self, seeker_ids: Sequence[UUID]) -> dict[UUID, KeyRow]:
        with self._lock:
            return {s: self._rows[s] for s in seeker_ids if s in self._rows}

    def insert_new(self, rows: Sequence[KeyRow]) -> None:
        with self._lock:
            for r in rows:
                self._rows.setdefault(r.seeker_id, r)

    def destroy(self, seeker_ids: Sequence[UUID], at: datetime) -> list[UUID]:
        had: list[UUID] = []
        with self._lock:
            for s in dict.fromkeys(seeker_ids):
                row = self._rows.get(s)
                if row is not None and row.wrapped is not None:
                    had.append(s)
                erased_at = row.erased_at if row is not None and row.erased_at else at
                version = row.key_version if row is not None else KEY_VERSION
                self._rows[s] = KeyRow(s, version, None, erased_at)
        return had

    def scan(self, after: UUID | None, limit: int) -> list[KeyRow]:
        with self._lock:
            ids = sorted(s for s in self._rows if after is None or str(s) > str(after))
            return [self._rows[s] for s in ids[:limit]]

    def rewrap(self, rows: Sequence[tuple[UUID, bytes]]) -> None:
        with self._lock:
            for s, wrapped in rows:
                old = self._rows[s]
                if old.wrapped is not None:
                    self._rows[s] = KeyRow(s, old.key_version, wrapped, None)

    def close(self) -> None:
        pass


class SQLiteKeyTable:
    """The rows in a SQLite file of their own (never the store's file: a copy of the store is
    no copy of its keys)."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        self.where = f"sqlite:///{path}"
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.execute("PRAGMA busy_timeout = 30000")
        if create:
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (seeker_id TEXT PRIMARY KEY, "
                "key_version INTEGER NOT NULL, wrapped BLOB, erased_at TEXT)"
            )
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @staticmethod
    def _row(r: Sequence[Any]) -> KeyRow:
        return KeyRow(
            UUID(r[0]),
            int(r[1]),
            bytes(r[2]) if r[2] is not None else None,
            datetime.fromisoformat(r[3]) if r[3] is not None else None,
        )

    def select(self, seeker_ids: Sequence[UUID]) -> dict[UUID, KeyRow]:
        out: dict[UUID, KeyRow] = {}
        ids = [str(s) for s in dict.fromkeys(seeker_ids)]
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for r in self._conn.execute(
                    f"SELECT seeker_id, key_version, wrapped, erased_at FROM {TABLE} "
                    f"WHERE seeker_id IN ({marks})",
                    chunk,
                ):
                    row = self._row(r)
                    out[row.seeker_id] = row
        return out

    def insert_new(self, rows: Sequence[KeyRow]) -> None:
        with self._tx() as c:
            c.executemany(
                f"INSERT INTO {TABLE} (seeker_id, key_version, wrapped, erased_at) "
                "VALUES (?, ?, ?, NULL) ON CONFLICT (seeker_id) DO NOTHING",
                [(str(r.seeker_id), r.key_version, r.wrapped) for r in rows],
            )

    def destroy(self, seeker_ids: Sequence[UUID], at: datetime) -> list[UUID]:
        ids = list(dict.fromkeys(seeker_ids))
        with self._tx() as c:
            had = []
            for s in ids:
                r = c.execute(
                    f"SELECT wrapped FROM {TABLE} WHERE seeker_id = ?", [str(s)]
                ).fetchone()
                if r is not None and r[0] is not None:
                    had.append(s)
            c.executemany(
                f"INSERT INTO {TABLE} (seeker_id, key_version, wrapped, erased_at) "
                "VALUES (?, ?, NULL, ?) ON CONFLICT (seeker_id) DO UPDATE SET wrapped = NULL, "
                "erased_at = coalesce(erased_at, excluded.erased_at)",
                [(str(s), KEY_VERSION, _iso(at)) for s in ids],
            )
        return had

    def scan(self, after: UUID | None, limit: int) -> list[KeyRow]:
        with self._lock:
            return [
                self._row(r)
                for r in self._conn.execute(
                    f"SELECT seeker_id, key_version, wrapped, erased_at FROM {TABLE} "
                    "WHERE seeker_id > ? ORDER BY seeker_id LIMIT ?",
                    [str(after) if after else "", limit],
                )
            ]

    def rewrap(self, rows: Sequence[tuple[UUID, bytes]]) -> None:
        with self._tx() as c:
            c.executemany(
                f"UPDATE {TABLE} SET wrapped = ? WHERE seeker_id = ? AND wrapped IS NOT NULL",
                [(w, str(s)) for s, w in rows],
            )

    def close(self) -> None:
        self._conn.close()


class PostgresKeyTable:
    """The rows in a schema of their own (``pg_dump --exclude-schema`` leaves them out of a
    data backup; streaming replication still copies them to the standbys)."""

    def __init__(self, db: Database, schema: str, *, create: bool = True) -> None:
        import psycopg  # noqa: PLC0415 - only for PostgreSQL stores

        self.where = f"postgresql://{db.host}:{db.port}/{db.dbname} schema {schema}"
        self._schema = schema
        self._lock = threading.Lock()
        conninfo = psycopg.conninfo.make_conninfo(**db.libpq())

        def connect() -> Any:
            return psycopg.connect(conninfo, autocommit=True)

        self._connect = connect
        self._conn: Any = None
        self._t = f'"{schema}".{TABLE}'
        if create:
            with self._cursor() as c:
                c.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                c.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._t} (seeker_id uuid PRIMARY KEY, "
                    "key_version smallint NOT NULL, wrapped bytea, erased_at timestamptz)"
                )

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor on this table's own connection (in autocommit; ``transaction()`` for more
        than one statement). A broken connection is made again on the next use."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            try:
                yield self._conn.cursor()
            except Exception:
                if self._conn.broken:
                    self._conn.close()
                raise

    @staticmethod
    def _row(r: Sequence[Any]) -> KeyRow:
        return KeyRow(r[0], int(r[1]), bytes(r[2]) if r[2] is not None else None, r[3])

    def select(self, seeker_ids: Sequence[UUID]) -> dict[UUID, KeyRow]:
        with self._cursor() as c:
            c.execute(
                f"SELECT seeker_id, key_version, wrapped, erased_at FROM {self._t} "
                "WHERE seeker_id = ANY(%s)",
                [list(dict.fromkeys(seeker_ids))],
            )
            return {row.seeker_id: row for row in map(self._row, c.fetchall())}

    def insert_new(self, rows: Sequence[KeyRow]) -> None:
        with self._cursor() as c:
            c.execute(
                f"INSERT INTO {self._t} (seeker_id, key_version, wrapped) "
                "SELECT * FROM unnest(%s::uuid[], %s::smallint[], %s::bytea[]) "
                "ON CONFLICT (seeker_id) DO NOTHING",
                [
                    [r.seeker_id for r in rows],
                    [r.key_version for r in rows],
                    [r.wrapped for r in rows],
                ],
            )

    def destroy(self, seeker_ids: Sequence[UUID], at: datetime) -> list[UUID]:
        ids = list(dict.fromkeys(seeker_ids))
        with self._cursor() as c, c.connection.transaction():
            c.execute(
                f"SELECT seeker_id FROM {self._t} WHERE seeker_id = ANY(%s) "
                "AND wrapped IS NOT NULL FOR UPDATE",
                [ids],
            )
            had = {r[0] for r in c.fetchall()}
            c.execute(
                f"INSERT INTO {self._t} (seeker_id, key_version, wrapped, erased_at) "
                "SELECT s, %s, NULL, %s FROM unnest(%s::uuid[]) AS s "
                "ON CONFLICT (seeker_id) DO UPDATE SET wrapped = NULL, "
                f"erased_at = coalesce({TABLE}.erased_at, excluded.erased_at)",
                [KEY_VERSION, at, ids],
            )
        return [s for s in ids if s in had]

    def scan(self, after: UUID | None, limit: int) -> list[KeyRow]:
        with self._cursor() as c:
            c.execute(
                f"SELECT seeker_id, key_version, wrapped, erased_at FROM {self._t} "
                "WHERE seeker_id > %s ORDER BY seeker_id LIMIT %s",
                [after or UUID(int=0), limit],
            )
            return [self._row(r) for r in c.fetchall()]

    def rewrap(self, rows: Sequence[tuple[UUID, bytes]]) -> None:
        with self._cursor() as c, c.connection.transaction():
            c.execute(
                f"UPDATE {self._t} AS k SET wrapped = n.w FROM unnest(%s::uuid[], %s::bytea[]) "
                "AS n(s, w) WHERE k.seeker_id = n.s AND k.wrapped IS NOT NULL",
                [[s for s, _ in rows], [w for _, w in rows]],
            )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def key_table(settings: Settings, *, create: bool = True) -> KeyTable:
    """The key table of ``settings`` (see the module docstring); ``create``: make it if it is
    not there (False on a read-only standby)."""
    url = settings.keys_url
    db = database(url if url is not None else settings.database_url)
    if db.kind == "memory" or db.path == ":memory:":
        return MemoryKeyTable()
    if db.kind == "sqlite":
        if url is not None:
            return SQLiteKeyTable(db.path, create=create)
        path = Path(db.path)
        stem = path.name[: -len(".db")] if path.name.endswith(".db") else path.name
        return SQLiteKeyTable(str(path.with_name(stem + ".keys.db")), create=create)
    if url is not None and "schema=" in url:
        schema = db.schema
    else:
        schema = "timeline_keys" if db.schema == "public" else f"{db.schema}_keys"
    return PostgresKeyTable(db, schema, create=create)


# -- the ring ------------------------------------------------------------------------------------


class KeyRing:
    """Per-seeker data keys (see the module docstring). Thread-safe."""

    def __init__(
        self, table: KeyTable, master: bytes, previous: bytes | None = None, *, cache_size: int = 0
    ) -> None:
        self.table = table
        self._master = AESGCM(master)
        self._master_id = master_key_id(master)
        self._previous = AESGCM(previous) if previous is not None else None
        self._previous_id = master_key_id(previous) if previous is not None else None
        self._cache: OrderedDict[UUID, tuple[int, bytes]] = OrderedDict()
        self._cache_size = cache_size or CACHE_SIZE
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, create_table: bool = True) -> KeyRing:
        current, previous = master_keys(settings)
        return cls(key_table(settings, create=create_table), current, previous)

    @property
    def master_id(self) -> str:
        """The current master key's id (hex), as ``timeline keys status`` shows it."""
        return self._master_id.hex()

    # -- wrapping --------------------------------------------------------------------------

    @staticmethod
    def _aad(seeker_id: UUID, key_version: int) -> bytes:
        return seeker_id.bytes + key_version.to_bytes(2, "big")

    def _wrap(self, seeker_id: UUID, key_version: int, key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        sealed = self._master.encrypt(nonce, key, self._aad(seeker_id, key_version))
        return bytes((_WRAP_FORM,)) + self._master_id + nonce + sealed

    def _unwrap(self, row: KeyRow) -> bytes:
        wrapped = row.wrapped
        assert wrapped is not None
        if len(wrapped) != 1 + 8 + 12 + KEY_BYTES + 16 or wrapped[0] != _WRAP_FORM:
            msg = f"the stored key of seeker {row.seeker_id} is malformed ({len(wrapped)} bytes)"
            raise MasterKeyError(msg)
        wrapped_by = wrapped[1:9]
        if wrapped_by == self._master_id:
            cipher = self._master
        elif self._previous is not None and wrapped_by == self._previous_id:
            cipher = self._previous
        else:
            msg = (
                f"the key of seeker {row.seeker_id} is wrapped by master key id "
                f"{wrapped_by.hex()}, but TIMELINE_MASTER_KEY is id {self._master_id.hex()}"
                + (
                    f" and TIMELINE_MASTER_KEY_PREVIOUS id {self._previous_id.hex()}"
                    if self._previous_id is not None
                    else " (TIMELINE_MASTER_KEY_PREVIOUS is not set)"
                )
                + ": wrong master key? (after a rotation, the new key; during one, both)"
            )
            raise MasterKeyError(msg)
        try:
            return cipher.decrypt(
                wrapped[9:21], wrapped[21:], self._aad(row.seeker_id, row.key_version)
            )
        except InvalidTag:
            msg = (
                f"the key of seeker {row.seeker_id} does not open with master key id "
                f"{wrapped_by.hex()}: the stored key was altered or moved from another seeker"
            )
            raise MasterKeyError(msg) from None

    # -- the API ---------------------------------------------------------------------------

    def data_key(self, seeker_id: UUID, *, create: bool = False) -> tuple[int, bytes] | None:
        """(key version, 32-byte key) of the seeker; None if it has none and not ``create``
        (then a new key is stored, and committed, first). Raises :class:`SeekerErased` if its
        key was destroyed."""
        with self._lock:
            cached = self._cache.get(seeker_id)
        if cached is not None:
            return cached
        return self.data_keys([seeker_id], create=create).get(seeker_id)

    def data_keys(
        self, seeker_ids: Sequence[UUID], *, create: bool = False
    ) -> dict[UUID, tuple[int, bytes]]:
        """The keys of many seekers in one read (and, ``create``, one write of the missing
        ones, committed before this returns). Seekers without a key are left out unless
        ``create``; raises :class:`SeekerErased` (for the first) if any was erased."""
        out: dict[UUID, tuple[int, bytes]] = {}
        missing: list[UUID] = []
        with self._lock:
            for s in dict.fromkeys(seeker_ids):
                cached = self._cache.get(s)
                if cached is None:
                    missing.append(s)
                else:
                    out[s] = cached
        if not missing:
            return out
        rows = self.table.select(missing)
        if create:
            new = [s for s in missing if s not in rows]
            if new:
                made = {s: secrets.token_bytes(KEY_BYTES) for s in new}
                self.table.insert_new(
                    [
                        KeyRow(s, KEY_VERSION, self._wrap(s, KEY_VERSION, k), None)
                        for s, k in made.items()
                    ]
                )
                rows.update(self.table.select(new))  # a concurrent writer's key wins
        found: dict[UUID, tuple[int, bytes]] = {}
        for s in missing:
            row = rows.get(s)
            if row is None:
                continue
            if row.wrapped is None:
                raise SeekerErased(str(s))
            found[s] = (row.key_version, self._unwrap(row))
        with self._lock:
            for s, value in found.items():
                self._cache[s] = value
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        out.update(found)
        return out

    def destroy(self, seeker_ids: Sequence[UUID], at: datetime) -> list[UUID]:
        """Delete the seekers' wrapped keys, keeping a row with ``erased_at`` (so no new key is
        ever made for them); the seekers that had a key. Evicts them from this process."""
        had = self.table.destroy(seeker_ids, at)
        self.evict(seeker_ids)
        return had

    def evict(self, seeker_ids: Sequence[UUID]) -> None:
        """Forget these seekers' unwrapped keys in this process."""
        with self._lock:
            for s in seeker_ids:
                self._cache.pop(s, None)

    def erased(self, seeker_ids: Sequence[UUID]) -> set[UUID]:
        """Those of ``seeker_ids`` whose key was destroyed."""
        return {s for s, row in self.table.select(seeker_ids).items() if row.wrapped is None}

    def rotate(self) -> int:
        """Re-wrap every stored key under the current master key (keys wrapped by
        ``TIMELINE_MASTER_KEY_PREVIOUS`` are opened with it); how many were re-wrapped. A key
        opened by neither raises :class:`MasterKeyError` before anything is written."""
        count = 0
        after: UUID | None = None
        while True:
            rows = self.table.scan(after, 1000)
            if not rows:
                return count
            after = rows[-1].seeker_id
            todo = [
                (r.seeker_id, self._wrap(r.seeker_id, r.key_version, self._unwrap(r)))
                for r in rows
                if r.wrapped is not None and r.wrapped[1:9] != self._master_id
            ]
            if todo:
                self.table.rewrap(todo)
                count += len(todo)

    def status(self) -> dict[str, Any]:
        """Counts for ``timeline keys status``: keys by key version, by the master key that
        wraps them (current, previous, other), and erased seekers."""
        by_version: dict[int, int] = {}
        by_master = {"current": 0, "previous": 0, "other": 0}
        erased = 0
        after: UUID | None = None
        while rows := self.table.scan(after, 5000):
            after = rows[-1].seeker_id
            for r in rows:
                if r.wrapped is None:
                    erased += 1
                    continue
                by_version[r.key_version] = by_version.get(r.key_version, 0) + 1
                wrapped_by = r.wrapped[1:9]
                if wrapped_by == self._master_id:
                    by_master["current"] += 1
                elif wrapped_by == self._previous_id:
                    by_master["previous"] += 1
                else:
                    by_master["other"] += 1
        return {
            "where": self.table.where,
            "master_key_id": self.master_id,
            "keys": sum(by_version.values()),
            "by_key_version": {str(v): n for v, n in sorted(by_version.items())},
            "by_master_key": by_master,
            "erased": erased,
        }

    def close(self) -> None:
        self.table.close()
