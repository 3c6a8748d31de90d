"""Readiness: may this process be sent requests now? (Liveness — the process answers — needs no
check: ``/health`` answers without touching the database.)

A process is ready when the event store answers, its request pools are healthy (no request
waiting for a connection now, no connection timeout seen lately) and every projection is
caught up within a bound: at most ``ready_max_lag_events`` events behind the log, or behind only
by events recorded at most ``ready_max_lag_seconds`` ago (so a steady stream of new events,
applied within seconds, never makes a busy service "not ready")."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from psycopg_pool import ConnectionPool

from projections.runtime import DatedView
from timeline.application import TimelineApp
from timeline.clock import Clock
from timeline.domain.timeline import Timeline
from timeline.settings import Settings
from timeline.store.side import SideDatabase

#: A pool timeout keeps a process "not ready" for this long after it was seen.
POOL_TIMEOUT_WINDOW_SECONDS = 60.0


@dataclass
class Readiness:
    ready: bool
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


class PoolWatch:
    """Remembers when a pool's timeout counter last grew, between readiness checks."""

    def __init__(
        self,
        window_seconds: float = POOL_TIMEOUT_WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_seconds = window_seconds
        self.monotonic = monotonic
        self._errors: dict[str, int] = {}
        self._grew_at: dict[str, float] = {}

    def problems(self, name: str, stats: dict[str, int]) -> list[str]:
        now = self.monotonic()
        errors = stats.get("requests_errors", 0)
        if errors > self._errors.get(name, 0):
            self._grew_at[name] = now
        self._errors[name] = errors
        out = []
        waiting = stats.get("requests_waiting", 0)
        if waiting:
            out.append(
                f"pool {name} is exhausted: {waiting} request(s) waiting for one of its "
                f"{stats.get('pool_max', '?')} connections"
            )
        grew = self._grew_at.get(name)
        if grew is not None and now - grew < self.window_seconds:
            out.append(
                f"pool {name} timed out giving a connection within the last "
                f"{self.window_seconds:.0f} s ({errors} timeouts since start)"
            )
        return out


def _store_pool(app: TimelineApp) -> ConnectionPool[Any] | None:
    """The event store's connection pool (PostgreSQL), whose counters /ready reads."""
    pool = getattr(getattr(app.recorder, "datastore", None), "pool", None)
    return pool if isinstance(pool, ConnectionPool) else None


def _recorded_after(app: TimelineApp, position: int) -> datetime | None:
    """When the first event after ``position`` was recorded."""
    found = app.recorder.select_notifications(position, 1, inclusive_of_start=False)
    if not found:
        return None
    return cast(Timeline.Recorded, app.mapper.to_domain_event(found[0])).timestamp


def readiness(
    app: TimelineApp,
    db: SideDatabase,
    views: Mapping[str, DatedView],
    settings: Settings,
    clock: Clock,
    watch: PoolWatch,
) -> Readiness:
    """Whether this process may be sent requests: the event store (``app``), the request pool
    (``db``), the projections (``views``), judged by ``settings``' bounds."""
    result = Readiness(ready=True)
    reasons, checks = result.reasons, result.checks
    pools: dict[str, Any] = {}
    store_pool = _store_pool(app)
    sources = {
        "requests": db.pool_stats(),
        "events": dict(store_pool.get_stats()) if store_pool is not None else None,
    }
    for name, stats in sources.items():
        if stats is not None:
            pools[name] = {k: stats.get(k) for k in ("pool_max", "pool_size", "pool_available")}
            pools[name]["waiting"] = stats.get("requests_waiting", 0)
            pools[name]["timeouts"] = stats.get("requests_errors", 0)
            reasons.extend(watch.problems(name, stats))
    if pools:
        checks["pools"] = pools
    try:
        log_position = app.recorder.max_notification_id() or 0
    except Exception as exc:  # any failure to answer is the reason
        reasons.append(f"the event store does not answer: {exc}")
        result.ready = False
        return result
    checks["log_position"] = log_position
    projections: dict[str, Any] = {}
    for name, view in views.items():
        try:
            position = view.position()
            behind = max(log_position - position, 0)
            recorded = (
                _recorded_after(app, position) if behind > settings.ready_max_lag_events else None
            )
        except Exception as exc:  # e.g. a pool timeout: the reason names it
            reasons.append(f"projection {name}: its lag cannot be read: {exc}")
            continue
        entry: dict[str, Any] = {"position": position, "behind": behind}
        try:
            unsettled = view.unsettled()
        except Exception as exc:
            reasons.append(f"projection {name}: its unsettled seekers cannot be read: {exc}")
            continue
        if unsettled:
            entry["unsettled"] = unsettled
            reasons.append(
                f"projection {name}: {unsettled} seekers loaded in bulk are not evaluated yet "
                "(the settle pass after a catch-up is running)"
            )
        if behind > settings.ready_max_lag_events:
            lag = (clock() - recorded).total_seconds() if recorded else 0.0
            entry["lag_seconds"] = round(lag, 1)
            if lag > settings.ready_max_lag_seconds:
                reasons.append(
                    f"projection {name} is {behind} events behind the log (more than "
                    f"{settings.ready_max_lag_events}), the oldest of them recorded "
                    f"{lag:.0f} s ago (more than {settings.ready_max_lag_seconds:.0f} s)"
                )
        projections[name] = entry
    checks["projections"] = projections
    result.ready = not reasons
    return result
