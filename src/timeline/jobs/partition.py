"""One partition's obligations worker (``timeline worker --partition k/N``): the catch-up of
the obligations projection for the seekers of partition *k* of *N*, from that partition's own
tracking position, and its day change (ops/adr/0011-partitioned-workers.md). Several run at
once, in processes or on hosts of their own, against one PostgreSQL; each keeps its own
partition, so one stopping (or being killed) holds up no other."""

from __future__ import annotations

import logging
import threading

from projections.obligations import ObligationsView
from timeline.clock import Clock
from timeline.domain.zone import HELSINKI

log = logging.getLogger("timeline.jobs")

__all__ = ["PartitionWorker"]


class PartitionWorker:
    """Catch one partition's obligations up every ``interval`` seconds, and move its
    evaluation day to today (Europe/Helsinki) once caught up, until ``stop`` is set.

    A second worker on the same partition is harmless: each batch holds the partition's
    tracking row, so the loser of a race applies nothing (``LostRace``) and tries again."""

    def __init__(self, view: ObligationsView, clock: Clock, *, interval: float = 1.0) -> None:
        self.view = view
        self.clock = clock
        self.interval = interval

    def once(self) -> int:
        """One round: catch up, then the day change if today is a new day. How many events
        were applied."""
        n = self.view.catch_up()
        today = self.clock().astimezone(HELSINKI).date()
        on = self.view.evaluated_on()
        if on is not None and on < today:
            seekers = self.view.change_day(today)
            log.info("partition %s: %d seekers evaluated for %s", self.partition, seekers, today)
        if n:
            log.info("partition %s: %d events applied, at %d", self.partition, n, self.position)
        return n

    @property
    def partition(self) -> str:
        return str(self.view.runner.partition)

    @property
    def position(self) -> int:
        return self.view.runner.position()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.once()
            except Exception:  # logged; the next round tries again
                log.exception("partition %s: catch-up failed; retrying", self.partition)
            stop.wait(self.interval)
