"""What a projection is to the runner: named tables, and what a batch of facts does to them
(:class:`Projection`); cheaper for long stretches of the log (:class:`BulkProjection`); and
evaluated for one day that only moves forward (:class:`DayKeyed`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from projections.runtime.log import SeekerHistory
from timeline.domain.facts import Fact
from timeline.store.side import Dialect, Tx

__all__ = ["BulkProjection", "DayKeyed", "Projection"]


class Projection(Protocol):
    """A projection: named tables, and what a batch of facts does to them."""

    name: str

    def create_statements(self, dialect: Dialect) -> list[str]: ...

    def drop_statements(self) -> list[str]: ...

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None: ...

    def revisit(self, tx: Tx, seeker_ids: Sequence[str]) -> None:
        """Some of these seekers' events were kept out (see ``projections.runtime.quarantine``):
        evaluate them again, at the latest when the runner settles, so their rows say so."""
        ...


class BulkProjection(Projection, Protocol):
    """A projection that can take a long stretch of the log cheaply: ``load`` only keeps the
    facts and marks what they make stale (in the batch's transaction, so a crash loses
    nothing); ``settle`` then brings the stale part up to date a page at a time. Loading and
    settling a stretch leaves the tables exactly as applying it batch by batch would."""

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None: ...

    def settle(self, tx: Tx, position: int, page: int) -> bool:
        """Bring one page of stale rows up to date as of log ``position``; True if more
        remain."""
        ...

    def unsettled(self, tx: Tx, cap: int) -> int:
        """How many seekers were loaded and wait for :meth:`settle` (counted up to ``cap``):
        their rows are not up to date yet, whatever the tracking position says."""
        ...


class DayKeyed(BulkProjection, Protocol):
    """A bulk projection evaluated for one day that only moves forward (the obligations'
    evaluation day, the statistics' horizon)."""

    def tables(self) -> list[str]:
        """Its tables (not the tracking table), for an online rebuild's swap."""
        ...

    def kept_day(self, tx: Tx) -> date | None: ...

    def start_from(self, tx: Tx, log_last_day: date) -> None: ...

    def read_from(self, history: SeekerHistory) -> None:
        """Where to read seekers' facts again when they must be re-evaluated: the log."""
        ...
