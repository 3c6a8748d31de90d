"""PostgreSQL: the production store. The index is written inside the library's insert
transaction, after the table lock and the insert, when the notification ids are known."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from timeline.domain.canonical import iso_utc
from timeline.store.index import INDEX_COLUMNS, IndexRow, positioned

INDEX_TABLE = "timeline_event_index"


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
        self._insert_index = SQL("INSERT INTO {} ({}) VALUES ({})").format(
            self._index,
            SQL(",").join(Identifier(c) for c in INDEX_COLUMNS),
            SQL(",").join(SQL("%s") for _ in INDEX_COLUMNS),
        )

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        rows: Sequence[IndexRow] = kwargs.get("index_rows", ())
        if rows:
            curs.executemany(
                self._insert_index,
                [r.as_params() for r in positioned(stored_events, ids, rows)],
            )
        return ids

    # -- reads ---------------------------------------------------------------------------------

    def _select(self, sql: SQL | Any, params: Sequence[Any]) -> list[IndexRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, params)
            return [_row(r) for r in curs.fetchall()]

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        rows = self._select(
            SQL("SELECT * FROM {} WHERE event_id = ANY(%s::uuid[])").format(self._index),
            [list(event_ids)],
        )
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
        sql = SQL("SELECT * FROM {} WHERE seeker_id=%s AND version>%s").format(self._index)
        params: list[Any] = [seeker_id, after_version]
        if to_version is not None:
            sql += SQL(" AND version<=%s")
            params.append(to_version)
        if recorded_until is not None:
            sql += SQL(" AND recorded_at<=%s")
            params.append(recorded_until)
        sql += SQL(" ORDER BY version")
        if limit is not None:
            sql += SQL(" LIMIT %s")
            params.append(limit)
        return self._select(sql, params)

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]:
        return self._select(
            SQL("SELECT * FROM {} WHERE position>%s ORDER BY position LIMIT %s").format(
                self._index
            ),
            [position, limit],
        )

    def index_recorded_between(self, start: datetime, end: datetime) -> list[IndexRow]:
        return self._select(
            SQL(
                "SELECT * FROM {} WHERE recorded_at >= %s AND recorded_at < %s ORDER BY position"
            ).format(self._index),
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
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT DISTINCT seeker_id FROM {} WHERE seeker_id > %s::uuid "
                    "ORDER BY seeker_id LIMIT %s"
                ).format(self._index),
                [after or "00000000-0000-0000-0000-000000000000", limit],
            )
            return [str(r["seeker_id"]) for r in curs.fetchall()]


def _row(r: DictRow) -> IndexRow:
    row = dict(r)
    row["occurred_on"] = str(row["occurred_on"])
    row["recorded_at"] = datetime.fromisoformat(iso_utc(row["recorded_at"]))
    return IndexRow.from_row(row)
