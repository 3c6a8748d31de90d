"""How every projection runs: its tables live in the events' own database (so reporting reads
them with plain SQL), and each batch of the global log is applied with the new tracking position
in **one transaction** — exactly-once effects, resumable after any crash, rebuildable from zero.

The rooms: ``log`` (the :class:`EventLog` port a projection reads, and the reader that decodes
it into facts, and reads seekers' facts again for re-evaluation), ``protocols`` (what a
projection is to the runner), ``runner`` (batches, bulk load and settle), ``tracking`` (the
position rows), ``dated`` (catch-up and online rebuilds of day-keyed views), ``quarantine``
(what one bad event or seeker does), ``partition`` (seekers by bucket, for partitioned
workers)."""

from projections.runtime.dated import BuildPartitions, DatedView
from projections.runtime.log import Batch, EventLog, LogReader, SeekerHistory
from projections.runtime.partition import WHOLE, Partition, bucket
from projections.runtime.protocols import BulkProjection, DayKeyed, Projection
from projections.runtime.runner import LostRace, Runner
from projections.runtime.tracking import Tracking
from timeline.store.side import Dialect, SideDatabase, Tx

__all__ = [
    "WHOLE",
    "Batch",
    "BuildPartitions",
    "BulkProjection",
    "DatedView",
    "DayKeyed",
    "Dialect",
    "EventLog",
    "LogReader",
    "LostRace",
    "Partition",
    "Projection",
    "Runner",
    "SeekerHistory",
    "Tracking",
    "Tx",
    "ViewDatabase",
    "bucket",
]

ViewDatabase = SideDatabase
"""The database a projection writes to (the events' own database)."""
