"""PostgreSQL's SQL for the tables beside the events (the names of :mod:`timeline.store.sql`,
and the advisory locks of the jobs, which only PostgreSQL has)."""

from __future__ import annotations

from collections.abc import Sequence

P = "%s"
BIGINT = "BIGINT"
REAL = "DOUBLE PRECISION"
GREATEST = "GREATEST"
FOR_UPDATE = " FOR UPDATE"
COLUMNS_OF = (
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = %s"
)


def add_column(table: str, column: str, kind: str) -> str:
    return f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}"


# -- the access log ---------------------------------------------------------------------------

_ACCESS_COLUMNS = "seq, at, actor, role, action, seeker_id, purpose, detail, prev_hash, hash"
ACCESS_LOG_SCHEMA: Sequence[str] = (
    "CREATE TABLE IF NOT EXISTS timeline_access_log (seq BIGINT PRIMARY KEY, "
    "at TEXT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, "
    "seeker_id TEXT, purpose TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    # processes starting at once (workers on several hosts) take turns: the index's SHARE lock
    # and the triggers' ACCESS EXCLUSIVE deadlocked, and the function's replace raced
    "LOCK TABLE timeline_access_log IN ACCESS EXCLUSIVE MODE",
    "CREATE INDEX IF NOT EXISTS timeline_access_log_seeker ON timeline_access_log (seeker_id, at)",
    "CREATE OR REPLACE FUNCTION timeline_access_log_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
    "DROP TRIGGER IF EXISTS timeline_access_log_append_only ON timeline_access_log",
    "CREATE TRIGGER timeline_access_log_append_only BEFORE UPDATE OR DELETE ON "
    "timeline_access_log FOR EACH ROW EXECUTE FUNCTION timeline_access_log_append_only()",
    # TRUNCATE fires no row trigger: refuse it with a statement trigger.
    "DROP TRIGGER IF EXISTS timeline_access_log_no_truncate ON timeline_access_log",
    "CREATE TRIGGER timeline_access_log_no_truncate BEFORE TRUNCATE ON timeline_access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION timeline_access_log_append_only()",
)
#: appends are serialised: each entry chains to the one before
ACCESS_LOG_LOCK_APPEND: str | None = "LOCK TABLE timeline_access_log IN EXCLUSIVE MODE"
#: a digest's head waits for the entries being appended
ACCESS_LOG_LOCK_HEAD: str | None = "LOCK TABLE timeline_access_log IN SHARE MODE"
ACCESS_LOG_LAST = "SELECT seq, hash, at FROM timeline_access_log ORDER BY seq DESC LIMIT 1"
ACCESS_LOG_INSERT = (
    f"INSERT INTO timeline_access_log ({_ACCESS_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)
ACCESS_LOG_PAGE = (
    f"SELECT {_ACCESS_COLUMNS} FROM timeline_access_log WHERE seq > %s ORDER BY seq LIMIT %s"
)
ACCESS_LOG_HEAD_BEFORE = (
    "SELECT seq, hash FROM timeline_access_log WHERE at < %s ORDER BY seq DESC LIMIT 1"
)

# -- the erasure register ---------------------------------------------------------------------

_ERASURE_COLUMNS = (
    "seq, erased_at, seeker_id, reason, authority, actor, events, last_version, last_position, "
    "prev_hash, hash"
)
ERASURES_SCHEMA: Sequence[str] = (
    "CREATE TABLE IF NOT EXISTS timeline_erasures (seq BIGINT PRIMARY KEY, "
    "erased_at TEXT NOT NULL, seeker_id TEXT NOT NULL UNIQUE, reason TEXT NOT NULL, "
    "authority TEXT NOT NULL, actor TEXT NOT NULL, events BIGINT NOT NULL, "
    "last_version BIGINT NOT NULL, last_position BIGINT, prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL)",
    # processes starting at once take turns (as the access log's schema does)
    "LOCK TABLE timeline_erasures IN ACCESS EXCLUSIVE MODE",
    "CREATE OR REPLACE FUNCTION timeline_erasures_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the erasure register is append-only'; END $$",
    "DROP TRIGGER IF EXISTS timeline_erasures_append_only ON timeline_erasures",
    "CREATE TRIGGER timeline_erasures_append_only BEFORE UPDATE OR DELETE ON "
    "timeline_erasures FOR EACH ROW EXECUTE FUNCTION timeline_erasures_append_only()",
    "DROP TRIGGER IF EXISTS timeline_erasures_no_truncate ON timeline_erasures",
    "CREATE TRIGGER timeline_erasures_no_truncate BEFORE TRUNCATE ON timeline_erasures "
    "FOR EACH STATEMENT EXECUTE FUNCTION timeline_erasures_append_only()",
)
#: erasures are serialised: each entry chains to the one before
ERASURES_LOCK_APPEND: str | None = "LOCK TABLE timeline_erasures IN EXCLUSIVE MODE"
#: a digest's head waits for the entries being appended
ERASURES_LOCK_HEAD: str | None = "LOCK TABLE timeline_erasures IN SHARE MODE"
ERASURES_LAST = "SELECT seq, hash, erased_at FROM timeline_erasures ORDER BY seq DESC LIMIT 1"
ERASURES_INSERT = (
    f"INSERT INTO timeline_erasures ({_ERASURE_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)
ERASURES_PAGE = (
    f"SELECT {_ERASURE_COLUMNS} FROM timeline_erasures WHERE seq > %s ORDER BY seq LIMIT %s"
)
ERASURE_OF = f"SELECT {_ERASURE_COLUMNS} FROM timeline_erasures WHERE seeker_id = %s"
ERASURES_HEAD_BEFORE = (
    "SELECT seq, hash FROM timeline_erasures WHERE erased_at < %s ORDER BY seq DESC LIMIT 1"
)
# (the event index is the log's columns: docs/storage.md, "The log table on PostgreSQL")
ERASURE_CLEAR_PERSON_REF = (
    "UPDATE timeline_log SET person_ref = NULL "
    "WHERE originator_id = %s::uuid AND person_ref IS NOT NULL"
)
ERASURE_COVERED = (
    "SELECT count(*), max(originator_version), max(notification_id) FROM timeline_log "
    "WHERE originator_id = %s::uuid AND event_id IS NOT NULL"
)
RETENTION_CANDIDATES = (
    "SELECT i.originator_id::text, max(i.recorded_at), max(i.occurred_on)::text "
    "FROM timeline_log i WHERE i.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
    "timeline_erasures e WHERE e.seeker_id = i.originator_id::text) GROUP BY i.originator_id "
    "HAVING max(i.recorded_at) < %s::timestamptz AND max(i.occurred_on) < %s::date "
    "ORDER BY i.originator_id"
)


def erased_among(count: int) -> str:
    marks = ",".join(["%s"] * count)
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
    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
)
DIGESTS_KEPT = f"SELECT {_DIGEST_COLUMNS} FROM timeline_digests ORDER BY day"
DIGEST_OF_DAY = f"SELECT {_DIGEST_COLUMNS} FROM timeline_digests WHERE day = %s"

# -- the scheduled jobs -----------------------------------------------------------------------

JOB_RUNS_TABLE = (
    "CREATE TABLE IF NOT EXISTS timeline_job_runs (job TEXT NOT NULL, started_at TEXT NOT NULL, "
    "finished_at TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT)"
)
JOB_RUN_INSERT = "INSERT INTO timeline_job_runs VALUES (%s,%s,%s,%s,%s)"

#: (key) -> whether this session now holds the job's advisory lock
ADVISORY_TRY = "SELECT pg_try_advisory_lock(%s)"
#: (key)
ADVISORY_UNLOCK = "SELECT pg_advisory_unlock(%s)"
