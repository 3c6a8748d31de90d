"""What every dialect's SQL module names (:mod:`timeline.store.sql_sqlite`,
:mod:`timeline.store.sql_postgres`): the placeholder, the types, a few dialect words, and the
statements of the tables beside the events that the write side keeps (the access log, the
erasure register, the digests, the job runs). A transaction reaches its dialect's module as
``tx.sql``; the comment above a statement gives the parameters it takes, in order.

Both modules are checked against this protocol by mypy (see ``timeline.store.side``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Statements(Protocol):
    #: the driver's parameter placeholder (sqlite3 ``?``, psycopg ``%s``)
    P: str
    BIGINT: str
    REAL: str
    #: the larger of two values: ``GREATEST`` or ``MAX``, called as ``{GREATEST}(a, b)``
    GREATEST: str
    #: appended to a SELECT to lock the rows it reads (empty where transactions are exclusive)
    FOR_UPDATE: str
    #: (table name) -> rows of (column name,)
    COLUMNS_OF: str

    def add_column(self, table: str, column: str, kind: str) -> str: ...

    # -- the access log (timeline.audit.access_log) --
    ACCESS_LOG_SCHEMA: Sequence[str]
    #: run before reading the last entry to append one (None: the transaction is exclusive)
    ACCESS_LOG_LOCK_APPEND: str | None
    #: run before reading the head a digest seals (None: the transaction is exclusive)
    ACCESS_LOG_LOCK_HEAD: str | None
    #: () -> (seq, hash, at) of the last entry
    ACCESS_LOG_LAST: str
    #: (every column of timeline.audit.access_log.COLUMNS, in order)
    ACCESS_LOG_INSERT: str
    #: (after seq, limit) -> entries in number order
    ACCESS_LOG_PAGE: str
    #: (before: an instant's text) -> (seq, hash) of the last entry dated before it
    ACCESS_LOG_HEAD_BEFORE: str

    # -- the erasure register (timeline.erasure.register) --
    ERASURES_SCHEMA: Sequence[str]
    #: run before reading the last entry to append one (None: the transaction is exclusive)
    ERASURES_LOCK_APPEND: str | None
    #: run before reading the head a digest seals (None: the transaction is exclusive)
    ERASURES_LOCK_HEAD: str | None
    #: () -> (seq, hash, erased_at) of the last entry
    ERASURES_LAST: str
    #: (every column of timeline.erasure.register.COLUMNS, in order)
    ERASURES_INSERT: str
    #: (after seq, limit) -> entries in number order
    ERASURES_PAGE: str
    #: (seeker_id) -> the seeker's entry
    ERASURE_OF: str
    #: (before: an instant's text) -> (seq, hash) of the last entry dated before it
    ERASURES_HEAD_BEFORE: str
    #: (seeker_id) -> clears the keyed person_ref of the seeker's event index rows
    ERASURE_CLEAR_PERSON_REF: str
    #: (seeker_id) -> (events, last version, last position) of the seeker's index rows
    ERASURE_COVERED: str
    #: (recorded before: an instant's text, occurred before: a day's text) -> (seeker_id,
    #: last recorded_at, last occurred_on) of every seeker not erased whose every event was
    #: recorded and happened before those bounds, by seeker id
    RETENTION_CANDIDATES: str

    def erased_among(self, count: int) -> str:
        """(``count`` seeker ids) -> (seeker_id,) of those in the erasure register."""
        ...

    # -- the daily digests (timeline.audit.digests) --
    DIGESTS_TABLE: str
    #: the columns added with formats 2 and 3: (name, type)
    DIGESTS_ADDED: Sequence[tuple[str, str]]
    #: (day, events, first_position, last_position, merkle_root, signature, computed_at,
    #: format, access_log_seq, access_log_hash, erasure_seq, erasure_hash)
    DIGEST_INSERT: str
    #: () -> every kept digest, by day
    DIGESTS_KEPT: str
    #: (day) -> the kept digest of that day
    DIGEST_OF_DAY: str

    # -- the scheduled jobs' runs (timeline.jobs) --
    JOB_RUNS_TABLE: str
    #: (job, started_at, finished_at, outcome, detail)
    JOB_RUN_INSERT: str
