"""PostgreSQL: the production store. The index is written inside the insert's transaction, by
the statement that inserts the events, with the notification ids they were given."""

from __future__ import annotations

import json
import re
import time
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import ClientCursor, Cursor
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal
from psycopg.types.json import Json

from timeline.domain.canonical import JCS_PREFIX, iso_utc
from timeline.domain.errors import TimelineError
from timeline.domain.event_types import BY_NAME
from timeline.store.form2 import TYPE_CODES
from timeline.store.index import INDEX_COLUMNS, IndexRow, positioned
from timeline.store.log import (
    OPENED_CODE,
    STRIPPED,
    TYPE_CODE_RANGE,
    derived_topic,
    pack_state,
    unpack_state,
)

INDEX_TABLE = "timeline_event_index"
#: the event's values before its index row's in an element of the insert's JSON array
EVENT_FIELDS = 4
BEGIN = SQL("BEGIN")
COMMIT = SQL("COMMIT")
OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
#: the index rows of some event ids (``{cols}``, ``{index}`` formatted in)
BY_EVENT_IDS = "SELECT {cols} FROM {index} WHERE event_id = ANY(%s::uuid[])"
#: The event store's layout (docs/storage.md): 3 since 2026-12-02 — one table, the log
#: (``timeline_log``), for the library's events table and the index table of layout 2 (hashes
#: and ``person_ref`` as 32 bytes, the type as its code, the version as an integer). Layout 1
#: held the index's values as text. ``timeline migrate-store --to 3`` converts a store in place
#: (:func:`convert_index_layout`, then :func:`convert_to_log`); the recorder refuses one not
#: converted.
INDEX_LAYOUT = 3
#: The event types' names in the order of their codes (form2.TYPE_CODES: 1, 2, …): an SQL array
#: indexed by the code gives the name, ``array_position`` the code.
TYPE_NAMES_IN_CODE_ORDER = tuple(str(t) for t, _ in sorted(TYPE_CODES.items(), key=lambda x: x[1]))
if [TYPE_CODES[BY_NAME[n]] for n in TYPE_NAMES_IN_CODE_ORDER] != list(
    range(1, len(TYPE_CODES) + 1)
):  # pragma: no cover - the codes are fixed numbers 1…N (form2's table)
    raise RuntimeError("the event type codes are not 1…N: the index's type array needs them so")
_TYPE_ARRAY = "ARRAY[" + ",".join(f"'{n}'" for n in TYPE_NAMES_IN_CODE_ORDER) + "]::text[]"
#: The digest algorithm's byte before the 32 digest bytes of a ``jcs:`` digest (algorithm 2; a
#: bare 64-hex digest, algorithm 1, is stored as its 32 bytes alone).
JCS_BYTE = 2


def type_name_sql(column: str) -> str:
    """SQL of the event type's name from its code in ``column`` (a code no type has: the
    number as text, so an altered row reads as what it is)."""
    return f"coalesce(({_TYPE_ARRAY})[{column}], {column}::text)"


def type_code_sql(text: str) -> str:
    """SQL of the event type's code from its name (an SQL text expression); a name no type has
    fails the cast to smallint (a DataError, never taken for a lost race)."""
    return f"coalesce(array_position({_TYPE_ARRAY}, {text}), ({text})::smallint)"


def digest_text_sql(column: str) -> str:
    """SQL of a stored digest as the text the service shows and chains: 32 bytes as 64 hex
    digits (algorithm 1), the JCS byte and 32 as ``jcs:`` and 64 (algorithm 2); anything else
    (an altered row) as ``?`` and its hex, which no digest equals."""
    return (
        f"CASE WHEN length({column}) = 32 THEN encode({column}, 'hex') "
        f"WHEN length({column}) = 33 AND get_byte({column}, 0) = {JCS_BYTE} "
        f"THEN 'jcs:' || encode(substr({column}, 2), 'hex') "
        f"ELSE '?' || encode({column}, 'hex') END"
    )


def digest_bytes_sql(text: str) -> str:
    """SQL of a digest's bytes from its text (the inverse of :func:`digest_text_sql`)."""
    return (
        f"CASE WHEN left({text}, 4) = 'jcs:' THEN '\\x{JCS_BYTE:02x}'::bytea || "
        f"decode(substr({text}, 5), 'hex') ELSE decode({text}, 'hex') END"
    )


#: The index columns as read (in INDEX_COLUMNS order), in binary results: uuids and the day
#: cast to text by the server, which is cheaper than converting each value in Python; the
#: type's code and the digest, hash and person_ref's bytes as stored, made the service's text
#: by :func:`_row` (cheaper for the server than ``encode`` and the type's name in SQL, and the
#: bytes travel raw: the reads cost what they did with layout 1's text; docs/benchmarks.md).
SELECT_COLUMNS = SQL(
    "event_id::text, seeker_id::text, version, position, type, occurred_at, occurred_on::text, "
    "recorded_at, digest, hash, person_ref"
)


def index_values_sql(element: str, first: int = 0) -> tuple[str, ...]:
    """The SQL of each of INDEX_COLUMNS from its text in a JSON array ``element`` (an SQL
    jsonb expression), the row's values from ``element->>first`` on: the one-statement insert
    of a save's rows converts them to layout 2's column types there."""
    v = [f"{element}->>{first + i}" for i in range(len(INDEX_COLUMNS))]
    return (
        f"({v[0]})::uuid",
        f"({v[1]})::uuid",
        f"({v[2]})::integer",
        f"({v[3]})::bigint",
        type_code_sql(v[4]),
        v[5],
        f"({v[6]})::date",
        f"({v[7]})::timestamptz",
        digest_bytes_sql(v[8]),
        f"decode({v[9]}, 'hex')",
        f"decode({v[10]}, 'hex')",
    )


#: Layout 2 (the columns in INDEX_COLUMNS order are named in every statement; stored widest
#: fixed-width first, so no alignment padding is paid, then the variable-width ones).
_INDEX_COLUMNS_DDL = (
    "position bigint NOT NULL, recorded_at timestamptz NOT NULL, "
    "event_id uuid NOT NULL, seeker_id uuid NOT NULL, version integer NOT NULL, "
    "occurred_on date NOT NULL, type smallint NOT NULL, "
    "digest bytea NOT NULL, hash bytea NOT NULL, occurred_at text, person_ref bytea"
)
#: (the constraints' names are PostgreSQL's defaults: ``timeline_event_index_pkey``,
#: ``…_position_key``, ``…_seeker_id_version_key``, whether made with the table or added)
_INDEX_KEYS_DDL = "PRIMARY KEY (event_id), UNIQUE (position), UNIQUE (seeker_id, version)"
INDEX_DDL = f"CREATE TABLE IF NOT EXISTS {{}} ({_INDEX_COLUMNS_DDL}, {_INDEX_KEYS_DDL})"
INDEX_PERSON_DDL = "CREATE INDEX IF NOT EXISTS {} ON {} (person_ref) WHERE person_ref IS NOT NULL"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def derived_topic_sql(alias: str = "") -> str:
    """SQL of the topic a log row's type code and version imply (as
    :func:`timeline.store.log.derived_topic`; NULL: none)."""
    a = alias
    names = ",".join(
        "NULL" if t is None else f"'{t}'" for t in (derived_topic(c, 2) for c in TYPE_CODE_RANGE)
    )
    return (
        f"CASE WHEN {a}type = {OPENED_CODE} AND {a}originator_version = 1 "
        f"THEN '{derived_topic(OPENED_CODE, 1)}' ELSE (ARRAY[{names}]::text[])[{a}type] END"
    )


def topic_sql(alias: str = "") -> str:
    """SQL of a log row's stored topic: its ``topic`` or the one its type code implies."""
    return f"coalesce({alias}topic, {derived_topic_sql(alias)})"


#: ``timeline_log_envelope(event_id, recorded_at, occurred_on)``: form 2's E of a log row in
#: SQL, as :func:`timeline.store.log.envelope` makes it (msgpack as msgspec writes it: the
#: uuid's 16 bytes, the instant as a msgpack timestamp, the day as an integer); and
#: ``timeline_log_state(state, event_id, recorded_at, occurred_on)``: a log row's stored event
#: ``state`` (as :func:`timeline.store.log.unpack_state`), for the ``timeline_events`` view and
#: the conversion to the log (``{}``: the schema)
LOG_ENVELOPE_FUNCTION = """CREATE OR REPLACE FUNCTION {}.timeline_log_envelope(
  e uuid, r timestamptz, d date) RETURNS bytea LANGUAGE plpgsql STABLE AS $f$
DECLARE epoch numeric; secs bigint; ns bigint; ts bytea; n integer; dy bytea;
BEGIN
  IF e IS NULL OR r IS NULL OR d IS NULL THEN RETURN NULL; END IF;
  epoch := extract(epoch FROM r);
  secs := floor(epoch)::bigint;
  ns := ((epoch - secs) * 1000000)::bigint * 1000;
  IF ns = 0 AND secs >= 0 AND secs < 4294967296 THEN
    ts := '\\xd6ff'::bytea || substr(int8send(secs), 5, 4);
  ELSIF secs >= 0 AND secs < 17179869184 THEN
    ts := '\\xd7ff'::bytea || substr(int8send((ns << 2) | (secs >> 32)), 5, 4)
      || substr(int8send(secs & 4294967295), 5, 4);
  ELSE
    ts := '\\xc70cff'::bytea || substr(int8send(ns), 5, 4) || int8send(secs);
  END IF;
  n := d - date '1970-01-01';
  IF n >= 0 AND n < 128 OR n < 0 AND n >= -32 THEN dy := substr(int4send(n), 4, 1);
  ELSIF n > 0 AND n < 256 THEN dy := '\\xcc'::bytea || substr(int4send(n), 4, 1);
  ELSIF n > 0 AND n < 65536 THEN dy := '\\xcd'::bytea || substr(int4send(n), 3, 2);
  ELSIF n > 0 THEN dy := '\\xce'::bytea || int4send(n);
  ELSIF n >= -128 THEN dy := '\\xd0'::bytea || substr(int4send(n), 4, 1);
  ELSIF n >= -32768 THEN dy := '\\xd1'::bytea || substr(int4send(n), 3, 2);
  ELSE dy := '\\xd2'::bytea || int4send(n);
  END IF;
  RETURN '\\x93c410'::bytea || uuid_send(e) || ts || dy;
END $f$"""
LOG_STATE_FUNCTION = """CREATE OR REPLACE FUNCTION {}.timeline_log_state(
  s bytea, e uuid, r timestamptz, d date) RETURNS bytea LANGUAGE plpgsql STABLE AS $f$
DECLARE env bytea;
BEGIN
  IF s IS NULL OR length(s) = 0 THEN RETURN s; END IF;
  IF get_byte(s, 0) = 0 THEN RETURN substr(s, 2); END IF;
  IF get_byte(s, 0) <> 3 OR e IS NULL OR r IS NULL OR d IS NULL THEN RETURN s; END IF;
  env := {}.timeline_log_envelope(e, r, d);
  RETURN '\\x02'::bytea || substr(s, 2, 1) || substr(int4send(length(env)), 4, 1) || env
    || substr(s, 3);
END $f$"""


def pack_state_sql(state: str = "state", row: str = "") -> str:
    """SQL of the log's ``state`` for a stored event's ``state`` (an SQL expression) and the
    row's values (columns of ``row``, an alias and a dot, or none), as
    :func:`timeline.store.log.pack_state` (E, always under 128 bytes when canonical, has a
    one-byte length). ``{}`` in it: the schema."""
    s = state
    return (
        f"CASE WHEN length({s}) > 3 AND get_byte({s}, 0) = 2 AND get_byte({s}, 2) < 128 "
        f"AND substr({s}, 4, get_byte({s}, 2)) "
        f"= {{}}.timeline_log_envelope({row}event_id, {row}recorded_at, {row}occurred_on) "
        f"THEN '\\x03'::bytea || substr({s}, 2, 1) || substr({s}, 4 + get_byte({s}, 2)) "
        f"WHEN length({s}) > 0 AND get_byte({s}, 0) IN (0, 3) THEN '\\x00'::bytea || {s} "
        f"ELSE {s} END"
    )


#: what an UPDATE of the ``timeline_events`` view does to the log (``{0}``: the schema, ``{1}``:
#: the log): the columns set, a topic or state set as given, kept verbatim (as pack_state)
EVENTS_VIEW_UPDATE_FUNCTION = """CREATE OR REPLACE FUNCTION {0}.timeline_events_update()
  RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  UPDATE {1} SET originator_id = NEW.originator_id,
    originator_version = NEW.originator_version, notification_id = NEW.notification_id,
    topic = CASE WHEN NEW.topic IS NOT DISTINCT FROM OLD.topic THEN topic ELSE NEW.topic END,
    state = CASE WHEN NEW.state IS NOT DISTINCT FROM OLD.state THEN state
      WHEN length(NEW.state) > 0 AND get_byte(NEW.state, 0) IN (0, 3)
      THEN '\\x00'::bytea || NEW.state ELSE NEW.state END
  WHERE originator_id = OLD.originator_id AND originator_version = OLD.originator_version;
  RETURN NEW;
END $f$"""


#: The log table (index layout 3): the library's events and our index in one row per event
LOG_TABLE = "timeline_log"
#: the tables of layout 2 (kept as views over the log, for scripts and tests that read them)
EVENTS_VIEW = "timeline_events"
#: The log's columns, fixed-width first and widest first (no alignment padding), then the
#: variable-width ones, ``state`` first (a value over 126 bytes has a 4-byte header aligned to
#: 4). The index columns are NULL only for an event written without an index row (a foreign
#: event); ``topic`` is NULL when the type code implies it (timeline.store.log).
_LOG_COLUMNS_DDL = (
    "notification_id bigserial NOT NULL, recorded_at timestamptz, "
    "originator_id uuid NOT NULL, event_id uuid, originator_version integer NOT NULL, "
    "occurred_on date, type smallint, "
    "state bytea, digest bytea, hash bytea, occurred_at text, person_ref bytea, topic text"
)
_LOG_KEY_DDL = "PRIMARY KEY (originator_id, originator_version)"
#: (the autovacuum settings are the library's for its events table)
_LOG_STORAGE = (
    "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, "
    "autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.01)"
)
LOG_DDL = f"CREATE TABLE IF NOT EXISTS {{}} ({_LOG_COLUMNS_DDL}, {_LOG_KEY_DDL}) {_LOG_STORAGE}"
#: (name, DDL with the index's name and the table formatted in)
LOG_INDEXES_DDL = (
    (
        LOG_TABLE + "_position_key",
        "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (notification_id)",
    ),
    (LOG_TABLE + "_event_key", "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (event_id)"),
    (LOG_TABLE + "_person", INDEX_PERSON_DDL),
)
#: the log's columns as layout 2's index table named them
_INDEX_VIEW_COLUMNS = (
    "event_id, originator_id AS seeker_id, originator_version AS version, "
    "notification_id AS position, type, occurred_at, occurred_on, recorded_at, digest, hash, "
    "person_ref"
)
#: Views with layout 2's table names over the log, for scripts and administrators (the service
#: reads neither): the index's columns are plain columns of the log, so PostgreSQL updates
#: through it (``UPDATE timeline_event_index SET digest = …`` changes the log);
#: ``timeline_events`` gives each event's topic and ``state`` as the library stored them (the
#: state rebuilt in SQL, :data:`LOG_STATE_FUNCTION`), and an UPDATE of it sets the log's row
#: (:data:`EVENTS_VIEW_UPDATE_FUNCTION`). ``{}``s: the view, then for the events view the
#: schema, then the log.
VIEWS_DDL = (
    (
        INDEX_TABLE,
        f"CREATE VIEW {{}} AS SELECT {_INDEX_VIEW_COLUMNS} FROM {{}} WHERE event_id IS NOT NULL",
    ),
    (
        EVENTS_VIEW,
        "CREATE VIEW {} AS SELECT originator_id, originator_version, "
        + topic_sql()
        + " AS topic, {}.timeline_log_state(state, event_id, recorded_at, occurred_on) AS state, "
        "notification_id FROM {}",
    ),
)
#: The index columns as read from the log (in INDEX_COLUMNS order; see SELECT_COLUMNS)
LOG_SELECT_COLUMNS = SQL(
    "event_id::text, originator_id::text, originator_version, notification_id, type, "
    "occurred_at, occurred_on::text, recorded_at, digest, hash, person_ref"
)
#: A stored event's columns as :func:`_stored` reads them
#: (the values E is rebuilt from as :func:`unpack_state` takes them: no parsing in Python)
_EVENT_COLUMNS = (
    "originator_id, originator_version, topic, type, state, uuid_send(event_id), recorded_at, "
    "occurred_on - date '1970-01-01'"
)
#: the index rows of some event ids from the log
LOG_BY_EVENT_IDS = "SELECT {cols} FROM {index} WHERE event_id = ANY(%s::uuid[])"


_CREATE_MISSING = "DO $$ BEGIN IF to_regclass({}) IS NULL THEN EXECUTE {}; END IF; END $$"


def log_ddl(schema_name: str) -> list[Composed]:
    """The statements that make the log in ``schema_name`` as a new store has it (each a no-op
    where it is there already): the table, its indexes, the SQL functions, the views of
    layout 2's names and the events view's trigger."""
    schema = Identifier(schema_name)
    log = SQL("{}.{}").format(schema, Identifier(LOG_TABLE))
    statements: list[Composed] = [SQL(LOG_DDL).format(log)]
    statements += [SQL(ddl).format(Identifier(name), log) for name, ddl in LOG_INDEXES_DDL]
    # processes starting at once take turns before the views (CREATE VIEW has no IF NOT
    # EXISTS that is safe under a race; the lock is released at the commit)
    statements.append(SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(log))
    statements.append(SQL(LOG_ENVELOPE_FUNCTION).format(schema))
    statements.append(SQL(LOG_STATE_FUNCTION).format(schema, schema))
    statements.append(SQL(EVENTS_VIEW_UPDATE_FUNCTION).format(schema, log))
    for name, ddl in VIEWS_DDL:
        view = SQL("{}.{}").format(schema, Identifier(name))
        args = (view, log) if name == INDEX_TABLE else (view, schema, log)
        statements.append(
            SQL(_CREATE_MISSING).format(
                Literal(f'"{schema_name}"."{name}"'),
                Literal(SQL(ddl).format(*args).as_string(None)),
            )
        )
    statements.append(
        SQL(
            "CREATE OR REPLACE TRIGGER timeline_events_update INSTEAD OF UPDATE ON {}.{} "
            "FOR EACH ROW EXECUTE FUNCTION {}.timeline_events_update()"
        ).format(schema, Identifier(EVENTS_VIEW), schema)
    )
    return statements


class TimelinePostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder on one table, ``timeline_log`` (docs/storage.md): every
    statement of the library's that touches its events table is replaced or, where it only
    names the table (the lock, NOTIFY, ``max_notification_id``), pointed at the log."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        # (the name the library derives from the application's is not used: the log's is fixed,
        # as the index table's was; the lock, the NOTIFY channel and max() name the log)
        super().__init__(datastore, events_table_name=LOG_TABLE)
        schema = Identifier(self.datastore.schema)
        self._log = SQL("{}.{}").format(schema, Identifier(LOG_TABLE))
        self._index = self._log
        self._events = self._log
        self.sql_create_statements = log_ddl(self.datastore.schema)
        # A save's rows go as one JSON array of arrays, decoded by the server (as jsonb: parsed
        # once), inserted by one statement. Each element: the originator id, version, topic
        # (null: the type implies it), the base64 of the log's state (timeline.store.log), then
        # the index row's values (event_id, type, occurred_at, occurred_on, recorded_at, digest,
        # hash, person_ref), absent for an event without one. No per-value work in the driver.
        v = [f"r->>{i}" for i in range(12)]
        self._insert_json = SQL(
            "INSERT INTO {log} (originator_id, originator_version, topic, state, event_id, type, "
            "occurred_at, occurred_on, recorded_at, digest, hash, person_ref) "
            f"SELECT ({v[0]})::uuid, ({v[1]})::integer, {v[2]}, decode({v[3]}, 'base64'), "
            f"({v[4]})::uuid, {type_code_sql(v[5])}, {v[6]}, ({v[7]})::date, "
            f"({v[8]})::timestamptz, {digest_bytes_sql(v[9])}, decode({v[10]}, 'hex'), "
            f"decode({v[11]}, 'hex') "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS s(r, n) ORDER BY n "
            "RETURNING notification_id"
        ).format(log=self._log)
        # The insert's transaction as one script, sent as one query (the simple protocol, which
        # runs several statements; psycopg's ClientCursor binds the JSON as a quoted literal):
        # BEGIN, the library's lock_timeout and table lock, the notify, the insert, COMMIT.
        prefix = [BEGIN, *self.lock_table_statements]
        prefix.append(SQL("NOTIFY {}").format(Identifier(self.channel_name)))
        self._insert_script = SQL("; ").join([*prefix, self._insert_json, COMMIT]).as_bytes(None)
        #: which of the script's results is the insert's
        self._insert_result = len(prefix)
        self._next_ids = SQL(
            "SELECT nextval(pg_get_serial_sequence({}, 'notification_id')) "
            "FROM generate_series(1, %s)"
        ).format(Literal(f'"{self.datastore.schema}"."{LOG_TABLE}"'))
        self._copy_log = SQL(
            "COPY {} (notification_id, originator_id, originator_version, topic, state, event_id, "
            "type, occurred_at, occurred_on, recorded_at, digest, hash, person_ref) FROM STDIN"
        ).format(self._log)
        # (these three as bytes: read_before_append sends them together, as one query)
        self._select_by_event_ids = (
            SQL(LOG_BY_EVENT_IDS).format(cols=LOG_SELECT_COLUMNS, index=self._log).as_bytes(None)
        )
        self._select_one_after = (
            SQL(
                f"SELECT {_EVENT_COLUMNS} FROM {{}} "
                "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version"
            )
            .format(self._log)
            .as_bytes(None)
        )
        # One index range scan per seeker: the LATERAL subquery is fenced (OFFSET 0) because
        # a plain join of the unnested pairs is planned as a merge join over the whole table.
        self._select_after = (
            SQL(
                "SELECT e.originator_id, e.originator_version, e.topic, e.type, e.state, "
                "uuid_send(e.event_id), e.recorded_at, e.occurred_on - date '1970-01-01' "
                "FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, after) CROSS JOIN LATERAL ("
                "SELECT * FROM {} e WHERE e.originator_id = k.id "
                "AND e.originator_version > k.after ORDER BY e.originator_version OFFSET 0) e"
            )
            .format(self._log)
            .as_bytes(None)
        )

    def create_table(self) -> None:
        """The log, its indexes and the views (when new); then refuses a store still in an
        older layout (:class:`IndexLayoutOutdated`: the library's events table and our index
        table, layouts 1 and 2), before creating anything (``timeline migrate-store``
        converts it)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            layout = index_layout(curs, self.datastore.schema)
        if layout not in (None, INDEX_LAYOUT):
            raise IndexLayoutOutdated(self.datastore.schema, layout)
        super().create_table()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # (as the library's)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        """The events (with ``index_rows``, each stored in its event's row) in one transaction,
        as the library's: ``lock_timeout``, ``LOCK TABLE … IN EXCLUSIVE MODE`` (notification
        ids committed in the order they are taken, for tailing readers), ``NOTIFY``, then the
        insert; the notification ids in the order given. Raises ``IntegrityError`` (nothing
        written) if a version or an event id is taken.

        One round trip: ``BEGIN``, the lock, the notify, the insert and ``COMMIT`` go out as
        one query and are answered together. A statement that fails ends the query there,
        before the ``COMMIT``, and the transaction is rolled back."""
        if not stored_events:
            return []
        rows: Sequence[IndexRow] = kwargs.get("index_rows", ())
        by_key = {(r.seeker_id, r.version): r for r in rows}
        values: list[list[Any]] = []
        for e in stored_events:
            seeker = str(e.originator_id)
            row = by_key.get((seeker, e.originator_version)) if rows else None
            if rows and row is None:
                raise KeyError((seeker, e.originator_version))
            values.append(_log_values(e, seeker, row))
        with (
            self.datastore.get_connection() as conn,
            ClientCursor(conn, row_factory=tuple_row) as curs,
        ):
            try:  # (the connection is in autocommit: the BEGIN is the script's)
                curs.execute(self._insert_script, [_json(values)])
            except BaseException:
                if conn.info.transaction_status in OPEN:
                    conn.rollback()  # (what the script began and its error left open)
                raise
            for _ in range(self._insert_result):
                curs.nextset()
            # (the ids are drawn row by row in the order given, under the lock: ascending)
            ids = sorted(r[0] for r in curs.fetchall())
        if len(ids) != len(stored_events):
            msg = "the recorder did not return a position for every stored event"
            raise RuntimeError(msg)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # (as insert_events)
    def copy_events(
        self, stored_events: Sequence[StoredEvent], index_rows: Sequence[IndexRow]
    ) -> list[int]:
        """The bulk import's write (``timeline.bulk``): the events with their index rows by
        ``COPY`` in one transaction, under the library's table lock (lock_timeout, ``LOCK
        TABLE … IN EXCLUSIVE MODE``, ``NOTIFY``), so notification ids are still taken and
        committed in order for tailing readers. The ids are drawn from the log's own
        sequence in the order given, as the insert draws them. Raises ``IntegrityError``
        (nothing written) if a version or event id is taken; a lost connection or a lock
        timeout is tried again, as the library's ``insert_events`` does."""
        if not stored_events:
            return []
        with (
            self.datastore.get_connection() as conn,  # (maps psycopg's errors to the library's)
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._lock_table(curs)
            self._notify_channel(curs)
            curs.execute(self._next_ids, [len(stored_events)])
            ids = sorted(r["nextval"] for r in curs.fetchall())
            with curs.copy(self._copy_log) as copy:
                for stored, row in zip(
                    stored_events, positioned(stored_events, ids, index_rows), strict=True
                ):
                    copy.write_row(_copy_params(stored, row))
        return ids

    # -- the library's reads, from the log -----------------------------------------------------

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        sql = f"SELECT {_EVENT_COLUMNS} FROM {{}} WHERE originator_id = %s"
        params: list[Any] = [originator_id]
        if gt is not None:
            sql += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            sql += " AND originator_version <= %s"
            params.append(lte)
        sql += " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(SQL(sql).format(self._log), params, prepare=True)
            return [_stored(r) for r in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """As the library's: notifications from ``start`` (or after it), up to ``stop``, of
        ``topics`` (all when empty), at most ``limit``, in notification id order. A topic
        is matched as stored or as its type code implies it."""
        where: list[str] = []
        params: list[Any] = []
        if start is not None:
            where.append("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            params.append(start)
        if stop is not None:
            where.append("notification_id <= %s")
            params.append(stop)
        if topics:
            # (a row's topic is its column, or when NULL the one its type and version imply)
            where.append(
                f"(topic = ANY(%s) OR (topic IS NULL AND {derived_topic_sql()} = ANY(%s)))"
            )
            params += [list(topics), list(topics)]
        sql = f"SELECT notification_id, {_EVENT_COLUMNS} FROM {{}}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY notification_id LIMIT %s"
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(SQL(sql).format(self._log), params, prepare=True)
            return [_notification(r) for r in curs.fetchall()]

    # -- the index reads ----------------------------------------------------------------------

    def _select(self, sql: LiteralString, params: Sequence[Any]) -> list[IndexRow]:
        """Rows of ``SELECT {cols} FROM {index} …`` (``sql`` is formatted here)."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(SQL(sql).format(cols=LOG_SELECT_COLUMNS, index=self._log), params)
            return [_row(r) for r in curs.fetchall()]

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        rows = self._select(LOG_BY_EVENT_IDS, [list(event_ids)])
        return {r.event_id: r for r in rows}

    def index_for_seeker(
        self,
        seeker_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        limit: int | None = None,
        recorded_until: datetime | None = None,
    ) -> list[IndexRow]:
        sql = (
            "SELECT {cols} FROM {index} WHERE originator_id=%s AND originator_version>%s "
            "AND event_id IS NOT NULL"
        )
        params: list[Any] = [seeker_id, after_version]
        if to_version is not None:
            sql += " AND originator_version<=%s"
            params.append(to_version)
        if recorded_until is not None:
            sql += " AND recorded_at<=%s"
            params.append(recorded_until)
        sql += " ORDER BY originator_version"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._select(sql, params)

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]:
        return self._select(
            "SELECT {cols} FROM {index} WHERE notification_id>%s AND event_id IS NOT NULL "
            "ORDER BY notification_id LIMIT %s",
            [position, limit],
        )

    def index_recorded_between(self, start: datetime, end: datetime) -> list[IndexRow]:
        return self._select(
            "SELECT {cols} FROM {index} WHERE recorded_at >= %s AND recorded_at < %s "
            "AND event_id IS NOT NULL ORDER BY notification_id",
            [start, end],
        )

    def seekers_by_person_ref(self, person_ref: str) -> list[str]:
        if not _HEX64.fullmatch(person_ref):  # (every stored one is: its 32 bytes read back)
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT DISTINCT originator_id FROM {} WHERE person_ref=%s "
                    "ORDER BY originator_id"
                ).format(self._log),
                [bytes.fromhex(person_ref)],
            )
            return [str(r["originator_id"]) for r in curs.fetchall()]

    def seeker_ids(self, *, after: str | None = None, limit: int = 1000) -> list[str]:
        start = after or "00000000-0000-0000-0000-000000000000"
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            # (ordered by the uuid itself, so the primary key's index serves it)
            curs.execute(
                SQL(
                    "SELECT DISTINCT originator_id FROM {} WHERE originator_id > %s::uuid "
                    "ORDER BY originator_id LIMIT %s"
                ).format(self._log),
                [start, limit],
            )
            return [str(r[0]) for r in curs.fetchall()]

    def seeker_notifications(self, seeker_id: str) -> list[Notification]:
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(
                SQL(
                    f"SELECT notification_id, {_EVENT_COLUMNS} FROM {{}} "
                    "WHERE originator_id = %s ORDER BY originator_version"
                ).format(self._log),
                [seeker_id],
            )
            return [_notification(r) for r in curs.fetchall()]

    def events_with_index(
        self, seeker_id: str, *, recorded_until: datetime | None = None
    ) -> list[tuple[StoredEvent, IndexRow]]:
        sql = (
            "SELECT topic, state, uuid_send(event_id), occurred_on - date '1970-01-01', {cols} "
            "FROM {index} WHERE originator_id = %s AND event_id IS NOT NULL"
        )
        params: list[Any] = [seeker_id]
        if recorded_until is not None:
            sql += (
                " AND originator_version <= (SELECT max(originator_version) FROM {index} "
                "WHERE originator_id = %s AND recorded_at <= %s)"
            )
            params += [seeker_id, recorded_until]
        sql += " ORDER BY originator_version"
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,  # (as _select)
        ):
            curs.execute(SQL(sql).format(cols=LOG_SELECT_COLUMNS, index=self._log), params)
            out = []
            uuid = None
            for r in curs.fetchall():
                row = _row(r[4:])
                uuid = uuid or UUID(row.seeker_id)
                code = r[8]
                state = unpack_state(bytes(r[1] or b""), r[2], row.recorded_at, r[3])
                topic = r[0] or derived_topic(code, row.version) or str(code)
                out.append(
                    (
                        StoredEvent(
                            originator_id=uuid,
                            originator_version=row.version,
                            topic=topic,
                            state=state,
                        ),
                        row,
                    )
                )
            return out

    def index_as_of(self, seeker_id: str, recorded_until: datetime) -> list[IndexRow]:
        return self._select(
            "SELECT {cols} FROM {index} WHERE originator_id = %s AND event_id IS NOT NULL "
            "AND originator_version <= (SELECT max(originator_version) FROM {index} "
            "WHERE originator_id = %s AND recorded_at <= %s) ORDER BY originator_version",
            [seeker_id, seeker_id, recorded_until],
        )

    def select_events_after(self, versions: Mapping[str, int]) -> dict[str, list[StoredEvent]]:
        if not versions:
            return {}
        if len(versions) == 1:
            [(seeker_id, after)] = versions.items()
            events = list(self.select_events(UUID(seeker_id), gt=after))
            return {seeker_id: events} if events else {}
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(self._select_after, [list(versions), list(versions.values())])
            return _events_after(versions, curs.fetchall())

    def read_before_append(
        self,
        event_ids: Sequence[str],
        versions: Mapping[str, int],
        also: tuple[Composed, Sequence[Any]] | None = None,
    ) -> tuple[dict[str, IndexRow], dict[str, list[StoredEvent]], list[TupleRow]]:
        """What deciding an append reads, in one round trip (one query of several statements,
        each its own snapshot, in this order): :meth:`index_by_event_ids`,
        :meth:`select_events_after` and the rows of ``also`` (a statement on this database
        that the caller sends with them: the erasure register's question)."""
        parts: list[bytes] = []
        params: list[Any] = []
        if event_ids:
            parts.append(self._select_by_event_ids)
            params.append(list(event_ids))
        if len(versions) == 1:
            parts.append(self._select_one_after)
            params += next(iter(versions.items()))
        elif versions:
            parts.append(self._select_after)
            params += [list(versions), list(versions.values())]
        if not parts and also is None:
            return {}, {}, []
        with (
            self.datastore.get_connection() as conn,
            ClientCursor(conn, row_factory=tuple_row) as curs,
        ):
            if also is not None:
                parts.append(also[0].as_bytes(conn))
                params += also[1]
            curs.execute(b"; ".join(parts), params)
            results = [curs.fetchall()]
            while curs.nextset():
                results.append(curs.fetchall())
        known = [_row(r) for r in results.pop(0)] if event_ids else []
        events = _events_after(versions, results.pop(0)) if versions else {}
        return {r.event_id: r for r in known}, events, results.pop(0) if also else []

    def seekers_notifications(self, seeker_ids: Sequence[str]) -> dict[str, list[Notification]]:
        """Each seeker's stored events with their log positions, in version order, under the
        spelling of ``seeker_ids`` (seekers without events left out): what
        :meth:`seeker_notifications` gives each, in one read of the log's primary key for them
        all. (A projection re-reading seekers' facts in bulk: the positions come with the
        events, not from a second read of the index.)"""
        if not seeker_ids:
            return {}
        key = {UUID(k): k for k in seeker_ids}  # answer under the caller's spelling
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(
                SQL(
                    f"SELECT notification_id, {_EVENT_COLUMNS} FROM {{}} "
                    "WHERE originator_id = ANY(%s::uuid[]) "
                    "ORDER BY originator_id, originator_version"
                ).format(self._log),
                [list(key)],
            )
            out: dict[str, list[Notification]] = {}
            for r in curs.fetchall():
                out.setdefault(key[r[1]], []).append(_notification(r))
            return out


def _events_after(
    versions: Mapping[str, int], rows: Sequence[TupleRow]
) -> dict[str, list[StoredEvent]]:
    """Each seeker's stored events (rows of :data:`_EVENT_COLUMNS`), in version order, under
    the spelling of the seeker ids in ``versions``."""
    out: dict[str, list[StoredEvent]] = {}
    key = {UUID(k): k for k in versions}  # answer under the caller's spelling
    for r in rows:
        out.setdefault(key[r[0]], []).append(_stored(r))
    for events in out.values():  # each seeker's rows came in version order; make sure
        events.sort(key=lambda e: e.originator_version)
    return out


def _stored(r: TupleRow) -> StoredEvent:
    """A stored event from the log's :data:`_EVENT_COLUMNS` (topic and state as written)."""
    return StoredEvent(
        originator_id=r[0],
        originator_version=r[1],
        topic=r[2] or derived_topic(r[3], r[1]) or str(r[3]),
        state=unpack_state(bytes(r[4] or b""), r[5], r[6], r[7]),  # (NULL only if altered)
    )


def _notification(r: TupleRow) -> Notification:
    """A notification from the log's notification_id and :data:`_EVENT_COLUMNS`."""
    return Notification(
        id=r[0],
        originator_id=r[1],
        originator_version=r[2],
        topic=r[3] or derived_topic(r[4], r[2]) or str(r[4]),
        state=unpack_state(bytes(r[5] or b""), r[6], r[7], r[8]),
    )


def _log_values(e: StoredEvent, seeker: str, row: IndexRow | None) -> list[Any]:
    """A stored event's element of the insert's JSON array (see the recorder's insert)."""
    if row is None:
        return [seeker, e.originator_version, e.topic, b64encode(e.state).decode()]
    code = TYPE_CODES.get(BY_NAME.get(row.type))  # type: ignore[arg-type]
    topic = None if e.topic == derived_topic(code, e.originator_version) else e.topic
    state = pack_state(e.state, row.event_id, row.recorded_at, row.occurred_on)
    return [
        seeker,
        e.originator_version,
        topic,
        b64encode(state).decode(),
        row.event_id,
        row.type,
        row.occurred_at,
        row.occurred_on,
        iso_utc(row.recorded_at),
        row.digest,
        row.hash,
        row.person_ref,
    ]


def _json(rows: Sequence[Sequence[Any]]) -> Json:
    return Json(rows, dumps=_compact)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _row(r: TupleRow) -> IndexRow:
    """An index row from the columns of SELECT_COLUMNS (ids and the day already as text; the
    type's code, the digest, hash and person_ref as bytes: the service's text made here, as
    :func:`type_name_sql` and :func:`digest_text_sql` make it in SQL)."""
    code, digest, ref = r[4], r[8], r[10]
    return IndexRow(
        r[0],
        r[1],
        r[2],
        r[3],
        _TYPE_NAMES[code] if 0 < code < _TYPES_END else str(code),
        r[5],
        r[6],
        r[7].astimezone(UTC),
        digest.hex() if len(digest) == 32 else digest_text(digest),  # (32: SHA-256)
        r[9].hex(),
        None if ref is None else ref.hex(),
    )


#: each type's name at its code (none at 0)
_TYPE_NAMES = ("", *TYPE_NAMES_IN_CODE_ORDER)
_TYPES_END = len(_TYPE_NAMES)


def digest_text(stored: bytes) -> str:
    """A stored digest's text (as :func:`digest_text_sql`)."""
    if len(stored) == 32:  # (SHA-256)
        return stored.hex()
    if len(stored) == 33 and stored[0] == JCS_BYTE:
        return JCS_PREFIX + stored[1:].hex()
    return "?" + stored.hex()


def _copy_params(stored: StoredEvent, row: IndexRow) -> tuple[Any, ...]:
    """A stored event's and its index row's values for the bulk ``COPY`` into the log."""
    code = TYPE_CODES[BY_NAME[row.type]]
    return (
        row.position,
        stored.originator_id,
        stored.originator_version,
        None if stored.topic == derived_topic(code, stored.originator_version) else stored.topic,
        pack_state(stored.state, row.event_id, row.recorded_at, row.occurred_on),
        row.event_id,
        code,
        row.occurred_at,
        row.occurred_on,
        iso_utc(row.recorded_at),
        digest_bytes(row.digest),
        bytes.fromhex(row.hash),
        None if row.person_ref is None else bytes.fromhex(row.person_ref),
    )


def digest_bytes(digest: str) -> bytes:
    """A digest's stored bytes from its text (as :func:`digest_bytes_sql`)."""
    if digest.startswith(JCS_PREFIX):
        return bytes((JCS_BYTE,)) + bytes.fromhex(digest[len(JCS_PREFIX) :])
    return bytes.fromhex(digest)


# -- the index table's layout, and its conversion --------------------------------------------


class IndexLayoutOutdated(TimelineError):
    """The index table is in a layout this build does not read: the message names the command
    that converts it."""

    def __init__(self, schema: str, layout: int | None) -> None:
        self.layout = layout
        what = (
            "hashes and person_ref as hex text"
            if layout == 1
            else "the library's events table and an index table"
        )
        super().__init__(
            f"the event store in {schema} is in index layout {layout} ({what}); this build "
            f"reads layout {INDEX_LAYOUT} (one table, {LOG_TABLE}). Stop every writer, take a "
            f"backup, and run `timeline migrate-store --to {INDEX_LAYOUT}` on this database "
            "(it converts the tables in place, in one transaction; docs/storage.md)"
        )


def index_layout(curs: Cursor[TupleRow], schema: str) -> int | None:
    """The layout of ``schema``'s event store: 3 (the log table), else that of its index
    table: 1 (the digest as text), 2 (as bytes); None when there is neither."""
    curs.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}"."{LOG_TABLE}"'])
    if curs.fetchone()[0]:  # type: ignore[index]
        return INDEX_LAYOUT
    curs.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = %s AND column_name = 'digest'",
        [schema, INDEX_TABLE],
    )
    found = curs.fetchone()
    if found is None:
        return None
    return {"text": 1, "bytea": 2}.get(str(found[0]), 0)


@dataclass
class IndexConversion:
    """What :func:`convert_index_layout` found and did."""

    schema: str
    layout_before: int | None
    layout_after: int | None
    dry_run: bool
    #: index rows converted (with ``dry_run``: that would be)
    rows: int = 0
    seconds: float = 0.0
    #: pg_total_relation_size of the index table (heap, TOAST, indexes)
    size_before: int | None = None
    size_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": f"{self.schema}.{INDEX_TABLE}",
            "layout_before": self.layout_before,
            "layout_after": self.layout_after,
            "converted": self.rows if self.layout_before == 1 and not self.dry_run else 0,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "size_before": self.size_before,
            "size_after": self.size_after,
        }


class IndexConversionRefused(TimelineError):
    """The layout-1 table holds a value layout 2 cannot hold exactly (the message names the
    rows); nothing was changed."""


#: Layout 1's values that layout 2 holds exactly (else the conversion is refused)
_LAYOUT1_FIT = (
    ("type", f"type <> ALL({_TYPE_ARRAY})"),
    ("digest", "digest !~ '^(jcs:)?[0-9a-f]{64}$'"),
    ("hash", "hash !~ '^[0-9a-f]{64}$'"),
    ("person_ref", "person_ref !~ '^[0-9a-f]{64}$'"),
    ("version", "version NOT BETWEEN -2147483648 AND 2147483647"),
)


def _refuse_unfit(curs: Cursor[TupleRow], schema: str, table: Composable) -> None:
    """:class:`IndexConversionRefused` naming the first rows with a value layout 2 cannot
    hold exactly."""
    for column, unfit in _LAYOUT1_FIT:
        curs.execute(
            SQL("SELECT position FROM {} WHERE ").format(table)
            + SQL(unfit)  # (not formatted: a regular expression's braces)
            + SQL(" ORDER BY position LIMIT 5")
        )
        bad = [r[0] for r in curs.fetchall()]
        if bad:
            raise IndexConversionRefused(
                f"{schema}.{INDEX_TABLE}: the {column} of the rows at positions "
                f"{', '.join(map(str, bad))} is not what this service stores there (altered "
                "rows?); layout 2 could not hold it exactly, so nothing was converted: run "
                "`timeline verify` and restore those rows from a backup first"
            )


def convert_index_layout(
    conn: Any,
    schema: str,
    *,
    events_table: str = "timeline_events",
    dry_run: bool = False,
    say: Callable[[str], object] | None = None,
) -> IndexConversion:
    """Convert ``schema``'s index table from layout 1 to layout 2 in place, in one transaction
    on ``conn`` (a psycopg connection, not in a transaction), under the library's ``EXCLUSIVE``
    lock on the events table (no writer's insert interleaves) and an ``ACCESS EXCLUSIVE`` lock
    on the index. The table is rebuilt with the recorder's own statements, in position order,
    so a converted table is the one a new store makes (same columns, order and index names);
    every row is then compared, column by column as the service reads it, with the old one,
    and the old table dropped. Refused (:class:`IndexConversionRefused`, nothing changed) if a
    value would not read back the same. Nothing to do for a table already in layout 2 or no
    table; ``dry_run`` counts the rows and changes nothing. ``say`` is told what is about to
    be done, once the rows are counted."""
    started = time.perf_counter()
    ident = Identifier(schema)
    table = SQL("{}.{}").format(ident, Identifier(INDEX_TABLE))
    old_name = INDEX_TABLE + "_layout1"
    old = SQL("{}.{}").format(ident, Identifier(old_name))
    size = SQL("SELECT pg_total_relation_size({})").format(Literal(f'"{schema}"."{INDEX_TABLE}"'))
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as curs:
        layout = index_layout(curs, schema)
        run = IndexConversion(schema, layout, layout, dry_run)
        if layout != 1:
            return run
        curs.execute(size)
        run.size_before = int(curs.fetchone()[0])
        curs.execute("SET LOCAL lock_timeout = '30s'")
        events = SQL("{}.{}").format(ident, Identifier(events_table))
        curs.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(events))
        curs.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        if index_layout(curs, schema) != 1:  # (another run converted it while this one waited)
            run.layout_before = run.layout_after = index_layout(curs, schema)
            return run
        _refuse_unfit(curs, schema, table)
        curs.execute(SQL("SELECT count(*) FROM {}").format(table))
        run.rows = int(curs.fetchone()[0])
        if dry_run:
            run.seconds = time.perf_counter() - started
            return run
        if say is not None:
            say(
                f"converting the index table {schema}.{INDEX_TABLE} to layout 2: "
                f"{run.rows:,} rows, one transaction"
            )
        # the old table and its indexes out of the names' way, then the recorder's own DDL
        curs.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass",
            [f'"{schema}"."{INDEX_TABLE}"'],
        )
        indexes = [str(r[0]) for r in curs.fetchall()]
        curs.execute(SQL("ALTER TABLE {} RENAME TO {}").format(table, Identifier(old_name)))
        for name in indexes:
            curs.execute(
                SQL("ALTER INDEX {}.{} RENAME TO {}").format(
                    ident, Identifier(name), Identifier(name[:54] + "_layout1")
                )
            )
        # the recorder's table, its keys added once it is filled (each index built sorted, at
        # once, not row by row at random uuids: faster, and as compact as a btree gets)
        curs.execute(SQL(f"CREATE TABLE {{}} ({_INDEX_COLUMNS_DDL})").format(table))
        columns = SQL(",").join(Identifier(c) for c in INDEX_COLUMNS)
        converted = SQL(
            "event_id, seeker_id, version::integer, position, "
            f"array_position({_TYPE_ARRAY}, type)::smallint, occurred_at, occurred_on, "
            f"recorded_at, {digest_bytes_sql('digest')}, decode(hash, 'hex'), "
            "decode(person_ref, 'hex')"
        )
        curs.execute(
            SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY position").format(
                table, columns, converted, old
            )
        )
        if curs.rowcount != run.rows:  # pragma: no cover - the table is locked
            raise IndexConversionRefused("the index changed under the conversion")
        keys = _INDEX_KEYS_DDL.replace("PRIMARY", "ADD PRIMARY").replace("UNIQUE", "ADD UNIQUE")
        curs.execute(SQL(f"ALTER TABLE {{}} {keys}").format(table))
        curs.execute(SQL(INDEX_PERSON_DDL).format(Identifier(INDEX_TABLE + "_person"), table))
        # every row, as the service reads it, against the old one
        curs.execute(
            SQL(
                "SELECT o.position FROM {} o LEFT JOIN (SELECT event_id, {} FROM {}) n "
                "USING (event_id) WHERE (o.event_id::text, o.seeker_id::text, o.version, "
                "o.position, o.type, o.occurred_at, o.occurred_on::text, o.recorded_at, o.digest, "
                "o.hash, o.person_ref) IS DISTINCT FROM (n.e, n.s, n.v, n.p, n.t, n.oa, n.oo, "
                "n.ra, n.d, n.h, n.pr) ORDER BY o.position LIMIT 5"
            ).format(old, _SELECT_ALIASED, table)
        )
        bad = [r[0] for r in curs.fetchall()]
        if bad:  # pragma: no cover - a defect of the conversion's SQL
            raise IndexConversionRefused(
                f"the rows at positions {bad} would not read back the same after conversion; "
                "nothing was converted"
            )
        curs.execute(SQL("DROP TABLE {}").format(old))
        curs.execute(size)
        run.size_after = int(curs.fetchone()[0])
        run.layout_after = 2  # (then convert_to_log: 3)
    run.seconds = time.perf_counter() - started
    return run


#: SELECT_COLUMNS with a name each (for the conversion's comparison)
_SELECT_ALIASED = SQL(
    "event_id::text AS e, seeker_id::text AS s, version AS v, position AS p, "
    + type_name_sql("type")
    + " AS t, occurred_at AS oa, occurred_on::text AS oo, recorded_at AS ra, "
    + digest_text_sql("digest")
    + " AS d, encode(hash, 'hex') AS h, encode(person_ref, 'hex') AS pr"
)


# -- layout 2 (the library's events table and the index table) to layout 3 (the log) ----------

#: The library's events table as eventsourcing 9.5 makes it (PostgresApplicationRecorder),
#: and its notification id index: layout 2's first table (the second is INDEX_DDL).
LAYOUT_2_EVENTS_DDL = (
    "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
    "topic text, state bytea, notification_id bigserial, "
    "PRIMARY KEY (originator_id, originator_version))",
    "CREATE UNIQUE INDEX {} ON {} (notification_id ASC)",
)


@dataclass
class LogConversion:
    """What :func:`convert_to_log` found and did."""

    schema: str
    layout_before: int | None
    layout_after: int | None
    dry_run: bool
    #: events moved into the log (with ``dry_run``: that would be)
    rows: int = 0
    #: of which kept without E (their state rebuilt from the columns when read)
    stripped: int = 0
    seconds: float = 0.0
    #: pg_total_relation_size of the two tables before, of the log after
    size_before: int | None = None
    size_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": f"{self.schema}.{LOG_TABLE}",
            "layout_before": self.layout_before,
            "layout_after": self.layout_after,
            "converted": self.rows if self.layout_before == 2 and not self.dry_run else 0,
            "rows": self.rows,
            "stripped": self.stripped,
            "seconds": round(self.seconds, 3),
            "size_before": self.size_before,
            "size_after": self.size_after,
        }


def convert_to_log(
    conn: Any,
    schema: str,
    *,
    events_table: str = EVENTS_VIEW,
    dry_run: bool = False,
    say: Callable[[str], object] | None = None,
) -> LogConversion:
    """Move ``schema``'s layout-2 store (the library's events table and the index table) into
    the log, in place, in one transaction on ``conn`` (a psycopg connection, not in a
    transaction), under ``ACCESS EXCLUSIVE`` locks on both tables (no reader or writer meanwhile).
    Every event keeps its notification id (position), and the log's sequence continues where
    the events table's stopped. Refused (:class:`IndexConversionRefused`, nothing changed) if
    an index row has no event or another position than its event: the log could not hold both.
    After the move every event is compared, as the recorder's SQL reads it back (its topic,
    its state rebuilt, its index values), with the old rows; then the old tables are dropped
    (a backup taken before is the way back). Nothing to do for a store in layout 3 or none;
    ``dry_run`` counts the events and changes nothing. A layout-1 index table is converted
    first (:func:`convert_index_layout`)."""
    started = time.perf_counter()
    ident = Identifier(schema)
    events = SQL("{}.{}").format(ident, Identifier(events_table))
    index = SQL("{}.{}").format(ident, Identifier(INDEX_TABLE))
    log = SQL("{}.{}").format(ident, Identifier(LOG_TABLE))
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as curs:
        layout = index_layout(curs, schema)
        run = LogConversion(schema, layout, layout, dry_run)
        if layout != 2:
            return run
        curs.execute("SET LOCAL lock_timeout = '30s'")
        curs.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(events))
        curs.execute(SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(index))
        if index_layout(curs, schema) != 2:  # (another run converted it while this one waited)
            run.layout_before = run.layout_after = index_layout(curs, schema)
            return run
        curs.execute(
            SQL("SELECT pg_total_relation_size({}) + pg_total_relation_size({})").format(
                Literal(f'"{schema}"."{events_table}"'), Literal(f'"{schema}"."{INDEX_TABLE}"')
            )
        )
        run.size_before = int(curs.fetchone()[0])
        curs.execute(
            SQL(
                "SELECT i.position FROM {} i LEFT JOIN {} e ON e.originator_id = i.seeker_id "
                "AND e.originator_version = i.version WHERE e.notification_id IS DISTINCT FROM "
                "i.position ORDER BY i.position LIMIT 5"
            ).format(index, events)
        )
        bad = [r[0] for r in curs.fetchall()]
        if bad:
            raise IndexConversionRefused(
                f"{schema}.{INDEX_TABLE}: the index rows at positions "
                f"{', '.join(map(str, bad))} have no stored event at their seeker, version and "
                "position (altered rows?); the log keeps an event and its index row as one "
                "row, so nothing was converted: run `timeline verify` and restore those rows "
                "from a backup first"
            )
        curs.execute(SQL("SELECT count(*) FROM {}").format(events))
        run.rows = int(curs.fetchone()[0])
        if dry_run:
            run.seconds = time.perf_counter() - started
            return run
        if say is not None:
            say(
                f"moving {schema}.{events_table} and {schema}.{INDEX_TABLE} into the log "
                f"{schema}.{LOG_TABLE} (index layout {INDEX_LAYOUT}): {run.rows:,} events, one "
                "transaction"
            )
        # the old tables out of the names' way (the views take them), the SQL functions, the
        # log without its keys, filled in position order, then its keys (each index built
        # sorted, at once, not row by row)
        old_events, old_index = events_table + "_layout2", INDEX_TABLE + "_layout2"
        curs.execute(SQL("ALTER TABLE {} RENAME TO {}").format(events, Identifier(old_events)))
        curs.execute(SQL("ALTER TABLE {} RENAME TO {}").format(index, Identifier(old_index)))
        events = SQL("{}.{}").format(ident, Identifier(old_events))
        index = SQL("{}.{}").format(ident, Identifier(old_index))
        curs.execute(SQL(LOG_ENVELOPE_FUNCTION).format(ident))
        curs.execute(SQL(LOG_STATE_FUNCTION).format(ident, ident))
        curs.execute(SQL(f"CREATE TABLE {{}} ({_LOG_COLUMNS_DDL}) {_LOG_STORAGE}").format(log))
        curs.execute(
            SQL(
                "INSERT INTO {log} (notification_id, recorded_at, originator_id, event_id, "
                "originator_version, occurred_on, type, state, digest, hash, occurred_at, "
                "person_ref, topic) "
                "SELECT notification_id, recorded_at, originator_id, event_id, "
                "originator_version, occurred_on, type, "
                + pack_state_sql()
                + ", digest, hash, occurred_at, person_ref, "
                "CASE WHEN topic = " + derived_topic_sql() + " THEN NULL ELSE topic END "
                "FROM (SELECT e.notification_id, i.recorded_at, e.originator_id, i.event_id, "
                "e.originator_version, i.occurred_on, i.type, e.state, i.digest, i.hash, "
                "i.occurred_at, i.person_ref, e.topic FROM {events} e LEFT JOIN {index} i "
                "ON i.seeker_id = e.originator_id AND i.version = e.originator_version) r "
                "ORDER BY notification_id"
            ).format(ident, log=log, events=events, index=index)
        )
        if curs.rowcount != run.rows:  # pragma: no cover - the tables are locked
            raise IndexConversionRefused("the events changed under the conversion")
        # the sequence continues where the events table's stopped (its values given out and
        # rolled back stay unused, as before)
        curs.execute(
            SQL(
                "SELECT setval(pg_get_serial_sequence({new}, 'notification_id'), s.last_value, "
                "s.is_called) FROM {old_seq} s"
            ).format(
                new=Literal(f'"{schema}"."{LOG_TABLE}"'),
                old_seq=SQL("{}.{}").format(
                    ident, Identifier(events_table + "_notification_id_seq")
                ),
            )
        )
        curs.execute(SQL(f"ALTER TABLE {{}} ADD {_LOG_KEY_DDL}").format(log))
        for statement in log_ddl(schema):  # (its indexes, the functions, the views)
            curs.execute(statement)
        _compare_log(curs, ident, log, events, index)
        curs.execute(
            SQL("SELECT count(*) FROM {} WHERE get_byte(state, 0) = {}").format(
                log, Literal(STRIPPED)
            )
        )
        run.stripped = int(curs.fetchone()[0])
        curs.execute(SQL("DROP TABLE {}, {}").format(events, index))
        curs.execute(
            SQL("SELECT pg_total_relation_size({})").format(Literal(f'"{schema}"."{LOG_TABLE}"'))
        )
        run.size_after = int(curs.fetchone()[0])
        run.layout_after = INDEX_LAYOUT
    run.seconds = time.perf_counter() - started
    return run


def _compare_log(
    curs: Cursor[TupleRow],
    ident: Composable,
    log: Composable,
    events: Composable,
    index: Composable,
) -> None:
    """Refuses the conversion unless every event of the old tables reads back the same from
    the log, as the recorder's SQL reads it (topic, state rebuilt, index values)."""
    # every event, as the recorder's SQL reads it, against the old rows
    curs.execute(
        SQL(
            "SELECT o.notification_id FROM {events} o LEFT JOIN {index} i "
            "ON i.seeker_id = o.originator_id AND i.version = o.originator_version "
            "LEFT JOIN (SELECT l.*, {ident}.timeline_log_state(state, event_id, recorded_at, "
            "occurred_on) AS rebuilt, " + topic_sql("l.") + " AS derived FROM {log} l) n "
            "ON n.originator_id = o.originator_id AND n.originator_version = "
            "o.originator_version WHERE (o.notification_id, o.topic, o.state, i.event_id, "
            "i.type, i.occurred_at, i.occurred_on, i.recorded_at, i.digest, i.hash, "
            "i.person_ref) IS DISTINCT FROM (n.notification_id, n.derived, n.rebuilt, "
            "n.event_id, n.type, n.occurred_at, n.occurred_on, n.recorded_at, n.digest, "
            "n.hash, n.person_ref) ORDER BY o.notification_id LIMIT 5"
        ).format(events=events, index=index, ident=ident, log=log)
    )
    bad = [r[0] for r in curs.fetchall()]
    if bad:  # pragma: no cover - a defect of the conversion's SQL
        raise IndexConversionRefused(
            f"the events at positions {bad} would not read back the same from the log; "
            "nothing was converted"
        )
