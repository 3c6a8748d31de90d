"""How every projection runs: its tables live in the events' own database (so reporting reads
them with plain SQL), and each batch of the global log is applied with the new tracking position
in **one transaction** — exactly-once effects, resumable after any crash, rebuildable from zero.

See ops/adr/0002-projection-runner-and-tables-beside-the-events.md for why this is not the
library's per-event ``ProjectionRunner``."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, cast

from projections.quarantine import Entry, Quarantine, describe, is_poison, savepoint
from timeline.application import TimelineApp
from timeline.domain.event_types import BY_NAME
from timeline.domain.facts import Fact
from timeline.domain.timeline import Timeline, fact_from_event
from timeline.domain.zone import HELSINKI
from timeline.store.side import Dialect, SideDatabase, Tx
from timeline.telemetry import tracks_rebuild

__all__ = [
    "Batch",
    "BulkProjection",
    "DatedView",
    "Dialect",
    "FactCopy",
    "LostRace",
    "Projection",
    "Runner",
    "Tracking",
    "Tx",
    "ViewDatabase",
]

ViewDatabase = SideDatabase
"""The database a projection writes to (the events' own database)."""


class Projection(Protocol):
    """A projection: named tables, and what a batch of facts does to them."""

    name: str

    def create_statements(self, dialect: Dialect) -> list[str]: ...

    def drop_statements(self) -> list[str]: ...

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None: ...

    def revisit(self, tx: Tx, seeker_ids: Sequence[str]) -> None:
        """Some of these seekers' events were kept out (see ``projections.quarantine``):
        evaluate them again, at the latest when the runner settles, so their rows say so."""
        ...


class BulkProjection(Projection, Protocol):
    """A projection that can take a long stretch of the log cheaply: ``load`` only keeps the
    facts and marks what they make stale (in the batch's transaction, so a crash loses
    nothing); ``settle`` then brings the stale part up to date a page at a time. Loading and
    settling a stretch leaves the tables exactly as applying it batch by batch would."""

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None: ...

    def settle(self, tx: Tx, position: int) -> bool:
        """Bring one page of stale rows up to date as of log ``position``; True if more
        remain."""
        ...


class DayKeyed(BulkProjection, Protocol):
    """A bulk projection evaluated for one day that only moves forward (the obligations'
    evaluation day, the statistics' horizon)."""

    def tables(self) -> list[str]:
        """Its tables (not the tracking table), for an online rebuild's swap."""
        ...

    def kept_day(self, tx: Tx) -> date | None: ...

    def start_from(self, tx: Tx, log_last_day: date) -> None: ...


@dataclass(frozen=True)
class FactCopy:
    """A projection's own copy of every seeker's facts, in table ``table``: what it re-evaluates
    seekers from without going back to the event store (and what it answers as-of reads
    from)."""

    table: str

    def create_statement(self, dialect: Dialect) -> str:
        big = "BIGINT" if dialect == "postgres" else "INTEGER"
        return (
            f"CREATE TABLE IF NOT EXISTS {self.table} (seeker_id TEXT NOT NULL, "
            f"version INTEGER NOT NULL, position {big} NOT NULL, event_id TEXT NOT NULL, "
            "type TEXT NOT NULL, occurred_on TEXT NOT NULL, occurred_at TEXT, "
            "recorded_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (seeker_id, version))"
        )

    def keep(self, tx: Tx, facts: Sequence[Fact]) -> None:
        tx.copy(
            self.table,
            _FACT_COLUMNS,
            [
                (
                    f.seeker_id,
                    f.version,
                    f.position,
                    f.event_id,
                    str(f.type),
                    f.occurred_on.isoformat(),
                    f.occurred_at.isoformat() if f.occurred_at else None,
                    f.recorded_at.astimezone(UTC).isoformat(),
                    json.dumps(dict(f.data)),
                )
                for f in facts
            ],
        )

    def load(self, tx: Tx, seeker_ids: Iterable[str], page: int = 500) -> dict[str, list[Fact]]:
        """These seekers' facts in version order, by seeker."""
        ids = list(seeker_ids)
        out: dict[str, list[Fact]] = defaultdict(list)
        for i in range(0, len(ids), page):
            chunk = ids[i : i + page]
            marks = ",".join([tx.sql.P] * len(chunk))
            for row in tx.execute(
                f"SELECT {','.join(_FACT_COLUMNS)} FROM {self.table} "
                f"WHERE seeker_id IN ({marks}) ORDER BY seeker_id, version",
                chunk,
            ):
                out[row[0]].append(_fact(row))
        return out


_FACT_COLUMNS = (
    "seeker_id",
    "version",
    "position",
    "event_id",
    "type",
    "occurred_on",
    "occurred_at",
    "recorded_at",
    "data",
)


def _fact(row: Sequence[Any]) -> Fact:
    return Fact(
        seeker_id=row[0],
        version=int(row[1]),
        position=int(row[2]),
        event_id=row[3],
        type=BY_NAME[row[4]],
        occurred_on=date.fromisoformat(row[5]),
        occurred_at=datetime.fromisoformat(row[6]) if row[6] else None,
        recorded_at=datetime.fromisoformat(row[7]),
        data=json.loads(row[8]),
    )


@dataclass
class Tracking:
    """The position of the last log event a projection applied, kept in its own table."""

    name: str

    @property
    def table(self) -> str:
        return f"{self.name}_tracking"

    def create_statements(self, dialect: Dialect) -> list[str]:
        bigint = "BIGINT" if dialect == "postgres" else "INTEGER"
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (id INTEGER PRIMARY KEY CHECK (id = 1), "
            f"position {bigint} NOT NULL)",
            f"INSERT INTO {self.table} (id, position) SELECT 1, 0 WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.table})",
        ]

    def position(self, tx: Tx, *, lock: bool = False) -> int:
        suffix = tx.sql.FOR_UPDATE if lock else ""
        rows = tx.execute(f"SELECT position FROM {self.table} WHERE id = 1{suffix}")
        return int(rows[0][0]) if rows else 0

    def advance(self, tx: Tx, position: int) -> None:
        tx.execute(f"UPDATE {self.table} SET position = {tx.sql.P} WHERE id = 1", [position])


class LostRace(Exception):
    """Another worker advanced the projection first; this batch was rolled back."""


@dataclass(frozen=True)
class Batch:
    """What one read of the log gave: the facts, the events that could not be read (as
    quarantine entries), the position of the last notification, how many were read."""

    facts: list[Fact]
    kept_out: list[Entry]
    last: int
    count: int


class Runner:
    """Applies the global log to one projection in batches. No event halts it: what fails is
    quarantined (``projections.quarantine``) and the batch goes on."""

    def __init__(self, app: TimelineApp, db: ViewDatabase, projection: Projection) -> None:
        self.app = app
        self.db = db
        self.projection = projection
        self.tracking = Tracking(projection.name)
        self.quarantine = Quarantine(projection.name)

    def create_tables(self) -> None:
        with self.db.transaction() as tx:
            for sql in [
                *self.projection.create_statements(self.db.dialect),
                *self.tracking.create_statements(self.db.dialect),
                *self.quarantine.create_statements(self.db.dialect),
            ]:
                tx.execute(sql)
            upgrade = getattr(self.projection, "upgrade", None)
            if upgrade is not None:  # columns added since the tables were made
                upgrade(tx)

    def drop_tables(self) -> None:
        with self.db.transaction() as tx:
            for sql in [
                *self.projection.drop_statements(),
                f"DROP TABLE IF EXISTS {self.tracking.table}",
                f"DROP TABLE IF EXISTS {self.quarantine.table}",
            ]:
                tx.execute(sql)

    def position(self) -> int:
        with self.db.read() as tx:
            return self.tracking.position(tx)

    def read(self, after: int, limit: int) -> Batch:
        """The facts after a log position; an event that cannot be decoded into a fact is
        kept out as a ``decode`` quarantine entry instead of stopping the batch."""
        notifications = self.app.recorder.select_notifications(
            after, limit, inclusive_of_start=False
        )
        facts: list[Fact] = []
        kept: list[Entry] = []
        for n in notifications:
            try:
                event = self.app.mapper.to_domain_event(n)
                facts.append(fact_from_event(cast(Timeline.Recorded, event), position=n.id))
            except Exception as exc:
                if not is_poison(exc):
                    raise
                kept.append(self._undecodable(n.id, str(n.originator_id), exc))
        last = notifications[-1].id if notifications else after
        return Batch(facts, kept, last, len(notifications))

    def _undecodable(self, position: int, seeker_id: str, exc: Exception) -> Entry:
        """A ``decode`` entry, with the event id and recorded time from the event index when
        it has them (the event itself could not be read)."""
        event_id = recorded_at = None
        try:
            rows = self.app.index.index_after_position(position - 1, 1)
        except Exception as lookup:
            if not is_poison(lookup):
                raise
            rows = []
        if rows and rows[0].position == position:
            event_id = rows[0].event_id
            recorded_at = rows[0].recorded_at.astimezone(UTC).isoformat()
        return Entry(
            projection=self.projection.name,
            seeker_id=seeker_id,
            stage="decode",
            error=describe(exc),
            position=position,
            event_id=event_id,
            recorded_at=recorded_at,
        )

    def read_batch(self, after: int, limit: int) -> tuple[list[Fact], int]:
        """Facts after a log position, and the position of the last notification read."""
        batch = self.read(after, limit)
        return batch.facts, batch.last

    def step(self, limit: int = 1000, *, bulk: bool = False) -> int:
        """Apply (or, ``bulk``, load) the next batch; return how many events it held (0: caught
        up). What fails is quarantined; the tracking position advances past it."""
        start = self.position()
        batch = self.read(start, limit)
        if not batch.count:
            return 0
        with self.db.transaction() as tx:
            if self.tracking.position(tx, lock=True) != start:
                raise LostRace(self.projection.name)
            self.quarantine.record(tx, batch.kept_out)
            kept = [*batch.kept_out, *self._apply(tx, batch.facts, bulk)]
            if kept:
                self.quarantine.record(tx, [e for e in kept if e.stage == "apply"])
                self.projection.revisit(tx, sorted({e.seeker_id for e in kept}))
            self.tracking.advance(tx, batch.last)
        return batch.count

    def _apply(self, tx: Tx, facts: Sequence[Fact], bulk: bool) -> list[Entry]:
        """Apply (or load) ``facts``. The projections isolate each seeker's evaluation
        themselves; if the batch raises anyway, it is rolled back to a savepoint and applied
        event by event, and each event that raises on its own is kept out (``apply``)."""
        if not facts:
            return []
        run = cast(BulkProjection, self.projection).load if bulk else self.projection.apply
        try:
            with savepoint(tx):
                run(tx, facts)
        except Exception as exc:
            if not is_poison(exc):
                raise
        else:
            return []
        kept = []
        for fact in facts:
            try:
                with savepoint(tx):
                    run(tx, [fact])
            except Exception as exc:
                if not is_poison(exc):
                    raise
                kept.append(Entry.of(self.projection.name, fact.seeker_id, "apply", exc, fact))
        return kept

    def settle(self) -> None:
        """Bring whatever bulk loading left stale up to date (a no-op query when nothing is).
        Each page holds the tracking row, so it never interleaves with another worker's."""
        if not hasattr(self.projection, "settle"):
            return
        projection = cast(BulkProjection, self.projection)
        more = True
        while more:
            with self.db.transaction() as tx:
                more = projection.settle(tx, self.tracking.position(tx, lock=True))

    def catch_up(self, limit: int = 1000, progress: Callable[[int], object] | None = None) -> int:
        """Apply the log to its end. A backlog longer than one batch is loaded in bulk and
        settled once at the end, instead of re-evaluating the same seekers batch after batch."""
        behind = (self.app.recorder.max_notification_id() or 0) - self.position()
        bulk = behind > limit and hasattr(self.projection, "load")
        total = 0
        while True:
            try:
                n = self.step(limit, bulk=bulk)
            except LostRace:
                continue
            if not n:
                break
            total += n
            if progress is not None:
                progress(n)
        self.settle()
        return total


class DatedView:
    """Upkeep shared by the views of day-keyed projections: catch-up and rebuild start from
    the log's last recorded day (or a later day already kept), so a rebuild evaluates every
    seeker once, for the same day as the tables it replaces."""

    def __init__(self, app: TimelineApp, db: ViewDatabase, projection: DayKeyed) -> None:
        self.app = app
        self.db = db
        self.dated = projection
        self.runner = Runner(app, db, projection)
        self.runner.create_tables()

    def log_last_day(self, window: int = 100) -> date | None:
        """The Helsinki day on which the log's last readable event was recorded."""
        last = self.app.recorder.max_notification_id() or 0
        while last > 0:
            first = max(1, last - window + 1)
            for notification in reversed(self.app.recorder.select_notifications(first, window)):
                if notification.id > last:
                    continue
                try:
                    event = cast(Timeline.Recorded, self.app.mapper.to_domain_event(notification))
                except Exception as exc:
                    if not is_poison(exc):
                        raise
                    continue  # kept out by the runner (quarantined): look further back
                return event.timestamp.astimezone(HELSINKI).date()
            last = first - 1
        return None

    def _start_from_log_end(self) -> None:
        day = self.log_last_day()
        if day is not None:
            with self.db.transaction() as tx:
                self.dated.start_from(tx, day)

    def catch_up(self, limit: int = 5000, progress: Callable[[int], object] | None = None) -> int:
        if self.runner.position() == 0:
            self._start_from_log_end()
        return self.runner.catch_up(limit, progress)

    @tracks_rebuild  # its progress, in the store, for /metrics and `timeline status`
    def rebuild(
        self,
        limit: int = 5000,
        progress: Callable[[int], object] | None = None,
        *,
        online: bool = True,
    ) -> int:
        """Rebuild the tables from the whole log, keeping the day they were kept for.

        Online (the default): build in a shadow (a schema or file beside the database) while
        readers and the catch-up job keep using the tables, then replace their rows in one
        transaction — readers see the old tables until the commit, then the new; the catch-up
        goes on from the rebuilt position. Offline (``online=False``, and always for the
        in-memory store): drop and refill the tables in place — needed when an upgrade changed
        their columns."""
        with self.db.read() as tx:
            kept = self.dated.kept_day(tx)
        if not (online and self.db.can_shadow):
            return self._build(self.runner, kept, limit, progress)
        shadow = self.db.shadow(self.dated.name)
        try:
            done = self._build(Runner(self.app, shadow, self.dated), kept, limit, progress)
            tracking = self.runner.tracking.table
            self.db.replace_tables(
                shadow,
                [*self.dated.tables(), tracking, self.runner.quarantine.table],
                f"UPDATE {tracking} SET position = position WHERE id = 1",
            )
        finally:
            shadow.drop()
        return done

    def _build(
        self,
        runner: Runner,
        kept: date | None,
        limit: int,
        progress: Callable[[int], object] | None,
    ) -> int:
        runner.drop_tables()
        runner.create_tables()
        for day in (kept, self.log_last_day()):
            if day is not None:
                with runner.db.transaction() as tx:
                    self.dated.start_from(tx, day)
        return runner.catch_up(limit, progress)

    def position(self) -> int:
        return self.runner.position()

    def quarantine(self, limit: int | None = None) -> list[Entry]:
        """What this projection could not apply (``projections.quarantine``), by position."""
        with self.db.read() as tx:
            return self.runner.quarantine.entries(tx, limit)

    def quarantine_counts(self) -> tuple[int, int]:
        """(quarantined entries, distinct seekers they mark stale)."""
        with self.db.read() as tx:
            return self.runner.quarantine.counts(tx)

    def close(self) -> None:
        self.db.close()
