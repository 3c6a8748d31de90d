"""In-memory: the library's POPO recorder with the index in dictionaries. For tests and demos."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory

from timeline.store.index import IndexRow, positioned


class TimelineMemoryRecorder(POPOApplicationRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._by_event: dict[str, IndexRow] = {}
        self._by_seeker: dict[str, list[IndexRow]] = {}
        self._by_position: list[IndexRow] = []

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows: Sequence[IndexRow] = kwargs.get("index_rows", ())
        with self._database_lock:
            self._assert_uniqueness(stored_events, **kwargs)
            seen = set()
            for r in rows:
                if r.event_id in self._by_event or r.event_id in seen:
                    msg = f"event_id already recorded: {r.event_id}"
                    raise IntegrityError(msg)
                seen.add(r.event_id)
            ids = self._update_table(stored_events, **kwargs)
            for row in positioned(stored_events, ids, rows) if rows else []:
                self._by_event[row.event_id] = row
                self._by_seeker.setdefault(row.seeker_id, []).append(row)
                self._by_position.append(row)
            return ids

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]:
        return {i: self._by_event[i] for i in event_ids if i in self._by_event}

    def index_for_seeker(
        self,
        seeker_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        limit: int | None = None,
        recorded_until: datetime | None = None,
    ) -> list[IndexRow]:
        rows = [
            r
            for r in self._by_seeker.get(seeker_id, [])
            if r.version > after_version
            and (to_version is None or r.version <= to_version)
            and (recorded_until is None or r.recorded_at <= recorded_until)
        ]
        return rows[:limit] if limit is not None else rows

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]:
        return [r for r in self._by_position if (r.position or 0) > position][:limit]

    def index_recorded_between(self, start: datetime, end: datetime) -> list[IndexRow]:
        return [r for r in self._by_position if start <= r.recorded_at < end]

    def seekers_by_person_ref(self, person_ref: str) -> list[str]:
        return sorted({r.seeker_id for r in self._by_position if r.person_ref == person_ref})

    def seeker_ids(self, *, after: str | None = None, limit: int = 1000) -> list[str]:
        with self._database_lock:
            # (the library's index also holds empty entries for ids merely looked up)
            stored = [s for s, versions in self._stored_events_index.items() if versions]
        return [s for s in sorted({*self._by_seeker, *stored}) if s > (after or "")][:limit]

    def seeker_notifications(self, seeker_id: str) -> list[Notification]:
        with self._database_lock:
            versions = self._stored_events_index.get(seeker_id, {})
            out = []
            for version in sorted(versions):
                i = versions[version]
                s = self._stored_events[i]
                out.append(
                    Notification(
                        id=i + 1,  # the library's notification id is the list position + 1
                        originator_id=s.originator_id,
                        originator_version=s.originator_version,
                        topic=s.topic,
                        state=s.state,
                    )
                )
            return out

    def events_with_index(
        self, seeker_id: str, *, recorded_until: datetime | None = None
    ) -> list[tuple[StoredEvent, IndexRow]]:
        rows = self._by_seeker.get(seeker_id, [])
        if recorded_until is not None:
            upto = max((r.version for r in rows if r.recorded_at <= recorded_until), default=0)
            rows = [r for r in rows if r.version <= upto]
        if not rows:
            return []
        by_version = {r.version: r for r in rows}
        events = self.select_events(UUID(seeker_id), lte=rows[-1].version)
        return [(e, by_version[e.originator_version]) for e in events]

    def index_as_of(self, seeker_id: str, recorded_until: datetime) -> list[IndexRow]:
        return [r for _, r in self.events_with_index(seeker_id, recorded_until=recorded_until)]

    def select_events_after(self, versions: Mapping[str, int]) -> dict[str, list[StoredEvent]]:
        out: dict[str, list[StoredEvent]] = {}
        for seeker_id, after in versions.items():
            events = list(self.select_events(UUID(seeker_id), gt=after))
            if events:
                out[seeker_id] = events
        return out

    def clear_person_refs(self, seeker_id: str) -> int:
        """Erasure (timeline.erasure): forget the seeker's keyed person_ref in every index row
        (the SQL stores clear theirs in the erasure's own transaction); how many were set."""
        with self._database_lock:
            cleared = 0
            for i, row in enumerate(self._by_position):
                if row.seeker_id == seeker_id and row.person_ref is not None:
                    new = replace(row, person_ref=None)
                    self._by_position[i] = new
                    self._by_event[row.event_id] = new
                    cleared += 1
            self._by_seeker[seeker_id] = [
                self._by_event[r.event_id] for r in self._by_seeker.get(seeker_id, [])
            ]
            return cleared


class MemoryFactory(POPOFactory):
    """Selected with ``PERSISTENCE_MODULE=timeline.store.memory:MemoryFactory``."""

    def application_recorder(self) -> ApplicationRecorder:
        return TimelineMemoryRecorder()
