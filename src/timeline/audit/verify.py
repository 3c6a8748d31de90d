"""Tamper evidence: recompute every seeker's hash chain, and every field of its event index,
from the stored events alone, and compare them with the index.

For each stored event (read from the library's events table with its notification id, not
through the index) the index entry it should have is derived: event id, seeker and version;
the position (the notification id); the type (from the stored event's class); both occurred
dates; the recorded time; the ``person_ref`` (which the append puts into the event's data);
the content digest (with the algorithm the stored event names: its ``digest_algorithm``, 1 when
absent, as events stored before JCS are; the index's digest text names it too, and must
agree); and the chain hash. Any field of the index entry that differs is named.
So is a stored event moved to another position (the feed would pair one event's index entry
with another's payload), a seeker's events out of position order, an event without an index
entry, and an index entry without an event. The first broken version of a seeker is reported.

What this proves, and against whom, is written down in docs/audit.md."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification

from timeline.application import TimelineApp
from timeline.domain.canonical import GENESIS_HASH, chain_hash, content_digest, iso_utc
from timeline.domain.timeline import Timeline, event_content, wire_type
from timeline.store.index import IndexRow
from timeline.store.keys import MasterKeyError

#: Index fields recomputed from the stored event and compared, in the order they are reported.
#: (``digest`` and ``hash`` are reported with their own wording, after the plain values.)
PLAIN_FIELDS = (
    "event_id",
    "seeker_id",
    "version",
    "position",
    "type",
    "occurred_at",
    "occurred_on",
    "recorded_at",
    "person_ref",
)


@dataclass(frozen=True)
class Break:
    """The first broken link of one seeker's chain. ``fields`` names the index columns that
    disagree with the stored event, when that is the reason."""

    seeker_id: str
    version: int
    event_id: str | None
    reason: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"seeker {self.seeker_id} version {self.version}: {self.reason}"


def expected_row(
    seeker_id: str,
    stored: Notification,
    event: Timeline.Opened | Timeline.Recorded,
    prev_hash: str,
) -> IndexRow:
    """The index entry a stored event should have, derived from it alone (and the chain hash
    of the seeker's version before it)."""
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
    digest = content_digest(content, algorithm=event.digest_algorithm)
    ref = event.data.get("person_ref") if isinstance(event.data, dict) else None
    return IndexRow(
        event_id=event.event_id,
        seeker_id=seeker_id,
        version=stored.originator_version,
        position=stored.id,
        type=wire_type(event),
        occurred_at=event.occurred_at,
        occurred_on=event.occurred_on,
        recorded_at=event.timestamp,
        digest=digest,
        hash=chain_hash(
            prev_hash,
            digest=digest,
            seeker_id=seeker_id,
            version=stored.originator_version,
            recorded_at=iso_utc(event.timestamp),
        ),
        person_ref=ref if isinstance(ref, str) else None,
    )


def _value(row: IndexRow, name: str) -> Any:
    value = getattr(row, name)
    return iso_utc(value) if name == "recorded_at" else value


def differences(expected: IndexRow, row: IndexRow) -> list[tuple[str, str]]:
    """(column, explanation) for every index field that differs from the one recomputed from
    the stored event. The chain hash is named only when its inputs agree (otherwise it
    follows from them)."""
    out = []
    for name in PLAIN_FIELDS:
        want, have = _value(expected, name), _value(row, name)
        if want != have:
            out.append((name, f"{name} is {have!r} in the index but {want!r} in the stored event"))
    if expected.digest != row.digest:
        out.append(("digest", "digest: stored event content does not match its recorded digest"))
    elif not out and expected.hash != row.hash:
        out.append(("hash", "hash chain broken (the index's hash is not the one recomputed)"))
    return out


def verify_seeker(app: TimelineApp, seeker_id: str) -> Break | None:
    """None when every stored event of the seeker and its index entry agree in every field,
    the positions rise with the versions, and the chain recomputes."""
    stored = app.index.seeker_notifications(seeker_id)
    try:
        rows = {r.version: r for r in app.index.index_for_seeker(seeker_id)}
    except (TypeError, ValueError) as exc:  # a value no append writes (SQLite keeps any)
        return Break(seeker_id, 0, None, f"index entries unreadable: {exc}")
    prev_hash = GENESIS_HASH
    prev_position = 0
    for expected_version, item in enumerate(stored, start=1):
        version = item.originator_version
        if version != expected_version:
            return Break(
                seeker_id,
                expected_version,
                None,
                f"stored event of version {expected_version} is missing",
            )
        row = rows.pop(version, None)
        try:
            event = app.mapper.to_domain_event(item)
        except MasterKeyError:
            raise  # the wrong master key: no seeker is broken, the whole run cannot read
        except Exception as exc:
            event_id = row.event_id if row else None
            return Break(seeker_id, version, event_id, f"stored bytes unreadable: {exc}")
        if not isinstance(event, (Timeline.Opened, Timeline.Recorded)):
            return Break(seeker_id, version, None, "stored event of an unknown kind")
        expected = expected_row(seeker_id, item, event, prev_hash)
        if row is None:
            # Its entry may have been moved to another seeker or version: name what differs.
            row = app.index.index_by_event_ids([expected.event_id]).get(expected.event_id)
            if row is None:
                return Break(
                    seeker_id, version, expected.event_id, "stored event has no index entry"
                )
        found = differences(expected, row)
        if found:
            return Break(
                seeker_id,
                version,
                expected.event_id,
                "index entry disagrees with the stored event: " + "; ".join(m for _, m in found),
                tuple(name for name, _ in found),
            )
        if item.id <= prev_position:
            return Break(
                seeker_id,
                version,
                expected.event_id,
                f"position {item.id} is not after the previous version's position {prev_position}",
                ("position",),
            )
        prev_hash = expected.hash
        prev_position = item.id
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
    """Every seeker with stored events or index entries."""
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
