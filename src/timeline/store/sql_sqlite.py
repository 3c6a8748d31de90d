"""SQLite's SQL for the tables beside the events (the names of :mod:`timeline.store.sql`, and
the job leases, which only SQLite needs). A write transaction on SQLite is exclusive
(``BEGIN IMMEDIATE``): no table locks, no ``FOR UPDATE``."""

from __future__ import annotations

from collections.abc import Sequence

P = "?"
BIGINT = "INTEGER"
REAL = "REAL"
GREATEST = "MAX"
FOR_UPDATE = ""
COLUMNS_OF = "SELECT name FROM pragma_table_info(?)"


def add_column(table: str, column: str, kind: str) -> str:
    """(SQLite has no ADD COLUMN IF NOT EXISTS: look at ``COLUMNS_OF`` first.)"""
    return f"ALTER TABLE {table} ADD COLUMN {column} {kind}"


# -- the access log ---------------------------------------------------------------------------

_ACCESS_COLUMNS = "seq, at, actor, role, action, seeker_id, purpose, detail, prev_hash, hash"
ACCESS_LOG_SCHEMA: Sequence[str] = (
    "CREATE TABLE IF NOT EXISTS timeline_access_log (seq INTEGER PRIMARY KEY, "
    "at TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, "
    "seeker_id TEXT, purpose TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS timeline_access_log_seeker ON timeline_access_log (seeker_id, at)",
    "CREATE TRIGGER IF NOT EXISTS timeline_access_log_no_update BEFORE UPDATE ON "
    "timeline_access_log BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS timeline_access_log_no_delete BEFORE DELETE ON "
    "timeline_access_log BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
)
ACCESS_LOG_LOCK_APPEND: str | None = None
ACCESS_LOG_LOCK_HEAD: str | None = None
ACCESS_LOG_LAST = "SELECT seq, hash, at FROM timeline_access_log ORDER BY seq DESC LIMIT 1"
ACCESS_LOG_INSERT = (
    f"INSERT INTO timeline_access_log ({_ACCESS_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
ACCESS_LOG_PAGE = (
    f"SELECT {_ACCESS_COLUMNS} FROM timeline_access_log WHERE seq > ? ORDER BY seq LIMIT ?"
)
ACCESS_LOG_HEAD_BEFORE = (
    "SELECT seq, hash FROM timeline_access_log WHERE at < ? ORDER BY seq DESC LIMIT 1"
)

# -- the erasure register ---------------------------------------------------------------------

_ERASURE_COLUMNS = (
    "seq, erased_at, seeker_id, reason, authority, actor, events, last_version, last_position, "
    "prev_hash, hash"
)
ERASURES_SCHEMA: Sequence[str] = (
    "CREATE TABLE IF NOT EXISTS timeline_erasures (seq INTEGER PRIMARY KEY, "
    "erased_at TEXT NOT NULL, seeker_id TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, "
    "authority TEXT NOT NULL, actor TEXT NOT NULL, events INTEGER NOT NULL, "
    "last_version INTEGER NOT NULL, last_position INTEGER, prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS timeline_erasures_no_update BEFORE UPDATE ON "
    "timeline_erasures BEGIN SELECT RAISE(ABORT, 'the erasure register is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS timeline_erasures_no_delete BEFORE DELETE ON "
    "timeline_erasures BEGIN SELECT RAISE(ABORT, 'the erasure register is append-only'); END",
)
ERASURES_LOCK_APPEND: str | None = None
ERASURES_LOCK_HEAD: str | None = None
ERASURES_LAST = "SELECT seq, hash, erased_at FROM timeline_erasures ORDER BY seq DESC LIMIT 1"
ERASURES_INSERT = (
    f"INSERT INTO timeline_erasures ({_ERASURE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
ERASURES_PAGE = (
    f"SELECT {_ERASURE_COLUMNS} FROM timeline_erasures WHERE seq > ? ORDER BY seq LIMIT ?"
)
ERASURE_OF = f"SELECT {_ERASURE_COLUMNS} FROM timeline_erasures WHERE seeker_id = ?"
ERASURES_HEAD_BEFORE = (
    "SELECT seq, hash FROM timeline_erasures WHERE erased_at < ? ORDER BY seq DESC LIMIT 1"
)
ERASURE_CLEAR_PERSON_REF = (
    "UPDATE timeline_event_index SET person_ref = NULL "
    "WHERE seeker_id = ? AND person_ref IS NOT NULL"
)
ERASURE_COVERED = (
    "SELECT count(*), max(version), max(position) FROM timeline_event_index WHERE seeker_id = ?"
)
RETENTION_CANDIDATES = (
    "SELECT i.seeker_id, max(i.recorded_at), max(i.occurred_on) FROM timeline_event_index i "
    "WHERE NOT EXISTS (SELECT 1 FROM timeline_erasures e WHERE e.seeker_id = i.seeker_id) "
    "GROUP BY i.seeker_id HAVING max(i.recorded_at) < ? AND max(i.occurred_on) < ? "
    "ORDER BY i.seeker_id"
)


def erased_among(count: int) -> str:
    marks = ",".join("?" * count)
    return f"SELECT seeker_id FROM timeline_erasures WHERE seeker_id IN ({marks})"


# -- the daily digests ------------------------------------------------------------------------

_DIGEST_COLUMNS = (
    "day, events, first_position, last_position, merkle_root, signature, format, "
    "access_log_seq, access_log_hash, erasure_seq, erasure_hash"
)
DIGESTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS timeline_digests (day TEXT PRIMARY KEY, "
    "events INTEGER NOT NULL, first_position BIGINT, last_position BIGINT, "
    "merkle_root TEXT NOT NULL, signature TEXT NOT NULL, computed_at TEXT NOT NULL)"
)
DIGESTS_ADDED: Sequence[tuple[str, str]] = (
    ("format", "INTEGER NOT NULL DEFAULT 1"),
    ("access_log_seq", BIGINT),
    ("access_log_hash", "TEXT"),
    ("erasure_seq", BIGINT),
    ("erasure_hash", "TEXT"),
)
DIGEST_INSERT = (
    "INSERT INTO timeline_digests (day, events, first_position, last_position, merkle_root, "
    "signature, computed_at, format, access_log_seq, access_log_hash, erasure_seq, "
    "erasure_hash) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
DIGESTS_KEPT = f"SELECT {_DIGEST_COLUMNS} FROM timeline_digests ORDER BY day"
DIGEST_OF_DAY = f"SELECT {_DIGEST_COLUMNS} FROM timeline_digests WHERE day = ?"

# -- the scheduled jobs -----------------------------------------------------------------------

JOB_RUNS_TABLE = (
    "CREATE TABLE IF NOT EXISTS timeline_job_runs (job TEXT NOT NULL, started_at TEXT NOT NULL, "
    "finished_at TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT)"
)
JOB_RUN_INSERT = "INSERT INTO timeline_job_runs VALUES (?,?,?,?,?)"

#: a lease per job: who holds it until when (seconds since the epoch by SQLite's own clock,
#: the one clock every process sharing the file agrees on)
JOB_LEASES_TABLE = (
    "CREATE TABLE IF NOT EXISTS timeline_job_leases (job TEXT PRIMARY KEY, "
    "holder TEXT NOT NULL, expires_at REAL NOT NULL)"
)
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
#: (job) -> (holder, whether the lease is still running)
LEASE_OF = f"SELECT holder, expires_at > {_NOW} FROM timeline_job_leases WHERE job = ?"
#: (job, holder, seconds)
LEASE_TAKE = (
    "INSERT INTO timeline_job_leases (job, holder, expires_at) "
    f"VALUES (?, ?, {_NOW} + ?) ON CONFLICT (job) DO UPDATE SET "
    "holder = excluded.holder, expires_at = excluded.expires_at"
)
#: (seconds, job, holder)
LEASE_RENEW = f"UPDATE timeline_job_leases SET expires_at = {_NOW} + ? WHERE job = ? AND holder = ?"
#: (job, holder)
LEASE_DROP = "DELETE FROM timeline_job_leases WHERE job = ? AND holder = ?"
