"""Upkeep shared by the views of day-keyed projections (obligations, outcomes): catch-up, and
rebuilds online (in a shadow, then swapped in) or offline (in place)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from projections.runtime.log import EventLog, LogReader
from projections.runtime.protocols import DayKeyed
from projections.runtime.quarantine import Entry
from projections.runtime.runner import Runner
from timeline.store.side import SideDatabase
from timeline.telemetry import tracks_rebuild

__all__ = ["BuildPartitions", "DatedView"]

BuildPartitions = Callable[[SideDatabase, int], int]
"""Builds every partition of a projection into a shadow up to a log position, each by a
worker of its own (``timeline rebuild X --workers N``, which starts the processes); returns how
many events of the log they applied (each worker reads every one)."""


class DatedView:
    """Upkeep shared by the views of day-keyed projections: catch-up and rebuild start from
    the log's last recorded day (or a later day already kept), so a rebuild evaluates every
    seeker once, for the same day as the tables it replaces.

    ``log`` is the :class:`~projections.runtime.log.EventLog` port (``TimelineApp`` is one);
    ``db`` the database of the tables, by default the log's own."""

    def __init__(self, log: EventLog, db: SideDatabase | None, projection: DayKeyed) -> None:
        self.log = log
        self.db = db or SideDatabase(log.settings)
        self.dated = projection
        projection.read_from(LogReader(log, projection.name))
        self.runner = Runner(log, self.db, projection)
        self.runner.create_tables()

    def log_last_day(self, window: int = 100) -> date | None:
        """The Helsinki day on which the log's last readable event was recorded."""
        return LogReader(self.log, self.dated.name).last_recorded_day(window)

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
        partitions: BuildPartitions | None = None,
    ) -> int:
        """Rebuild the tables from the whole log, keeping the day they were kept for.

        Online (the default): build in a shadow (a schema or file beside the database) while
        readers and the catch-up job keep using the tables, then replace their rows in one
        transaction — readers see the old tables until the commit, then the new; the catch-up
        goes on from the rebuilt position. Offline (``online=False``, and always for the
        in-memory store): drop and refill the tables in place — needed when an upgrade changed
        their columns.

        ``partitions`` (online only): the shadow is built by partitioned workers
        (:data:`BuildPartitions`), each to the log's end as the rebuild starts; then the
        partitions, all at that position, become one unpartitioned position, the rest of the
        log is applied, and the tables are swapped in as above."""
        with self.db.read() as tx:
            kept = self.dated.kept_day(tx)
        if not (online and self.db.can_shadow):
            if partitions is not None:
                raise ValueError("rebuild: partitioned workers build online only, in a shadow")
            return self._build(self.runner, kept, limit, progress)
        shadow = self.db.shadow(self.dated.name)
        try:
            runner = Runner(self.log, shadow, self.dated)
            if partitions is None:
                done = self._build(runner, kept, limit, progress)
            else:
                done = self._build_partitioned(runner, kept, limit, progress, partitions)
            tracking = self.runner.tracking
            self.db.replace_tables(
                shadow,
                [
                    *self.dated.tables(),
                    tracking.table,
                    tracking.partitions_table,
                    self.runner.quarantine.table,
                ],
                f"UPDATE {tracking.table} SET position = position WHERE id = 1",
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
        *,
        stop: int | None = None,
    ) -> int:
        runner.drop_tables()
        runner.create_tables()
        for day in (kept, self.log_last_day()):
            if day is not None:
                with runner.db.transaction() as tx:
                    self.dated.start_from(tx, day)
        return runner.catch_up(limit, progress, stop=stop)

    def _build_partitioned(
        self,
        runner: Runner,
        kept: date | None,
        limit: int,
        progress: Callable[[int], object] | None,
        partitions: BuildPartitions,
    ) -> int:
        stop = runner.log.max_position()
        self._build(runner, kept, limit, None, stop=0)  # empty tables, the day set
        done = partitions(runner.db, stop)
        if progress is not None:
            progress(done)
        with runner.db.transaction() as tx:
            runner.tracking.collapse(tx, stop)
            collapse = getattr(self.dated, "collapse_days", None)
            if collapse is not None:
                collapse(tx)
        return done + runner.catch_up(limit, progress)  # what was appended meanwhile

    def position(self) -> int:
        """The projection's position: with partitioned workers, the least over the
        partitions (:mod:`projections.runtime.tracking`)."""
        return self.runner.position()

    def unsettled(self, cap: int = 100_000) -> int:
        """Seekers loaded in bulk whose rows wait for the settle pass (up to ``cap``): after a
        backlog was caught up in bulk, the position is at the log's end before they are."""
        with self.db.read() as tx:
            return self.dated.unsettled(tx, cap)

    def quarantine(self, limit: int | None = None) -> list[Entry]:
        """What this projection could not apply (``projections.runtime.quarantine``), by
        position."""
        with self.db.read() as tx:
            return self.runner.quarantine.entries(tx, limit)

    def quarantine_counts(self) -> tuple[int, int]:
        """(quarantined entries, distinct seekers they mark stale)."""
        with self.db.read() as tx:
            return self.runner.quarantine.counts(tx)

    def close(self) -> None:
        self.db.close()
