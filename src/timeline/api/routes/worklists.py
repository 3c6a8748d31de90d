"""``GET /v1/worklists``: what is open or overdue for an office, paged by an opaque cursor.
The caller's scope is decided by :data:`timeline.api.deps.WorklistAccess`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from timeline.api.deps import Guard
from timeline.api.paging import WorklistAccess, log_worklist
from timeline.api.problems import problem_responses
from timeline.api.replica import FromObligations, served_by_doc
from timeline.api.schemas import Worklist
from timeline.clock import Clock
from timeline.domain.zone import HELSINKI


def router(guard: Guard, clock: Clock) -> APIRouter:
    api = APIRouter(tags=["worklists"])

    @api.get(
        "/v1/worklists",
        response_model=Worklist,
        summary="List what is open or overdue as on a day for an office, a page at a time.",
        description="Items by due date. A page followed by more carries `next_cursor` (null on "
        "the last page); pass it as `?cursor=` (it keeps the day and the filters of the first "
        "page). Each page read is in the access log.",
        responses={**problem_responses(401, 403, 422), **served_by_doc()},
    )
    def worklist(query: WorklistAccess, side: FromObligations) -> dict[str, Any]:
        view = side.obligations
        day = query.on or clock().astimezone(HELSINKI).date()
        items = view.worklist(
            day,
            status=query.status,
            municipality=query.municipality,
            coach=query.coach,
            limit=query.fetch,
            offset=query.offset,
        )
        items, cursor = query.page(day, items)
        log_worklist(guard, query, day, len(items))
        return {
            "on": day.isoformat(),
            "position": view.runner.position(),
            "items": items,
            "next_cursor": cursor,
        }

    return api
