"""Tamper evidence: recompute every seeker's hash chain from the stored events and compare it
with the event index. Any altered, deleted or reordered stored event (or index row) shows up as
the first broken link of that seeker's chain."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from timeline.application import TimelineApp
from timeline.domain.canonical import GENESIS_HASH, chain_hash, content_digest, iso_utc
from timeline.domain.timeline import Timeline, event_content, wire_type


@dataclass(frozen=True)
class Break:
    """The first broken link of one seeker's chain."""

    seeker_id: str
    version: int
    event_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"seeker {self.seeker_id} version {self.version}: {self.reason}"


def verify_seeker(app: TimelineApp, seeker_id: str) -> Break | None:
    """None when the seeker's stored events and index agree and the chain recomputes."""
    stored = app.recorder.select_events(UUID(seeker_id))
    rows = {r.version: r for r in app.index.index_for_seeker(seeker_id)}
    prev = GENESIS_HASH
    for expected_version, item in enumerate(stored, start=1):
        version = item.originator_version
        row = rows.pop(version, None)
        if version != expected_version:
            return Break(
                seeker_id,
                expected_version,
                None,
                f"stored event of version {expected_version} is missing",
            )
        if row is None:
            return Break(seeker_id, version, None, "stored event has no index entry")
        try:
            event = app.mapper.to_domain_event(item)
        except Exception as exc:
            return Break(seeker_id, version, row.event_id, f"stored bytes unreadable: {exc}")
        if not isinstance(event, (Timeline.Opened, Timeline.Recorded)):
            return Break(seeker_id, version, row.event_id, "stored event of an unknown kind")
        content = event_content(
            event.event_id,
            seeker_id,
            wire_type(event),
            event.occurred_at,
            event.occurred_on,
            event.actor,
            event.source,
            event.data,
        )
        digest = content_digest(content)
        if event.event_id != row.event_id or digest != row.digest:
            return Break(
                seeker_id,
                version,
                row.event_id,
                "stored event content does not match its recorded digest",
            )
        if iso_utc(event.timestamp) != iso_utc(row.recorded_at):
            return Break(seeker_id, version, row.event_id, "recorded time altered")
        prev = chain_hash(
            prev,
            digest=digest,
            seeker_id=seeker_id,
            version=version,
            recorded_at=iso_utc(event.timestamp),
        )
        if prev != row.hash:
            return Break(seeker_id, version, row.event_id, "hash chain broken")
    if rows:
        version = min(rows)
        return Break(
            seeker_id,
            version,
            rows[version].event_id,
            "index entry without a stored event (event deleted)",
        )
    return None


def all_seekers(app: TimelineApp, page: int = 1000) -> Iterator[str]:
    after: str | None = None
    while True:
        ids = app.index.seeker_ids(after=after, limit=page)
        if not ids:
            return
        yield from ids
        after = ids[-1]


def verify_all(app: TimelineApp) -> Iterator[Break]:
    for seeker_id in all_seekers(app):
        broken = verify_seeker(app, seeker_id)
        if broken is not None:
            yield broken
