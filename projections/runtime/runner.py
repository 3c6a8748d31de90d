"""The runner: applies the global log to one projection in batches, each batch **and** the new
tracking position in one transaction — exactly-once effects, resumable after any crash.

See ops/adr/0002-projection-runner-and-tables-beside-the-events.md for why this is not the
library's per-event ``ProjectionRunner``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import cast

from projections.runtime.heap import fewer_collections
from projections.runtime.log import Batch, EventLog, LogReader
from projections.runtime.partition import WHOLE, Partition
from projections.runtime.protocols import BulkProjection, Projection
from projections.runtime.quarantine import Entry, Quarantine, is_poison, savepoint
from projections.runtime.tracking import Tracking
from timeline.domain.facts import Fact
from timeline.store.side import SideDatabase, Tx

__all__ = ["LostRace", "Runner"]

_SCHEMA_LOCK = 0x7469_6D65_6C69  # ("timeli"): the advisory lock of making projection tables


#: seekers evaluated in one settle transaction (PostgreSQL; SQLite: see ``settle``)
SETTLE_PAGE = 2000
SETTLE_PAGE_SQLITE = 200


class LostRace(Exception):
    """Another worker advanced the projection first; this batch was rolled back."""


class Runner:
    """Applies the global log to one projection in batches. No event halts it: what fails is
    quarantined (``projections.runtime.quarantine``) and the batch goes on.

    A projection with a ``partition`` (:class:`~projections.runtime.partition.Partition`) is
    kept for that partition's seekers only, from that partition's own tracking row; the
    unpartitioned runner steps aside (applies nothing) while partition rows exist."""

    def __init__(self, log: EventLog, db: SideDatabase, projection: Projection) -> None:
        self.log = LogReader(log, projection.name)
        self.db = db
        self.projection = projection
        self.partition: Partition = getattr(projection, "partition", WHOLE)
        self.tracking = Tracking(projection.name, self.partition)
        self.quarantine = Quarantine(projection.name)

    def create_tables(self) -> None:
        with self.db.transaction() as tx:
            if tx.dialect == "postgres":  # processes starting at once take turns (their
                # CREATE INDEX IF NOT EXISTS and inserts deadlocked): one lock for every
                # projection's tables, held until this transaction ends
                tx.execute(f"SELECT pg_advisory_xact_lock({tx.sql.P})", [_SCHEMA_LOCK])
            for sql in [
                *self.projection.create_statements(self.db.dialect),
                *self.tracking.create_statements(self.db.dialect),
                *self.quarantine.create_statements(self.db.dialect),
            ]:
                tx.execute(sql)
            upgrade = getattr(self.projection, "upgrade", None)
            if upgrade is not None:  # columns added since the tables were made
                upgrade(tx)
            self.tracking.claim(tx)

    def drop_tables(self) -> None:
        with self.db.transaction() as tx:
            for sql in [
                *self.projection.drop_statements(),
                *self.tracking.drop_statements(),
                f"DROP TABLE IF EXISTS {self.quarantine.table}",
            ]:
                tx.execute(sql)

    def position(self) -> int:
        with self.db.read() as tx:
            return self.tracking.position(tx)

    def read(self, after: int, limit: int, stop: int | None = None) -> Batch:
        """The facts after a log position, up to ``stop`` if given (see
        :meth:`LogReader.read`)."""
        owns = None if self.partition.whole else self.partition.owns
        return self.log.read(after, limit, stop, owns)

    def read_batch(self, after: int, limit: int) -> tuple[list[Fact], int]:
        """Facts after a log position, and the position of the last notification read."""
        batch = self.read(after, limit)
        return batch.facts, batch.last

    def stepping_aside(self) -> bool:
        """Whether this is the unpartitioned runner and partitioned workers keep the
        projection (then it applies nothing; see :mod:`projections.runtime.tracking`)."""
        if not self.partition.whole:
            return False
        with self.db.read() as tx:
            return self.tracking.partitioned(tx)

    def step(self, limit: int = 1000, *, bulk: bool = False, stop: int | None = None) -> int:
        """Apply (or, ``bulk``, load) the next batch (up to log position ``stop`` if given);
        return how many events it held (0: caught up). What fails is quarantined; the tracking
        position advances past it."""
        if self.stepping_aside():
            return 0
        start = self.position()
        batch = self.read(start, limit, stop)
        if not batch.count:
            return 0
        owns = self.partition.owns
        with self.db.transaction() as tx:
            if self.tracking.position(tx, lock=True) != start:
                raise LostRace(self.projection.name)
            self.quarantine.record(tx, [e for e in batch.kept_out if owns(e.seeker_id)])
            kept = [
                *(e for e in batch.kept_out if owns(e.seeker_id)),
                *(e for e in self._apply(tx, batch.facts, bulk) if owns(e.seeker_id)),
            ]
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
                # SQLite has one writer: a page is one write transaction that every request's
                # access-log entry waits for, so its pages are small (issue 10 §6's reads)
                page = SETTLE_PAGE_SQLITE if tx.dialect == "sqlite" else SETTLE_PAGE
                more = projection.settle(tx, self.tracking.position(tx, lock=True), page)

    def catch_up(
        self,
        limit: int = 1000,
        progress: Callable[[int], object] | None = None,
        *,
        stop: int | None = None,
    ) -> int:
        """Apply the log to its end (or to position ``stop``). A backlog longer than one batch
        is loaded in bulk and settled once at the end, instead of re-evaluating the same
        seekers batch after batch."""
        end = self.log.max_position() if stop is None else stop
        behind = end - self.position()
        bulk = behind > limit and hasattr(self.projection, "load")
        # (a backlog: millions of short-lived objects; see projections.runtime.heap)
        with fewer_collections() if bulk else nullcontext():
            total = 0
            while True:
                try:
                    n = self.step(limit, bulk=bulk, stop=stop)
                except LostRace:
                    continue
                if not n:
                    break
                total += n
                if progress is not None:
                    progress(n)
            self.settle()
        return total
