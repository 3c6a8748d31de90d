"""The FastAPI app factory: the composition root for HTTP."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from projections.obligations import ObligationsView
from timeline.api.problems import BadRequest, handle, problem
from timeline.application import TimelineApp
from timeline.domain.errors import NotFound, TimelineError
from timeline.domain.identity import InvalidIdentifier
from timeline.domain.rules import Status
from timeline.vocabulary import HELSINKI, EnvelopeIn, EventValidationError, parse_event

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


def create_app(app: TimelineApp, obligations: ObligationsView | None = None) -> FastAPI:
    api = FastAPI(
        title="timeline",
        version="1",
        description="Event-sourced timelines of job seekers' public employment service: append "
        "events (idempotent, ordered per seeker), read histories as known at any moment, follow "
        "the global feed. Errors are RFC 9457 problem documents naming the field and the reason.",
    )
    api.add_exception_handler(TimelineError, handle)
    api.add_exception_handler(EventValidationError, handle)
    api.add_exception_handler(InvalidIdentifier, handle)

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

    settings = app.settings

    @api.post(
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
    def append(body: RawBody) -> list[dict[str, Any]]:
        try:
            raw = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
        events = parse_batch(
            raw, max_batch=settings.max_batch, allow_test_codes=settings.test_codes_allowed
        )
        return [a.to_dict() for a in app.append(events)]

    @api.get("/v1/seekers/{seeker_id}/events", summary="A seeker's history, paged by version")
    def history(
        seeker_id: UUID,
        after_version: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        as_of: Annotated[datetime | None, Query(description="recorded time: as known then")] = None,
    ) -> dict[str, Any]:
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

    @api.get("/v1/feed", summary="The global order of events, for downstream consumers")
    def feed(
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        items = app.feed(after, limit)
        return {"events": items, "next_after": items[-1]["position"] if items else after}

    @api.post(
        "/v1/seekers/lookup",
        response_model=LookupPublic,
        summary="Identity code → seeker ids, through the keyed hash",
    )
    def lookup(body: LookupRequest) -> dict[str, Any]:
        return {"seeker_ids": app.lookup_person(body.personal_identity_code)}

    if obligations is not None:
        _obligation_routes(api, app, obligations)

    @api.get("/health", summary="Liveness and the store's position")
    def health() -> dict[str, Any]:
        return {"status": "ok", "position": app.recorder.max_notification_id() or 0}

    return api


def _obligation_routes(api: FastAPI, app: TimelineApp, view: ObligationsView) -> None:
    @api.get(
        "/v1/seekers/{seeker_id}/obligations",
        summary="A seeker's obligations as on a day (optionally as known at a moment)",
    )
    def seeker_obligations(
        seeker_id: UUID,
        on: Annotated[date | None, Query(description="the day; default: today")] = None,
        as_of: Annotated[datetime | None, Query(description="only events recorded by then")] = None,
    ) -> dict[str, Any]:
        day = on or app.clock().astimezone(HELSINKI).date()
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
        on: Annotated[date | None, Query(description="the day; default: today")] = None,
        status: Annotated[Status | None, Query()] = None,
        municipality: Annotated[str | None, Query(pattern=r"^[0-9]{3}$")] = None,
        coach: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        day = on or app.clock().astimezone(HELSINKI).date()
        items = view.worklist(
            day, status=status, municipality=municipality, coach=coach, limit=limit
        )
        return {"on": day.isoformat(), "position": view.runner.position(), "items": items}
