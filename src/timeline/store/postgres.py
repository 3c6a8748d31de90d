"""PostgreSQL: the production store. The index is written inside the insert's transaction, by
the statement that inserts the events, with the notification ids they were given."""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, LiteralString
from uuid import UUID

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import ClientCursor
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal
from psycopg.types.json import Json

from timeline.store.index import INDEX_COLUMNS, IndexRow, merge_id_pages, positioned

INDEX_TABLE = "timeline_event_index"
#: the event's values before its index row's in an element of the insert's JSON array
EVENT_FIELDS = 4
BEGIN = SQL("BEGIN")
COMMIT = SQL("COMMIT")
OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
#: the index rows of some event ids (``{cols}``, ``{index}`` formatted in)
BY_EVENT_IDS = "SELECT {cols} FROM {index} WHERE event_id = ANY(%s::uuid[])"
#: The index columns as read (in INDEX_COLUMNS order): uuids and the day cast to text by the
#: server, which is cheaper than converting each value in Python.
SELECT_COLUMNS = SQL(
    "event_id::text, seeker_id::text, version, position, type, occurred_at, occurred_on::text, "
    "recorded_at, digest, hash, person_ref"
)
#: The column types of INDEX_COLUMNS, in order (for the one-statement insert of a save's rows).
INDEX_TYPES = (
    "uuid",
    "uuid",
    "bigint",
    "bigint",
    "text",
    "text",
    "date",
    "timestamptz",
    "text",
    "text",
    "text",
)


class TimelinePostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self._index = SQL("{}.{}").format(schema, Identifier(INDEX_TABLE))
        self.sql_create_statements.extend(
            [
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    "event_id uuid PRIMARY KEY, seeker_id uuid NOT NULL, version bigint NOT NULL, "
                    "position bigint NOT NULL UNIQUE, type text NOT NULL, occurred_at text, "
                    "occurred_on date NOT NULL, recorded_at timestamptz NOT NULL, "
                    "digest text NOT NULL, hash text NOT NULL, person_ref text, "
                    "UNIQUE (seeker_id, version))"
                ).format(self._index),
                SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {} (person_ref) WHERE person_ref IS NOT NULL"
                ).format(Identifier(INDEX_TABLE + "_person"), self._index),
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
            SQL("e.notification_id")
            if column == "position"
            else SQL(f"(s.r->>{EVENT_FIELDS + i})::{t}")
            for i, (column, t) in enumerate(zip(INDEX_COLUMNS, INDEX_TYPES, strict=True))
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
                    copy.write_row(row.as_params())
        return ids

    # -- reads ---------------------------------------------------------------------------------

    def _select(self, sql: LiteralString, params: Sequence[Any]) -> list[IndexRow]:
        """Rows of ``SELECT {cols} FROM {index} …`` (``sql`` is formatted here)."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
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
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT DISTINCT seeker_id FROM {} WHERE person_ref=%s ORDER BY seeker_id"
                ).format(self._index),
                [person_ref],
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
            conn.cursor(row_factory=tuple_row) as curs,
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
    """An index row from the columns of SELECT_COLUMNS (ids and the day already as text)."""
    return IndexRow(
        event_id=r[0],
        seeker_id=r[1],
        version=r[2],
        position=r[3],
        type=r[4],
        occurred_at=r[5],
        occurred_on=r[6],
        recorded_at=r[7].astimezone(UTC),
        digest=r[8],
        hash=r[9],
        person_ref=r[10],
    )
