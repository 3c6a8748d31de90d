"""The FastAPI app factory: the composition root for HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, runtime_checkable
from uuid import UUID

import psycopg
import pydantic_core
from eventsourcing.persistence import OperationalError
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from projections.obligations import Unevaluable
from timeline import telemetry
from timeline.api.deps import (
    Access,
    Caller,
    FeedAccess,
    LookupAccess,
    check_scope,
    log_append_refused,
    log_feed_page,
    lookup_in_scope,
    personal_read,
    refuse_for_scope,
    require_every_municipality,
)
from timeline.api.limits import BodyLimit
from timeline.api.metrics import install_metrics
from timeline.api.problems import BadRequest, handle, invalid, problem
from timeline.api.stats import stats_router
from timeline.auth import AuthError, Principal, require
from timeline.bootstrap import Services
from timeline.domain.canonical import iso_utc
from timeline.domain.errors import FieldError, NotFound, OutOfScope, TimelineError
from timeline.domain.identity import InvalidIdentifier
from timeline.domain.rules import Status
from timeline.domain.zone import HELSINKI
from timeline.health import PoolWatch, readiness
from timeline.results import Appended
from timeline.vocabulary import (
    MAX_INT64,
    MAX_REPORTED_ERRORS,
    Day,
    EnvelopeIn,
    EventValidationError,
    Instant,
    ParsedEvent,
    Text,
    parse_event,
)

#: The most bytes of a body on routes other than ``POST /v1/events`` (a look-up's body is a
#: few dozen bytes): small enough that the framework's parsing on the event loop is brief.
SMALL_BODY_BYTES = 16 * 1024
#: Bodies up to this size are parsed on the event loop (a few events: cheaper than a thread
#: hop); larger ones in a worker thread, so other requests (``/health``) are answered meanwhile.
INLINE_BODY_BYTES = 16 * 1024


def _json_content(request: Request) -> None:
    """Refuse (415) a body that does not say it is JSON: ``application/json`` or
    ``application/*+json``, in UTF-8."""
    header = request.headers.get("content-type", "")
    media, *params = (part.strip().lower() for part in header.split(";"))
    kind, _, subtype = media.partition("/")
    charsets = {p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")}
    json = kind == "application" and (subtype == "json" or subtype.endswith("+json"))
    if not json or not charsets <= {"utf-8", "utf8"}:
        shown = repr(header) if header else "a body without a content-type"
        raise BadRequest(
            f"the body must be JSON in UTF-8 (content-type: application/json), not {shown}",
            status=415,
            title="Unsupported media type",
        )


#: for routes whose body the framework parses (a model parameter)
JsonContent = Depends(_json_content)


async def _raw_body(request: Request) -> bytes:
    _json_content(request)
    return await request.body()


#: The raw request body: validation is ours, so errors can name every bad event of a batch.
RawBody = Annotated[bytes, Depends(_raw_body)]


def _body_schema(max_batch: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema of ``POST /v1/events``'s body and the definitions it refers to (to be
    registered as OpenAPI components)."""
    batch = Annotated[list[EnvelopeIn], Field(min_length=1, max_length=max_batch)]
    schema = TypeAdapter(EnvelopeIn | batch).json_schema(
        ref_template="#/components/schemas/{model}"
    )
    return schema, schema.pop("$defs", {})


class AppendedPublic(BaseModel):
    event_id: UUID
    seeker_id: UUID
    version: int
    position: int
    recorded_at: datetime
    hash: str
    duplicate: bool

    @field_serializer("recorded_at")
    def _recorded_at(self, value: datetime) -> str:
        """As in every answer (history, feed): UTC with microseconds, the chained text."""
        return iso_utc(value)


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    personal_identity_code: Text = Field(min_length=1, max_length=20)


class LookupPublic(BaseModel):
    seeker_ids: list[UUID]


def parse_body(body: bytes, *, max_batch: int, allow_test_codes: bool) -> list[ParsedEvent]:
    """The events of a request body: JSON (as RFC 8259 has it: no NaN, nesting bounded), then
    :func:`parse_batch`."""
    try:
        raw = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    return parse_batch(raw, max_batch=max_batch, allow_test_codes=allow_test_codes)


def parse_batch(raw: Any, *, max_batch: int, allow_test_codes: bool) -> list[ParsedEvent]:
    """One envelope or an array of them; every invalid event is reported with its index (the
    first :data:`MAX_REPORTED_ERRORS` errors; the rest are counted)."""
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
    parsed: list[ParsedEvent] = []
    errors: list[FieldError] = []
    omitted = 0
    for i, item in enumerate(items):
        try:
            parsed.append(parse_event(item, allow_test_identity_codes=allow_test_codes))
        except EventValidationError as exc:
            room = max(MAX_REPORTED_ERRORS - len(errors), 0)
            omitted += exc.omitted + max(len(exc.errors) - room, 0)
            for e in exc.errors[:room]:
                errors.append(
                    type(e)(loc=e.loc if single else f"[{i}].{e.loc}", msg=e.msg, kind=e.kind)
                )
    if errors:
        raise EventValidationError(errors, omitted)
    return parsed


class AppendFn(Protocol):
    """How ``POST /v1/events`` appends: ``TimelineApp.append`` or a group committer's
    ``submit``; ``scope`` is the caller's, judged against each seeker inside the decision."""

    def __call__(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None
    ) -> list[Appended]: ...


@runtime_checkable
class AsyncAppend(Protocol):
    """A writer the route can await (the group committer): no worker thread waits for the
    commit."""

    async def submit_async(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None
    ) -> list[Appended]: ...


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
    limit = services.settings.max_body_bytes
    api.add_middleware(
        BodyLimit, default=min(SMALL_BODY_BYTES, limit), limits={"/v1/events": limit}
    )
    api.add_exception_handler(TimelineError, handle)
    api.add_exception_handler(EventValidationError, handle)
    api.add_exception_handler(InvalidIdentifier, handle)
    api.add_exception_handler(AuthError, handle)
    api.add_exception_handler(HTTPException, handle)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": ".".join(str(p) for p in e["loc"] if p != "body"),
                "msg": str(e["msg"]).removeprefix("Value error, "),
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        return invalid(422, "invalid-request", "Invalid request", errors)

    _write_routes(api, services, append or services.app.append)
    _personal_routes(api, services)
    _audit_routes(api, services)
    _quarantine_routes(api, services)
    api.include_router(stats_router(services.outcomes))

    _health_routes(api, services)
    return api


def _openapi_components(api: FastAPI, schemas: dict[str, Any]) -> None:
    """Serve ``schemas`` among the OpenAPI components (the envelope's definitions, which the
    hand-declared request body of ``POST /v1/events`` refers to)."""
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            spec = generate()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        assert api.openapi_schema is not None
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


#: answers every POST route may give besides its own
_BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "body larger than TIMELINE_MAX_BODY_BYTES (or batch too large)"},
    415: {"description": "body not labelled application/json"},
}


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
        if isinstance(exc, PoolTimeout) or isinstance(exc.__cause__, PoolTimeout):
            response = problem(
                503,
                "busy",
                "Service busy",
                "no database connection became free in time; retry shortly",
            )
        else:  # the database went away (restarted, failed over, a connection cut) or timed out
            response = problem(
                503,
                "database-unavailable",
                "Database unavailable",
                "the database connection failed; retry shortly (an append retried with the "
                "same event ids is answered as the one stored, if it was)",
            )
        response.headers["Retry-After"] = "1"
        return response

    api.add_exception_handler(PoolTimeout, busy)
    api.add_exception_handler(OperationalError, busy)  # the event store's (the library's)
    api.add_exception_handler(psycopg.OperationalError, busy)  # the projections' and logs'


def _write_routes(api: FastAPI, services: Services, write: AppendFn | AsyncAppend) -> None:
    settings = services.settings
    body_schema, definitions = _body_schema(settings.max_batch)
    _openapi_components(api, definitions)
    route = api.post(
        "/v1/events",
        response_model=list[AppendedPublic],
        summary="Append one event or a batch (atomic: all accepted or none)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        },
        responses={
            **_BODY_RESPONSES,
            409: {"description": "conflict"},
            422: {"description": "invalid event"},
        },
    )

    def events_of(body: bytes, caller: Principal) -> list[ParsedEvent]:
        """The request's events, once the caller may append them all (else nothing is)."""
        require(caller, "append")
        # The caller's scope is judged inside the append's decision, against each seeker as
        # stored (whose seeker it is now); actor.organisation is a claim, recorded, not trusted.
        return parse_body(
            body, max_batch=settings.max_batch, allow_test_codes=settings.test_codes_allowed
        )

    if isinstance(write, AsyncAppend):  # the coroutine waits for the commit: no thread held

        async def append_async(body: RawBody, caller: Caller) -> list[dict[str, Any]]:
            if len(body) > INLINE_BODY_BYTES:  # parsing and validation off the event loop
                events = await run_in_threadpool(events_of, body, caller)
            else:
                events = events_of(body, caller)
            try:
                done = await write.submit_async(events, scope=caller.scope)
            except OutOfScope as exc:
                await run_in_threadpool(log_append_refused, services, caller, exc, events)
                raise
            telemetry.current().appended(done)
            return [a.to_dict() for a in done]

        route(append_async)
    else:
        append_fn = write  # narrowed to AppendFn for the closure

        def append(body: RawBody, caller: Caller) -> list[dict[str, Any]]:
            events = events_of(body, caller)
            try:
                done = append_fn(events, scope=caller.scope)
            except OutOfScope as exc:
                log_append_refused(services, caller, exc, events)
                raise
            telemetry.current().appended(done)
            return [a.to_dict() for a in done]

        route(append)


def _personal_routes(api: FastAPI, services: Services) -> None:
    app = services.app
    view = services.obligations

    @api.get("/v1/seekers/{seeker_id}/events", summary="A seeker's history, paged by version")
    def history(
        seeker_id: UUID,
        access: Access,
        after_version: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        as_of: Annotated[Instant | None, Query(description="recorded time: as known then")] = None,
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
        on: Annotated[Day | None, Query(description="the day; default: today")] = None,
        as_of: Annotated[Instant | None, Query(description="only events recorded by then")] = None,
    ) -> dict[str, Any]:
        day = on or app.clock().astimezone(HELSINKI).date()
        view.check_day(day)  # a day no ruleset covers is refused (422) before any read
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
        try:
            obligations = view.for_seeker(str(seeker_id), day, as_of=as_of)
        except Unevaluable as exc:
            raise BadRequest(str(exc), status=409, title="Stale obligations") from None
        return {
            "seeker_id": str(seeker_id),
            "on": day.isoformat(),
            "as_of": as_of.isoformat() if as_of else None,
            "position": view.runner.position(),
            # why these rows are not current (the seeker is quarantined), else null
            "stale": view.stale(str(seeker_id)),
            "obligations": obligations,
        }

    @api.get("/v1/worklists", summary="What is open or overdue as on a day, for an office")
    def worklist(
        caller: Caller,
        on: Annotated[Day | None, Query(description="the day; default: today")] = None,
        status: Annotated[Status | None, Query()] = None,
        municipality: Annotated[str | None, Query(pattern=r"^[0-9]{3}$")] = None,
        coach: Annotated[Text | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        require(caller, "worklist")
        asked = {"municipality": municipality, "status": status, "coach": coach}
        if caller.scope is not None and municipality is None:
            refuse_for_scope(
                services,
                caller,
                "worklist",
                "worklist",
                asked,
                f"name a municipality of your scope: {', '.join(sorted(caller.scope))}",
            )
        if not caller.covers(municipality):
            reason = f"municipality {municipality} is outside your scope"
            refuse_for_scope(services, caller, "worklist", "worklist", asked, reason)
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
        dependencies=[JsonContent],
        responses=_BODY_RESPONSES,
    )
    def lookup(body: LookupRequest, access: LookupAccess) -> dict[str, Any]:
        # Only seekers in the caller's scope now; one found elsewhere is answered as unknown.
        found = lookup_in_scope(services, access, app.lookup_person(body.personal_identity_code))
        return {"seeker_ids": found}


def _audit_routes(api: FastAPI, services: Services) -> None:
    app = services.app

    @api.get("/v1/feed", summary="The global order of events, for downstream consumers")
    def feed(
        access: FeedAccess,
        after: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        require_every_municipality(services, access, "feed", "the feed")
        items = app.feed(after, limit)
        log_feed_page(services, access, after, items)  # every seeker's payloads: logged
        return {"events": items, "next_after": items[-1]["position"] if items else after}

    @api.get("/v1/access-log", summary="Who read which personal timeline, when and why")
    def access_log(
        caller: Caller,
        seeker_id: UUID | None = None,
        actor: Annotated[Text | None, Query(max_length=200)] = None,
        from_: Annotated[Instant | None, Query(alias="from")] = None,
        to: Annotated[Instant | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        require(caller, "access_log")
        if caller.scope is not None:  # a scoped auditor: the log of one seeker of its scope
            if seeker_id is None:
                reason = "name a seeker_id of your scope: the whole log is for scope *"
                refuse_for_scope(services, caller, "access-log", "access log", {}, reason)
            check_scope(services, caller, "access log", str(seeker_id), "access-log", {})
        rows = services.access_log.query(
            seeker_id=str(seeker_id) if seeker_id else None,
            actor=actor,
            since=from_,
            until=to,
            limit=limit,
        )
        return {"entries": [r.to_dict() for r in rows]}


def _quarantine_routes(api: FastAPI, services: Services) -> None:
    """What the projections could not apply, for auditors and admins; and ``/metrics``."""
    views = {"obligations": services.obligations, "outcomes": services.outcomes}
    install_metrics(api, services)

    @api.get(
        "/v1/quarantine",
        summary="Events the projections could not apply (quarantined), per projection",
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
        caller, purpose = access
        require(caller, "quarantine")
        require_every_municipality(services, access, "quarantine", "the quarantine")
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
        services.access_log.record(
            actor=caller.actor,
            role=caller.role,
            action="quarantine",
            seeker_id=None,
            purpose=purpose,
            detail={"projection": projection, "rows": sum(len(p["entries"]) for p in out.values())},
        )
        return {"projections": out}
