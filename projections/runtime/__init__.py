"""How every projection runs: its tables live in the events' own database (so reporting reads
them with plain SQL), and each batch of the global log is applied with the new tracking position
in **one transaction** — exactly-once effects, resumable after any crash, rebuildable from zero.

The rooms: ``log`` (the :class:`EventLog` port a projection reads, and the reader that decodes
it into facts), ``protocols`` (what a projection is to the runner), ``runner`` (batches, bulk
load and settle), ``tracking`` (the position row and the fact copies), ``dated`` (catch-up and
online rebuilds of day-keyed views), ``quarantine`` (what one bad event or seeker does)."""

from projections.runtime.dated import DatedView
from projections.runtime.log import Batch, EventLog, LogReader
from projections.runtime.protocols import BulkProjection, DayKeyed, Projection
from projections.runtime.runner import LostRace, Runner
from projections.runtime.tracking import FactCopy, Tracking
from timeline.store.side import Dialect, SideDatabase, Tx

__all__ = [
    "Batch",
    "BulkProjection",
    "DatedView",
    "DayKeyed",
    "Dialect",
    "EventLog",
    "FactCopy",
    "LogReader",
    "LostRace",
    "Projection",
    "Runner",
    "Tracking",
    "Tx",
    "ViewDatabase",
]

ViewDatabase = SideDatabase
"""The database a projection writes to (the events' own database)."""
