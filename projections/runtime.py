"""How every projection runs: its tables live in the events' own database (so reporting reads
them with plain SQL), and each batch of the global log is applied with the new tracking position
in **one transaction** — exactly-once effects, resumable after any crash, rebuildable from zero.

See ops/adr/0002-projection-tracking.md for why this is not the library's per-event
``ProjectionRunner``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from timeline.application import TimelineApp
from timeline.db import Dialect, SideDatabase, Tx

__all__ = ["Dialect", "LostRace", "Projection", "Runner", "Tracking", "Tx", "ViewDatabase"]
from timeline.domain.facts import Fact
from timeline.domain.timeline import Timeline, fact_from_event

ViewDatabase = SideDatabase
"""The database a projection writes to (the events' own database)."""


class Projection(Protocol):
    """A projection: named tables, and what a batch of facts does to them."""

    name: str

    def create_statements(self, dialect: Dialect) -> list[str]: ...

    def drop_statements(self) -> list[str]: ...

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None: ...


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
        suffix = " FOR UPDATE" if lock and tx.dialect == "postgres" else ""
        rows = tx.execute(f"SELECT position FROM {self.table} WHERE id = 1{suffix}")
        return int(rows[0][0]) if rows else 0

    def advance(self, tx: Tx, position: int) -> None:
        tx.execute(f"UPDATE {self.table} SET position = ? WHERE id = 1", [position])


class LostRace(Exception):
    """Another worker advanced the projection first; this batch was rolled back."""


class Runner:
    """Applies the global log to one projection in batches."""

    def __init__(self, app: TimelineApp, db: ViewDatabase, projection: Projection) -> None:
        self.app = app
        self.db = db
        self.projection = projection
        self.tracking = Tracking(projection.name)

    def create_tables(self) -> None:
        with self.db.transaction() as tx:
            for sql in [
                *self.projection.create_statements(self.db.dialect),
                *self.tracking.create_statements(self.db.dialect),
            ]:
                tx.execute(sql)

    def drop_tables(self) -> None:
        with self.db.transaction() as tx:
            for sql in [
                *self.projection.drop_statements(),
                f"DROP TABLE IF EXISTS {self.tracking.table}",
            ]:
                tx.execute(sql)

    def position(self) -> int:
        with self.db.read() as tx:
            return self.tracking.position(tx)

    def read_batch(self, after: int, limit: int) -> tuple[list[Fact], int]:
        """Facts after a log position, and the position of the last notification read."""
        notifications = self.app.recorder.select_notifications(
            after, limit, inclusive_of_start=False
        )
        facts = []
        for n in notifications:
            event = self.app.mapper.to_domain_event(n)
            facts.append(fact_from_event(cast(Timeline.Recorded, event), position=n.id))
        return facts, (notifications[-1].id if notifications else after)

    def step(self, limit: int = 1000) -> int:
        """Apply the next batch; return how many events it held (0: caught up)."""
        start = self.position()
        facts, last = self.read_batch(start, limit)
        if not facts:
            return 0
        with self.db.transaction() as tx:
            if self.tracking.position(tx, lock=True) != start:
                raise LostRace(self.projection.name)
            self.projection.apply(tx, facts)
            self.tracking.advance(tx, last)
        return len(facts)

    def catch_up(self, limit: int = 1000, progress: Callable[[int], object] | None = None) -> int:
        total = 0
        while True:
            try:
                n = self.step(limit)
            except LostRace:
                continue
            if not n:
                return total
            total += n
            if progress is not None:
                progress(n)
