"""The event index: one row per stored event, written in the same transaction as the event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import Notification, StoredEvent

from timeline.domain.canonical import iso_utc

INDEX_COLUMNS = (
    "event_id",
    "seeker_id",
    "version",
    "position",
    "type",
    "occurred_at",
    "occurred_on",
    "recorded_at",
    "digest",
    "hash",
    "person_ref",
)


@dataclass(frozen=True, slots=True)
class IndexRow:
    event_id: str
    seeker_id: str
    version: int
    position: int | None
    type: str
    occurred_at: str | None
    occurred_on: str
    recorded_at: datetime
    digest: str
    hash: str
    person_ref: str | None = None

    def with_position(self, position: int) -> IndexRow:
        # The constructor, not dataclasses.replace: this runs once per written event.
        return IndexRow(
            self.event_id,
            self.seeker_id,
            self.version,
            position,
            self.type,
            self.occurred_at,
            self.occurred_on,
            self.recorded_at,
            self.digest,
            self.hash,
            self.person_ref,
        )

    def as_params(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            self.seeker_id,
            self.version,
            self.position,
            self.type,
            self.occurred_at,
            self.occurred_on,
            iso_utc(self.recorded_at),
            self.digest,
            self.hash,
            self.person_ref,
        )

    @classmethod
    def from_row(cls, row: Any) -> IndexRow:
        recorded = row["recorded_at"]
        return cls(
            event_id=str(row["event_id"]),
            seeker_id=str(row["seeker_id"]),
            version=int(row["version"]),
            position=int(row["position"]),
            type=str(row["type"]),
            occurred_at=row["occurred_at"],
            occurred_on=str(row["occurred_on"]),
            recorded_at=recorded
            if isinstance(recorded, datetime)
            else datetime.fromisoformat(recorded),
            digest=str(row["digest"]),
            hash=str(row["hash"]),
            person_ref=row["person_ref"],
        )


class EventIndex(Protocol):
    """What the application reads from the index. Every store's recorder implements it."""

    def index_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, IndexRow]: ...

    def index_for_seeker(
        self,
        seeker_id: str,
        *,
        after_version: int = 0,
        to_version: int | None = None,
        limit: int | None = None,
        recorded_until: datetime | None = None,
    ) -> list[IndexRow]: ...

    def index_after_position(self, position: int, limit: int) -> list[IndexRow]: ...

    def seekers_by_person_ref(self, person_ref: str) -> list[str]: ...

    def index_recorded_between(self, start: datetime, end: datetime) -> list[IndexRow]:
        """Rows recorded in [start, end), in position order."""
        ...

    def seeker_ids(self, *, after: str | None = None, limit: int = 1000) -> list[str]:
        """Seekers with stored events or index entries (either is enough: ``timeline verify``
        must also reach a seeker whose index entries were all removed), in id order."""
        ...

    def seeker_notifications(self, seeker_id: str) -> list[Notification]:
        """The seeker's stored events with their notification ids (global positions), in
        version order, read from the events table alone, not through the index: what
        ``timeline verify`` compares each index entry with."""
        ...

    def events_with_index(
        self, seeker_id: str, *, recorded_until: datetime | None = None
    ) -> list[tuple[StoredEvent, IndexRow]]:
        """The seeker's stored events with their index rows, in version order, in one read:
        every version up to the last one recorded by ``recorded_until`` (all when None)."""
        ...

    def index_as_of(self, seeker_id: str, recorded_until: datetime) -> list[IndexRow]:
        """The seeker's index rows in version order, every version up to the last one
        recorded by ``recorded_until`` (the versions of its timeline as known then)."""
        ...

    def select_events_after(self, versions: Mapping[str, int]) -> dict[str, list[StoredEvent]]:
        """For each seeker, its stored events after the given version, in version order: the
        fast-forward of many cached timelines in one read. Seekers with none are left out."""
        ...


def merge_id_pages(pages: Sequence[Sequence[str]], limit: int) -> list[str]:
    """One page of the union of several sorted, distinct id pages of at most ``limit`` each:
    an id is only safe to return if it is not beyond the end of a page that was cut at the
    limit (the next ids of that source may come before it)."""
    bound = min((page[-1] for page in pages if len(page) >= limit), default=None)
    merged = sorted({i for page in pages for i in page})
    if bound is not None:
        merged = [i for i in merged if i <= bound]
    return merged[:limit]


def positioned(
    stored_events: Sequence[StoredEvent], ids: Sequence[int] | None, rows: Sequence[IndexRow]
) -> list[IndexRow]:
    """Give each index row the global position its stored event received."""
    if ids is None or len(ids) != len(stored_events):
        msg = "the recorder did not return a position for every stored event"
        raise RuntimeError(msg)
    by_key = {(r.seeker_id, r.version): r for r in rows}
    out = []
    for stored, position in zip(stored_events, ids, strict=True):
        row = by_key[(str(stored.originator_id), stored.originator_version)]
        out.append(row.with_position(position))
    return out
