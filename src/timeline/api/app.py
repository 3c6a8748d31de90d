"""The FastAPI app factory: the HTTP service over the composition root's services.

It includes the routers of :data:`ROUTERS` (one per group of routes, each given the
collaborators it needs), turns every refusal into a problem document, serves the API docs
(``/docs``, ``/redoc``) from the package — no CDN — and shapes the OpenAPI document: the
append body's event variants, the problem schema for every refusal, the ``bearer`` scheme."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import OperationalError
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from psycopg_pool import PoolTimeout
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException

from timeline.api.limits import BodyLimit
from timeline.api.metrics import install_metrics
from timeline.api.problems import busy, handle, invalid
from timeline.api.replica import ReaderChooser
from timeline.api.routes import audit, erasures, events, operations, seekers, stats, worklists
from timeline.api.routes.events import AppendFn, AsyncAppend
from timeline.api.schemas import EventIn
from timeline.api.ui import ui_router
from timeline.api.whatif import whatif_router
from timeline.auth import AuthError
from timeline.bootstrap import Services
from timeline.domain.errors import TimelineError
from timeline.domain.identity import InvalidIdentifier
from timeline.erasure import Eraser
from timeline.health import PoolWatch
from timeline.vocabulary import EventValidationError

__all__ = ["ROUTERS", "AppendFn", "AsyncAppend", "create_app"]

#: The most bytes of a body on routes other than ``POST /v1/events`` (a look-up's body is a
#: few dozen bytes): small enough that the framework's parsing on the event loop is brief.
SMALL_BODY_BYTES = 16 * 1024

#: The routers of the service besides ``POST /v1/events``, each built from the services. A
#: new group of routes (the web view) is one more line here.
ROUTERS: list[Callable[[Services, FastAPI], APIRouter]] = [
    # history, obligations, worklists, the feed and statistics: from the side the app's
    # ``state.readers`` chooses (a read replica or the primary, timeline.api.replica)
    lambda s, _: seekers.router(s.app, s),
    lambda s, _: worklists.router(s, s.clock),
    lambda s, _: audit.router(s.access_log, s),
    lambda _s, _: stats.router(),
    lambda s, api: operations.router(
        s.app,
        s.db,
        {"obligations": s.obligations, "outcomes": s.outcomes},
        s.settings,
        s.clock,
        s,
        api.state.pool_watch,
    ),
    lambda s, _: whatif_router(s.app),  # GET /v1/stats/whatif (docs/whatif.md)
    # POST and GET /v1/admin/erasures (docs/erasure.md)
    lambda s, _: erasures.router(Eraser(s.app, s.erasures, s.clock), s.erasures),
    lambda s, _: ui_router(s),  # the web view under /ui (timeline.api.ui)
]

TAGS = [
    {"name": "events", "description": "Append events: idempotent, atomic, ordered per seeker."},
    {"name": "seekers", "description": "One seeker's history, obligations and look-up."},
    {"name": "worklists", "description": "What is open or overdue for an office."},
    {"name": "audit", "description": "The global feed and the access log."},
    {"name": "statistics", "description": "Monthly outcome statistics (no personal data)."},
    {"name": "operations", "description": "Liveness, readiness, quarantine and metrics."},
    {"name": "admin", "description": "Erasure of a seeker's personal data, and its register."},
]


def create_app(
    services: Services,
    append: AppendFn | AsyncAppend | None = None,
    routers: Sequence[Callable[[Services, FastAPI], APIRouter]] = ROUTERS,
) -> FastAPI:
    """The HTTP service over one set of services (see :func:`timeline.bootstrap.bootstrap`).
    ``append``: how events are written — ``TimelineApp.append``-like (one transaction per
    request, the default), or a group committer, whose ``submit_async`` the route awaits so
    concurrent requests share one transaction (``timeline serve``)."""
    api = FastAPIOffline(
        title="timeline",
        version="1",
        description="Event-sourced timelines of job seekers' public employment service: append "
        "events (idempotent, ordered per seeker), read histories and obligations as known at "
        "any moment, follow the global feed. Bearer tokens carry a role and an organisation "
        "scope; personal reads need a stated purpose (X-Purpose header) and are logged. Errors "
        "are RFC 9457 problem documents naming the field and the reason.",
        openapi_tags=TAGS,
        # FastAPI's own OpenTelemetry: off. The service's metrics are Prometheus' (GET /metrics,
        # timeline.api.metrics); left on, FastAPI asks OpenTelemetry's global providers (reading
        # the environment) on every request, a tenth of the event loop's time on an append.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    api.state.services = services  # for edges built on this app (the web view)
    api.state.guard = services  # what timeline.api.deps checks scopes and logs reads with
    api.state.tokens = services.tokens
    api.state.pool_watch = PoolWatch()
    # reads from a read replica when there is one, with read-your-writes (timeline.api.replica)
    api.state.readers = ReaderChooser(
        services, services.replica, wait_seconds=services.settings.read_wait_ms / 1000
    )
    limit = services.settings.max_body_bytes
    api.add_middleware(
        BodyLimit, default=min(SMALL_BODY_BYTES, limit), limits={"/v1/events": limit}
    )
    install_metrics(api, services)  # GET /metrics and the append measurements behind it
    for error in (TimelineError, EventValidationError, InvalidIdentifier, AuthError):
        api.add_exception_handler(error, handle)
    api.add_exception_handler(HTTPException, handle)  # 404 and 405 of the routing too
    api.add_exception_handler(RequestValidationError, _invalid)
    api.add_exception_handler(PoolTimeout, busy)
    api.add_exception_handler(OperationalError, busy)  # the event store's (the library's)
    api.add_exception_handler(psycopg.OperationalError, busy)  # the projections' and logs'

    api.include_router(events.router(append or services.app.append, services.settings, services))
    for build in routers:
        api.include_router(build(services, api))
    _shape_openapi(api)
    return api


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": ".".join(str(p) for p in e["loc"] if p != "body"),
            "msg": str(e["msg"]).removeprefix("Value error, "),
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    return invalid(422, "invalid-request", "Invalid request", errors)


def _shape_openapi(api: FastAPI) -> None:
    """The OpenAPI document as served: the append body's variants among the components,
    refusals as ``application/problem+json`` of the ``Problem`` schema (instead of the
    framework's validation error), every path's 422 included."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        spec = generate()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        event_in = TypeAdapter(EventIn).json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(event_in.pop("$defs", {}))
        schemas["EventIn"] = event_in
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for path_item in spec.get("paths", {}).values():
            for operation in path_item.values():
                for status, response in operation.get("responses", {}).items():
                    if status[0] in "45":
                        response["content"] = {"application/problem+json": problem}
        api.openapi_schema = spec
        return spec

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
