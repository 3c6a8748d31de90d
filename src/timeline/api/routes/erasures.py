"""The erasure register over HTTP, for admins (docs/erasure.md): erase a seeker
(``POST /v1/admin/erasures``) and read the register (``GET /v1/admin/erasures``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from timeline.api.deps import Caller, JsonContent
from timeline.api.problems import BadRequest, problem_responses
from timeline.api.schemas import Erased, ErasurePage, ErasureRequest
from timeline.auth import require
from timeline.erasure import Eraser, ErasureLookup
from timeline.erasure.service import NotErasable
from timeline.vocabulary import MAX_INT64


def router(eraser: Eraser, register: ErasureLookup) -> APIRouter:
    api = APIRouter(tags=["admin"])

    @api.post(
        "/v1/admin/erasures",
        response_model=Erased,
        status_code=201,
        summary="Erase a seeker's personal data (irreversible), keeping the proof.",
        description="Records the erasure in the hash-chained erasure register and clears the "
        "seeker's identity-code hash from the event index (one transaction), destroys the "
        "seeker's data key, drops cached copies. Kept: every event's type, times, position, "
        "clear fields, digest and chain hash (`timeline verify` still passes, statistics do "
        "not change). Afterwards the history shows `erased: true` and no payload, an append "
        "is refused with 410 and a look-up does not find the person. 201 when erased now; "
        "200 when the seeker was already in the register (the steps an interrupted erasure "
        "left undone are completed). 409 when the seeker has events stored before form 2 (personal "
        "fields in clear, which no key seals: migrate the store first). Admins only.",
        dependencies=[JsonContent],
        responses={
            200: {"model": Erased, "description": "already erased (nothing else changed)"},
            **problem_responses(401, 403, 404, 409, 413, 415, 422),
        },
    )
    def erase(body: ErasureRequest, caller: Caller, response: Response) -> dict[str, Any]:
        require(caller, "erase")
        try:
            outcome = eraser.erase(
                str(body.seeker_id),
                reason=body.reason,
                authority=body.authority,
                actor=caller.actor,
            )
        except NotErasable as exc:
            raise BadRequest(str(exc), status=409, title="Not erasable") from None
        except ValueError as exc:  # (a text blank once stripped)
            field = "authority" if str(exc).startswith("authority") else "reason"
            raise BadRequest(str(exc), status=422, title="Invalid request", loc=field) from None
        if outcome.already:
            response.status_code = 200
        return outcome.to_dict()

    @api.get(
        "/v1/admin/erasures",
        response_model=ErasurePage,
        summary="Read the erasure register, a page at a time, in number order.",
        description="Who erased which seeker, when, why, on whose authority, and which events "
        "the erasure covered. Admins only.",
        responses=problem_responses(401, 403, 422),
    )
    def entries(
        caller: Caller,
        after: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        require(caller, "erase")
        found = register.entries(after=after, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return {
            "entries": [e.to_dict() for e in found],
            "next_after": found[-1].seq if more and found else None,
        }

    return api
