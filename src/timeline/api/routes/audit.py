"""The feed (every seeker's events in the global order) and the access log, for auditors and
downstream consumers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from timeline.api.deps import (
    FeedAccess,
    Guard,
    log_feed_page,
    require_every_municipality,
)
from timeline.api.paging import AccessLogAccess
from timeline.api.problems import problem_responses
from timeline.api.replica import FromLog, served_by_doc
from timeline.api.schemas import AccessLogPage, Feed
from timeline.audit.access_log import AccessLog
from timeline.vocabulary import MAX_INT64


def router(access_log: AccessLog, guard: Guard) -> APIRouter:
    api = APIRouter(tags=["audit"])

    @api.get(
        "/v1/feed",
        response_model=Feed,
        summary="Follow the global order of events, for downstream consumers.",
        description="For tokens of scope `*`. Pass `next_after` as `?after=` for the next page. "
        "Each page that carries events is in the access log.",
        responses={**problem_responses(401, 403, 422), **served_by_doc()},
    )
    def feed(
        access: FeedAccess,
        side: FromLog,
        after: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        require_every_municipality(guard, access, "feed", "the feed")
        items = side.app.feed(after, limit)
        log_feed_page(guard, access, after, items)  # every seeker's payloads: logged
        return {"events": items, "next_after": items[-1]["position"] if items else after}

    @api.get(
        "/v1/access-log",
        response_model=AccessLogPage,
        summary="Read who read which personal timeline, when and why, a page at a time.",
        description="A scoped auditor reads the log of one seeker of its scope (`seeker_id`). "
        "A page followed by more carries `next_cursor` (null on the last page); pass it as "
        "`?cursor=` (it keeps the filters of the first page).",
        responses=problem_responses(401, 403, 422),
    )
    def read_access_log(query: AccessLogAccess) -> dict[str, Any]:
        rows = access_log.query(
            seeker_id=query.seeker_id,
            actor=query.actor,
            since=query.since,
            until=query.until,
            limit=query.fetch,
            after=query.after,
        )
        rows, cursor = query.page(rows)
        return {"entries": [r.to_dict() for r in rows], "next_cursor": cursor}

    return api
