"""SQLite: the embedded default. The index table lives in the same database file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from timeline.domain.canonical import iso_utc
from timeline.store.index import INDEX_COLUMNS, IndexRow, merge_id_pages, positioned

INDEX_TABLE = "timeline_event_index"


class TimelineSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        cols = ",".join(INDEX_COLUMNS)
        marks = ",".join("?" * len(INDEX_COLUMNS))
        self._insert_index = f"INSERT INTO {INDEX_TABLE} ({cols}) VALUES ({marks})"

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {INDEX_TABLE} ("
            "event_id TEXT PRIMARY KEY, seeker_id TEXT NOT NULL, version INTEGER NOT NULL, "
            "position INTEGER NOT NULL UNIQUE, type TEXT NOT NULL, occurred_at TEXT, "
            "occurred_on TEXT NOT NULL, recorded_at TEXT NOT NULL, digest TEXT NOT NULL, "
            "hash TEXT NOT NULL, person_ref TEXT, UNIQUE (seeker_id, version))",
            f"CREATE INDEX IF NOT EXISTS {INDEX_TABLE}_person ON {INDEX_TABLE} (person_ref) "
            "WHERE person_ref IS NOT NULL",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        rows: Sequence[IndexRow] = kwargs.get("index_rows", ())
        if rows:
            c.executemany(
                self._insert_index,
                [r.as_params() for r in positioned(stored_events, ids, rows)],
            )
        return ids

    # -- reads ---------------------------------------------------------------------------------

    def _select(self, sql: str, params: Sequence[Any]) -> list[IndexRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [IndexRow.from_row(r) for r in c.fetchall()]

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        out: dict[str, IndexRow] = {}
        ids = list(event_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._select(
                f"SELECT * FROM {INDEX_TABLE} WHERE event_id IN ({marks})", chunk
            ):
                out[row.event_id] = row
        return out

    def index_for_seeker(
        self,
        seeker_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        limit: int | None = None,
        recorded_until: datetime | None = None,
    ) -> list[IndexRow]:
        sql = f"SELECT * FROM {INDEX_TABLE} WHERE seeker_id=? AND version>?"
        params: list[Any] = [seeker_id, after_version]
        if to_version is not None:
            sql += " AND version<=?"
            params.append(to_version)
        if recorded_until is not None:
            sql += " AND recorded_at<=?"
            params.append(iso_utc(recorded_until))
        sql += " ORDER BY version"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._select(sql, params)

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]:
        return self._select(
            f"SELECT * FROM {INDEX_TABLE} WHERE position>? ORDER BY position LIMIT ?",
            [position, limit],
        )

    def index_recorded_between(self, start: datetime, end: datetime) -> list[IndexRow]:
        return self._select(
            f"SELECT * FROM {INDEX_TABLE} WHERE recorded_at >= ? AND recorded_at < ? "
            "ORDER BY position",
            [iso_utc(start), iso_utc(end)],
        )

    def seekers_by_person_ref(self, person_ref: str) -> list[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT DISTINCT seeker_id FROM {INDEX_TABLE} WHERE person_ref=? "
                "ORDER BY seeker_id",
                [person_ref],
            )
            return [str(r["seeker_id"]) for r in c.fetchall()]

    def seeker_ids(self, *, after: str | None = None, limit: int = 1000) -> list[str]:
        # The library keys events by the id's hex form, which sorts as the text form does.
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT DISTINCT seeker_id FROM {INDEX_TABLE} WHERE seeker_id>? "
                "ORDER BY seeker_id LIMIT ?",
                [after or "", limit],
            )
            indexed = [str(r["seeker_id"]) for r in c.fetchall()]
            c.execute(
                f"SELECT DISTINCT originator_id FROM {self.events_table_name} "
                "WHERE originator_id>? ORDER BY originator_id LIMIT ?",
                [UUID(after).hex if after else "", limit],
            )
            stored = [str(UUID(r["originator_id"])) for r in c.fetchall()]
        return merge_id_pages([indexed, stored], limit)

    def seeker_notifications(self, seeker_id: str) -> list[Notification]:
        uuid = UUID(seeker_id)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, originator_version, topic, state FROM {self.events_table_name} "
                "WHERE originator_id = ? ORDER BY originator_version",
                [uuid.hex],
            )
            return [
                Notification(
                    id=r["rowid"],
                    originator_id=uuid,
                    originator_version=r["originator_version"],
                    topic=r["topic"],
                    state=_blob(r["state"]),
                )
                for r in c.fetchall()
            ]

    def events_with_index(
        self, seeker_id: str, *, recorded_until: datetime | None = None
    ) -> list[tuple[StoredEvent, IndexRow]]:
        sql = (
            f"SELECT e.topic AS topic, e.state AS state, i.* FROM {INDEX_TABLE} i "
            f"JOIN {self.events_table_name} e "
            "ON e.originator_id = ? AND e.originator_version = i.version "
            "WHERE i.seeker_id = ?"
        )
        # The library keys SQLite events by the id's hex form, the index by its text form.
        uuid = UUID(seeker_id)
        params: list[Any] = [uuid.hex, seeker_id]
        if recorded_until is not None:
            sql += (
                f" AND i.version <= (SELECT max(version) FROM {INDEX_TABLE} "
                "WHERE seeker_id = ? AND recorded_at <= ?)"
            )
            params += [seeker_id, iso_utc(recorded_until)]
        sql += " ORDER BY i.version"
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return [
                (
                    StoredEvent(
                        originator_id=uuid,
                        originator_version=r["version"],
                        topic=r["topic"],
                        state=bytes(r["state"]),
                    ),
                    IndexRow.from_row(r),
                )
                for r in c.fetchall()
            ]

    def index_as_of(self, seeker_id: str, recorded_until: datetime) -> list[IndexRow]:
        return self._select(
            f"SELECT * FROM {INDEX_TABLE} WHERE seeker_id = ? AND version <= "
            f"(SELECT max(version) FROM {INDEX_TABLE} WHERE seeker_id = ? AND recorded_at <= ?) "
            "ORDER BY version",
            [seeker_id, seeker_id, iso_utc(recorded_until)],
        )

    def select_events_after(self, versions: Mapping[str, int]) -> dict[str, list[StoredEvent]]:
        # An embedded database: a round trip is a function call, so one read per seeker.
        out: dict[str, list[StoredEvent]] = {}
        for seeker_id, after in versions.items():
            events = list(self.select_events(UUID(seeker_id), gt=after))
            if events:
                out[seeker_id] = events
        return out


def _blob(value: bytes | memoryview | str | None) -> bytes:
    """A state as bytes. SQLite keeps whatever type was written: an edit with text functions
    leaves text (or NULL), which verify must read (and find altered), not fail on."""
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
