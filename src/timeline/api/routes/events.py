"""``POST /v1/events``: parse and validate the body, hand the events to the writer, answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import pydantic_core
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from timeline import telemetry
from timeline.api.deps import BEARER_SECURITY, Guard, caller_of, log_append_refused, raw_body
from timeline.api.problems import BadRequest, problem_responses
from timeline.api.schemas import EXAMPLE_EVENT, Appended, EventIn
from timeline.auth import Principal, require
from timeline.domain.errors import FieldError, OutOfScope
from timeline.results import Appended as Written
from timeline.settings import Settings
from timeline.vocabulary import (
    MAX_REPORTED_ERRORS,
    EventValidationError,
    ParsedEvent,
    parse_event,
)

#: Bodies up to this size are parsed on the event loop (a few events: cheaper than a thread
#: hop); larger ones in a worker thread, so other requests (``/health``) are answered meanwhile.
INLINE_BODY_BYTES = 16 * 1024
JSON = "application/json"


class AppendFn(Protocol):
    """How ``POST /v1/events`` appends: ``TimelineApp.append`` or a group committer's
    ``submit``; ``scope`` is the caller's, judged against each seeker inside the decision."""

    def __call__(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None
    ) -> list[Written]: ...


@runtime_checkable
class AsyncAppend(Protocol):
    """A writer the route can await (the group committer): no worker thread waits for the
    commit."""

    async def submit_async(
        self, events: Sequence[ParsedEvent], *, scope: frozenset[str] | None
    ) -> list[Written]: ...


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


def _body_schema(max_batch: int) -> dict[str, Any]:
    """``POST /v1/events``'s body: one event (each type's ``data`` by its ``type``) or an array
    of at most ``max_batch``, as OpenAPI (its definitions among the components)."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/EventIn"},
                        {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/EventIn"},
                            "minItems": 1,
                            "maxItems": max_batch,
                        },
                    ]
                },
                "examples": {
                    "one event": {"value": EXAMPLE_EVENT},
                    "a batch": {"value": [EXAMPLE_EVENT]},
                },
            }
        },
    }


def _status(written: list[Written]) -> int:
    """201 when at least one event is new, 200 when every one was a duplicate."""
    return 200 if all(a.duplicate for a in written) else 201


def answer(written: list[Written]) -> Response:
    """The append's answer: the :class:`~timeline.api.schemas.Appended` items as JSON, written
    straight from the results (every field is already the string, integer or boolean the
    schema says), not validated again against the response model, which only documents them."""
    body = json.dumps(
        [a.to_dict() for a in written], ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )
    return Response(body.encode("utf-8"), status_code=_status(written), media_type=JSON)


def router(write: AppendFn | AsyncAppend, settings: Settings, guard: Guard) -> APIRouter:
    """``POST /v1/events``, appending through ``write`` (see :class:`AppendFn`,
    :class:`AsyncAppend`).

    The hottest route of the service, so it takes the bare request: the caller, the content
    type and the body are judged by the same functions as the :data:`~timeline.api.deps.Caller`
    and :data:`~timeline.api.deps.RawBody` dependencies, in the same order (415, then 401), and
    the answer is written by :func:`answer`; the response model and the ``bearer`` scheme stay
    in the OpenAPI document."""
    api = APIRouter(tags=["events"])
    route = api.post(
        "/v1/events",
        response_model=list[Appended],
        status_code=201,
        summary="Append one event or a batch; all are accepted or none is.",
        description="An event already stored (same `event_id` and content) is answered as a "
        "duplicate with its original position and writes nothing. 201 when at least one event "
        "of the request is new, 200 when every one is a duplicate. The body's schema is "
        "`EventIn` (each type's `data` by its `type`, docs/events.md) or an array of them.",
        openapi_extra={
            "requestBody": _body_schema(settings.max_batch),
            "security": BEARER_SECURITY,
        },
        responses={
            200: {
                "model": list[Appended],
                "description": "every event was already stored (duplicates)",
            },
            **problem_responses(401, 403, 409, 410, 413, 415, 422),
        },
    )
    max_batch, test_codes = settings.max_batch, settings.test_codes_allowed

    def events_of(body: bytes, caller: Principal) -> list[ParsedEvent]:
        """The request's events, once the caller may append them all (else nothing is)."""
        require(caller, "append")
        # The caller's scope is judged inside the append's decision, against each seeker as
        # stored (whose seeker it is now); actor.organisation is a claim, recorded, not trusted.
        return parse_body(body, max_batch=max_batch, allow_test_codes=test_codes)

    if isinstance(write, AsyncAppend):  # the coroutine waits for the commit: no thread held
        submit = write.submit_async
        appended = telemetry.current().appended

        async def append_async(request: Request) -> Response:
            body = await raw_body(request)
            caller = caller_of(request)
            if len(body) > INLINE_BODY_BYTES:  # parsing and validation off the event loop
                events = await run_in_threadpool(events_of, body, caller)
            else:
                events = events_of(body, caller)
            try:
                done = await submit(events, scope=caller.scope)
            except OutOfScope as exc:
                await run_in_threadpool(log_append_refused, guard, caller, exc, events)
                raise
            appended(done)
            return answer(done)

        route(append_async)
    else:
        append_fn = write  # narrowed to AppendFn for the closure

        def append_now(body: bytes, caller: Principal) -> list[Written]:
            events = events_of(body, caller)
            try:
                done = append_fn(events, scope=caller.scope)
            except OutOfScope as exc:
                log_append_refused(guard, caller, exc, events)
                raise
            telemetry.current().appended(done)
            return done

        async def append(request: Request) -> Response:
            body = await raw_body(request)
            caller = caller_of(request)
            # parsing, the append's transaction and a refusal's log entry in a worker thread
            return answer(await run_in_threadpool(append_now, body, caller))

        route(append)
    return api


#: the body's variants, registered among the OpenAPI components by the app factory
BODY_MODELS = (EventIn,)
