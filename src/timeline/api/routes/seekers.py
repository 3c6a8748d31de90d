"""One seeker: the history (as known at a moment), the obligations on a day, and the look-up
by identity code. Each route checks the caller through :mod:`timeline.api.deps`, asks the
application or the obligations view, and answers."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from projections.obligations import Unevaluable
from timeline.api.deps import Access, Guard, JsonContent, LookupAccess, lookup_in_scope
from timeline.api.deps import personal_read as log_personal_read
from timeline.api.problems import BadRequest, problem_responses
from timeline.api.replica import FromLog, FromObligations, served_by_doc
from timeline.api.schemas import History, Lookup, LookupRequest, Obligations
from timeline.application import TimelineApp
from timeline.domain.errors import NotFound
from timeline.domain.zone import HELSINKI
from timeline.vocabulary import MAX_INT64, Day, Instant

_READ = problem_responses(401, 403, 404, 422)


def router(app: TimelineApp, guard: Guard) -> APIRouter:
    """``app``: the primary (look-ups); the history and the obligations are read from the side
    :mod:`timeline.api.replica` chooses. Scope checks and the access log are ``guard``'s (the
    primary's)."""
    api = APIRouter(tags=["seekers"])

    @api.get(
        "/v1/seekers/{seeker_id}/events",
        response_model=History,
        summary="Read a seeker's history, paged by version, as known at a moment if asked.",
        responses={**_READ, **served_by_doc()},
    )
    def history(
        seeker_id: UUID,
        access: Access,
        side: FromLog,
        after_version: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        as_of: Annotated[Instant | None, Query(description="recorded time: as known then")] = None,
    ) -> dict[str, Any]:
        shown_as_of = as_of.isoformat() if as_of else None
        detail = {"as_of": shown_as_of, "after_version": after_version}
        log_personal_read(guard, access, str(seeker_id), "history", detail)
        entries = side.app.history(
            str(seeker_id), as_of=as_of, after_version=after_version, limit=limit + 1
        )
        more = len(entries) > limit
        entries = entries[:limit]
        return {
            "seeker_id": str(seeker_id),
            "as_of": shown_as_of,
            "events": [e.to_dict() for e in entries],
            "next_after_version": entries[-1].index.version if more and entries else None,
        }

    @api.get(
        "/v1/seekers/{seeker_id}/obligations",
        response_model=Obligations,
        summary="Read a seeker's obligations as on a day, as known at a moment if asked.",
        responses={**_READ, **problem_responses(409), **served_by_doc()},
    )
    def seeker_obligations(
        seeker_id: UUID,
        access: Access,
        side: FromObligations,
        on: Annotated[Day | None, Query(description="the day; default: today")] = None,
        as_of: Annotated[Instant | None, Query(description="only events recorded by then")] = None,
    ) -> dict[str, Any]:
        view = side.obligations
        day = on or app.clock().astimezone(HELSINKI).date()
        view.check_day(day)  # a day no ruleset covers is refused (422) before any read
        shown_as_of = as_of.isoformat() if as_of else None
        detail = {"on": day.isoformat(), "as_of": shown_as_of}
        log_personal_read(guard, access, str(seeker_id), "obligations", detail)
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
            "as_of": shown_as_of,
            "position": view.runner.position(),
            # why these rows are not current (the seeker is quarantined), else null
            "stale": view.stale(str(seeker_id)),
            "obligations": obligations,
        }

    @api.post(
        "/v1/seekers/lookup",
        response_model=Lookup,
        summary="Find the seekers of an identity code, through its keyed hash.",
        description="Only seekers of the caller's scope are answered; one found elsewhere is "
        "answered as unknown (and the withheld look-up is logged on that seeker).",
        dependencies=[JsonContent],
        responses=problem_responses(401, 403, 413, 415, 422),
    )
    def lookup(body: LookupRequest, access: LookupAccess) -> dict[str, Any]:
        found = lookup_in_scope(guard, access, app.lookup_person(body.personal_identity_code))
        return {"seeker_ids": found}

    return api
