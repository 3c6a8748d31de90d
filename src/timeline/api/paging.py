"""The paged lists — worklists and the access log — as FastAPI dependencies: the caller's role
and scope are judged here (refusals logged) before a route reads, and each page's opaque
cursor: ``?cursor=`` takes what the previous page answered as ``next_cursor``. A cursor
carries the first request's filters and where the next page starts, as base64url JSON, so the
scope is judged again on every page; clients treat it as a token."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Query, Request
from pydantic import Field, TypeAdapter, ValidationError

from timeline.api.deps import Caller, Guard, check_scope, guard_of, refuse_for_scope
from timeline.api.problems import BadRequest
from timeline.audit.access_log import Access
from timeline.auth import Principal, require
from timeline.domain.rules import Status
from timeline.vocabulary import Day, Instant, Text

T = TypeVar("T")


def encode_cursor(route: str, **fields: Any) -> str:
    text = json.dumps({"r": route, **fields}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, route: str, shape: TypeAdapter[T]) -> T:
    """The fields of a cursor this route gave, as ``shape``; 422 naming ``cursor`` for
    anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        if isinstance(fields, dict) and fields.pop("r", None) == route:
            return shape.validate_python(fields)
    except (binascii.Error, ValueError, ValidationError):
        pass
    raise BadRequest(
        f"not a cursor of {route}: pass next_cursor from the previous page as it was",
        status=422,
        title="Invalid request",
        loc="query.cursor",
    )


# -- worklists and the access log: the scope decided here, before the route reads ------------


@dataclass(frozen=True)
class WorklistQuery:
    """A worklist request its caller may make (role and scope checked), with where the page
    starts: ``on`` is None for today (the route asks the clock), unless a cursor fixed it."""

    caller: Principal
    on: date | None
    status: Status | None
    municipality: str | None
    coach: str | None
    limit: int
    offset: int

    @property
    def fetch(self) -> int:
        """How many items to read: one more than a page, to know whether another follows."""
        return self.limit + 1

    def page(self, on: date, items: list[T]) -> tuple[list[T], str | None]:
        """This page of the ``items`` read, and the cursor of the next (None: the last)."""
        if len(items) <= self.limit:
            return items, None
        cursor = encode_cursor(
            "worklist",
            on=on.isoformat(),
            status=self.status,
            municipality=self.municipality,
            coach=self.coach,
            offset=self.offset + self.limit,
        )
        return items[: self.limit], cursor


@dataclass(frozen=True)
class _WorklistCursor:
    on: date
    status: Status | None
    municipality: str | None
    coach: str | None
    offset: Annotated[int, Field(ge=0)]


_WORKLIST_CURSOR = TypeAdapter(_WorklistCursor)


def _worklist_query(
    request: Request,
    caller: Caller,
    on: Annotated[Day | None, Query(description="the day; default: today")] = None,
    status: Annotated[Status | None, Query()] = None,
    municipality: Annotated[str | None, Query(pattern=r"^[0-9]{3}$")] = None,
    coach: Annotated[Text | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="next_cursor of the previous page (it carries the "
            "day and the filters of the first page)",
        ),
    ] = None,
) -> WorklistQuery:
    require(caller, "worklist")
    offset = 0
    if cursor is not None:
        page = decode_cursor(cursor, "worklist", _WORKLIST_CURSOR)
        on, status, municipality, coach, offset = (
            page.on,
            page.status,
            page.municipality,
            page.coach,
            page.offset,
        )
    asked = {"municipality": municipality, "status": status, "coach": coach}
    if caller.scope is not None and municipality is None:
        reason = f"name a municipality of your scope: {', '.join(sorted(caller.scope))}"
        refuse_for_scope(guard_of(request), caller, "worklist", "worklist", asked, reason)
    if not caller.covers(municipality):
        reason = f"municipality {municipality} is outside your scope"
        refuse_for_scope(guard_of(request), caller, "worklist", "worklist", asked, reason)
    return WorklistQuery(caller, on, status, municipality, coach, limit, offset)


#: A worklist request, once its caller may make it (a refusal is logged).
WorklistAccess = Annotated[WorklistQuery, Depends(_worklist_query)]


def log_worklist(guard: Guard, query: WorklistQuery, on: date, rows: int) -> None:
    """A worklist page read, in the access log."""
    guard.access_log.record(
        actor=query.caller.actor,
        role=query.caller.role,
        action="worklist",
        seeker_id=None,
        purpose="worklist",
        detail={
            "on": on.isoformat(),
            "status": query.status,
            "municipality": query.municipality,
            "coach": query.coach,
            "rows": rows,
        },
    )


@dataclass(frozen=True)
class AccessLogQuery:
    """An access-log request its caller may make; ``after`` is the entry the page follows."""

    seeker_id: str | None
    actor: str | None
    since: datetime | None
    until: datetime | None
    limit: int
    after: int

    @property
    def fetch(self) -> int:
        """How many entries to read: one more than a page, to know whether another follows."""
        return self.limit + 1

    def page(self, rows: list[Access]) -> tuple[list[Access], str | None]:
        """This page of the entries read, and the cursor of the next (None: the last)."""
        if len(rows) <= self.limit:
            return rows, None
        cursor = encode_cursor(
            "access-log",
            seeker_id=self.seeker_id,
            actor=self.actor,
            since=self.since.isoformat() if self.since else None,
            until=self.until.isoformat() if self.until else None,
            after=rows[self.limit - 1].seq,
        )
        return rows[: self.limit], cursor


@dataclass(frozen=True)
class _AccessLogCursor:
    seeker_id: UUID | None
    actor: str | None
    since: datetime | None
    until: datetime | None
    after: Annotated[int, Field(ge=0)]


_ACCESS_LOG_CURSOR = TypeAdapter(_AccessLogCursor)


def _access_log_query(
    request: Request,
    caller: Caller,
    seeker_id: UUID | None = None,
    actor: Annotated[Text | None, Query(max_length=200)] = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    cursor: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="next_cursor of the previous page (it carries the "
            "filters of the first page)",
        ),
    ] = None,
) -> AccessLogQuery:
    require(caller, "access_log")
    query = AccessLogQuery(
        seeker_id=str(seeker_id) if seeker_id else None,
        actor=actor,
        since=from_,
        until=to,
        limit=limit,
        after=0,
    )
    if cursor is not None:
        page = decode_cursor(cursor, "access-log", _ACCESS_LOG_CURSOR)
        seeker = str(page.seeker_id) if page.seeker_id else None
        query = AccessLogQuery(seeker, page.actor, page.since, page.until, limit, page.after)
    if caller.scope is not None:  # a scoped auditor: the log of one seeker of its scope
        guard = guard_of(request)
        if query.seeker_id is None:
            reason = "name a seeker_id of your scope: the whole log is for scope *"
            refuse_for_scope(guard, caller, "access-log", "access log", {}, reason)
        check_scope(guard, caller, "access log", query.seeker_id, "access-log", {})
    return query


#: An access-log request, once its caller may make it (a refusal is logged).
AccessLogAccess = Annotated[AccessLogQuery, Depends(_access_log_query)]
