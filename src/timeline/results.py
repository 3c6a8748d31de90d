"""What the write side answers: an appended event, and one event of a history. Plain values,
JSON-ready via ``to_dict``; the edges turn them into responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from timeline.domain.canonical import iso_utc
from timeline.domain.facts import Fact
from timeline.domain.zone import HELSINKI
from timeline.store.index import IndexRow


@dataclass(frozen=True)
class Appended:
    """The answer for one appended event (new or a duplicate of an earlier append).
    ``recorded_at`` is written as everywhere in answers: UTC with microseconds
    (``2025-06-10T09:00:00.000000+00:00``), the very text the hash chain covers."""

    event_id: str
    seeker_id: str
    version: int
    position: int
    recorded_at: datetime
    hash: str
    duplicate: bool

    @classmethod
    def of(cls, row: IndexRow, *, duplicate: bool) -> Appended:
        """The answer for the event of a stored index row."""
        assert row.position is not None
        return cls(
            event_id=row.event_id,
            seeker_id=row.seeker_id,
            version=row.version,
            position=row.position,
            recorded_at=row.recorded_at,
            hash=row.hash,
            duplicate=duplicate,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "seeker_id": self.seeker_id,
            "version": self.version,
            "position": self.position,
            "recorded_at": iso_utc(self.recorded_at),
            "hash": self.hash,
            "duplicate": self.duplicate,
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of a history with both times and its audit status."""

    index: IndexRow
    fact: Fact
    status: str = "valid"  # valid | superseded | void
    superseded_by: list[str] = field(default_factory=list)
    voided_by: str | None = None
    #: the seeker was erased (docs/erasure.md): the payload is not shown, only the type,
    #: times, position, digest and hash, which the chain covers
    erased: bool = False

    def to_dict(self) -> dict[str, Any]:
        occurred = self.fact.occurred_at or datetime.combine(
            self.fact.occurred_on, datetime.min.time(), tzinfo=HELSINKI
        )
        late = self.index.recorded_at - occurred
        return {
            "event_id": self.index.event_id,
            "seeker_id": self.index.seeker_id,
            "version": self.index.version,
            "position": self.index.position,
            "type": self.index.type,
            "occurred_at": self.index.occurred_at,
            "occurred_on": self.index.occurred_on,
            "recorded_at": iso_utc(self.index.recorded_at),
            "recorded_late_days": max(late.days, 0),
            "actor": dict(self.fact.actor),
            "source": self.fact.source,
            "data": None if self.erased else dict(self.fact.data),
            "digest": self.index.digest,
            "hash": self.index.hash,
            "status": self.status,
            "superseded_by": self.superseded_by,
            "voided_by": self.voided_by,
            "erased": self.erased,
        }
