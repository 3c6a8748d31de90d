"""Operations: liveness (``/health``: the process answers, no database touched), readiness
(``/ready``: store, request pools, projections; see :mod:`timeline.health`), what the
projections quarantined (``/v1/quarantine``) and ``/metrics``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from projections.runtime import DatedView
from timeline.api.deps import Access, Guard, log_quarantine_read, require_every_municipality
from timeline.api.problems import problem, problem_responses
from timeline.api.schemas import Health, QuarantineReport, Ready
from timeline.application import TimelineApp
from timeline.auth import require
from timeline.clock import Clock
from timeline.health import PoolWatch, readiness
from timeline.settings import Settings
from timeline.store.side import SideDatabase


def router(
    app: TimelineApp,
    db: SideDatabase,
    views: Mapping[str, DatedView],
    settings: Settings,
    clock: Clock,
    guard: Guard,
    watch: PoolWatch,
) -> APIRouter:
    api = APIRouter(tags=["operations"])

    @api.get(
        "/health",
        response_model=Health,
        summary="Tell whether the process answers (liveness; no database is touched).",
    )
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    @api.get(
        "/ready",
        response_model=Ready,
        summary="Tell whether the store answers, the request pools are healthy and the "
        "projections caught up (readiness).",
        responses=problem_responses(503),
    )
    def ready() -> Any:
        state = readiness(app, db, views, settings, clock, watch)
        if not state.ready:
            return problem(
                503,
                "not-ready",
                "Not ready",
                "; ".join(state.reasons),
                reasons=state.reasons,
                checks=state.checks,
            )
        return {"status": "ready", "checks": state.checks}

    @api.get(
        "/v1/quarantine",
        response_model=QuarantineReport,
        summary="List the events the projections could not apply (quarantined), per projection.",
        responses=problem_responses(401, 403, 422),
    )
    def quarantine(
        access: Access,
        projection: Annotated[Literal["obligations", "outcomes"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        """Each entry: the projection, seeker, log position and event id of the event blamed,
        the stage that failed (decode, apply, evaluate, write), the error and the event's
        recorded time. The seekers' rows are stale until the cause is fixed and the
        projection rebuilt (`timeline rebuild`), or their next evaluation succeeds."""
        require(access[0], "quarantine")
        require_every_municipality(guard, access, "quarantine", "the quarantine")
        out: dict[str, Any] = {}
        for name, view in views.items():
            if projection in (None, name):
                count, seekers = view.quarantine_counts()
                out[name] = {
                    "position": view.position(),
                    "count": count,
                    "stale_seekers": seekers,
                    "entries": [e.to_dict() for e in view.quarantine(limit)],
                }
        rows = sum(len(p["entries"]) for p in out.values())
        log_quarantine_read(guard, access, projection, rows)
        return {"projections": out}

    return api
