"""The FastAPI app factory: the composition root for HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import OperationalError
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field

from timeline.api.deps import Access, Caller, personal_read, seeker_municipality
from timeline.api.problems import BadRequest, handle, problem, to_problem
from timeline.api.stats import stats_router
from timeline.application import Appended
from timeline.auth import AuthError, Principal, require
from timeline.bootstrap import Services
from timeline.domain.errors import NotFound, TimelineError
from timeline.domain.identity import InvalidIdentifier
from timeline.domain.rules import Status
from timeline.health import PoolWatch, readiness
from timeline.vocabulary import HELSINKI, EnvelopeIn, EventValidationError, ParsedEvent, parse_event

_ENVELOPE_SCHEMA = EnvelopeIn.model_json_schema(ref_template="#/components/schemas/{model}")


async def _raw_body(request: Request) -> bytes:
    return await request.body()


#: The raw request body: validation is ours, so errors can name every bad event of a batch.
RawBody = Annotated[bytes, Depends(_raw_body)]


class AppendedPublic(BaseModel):
    event_id: UUID
    seeker_id: UUID
    version: int
    position: int
    recorded_at: datetime
    hash: str
    duplicate: bool


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    personal_identity_code: str = Field(min_length=1, max_length=20)


class LookupPublic(BaseModel):
    seeker_ids: list[UUID]


def parse_batch(raw: Any, *, max_batch: int, allow_test_codes: bool) -> list[Any]:
    """One envelope or an array of them; every invalid event is reported with its index."""
    single = isinstance(raw, dict)
    items = [raw] if single else raw
    if not isinstance(items, list):
        raise BadRequest(
            "the body must be one event envelope (object) or an array of them",
            status=422,
            title="Invalid body",
        )
    if len(items) > max_batch:
        raise BadRequest(
            f"a batch may hold at most {max_batch} events; this one has {len(items)}",
            status=413,
            title="Batch too large",
        )
    if not items:
        raise BadRequest("the batch is empty", status=422, title="Invalid body")
    parsed, errors = [], []
    for i, item in enumerate(items):
        try:
            parsed.append(parse_event(item, allow_test_identity_codes=allow_test_codes))
        except EventValidationError as exc:
            for e in exc.errors:
                errors.append(
                    type(e)(loc=e.loc if single else f"[{i}].{e.loc}", msg=e.msg, kind=e.kind)
                )
    if errors:
        raise EventValidationError(errors)
    return parsed


#: How ``POST /v1/events`` appends: ``TimelineApp.append`` or a group committer's ``submit``.
AppendFn = Callable[[Sequence[ParsedEvent]], list[Appended]]


@runtime_checkable
class AsyncAppend(Protocol):
    """A writer the route can await (the group committer): no worker thread waits for the
    commit."""

    async def submit_async(self, events: Sequence[ParsedEvent]) -> list[Appended]: ...


def create_app(services: Services, append: AppendFn | AsyncAppend | None = None) -> FastAPI:
    """The HTTP service over one set of services (see :func:`timeline.bootstrap.bootstrap`).
    ``append``: how events are written — ``TimelineApp.append``-like (one transaction per
    request, the default), or a group committer, whose ``submit_async`` the route awaits so
    concurrent requests share one transaction (``timeline serve``)."""
    api = FastAPI(
        title="timeline",
        version="1",
        description="Event-sourced timelines of job seekers' public employment service: append "
        "events (idempotent, ordered per seeker), read histories and obligations as known at "
        "any moment, follow the global feed. Bearer tokens carry a role and an organisation "
        "scope; personal reads need a stated purpose (X-Purpose header) and are logged. Errors "
        "are RFC 9457 problem documents naming the field and the reason.",
    )
    api.state.services = services
    api.add_exception_handler(TimelineError, handle)
    api.add_exception_handler(EventValidationError, handle)
    api.add_exception_handler(InvalidIdentifier, handle)
    api.add_exception_handler(AuthError, handle)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": ".".join(str(p) for p in e["loc"] if p != "body"),
                "msg": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        return problem(
            422,
            "invalid-request",
            "Invalid request",
            "; ".join(f"{e['loc']}: {e['msg']}" for e in errors),
            errors=errors,
        )

    _write_routes(api, services, append or services.app.append)
    _personal_routes(api, services)
    _audit_routes(api, services)
    api.include_router(stats_router(services.outcomes))

    _health_routes(api, services)
    return api


def _health_routes(api: FastAPI, services: Services) -> None:
    """Liveness (``/health``: the process answers, no database touched), readiness (``/ready``:
    store, request pools, projections; see :mod:`timeline.health`), and a request that found
    no free connection in time answered 503 at once instead of failing after a long wait."""
    watch = api.state.pool_watch = PoolWatch()

    @api.get("/health", summary="Liveness: the process answers (no database is touched)")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    @api.get(
        "/ready",
        summary="Readiness: the store answers, request pools are healthy, projections caught up",
        responses={503: {"description": "not ready: the problem document lists the reasons"}},
    )
    def ready() -> Any:
        state = readiness(services, watch)
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

    async def busy(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, PoolTimeout) and not isinstance(exc.__cause__, PoolTimeout):
            return to_problem(exc)
        response = problem(
            503,
            "busy",
            "Service busy",
            "no database connection became free in time; retry shortly",
        )
        response.headers["Retry-After"] = "1"
        return response

    api.add_exception_handler(PoolTimeout, busy)
    api.add_exception_handler(OperationalError, busy)


def _write_routes(api: FastAPI, services: Services, write: AppendFn | AsyncAppend) -> None:
    settings = services.settings
    route = api.post(
        "/v1/events",
        response_model=list[AppendedPublic],
        summary="Append one event or a batch (atomic: all accepted or none)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                _ENVELOPE_SCHEMA,
                                {
                                    "type": "array",
                                    "items": _ENVELOPE_SCHEMA,
                                    "maxItems": settings.max_batch,
                                },
                            ]
                        }
                    }
                },
            }
        },
        responses={
            409: {"description": "conflict"},
            413: {"description": "batch too large"},
            422: {"description": "invalid event"},
        },
    )

    def events_of(body: bytes, caller: Principal) -> list[ParsedEvent]:
        """The request's events, once the caller may append them all (else nothing is)."""
        require(caller, "append")
        try:
            raw = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        events = parse_batch(
            raw, max_batch=settings.max_batch, allow_test_codes=settings.test_codes_allowed
        )
        for i, e in enumerate(events):
            if not caller.covers(e.actor.get("organisation")):
                raise AuthError(
                    403,
                    f"event [{i}]: actor.organisation "
                    f"{e.actor.get('organisation')!r} is outside your scope",
                )
        return events

    if isinstance(write, AsyncAppend):  # the coroutine waits for the commit: no thread held

        async def append_async(body: RawBody, caller: Caller) -> list[dict[str, Any]]:
            return [a.to_dict() for a in await write.submit_async(events_of(body, caller))]

        route(append_async)
    else:

        def append(body: RawBody, caller: Caller) -> list[dict[str, Any]]:
            return [a.to_dict() for a in write(events_of(body, caller))]

        route(append)


def _personal_routes(api: FastAPI, services: Services) -> None:
    app = services.app
    view = services.obligations

    @api.get("/v1/seekers/{seeker_id}/events", summary="A seeker's history, paged by version")
    def history(
        seeker_id: UUID,
        access: Access,
        after_version: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        as_of: Annotated[datetime | None, Query(description="recorded time: as known then")] = None,
    ) -> dict[str, Any]:
        personal_read(
            services,
            access,
            str(seeker_id),
            "history",
            {"as_of": as_of.isoformat() if as_of else None, "after_version": after_version},
        )
        entries = app.history(
            str(seeker_id), as_of=as_of, after_version=after_version, limit=limit + 1
        )
        more = len(entries) > limit
        entries = entries[:limit]
        return {
            "seeker_id": str(seeker_id),
            "as_of": as_of.isoformat() if as_of else None,
            "events": [e.to_dict() for e in entries],
            "next_after_version": entries[-1].index.version if more and entries else None,
        }

    @api.get(
        "/v1/seekers/{seeker_id}/obligations",
        summary="A seeker's obligations as on a day (optionally as known at a moment)",
    )
    def seeker_obligations(
        seeker_id: UUID,
        access: Access,
        on: Annotated[date | None, Query(description="the day; default: today")] = None,
        as_of: Annotated[datetime | None, Query(description="only events recorded by then")] = None,
    ) -> dict[str, Any]:
        day = on or app.clock().astimezone(HELSINKI).date()
        personal_read(
            services,
            access,
            str(seeker_id),
            "obligations",
            {"on": day.isoformat(), "as_of": as_of.isoformat() if as_of else None},
        )
        if not view.has_seeker(str(seeker_id)):
            raise NotFound(
                f"no obligations for seeker {seeker_id} (unknown seeker, or the "
                "projection has not caught up yet)"
            )
        return {
            "seeker_id": str(seeker_id),
            "on": day.isoformat(),
            "as_of": as_of.isoformat() if as_of else None,
            "position": view.runner.position(),
            "obligations": view.for_seeker(str(seeker_id), day, as_of=as_of),
        }

    @api.get("/v1/worklists", summary="What is open or overdue as on a day, for an office")
    def worklist(
        caller: Caller,
        on: Annotated[date | None, Query(description="the day; default: today")] = None,
        status: Annotated[Status | None, Query()] = None,
        municipality: Annotated[str | None, Query(pattern=r"^[0-9]{3}$")] = None,
        coach: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        require(caller, "worklist")
        if caller.scope is not None and municipality is None:
            raise AuthError(
                403, f"name a municipality of your scope: {', '.join(sorted(caller.scope))}"
            )
        if not caller.covers(municipality):
            raise AuthError(403, f"municipality {municipality} is outside your scope")
        day = on or app.clock().astimezone(HELSINKI).date()
        items = view.worklist(
            day, status=status, municipality=municipality, coach=coach, limit=limit
        )
        services.access_log.record(
            actor=caller.actor,
            role=caller.role,
            action="worklist",
            seeker_id=None,
            purpose="worklist",
            detail={
                "on": day.isoformat(),
                "status": status,
                "municipality": municipality,
                "coach": coach,
                "rows": len(items),
            },
        )
        return {"on": day.isoformat(), "position": view.runner.position(), "items": items}

    @api.post(
        "/v1/seekers/lookup",
        response_model=LookupPublic,
        summary="Identity code → seeker ids, through the keyed hash",
    )
    def lookup(body: LookupRequest, access: Access) -> dict[str, Any]:
        caller, purpose = access
        require(caller, "lookup")
        found = app.lookup_person(body.personal_identity_code)
        if caller.role == "caseworker":
            found = [s for s in found if caller.covers(seeker_municipality(services, s))]
        services.access_log.record(
            actor=caller.actor,
            role=caller.role,
            action="lookup",
            seeker_id=found[0] if len(found) == 1 else None,
            purpose=purpose,
            detail={"found": found},
        )
        return {"seeker_ids": found}


def _audit_routes(api: FastAPI, services: Services) -> None:
    app = services.app

    @api.get("/v1/feed", summary="The global order of events, for downstream consumers")
    def feed(
        caller: Caller,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        require(caller, "feed")
        items = app.feed(after, limit)
        return {"events": items, "next_after": items[-1]["position"] if items else after}

    @api.get("/v1/access-log", summary="Who read which personal timeline, when and why")
    def access_log(
        caller: Caller,
        seeker_id: UUID | None = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        require(caller, "access_log")
        rows = services.access_log.query(
            seeker_id=str(seeker_id) if seeker_id else None,
            actor=actor,
            since=from_,
            until=to,
            limit=limit,
        )
        return {"entries": [r.to_dict() for r in rows]}
