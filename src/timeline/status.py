"""The operations picture, read from the store: what ``/metrics`` exposes (beside the counters
of :mod:`timeline.telemetry`) and ``timeline status`` prints. Everything here is read at the
moment it is asked for, from the database every process shares, so it is the same whichever
process answers: the server, ``timeline worker``, or the jobs' child process.

**Lag** of a projection, in events: the log's position (its last event's) minus the
projection's tracking position (the last log position it applied). In seconds: the recorded
time of the log's last event minus the recorded time of the event at the projection's
position — of the log's first event when the projection has applied none —, never below 0,
and 0 when it is not behind. So a projection that has applied everything up to an event
recorded at 12:00:00 while the log's last event was recorded at 12:00:07 is 7 s behind,
however long ago that was: a quiet log is not lag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from projections.runtime import DatedView
from timeline.application import TimelineApp
from timeline.settings import Settings
from timeline.store.side import SideDatabase
from timeline.telemetry import RebuildProgress, RebuildState


class Services(Protocol):
    """What the picture is read from: the composition root's services satisfy it (only entry
    points import the root; this module is handed them)."""

    @property
    def app(self) -> TimelineApp: ...
    @property
    def db(self) -> SideDatabase: ...
    @property
    def obligations(self) -> DatedView: ...
    @property
    def outcomes(self) -> DatedView: ...
    @property
    def settings(self) -> Settings: ...


@dataclass(frozen=True)
class ProjectionState:
    name: str
    position: int
    lag_events: int
    lag_seconds: float
    quarantined: int
    stale_seekers: int
    rebuild: RebuildState | None
    unsettled_seekers: int = 0  # loaded in bulk, not yet evaluated (the settle pass)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "lag_events": self.lag_events,
            "lag_seconds": self.lag_seconds,
            "quarantined": self.quarantined,
            "stale_seekers": self.stale_seekers,
            "unsettled_seekers": self.unsettled_seekers,
            "rebuild": self.rebuild.to_dict() if self.rebuild else None,
        }


def views_of(services: Services) -> dict[str, DatedView]:
    return {"obligations": services.obligations, "outcomes": services.outcomes}


def recorded_at(app: TimelineApp, position: int) -> datetime | None:
    """The recorded time of the event at ``position`` (or the first one after it), from the
    event index."""
    rows = app.index.index_after_position(max(position, 1) - 1, 1)
    return rows[0].recorded_at if rows else None


class Picture:
    """Reads the picture from the store of one application and its side database."""

    def __init__(self, app: TimelineApp, db: SideDatabase, views: Mapping[str, DatedView]) -> None:
        self.app = app
        self.db = db
        self.views = views
        self.progress = RebuildProgress(db)
        with db.transaction() as tx:  # the tables read below, if no digest or job was made yet
            tx.execute(tx.sql.DIGESTS_TABLE)
            tx.execute(tx.sql.JOB_RUNS_TABLE)

    @classmethod
    def of(cls, services: Services) -> Picture:
        return cls(services.app, services.db, views_of(services))

    def log_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def projections(self, log_position: int | None = None) -> list[ProjectionState]:
        end = self.log_position() if log_position is None else log_position
        last = recorded_at(self.app, end) if end else None
        rebuilds = self.progress.states()
        out = []
        for name, view in self.views.items():
            position = view.position()
            behind = max(end - position, 0)
            seconds = 0.0
            if behind and last is not None:
                applied = recorded_at(self.app, position)
                if applied is not None:
                    seconds = max((last - applied).total_seconds(), 0.0)
            entries, stale = view.quarantine_counts()
            out.append(
                ProjectionState(
                    name,
                    position,
                    behind,
                    round(seconds, 3),
                    entries,
                    stale,
                    rebuilds.get(name),
                    view.unsettled(),
                )
            )
        return out

    def last_digest_day(self) -> str | None:
        with self.db.read() as tx:
            rows = tx.execute("SELECT MAX(day) FROM timeline_digests")
        return str(rows[0][0]) if rows and rows[0][0] else None

    def last_verify(self) -> dict[str, Any] | None:
        """The last nightly audit (seal and verify) the jobs recorded, if any."""
        with self.db.read() as tx:
            p = tx.sql.P
            rows = tx.execute(
                "SELECT finished_at, outcome, detail FROM timeline_job_runs WHERE job = "
                f"{p} ORDER BY finished_at DESC LIMIT 1",
                ["nightly_audit"],
            )
        if not rows:
            return None
        finished, outcome, detail = rows[0]
        return {"finished_at": finished, "outcome": outcome, "detail": detail}

    def to_dict(self, settings_pools: Mapping[str, Any] | None = None) -> dict[str, Any]:
        end = self.log_position()
        last = recorded_at(self.app, end) if end else None
        out: dict[str, Any] = {
            "log_position": end,
            "last_recorded_at": last.isoformat() if last else None,
            "projections": {p.name: p.to_dict() for p in self.projections(end)},
            "last_digest_day": self.last_digest_day(),
            "last_verify": self.last_verify(),
        }
        if settings_pools is not None:
            out["pools"] = dict(settings_pools)
        return out


def pool_settings(services: Services) -> dict[str, Any]:
    """The connection pools the settings ask for (PostgreSQL; SQLite has none)."""
    s = services.settings
    return {
        "events": {"size": s.postgres_pool_size},
        "requests": {"size": s.request_pool_size, "timeout_seconds": s.request_pool_timeout},
        "jobs": {"size": s.jobs_pool_size},
    }
