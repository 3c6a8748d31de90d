"""PostgreSQL: the production store. The index is written inside the insert's transaction, by
the statement that inserts the events, with the notification ids they were given."""

from __future__ import annotations

import json
import re
import time
from base64 import b64encode
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
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
from timeline.store.index import INDEX_COLUMNS, IndexRow, merge_id_pages, positioned

INDEX_TABLE = "timeline_event_index"
#: the event's values before its index row's in an element of the insert's JSON array
EVENT_FIELDS = 4
BEGIN = SQL("BEGIN")
COMMIT = SQL("COMMIT")
OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
#: the index rows of some event ids (``{cols}``, ``{index}`` formatted in)
BY_EVENT_IDS = "SELECT {cols} FROM {index} WHERE event_id = ANY(%s::uuid[])"
#: The index table's layout (docs/storage.md): 2 since 2026-12-02 — hashes and ``person_ref`` as
#: 32 bytes, the type as its code, the version as an integer, fixed-width columns first. Layout
#: 1 (before) held them as text; :func:`convert_index_layout` (``timeline migrate-store``)
#: converts a table in place, and the recorder refuses one not converted.
INDEX_LAYOUT = 2
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


class TimelinePostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self._index = SQL("{}.{}").format(schema, Identifier(INDEX_TABLE))
        self.sql_create_statements.extend(
            [
                SQL(INDEX_DDL).format(self._index),
                SQL(INDEX_PERSON_DDL).format(Identifier(INDEX_TABLE + "_person"), self._index),
            ]
        )
        self._events = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        # A save's rows go as one JSON array of arrays, decoded by the server (as jsonb: parsed
        # once, where json's ->> parses each element again per column), and the events and
        # their index rows are inserted by one statement: the index rows take the notification
        # ids the events' insert returns (a data-modifying CTE), so nothing comes back to the
        # client in the middle of the transaction (see insert_events). Each element is an
        # event's originator id, version, topic and base64 state, then its index row's values
        # in INDEX_COLUMNS order (its position left out: the event's notification id). No
        # per-value work in the driver (dumping arrays of values was most of a bulk save's time).
        self._insert_events_json = SQL(
            "INSERT INTO {} AS t (originator_id, originator_version, topic, state) "
            "SELECT (r->>0)::{}, (r->>1)::bigint, r->>2, decode(r->>3, 'base64') "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS s(r, n) ORDER BY n "
            "RETURNING notification_id"
        ).format(self._events, SQL(self.datastore.originator_id_type))
        index_values = SQL(",").join(
            SQL("e.notification_id" if column == "position" else value)
            for column, value in zip(
                INDEX_COLUMNS, index_values_sql("s.r", EVENT_FIELDS), strict=True
            )
        )
        self._insert_with_index = SQL(
            "WITH s AS MATERIALIZED (SELECT r, n FROM jsonb_array_elements(%s::jsonb) "
            "WITH ORDINALITY AS a(r, n)), "
            "e AS (INSERT INTO {events} AS t (originator_id, originator_version, topic, state) "
            "SELECT (r->>0)::{id_type}, (r->>1)::bigint, r->>2, decode(r->>3, 'base64') "
            "FROM s ORDER BY n "
            "RETURNING notification_id, originator_id, originator_version), "
            "i AS (INSERT INTO {index} ({columns}) SELECT {values} FROM s JOIN e "
            "ON e.originator_id = (s.r->>0)::{id_type} AND e.originator_version = "
            "(s.r->>1)::bigint) "
            "SELECT e.notification_id FROM s JOIN e ON e.originator_id = (s.r->>0)::{id_type} "
            "AND e.originator_version = (s.r->>1)::bigint ORDER BY s.n"
        ).format(
            events=self._events,
            id_type=SQL(self.datastore.originator_id_type),
            index=self._index,
            columns=SQL(",").join(Identifier(c) for c in INDEX_COLUMNS),
            values=index_values,
        )
        # The insert's transaction as one script, sent as one query (the simple protocol, which
        # runs several statements; psycopg's ClientCursor binds the JSON as a quoted literal):
        # BEGIN, the library's lock_timeout and table lock, the notify, the insert, COMMIT.
        prefix = [BEGIN, *self.lock_table_statements]
        prefix.append(SQL("NOTIFY {}").format(Identifier(self.channel_name)))
        self._insert_scripts = {
            indexed: SQL("; ").join([*prefix, statement, COMMIT]).as_bytes(None)
            for indexed, statement in (
                (True, self._insert_with_index),
                (False, self._insert_events_json),
            )
        }
        #: which of the script's results is the insert's
        self._insert_result = len(prefix)
        self._next_ids = SQL(
            "SELECT nextval(pg_get_serial_sequence({}, 'notification_id')) "
            "FROM generate_series(1, %s)"
        ).format(Literal(f'"{self.datastore.schema}"."{self.events_table_name}"'))
        self._copy_events = SQL(
            "COPY {} (notification_id, originator_id, originator_version, topic, state) FROM STDIN"
        ).format(self._events)
        self._copy_index = SQL("COPY {} ({}) FROM STDIN").format(
            self._index, SQL(",").join(Identifier(c) for c in INDEX_COLUMNS)
        )
        # (these three as bytes: read_before_append sends them together, as one query)
        self._select_by_event_ids = (
            SQL(BY_EVENT_IDS).format(cols=SELECT_COLUMNS, index=self._index).as_bytes(None)
        )
        # (the library's select_events for one seeker after a version, as select_events_after's)
        self._select_one_after = (
            SQL(
                "SELECT originator_id, originator_version, topic, state FROM {} "
                "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version"
            )
            .format(self._events)
            .as_bytes(None)
        )
        # One index range scan per seeker: the LATERAL subquery is fenced (OFFSET 0) because
        # a plain join of the unnested pairs is planned as a merge join over the whole table.
        self._select_after = (
            SQL(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state "
                "FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, after) CROSS JOIN LATERAL ("
                "SELECT * FROM {} e WHERE e.originator_id = k.id "
                "AND e.originator_version > k.after ORDER BY e.originator_version OFFSET 0) e"
            )
            .format(self._events)
            .as_bytes(None)
        )

    def create_table(self) -> None:
        """The library's tables and the index table (layout 2 when new); then refuses an index
        table still in layout 1 (:class:`IndexLayoutOutdated`), unless the caller converts it
        (``timeline migrate-store``: see :func:`tolerating_index_layout_1`)."""
        super().create_table()
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            layout = index_layout(curs, self.datastore.schema)
        if layout != INDEX_LAYOUT and not _TOLERATE_LAYOUT_1.get():
            raise IndexLayoutOutdated(self.datastore.schema, layout)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # (as the library's)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        """The events (and ``index_rows``, each given the notification id of its event) in one
        transaction, as the library's: ``lock_timeout``, ``LOCK TABLE … IN EXCLUSIVE MODE``
        (notification ids committed in the order they are taken, for tailing readers),
        ``NOTIFY``, then the insert; the notification ids in the order given. Raises
        ``IntegrityError`` (nothing written) if a version or an event id is taken.

        One round trip: ``BEGIN``, the lock, the notify, one statement inserting the events and
        their index rows, and ``COMMIT`` go out as one query and are answered together (the
        library's waits for the insert's ids before sending the index rows and the commit,
        and psycopg's ``transaction()`` for its ``BEGIN``: three round trips, the last two
        with the table locked). A statement that fails ends the query there, before the
        ``COMMIT``, and the transaction is rolled back."""
        if not stored_events:
            return []
        rows: Sequence[IndexRow] = kwargs.get("index_rows", ())
        by_key = {(r.seeker_id, r.version): r for r in rows}
        values: list[list[Any]] = []
        for e in stored_events:
            seeker = str(e.originator_id)
            event: list[Any] = [seeker, e.originator_version, e.topic, b64encode(e.state).decode()]
            if rows:
                event += by_key[(seeker, e.originator_version)].as_params()
            values.append(event)
        with (
            self.datastore.get_connection() as conn,
            ClientCursor(conn, row_factory=tuple_row) as curs,
        ):
            try:  # (the connection is in autocommit: the BEGIN is the script's)
                curs.execute(self._insert_scripts[bool(rows)], [_json(values)])
            except BaseException:
                if conn.info.transaction_status in OPEN:
                    conn.rollback()  # (what the script began and its error left open)
                raise
            for _ in range(self._insert_result):
                curs.nextset()
            ids = [r[0] for r in curs.fetchall()]
        if len(ids) != len(stored_events):
            msg = "the recorder did not return a position for every stored event"
            raise RuntimeError(msg)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # (as insert_events)
    def copy_events(
        self, stored_events: Sequence[StoredEvent], index_rows: Sequence[IndexRow]
    ) -> list[int]:
        """The bulk import's write (``timeline.bulk``): the events and their index rows by
        ``COPY`` in one transaction, under the library's table lock (lock_timeout, ``LOCK
        TABLE … IN EXCLUSIVE MODE``, ``NOTIFY``), so notification ids are still taken and
        committed in order for tailing readers. The ids are drawn from the table's own
        sequence in the order given, as the library's ``INSERT … RETURNING`` draws them.
        Raises ``IntegrityError`` (nothing written) if a version or event id is taken; a lost
        connection or a lock timeout is tried again, as the library's ``insert_events`` does."""
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
            with curs.copy(self._copy_events) as copy:
                for stored, position in zip(stored_events, ids, strict=True):
                    copy.write_row(
                        (
                            position,
                            stored.originator_id,
                            stored.originator_version,
                            stored.topic,
                            stored.state,
                        )
                    )
            with curs.copy(self._copy_index) as copy:
                for row in positioned(stored_events, ids, index_rows):
                    copy.write_row(_copy_params(row))
        return ids

    # -- reads ---------------------------------------------------------------------------------

    def _select(self, sql: LiteralString, params: Sequence[Any]) -> list[IndexRow]:
        """Rows of ``SELECT {cols} FROM {index} …`` (``sql`` is formatted here)."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(SQL(sql).format(cols=SELECT_COLUMNS, index=self._index), params)
            return [_row(r) for r in curs.fetchall()]

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        rows = self._select(BY_EVENT_IDS, [list(event_ids)])
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
        sql = "SELECT {cols} FROM {index} WHERE seeker_id=%s AND version>%s"
        params: list[Any] = [seeker_id, after_version]
        if to_version is not None:
            sql += " AND version<=%s"
            params.append(to_version)
        if recorded_until is not None:
            sql += " AND recorded_at<=%s"
            params.append(recorded_until)
        sql += " ORDER BY version"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._select(sql, params)

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]:
        return self._select(
            "SELECT {cols} FROM {index} WHERE position>%s ORDER BY position LIMIT %s",
            [position, limit],
        )

    def index_recorded_between(self, start: datetime, end: datetime) -> list[IndexRow]:
        return self._select(
            "SELECT {cols} FROM {index} WHERE recorded_at >= %s AND recorded_at < %s "
            "ORDER BY position",
            [start, end],
        )

    def seekers_by_person_ref(self, person_ref: str) -> list[str]:
        if not _HEX64.fullmatch(person_ref):  # (every stored one is: its 32 bytes read back)
            return []
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT DISTINCT seeker_id FROM {} WHERE person_ref=%s ORDER BY seeker_id"
                ).format(self._index),
                [bytes.fromhex(person_ref)],
            )
            return [str(r["seeker_id"]) for r in curs.fetchall()]

    def seeker_ids(self, *, after: str | None = None, limit: int = 1000) -> list[str]:
        start = after or "00000000-0000-0000-0000-000000000000"
        pages = []
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            for table, column in ((self._index, "seeker_id"), (self._events, "originator_id")):
                # (ordered by the uuid itself, so the primary key's index serves it)
                curs.execute(
                    SQL(
                        "SELECT DISTINCT {col} FROM {table} WHERE {col} > %s::uuid "
                        "ORDER BY {col} LIMIT %s"
                    ).format(col=Identifier(column), table=table),
                    [start, limit],
                )
                pages.append([str(r[0]) for r in curs.fetchall()])
        return merge_id_pages(pages, limit)

    def seeker_notifications(self, seeker_id: str) -> list[Notification]:
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(
                SQL(
                    "SELECT notification_id, originator_version, topic, state FROM {} "
                    "WHERE originator_id = %s ORDER BY originator_version"
                ).format(self._events),
                [seeker_id],
            )
            uuid = UUID(seeker_id)
            return [
                Notification(
                    id=r[0],
                    originator_id=uuid,
                    originator_version=r[1],
                    topic=r[2],
                    state=bytes(r[3] or b""),  # (NULL only if altered: then unreadable)
                )
                for r in curs.fetchall()
            ]

    def events_with_index(
        self, seeker_id: str, *, recorded_until: datetime | None = None
    ) -> list[tuple[StoredEvent, IndexRow]]:
        sql = (
            "SELECT e.topic, e.state, {cols} FROM {index} JOIN {events} e "
            "ON e.originator_id = seeker_id AND e.originator_version = version "
            "WHERE seeker_id = %s"
        )
        params: list[Any] = [seeker_id]
        if recorded_until is not None:
            sql += (
                " AND version <= (SELECT max(version) FROM {index} "
                "WHERE seeker_id = %s AND recorded_at <= %s)"
            )
            params += [seeker_id, recorded_until]
        sql += " ORDER BY version"
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,  # (as _select)
        ):
            curs.execute(
                SQL(sql).format(cols=SELECT_COLUMNS, index=self._index, events=self._events), params
            )
            out = []
            uuid = None
            for r in curs.fetchall():
                row = _row(r[2:])
                uuid = uuid or UUID(row.seeker_id)
                out.append(
                    (
                        StoredEvent(
                            originator_id=uuid,
                            originator_version=row.version,
                            topic=r[0],
                            state=bytes(r[1]),
                        ),
                        row,
                    )
                )
            return out

    def index_as_of(self, seeker_id: str, recorded_until: datetime) -> list[IndexRow]:
        return self._select(
            "SELECT {cols} FROM {index} WHERE seeker_id = %s AND version <= "
            "(SELECT max(version) FROM {index} WHERE seeker_id = %s AND recorded_at <= %s) "
            "ORDER BY version",
            [seeker_id, seeker_id, recorded_until],
        )

    def select_events_after(self, versions: Mapping[str, int]) -> dict[str, list[StoredEvent]]:
        if not versions:
            return {}
        if len(versions) == 1:
            # One seeker (a read of a timeline, a lone append): the library's plain range read
            # costs the server half what the lateral join over an unnested array does.
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
        :meth:`seeker_notifications` gives each, in one indexed read of the events table for
        them all. (A projection re-reading seekers' facts in bulk: the positions come with the
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
                    "SELECT originator_id, notification_id, originator_version, topic, state "
                    "FROM {} WHERE originator_id = ANY(%s::uuid[]) "
                    "ORDER BY originator_id, originator_version"
                ).format(self._events),
                [list(key)],
            )
            out: dict[str, list[Notification]] = {}
            for r in curs.fetchall():
                out.setdefault(key[r[0]], []).append(
                    Notification(
                        id=r[1],
                        originator_id=r[0],
                        originator_version=r[2],
                        topic=r[3],
                        state=bytes(r[4] or b""),  # (NULL only if altered: then unreadable)
                    )
                )
            return out


def _events_after(
    versions: Mapping[str, int], rows: Sequence[TupleRow]
) -> dict[str, list[StoredEvent]]:
    """Each seeker's stored events (rows of originator id, version, topic, state), in version
    order, under the spelling of the seeker ids in ``versions``."""
    out: dict[str, list[StoredEvent]] = {}
    key = {UUID(k): k for k in versions}  # answer under the caller's spelling
    for r in rows:
        out.setdefault(key[r[0]], []).append(
            StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=bytes(r[3]))
        )
    for events in out.values():  # each seeker's rows came in version order; make sure
        events.sort(key=lambda e: e.originator_version)
    return out


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


def _copy_params(row: IndexRow) -> tuple[Any, ...]:
    """An index row's values for the bulk ``COPY`` (INDEX_COLUMNS order, layout 2)."""
    return (
        row.event_id,
        row.seeker_id,
        row.version,
        row.position,
        TYPE_CODES[BY_NAME[row.type]],
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

#: Whether a layout-1 index table is accepted by :meth:`TimelinePostgresRecorder.create_table`
_TOLERATE_LAYOUT_1: ContextVar[bool] = ContextVar("tolerate_index_layout_1", default=False)


@contextmanager
def tolerating_index_layout_1() -> Iterator[None]:
    """Recorders made inside accept an index table in layout 1 (``timeline migrate-store
    --dry-run``, which reads the events table only). Its index reads fail there."""
    token = _TOLERATE_LAYOUT_1.set(True)
    try:
        yield
    finally:
        _TOLERATE_LAYOUT_1.reset(token)


class IndexLayoutOutdated(TimelineError):
    """The index table is in a layout this build does not read: the message names the command
    that converts it."""

    def __init__(self, schema: str, layout: int | None) -> None:
        self.layout = layout
        super().__init__(
            f"the event index table {schema}.{INDEX_TABLE} is in layout {layout} (hashes and "
            f"person_ref as hex text); this build reads layout {INDEX_LAYOUT}. Stop every "
            "writer, take a backup, and run `timeline migrate-store --to 2` on this database "
            "(it converts the table in place, in one transaction; docs/storage.md)"
        )


def index_layout(curs: Cursor[TupleRow], schema: str) -> int | None:
    """The layout of ``schema``'s index table: 1 (the digest as text), 2 (as bytes), or None
    when there is no such table."""
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
                f"converting the index table {schema}.{INDEX_TABLE} to layout {INDEX_LAYOUT}: "
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
        run.layout_after = INDEX_LAYOUT
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
