"""Errors as RFC 9457 problem documents: one table maps every refusal to its status."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

from timeline.api.schemas import Problem
from timeline.auth import AuthError
from timeline.domain.errors import (
    Conflict,
    FieldError,
    InvalidEvent,
    NoRuleset,
    NotFound,
    OutOfScope,
    SeekerGone,
    TimelineError,
)
from timeline.domain.identity import InvalidIdentifier
from timeline.vocabulary import MAX_REPORTED_ERRORS, EventValidationError

PROBLEM_TYPES = "https://timeline.example/problems/"
#: errors quoted in a problem's ``detail`` (all of the first MAX_REPORTED_ERRORS are in
#: ``errors``)
DETAIL_ERRORS = 10


class BadRequest(TimelineError):
    """A refusal of the edge; ``loc`` names the field at fault (``query.area``)."""

    def __init__(
        self,
        detail: str,
        *,
        status: int = 400,
        title: str = "Bad request",
        loc: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.title = title
        self.loc = loc


def _errors(errors: list[FieldError], index: int | None) -> list[dict[str, str]]:
    prefix = f"[{index}]." if index is not None else ""
    return [{"loc": prefix + e.loc, "msg": e.msg, "type": e.kind} for e in errors]


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_TYPES + slug, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def invalid(
    status: int,
    slug: str,
    title: str,
    errors: list[dict[str, str]],
    omitted: int = 0,
) -> JSONResponse:
    """A refusal listing field errors: the first :data:`MAX_REPORTED_ERRORS`, and how many more
    there were (``errors_omitted``)."""
    omitted += max(len(errors) - MAX_REPORTED_ERRORS, 0)
    errors = errors[:MAX_REPORTED_ERRORS]
    quoted = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:DETAIL_ERRORS])
    more = len(errors) - DETAIL_ERRORS + omitted
    detail = quoted + (f" (and {more} more)" if more > 0 else "")
    extra: dict[str, Any] = {"errors": errors}
    if omitted:
        extra["errors_omitted"] = omitted
    return problem(status, slug, title, detail, **extra)


def to_problem(exc: Exception) -> JSONResponse:
    """The one table from refusal to answer."""
    if isinstance(exc, OutOfScope | SeekerGone):  # (before InvalidEvent: SeekerGone is one)
        where = f"event [{exc.index}]: " if exc.index is not None else ""
        status, slug, title = (
            (403, "out-of-scope", "Forbidden")
            if isinstance(exc, OutOfScope)
            else (410, "seeker-erased", "Gone")
        )
        return problem(
            status,
            slug,
            title,
            where + str(exc),
            event_id=exc.event_id,
            seeker_id=exc.seeker_id,
            errors=_errors(exc.errors, exc.index),
        )
    if isinstance(exc, (InvalidEvent, EventValidationError)):
        index = exc.index if isinstance(exc, InvalidEvent) else None
        omitted = exc.omitted if isinstance(exc, EventValidationError) else 0
        # each error's path names the event of a batch: [3].data.service_id
        return invalid(422, "invalid-event", "Invalid event", _errors(exc.errors, index), omitted)
    if isinstance(exc, Conflict):
        return problem(
            409,
            "conflict",
            "Conflict",
            exc.detail,
            event_id=exc.event_id,
            seeker_id=exc.seeker_id,
            current_version=exc.current_version,
            errors=[
                {
                    "loc": (f"[{exc.index}]." if exc.index is not None else "")
                    + ("expected_version" if exc.current_version is not None else "event_id"),
                    "msg": exc.detail,
                    "type": "conflict",
                }
            ],
        )
    if isinstance(exc, InvalidIdentifier):
        return problem(
            422,
            "invalid-identifier",
            "Invalid identifier",
            str(exc),
            errors=[{"loc": "personal_identity_code", "msg": str(exc), "type": "value_error"}],
        )
    if isinstance(exc, AuthError):
        title = "Unauthorized" if exc.status == 401 else "Forbidden"
        response = problem(exc.status, title.lower(), title, exc.detail)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    if isinstance(exc, NoRuleset):
        return problem(
            422,
            "no-ruleset",
            "No ruleset covers the day",
            exc.detail,
            earliest=exc.earliest.isoformat(),
            errors=[{"loc": exc.field, "msg": exc.detail, "type": "no_ruleset"}],
        )
    if isinstance(exc, NotFound):
        return problem(404, "not-found", "Not found", str(exc))
    if isinstance(exc, BadRequest):
        slug = exc.title.lower().replace(" ", "-")
        if exc.loc is None:
            return problem(exc.status, slug, exc.title, exc.detail)
        errors = [{"loc": exc.loc, "msg": exc.detail, "type": "value_error"}]
        return problem(exc.status, slug, exc.title, f"{exc.loc}: {exc.detail}", errors=errors)
    if isinstance(exc, HTTPException):
        # the framework's own refusals (no such route, method not allowed, an unreadable body)
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "Error"
        response = problem(exc.status_code, title.lower().replace(" ", "-"), title, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response
    return problem(500, "internal", "Internal error", "the service failed; nothing was written")


async def handle(_: Request, exc: Exception) -> JSONResponse:
    return to_problem(exc)


async def busy(_: Request, exc: Exception) -> JSONResponse:
    """503 at once (``Retry-After: 1``) for a request that found no free connection in time,
    or whose database connection failed, instead of failing after a long wait."""
    if isinstance(exc, PoolTimeout) or isinstance(exc.__cause__, PoolTimeout):
        response = problem(
            503, "busy", "Service busy", "no database connection became free in time; retry shortly"
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


#: what each refusal means, in the OpenAPI document
_MEANING = {
    400: "the request cannot be read (e.g. a body that is not JSON)",
    401: "no token, or a token that is not configured",
    403: "the token's role or scope does not allow this (logged as a refusal)",
    404: "no such seeker, route or item",
    405: "the route does not take this method",
    410: "the seeker's personal data was erased: nothing may be appended to it",
    409: "a conflict: an event id reused with other content, a stale expected_version, or "
    "obligations that cannot be evaluated now",
    413: "the body is larger than TIMELINE_MAX_BODY_BYTES, or the batch than TIMELINE_MAX_BATCH",
    415: "the body is not labelled application/json (UTF-8)",
    422: "invalid input: `errors` names each field path and the reason",
    503: "the store or a connection pool is not available now; retry (Retry-After)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of these statuses, each a problem document (:class:`Problem`; the app
    factory serves them as ``application/problem+json``)."""
    return {s: {"model": Problem, "description": _MEANING[s]} for s in statuses}
