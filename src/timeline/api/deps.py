"""Who is calling, with what purpose, and may they read this seeker — as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request

from timeline.auth import AuthError, Principal, require, require_purpose
from timeline.bootstrap import Services
from timeline.domain.errors import NotFound
from timeline.vocabulary import Text


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _caller(  # async: no thread-pool hop for a few hashes
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    return _services(request).tokens.authenticate(authorization)


#: The authenticated principal (role + organisation scope).
Caller = Annotated[Principal, Depends(_caller)]


def _access(
    caller: Caller,
    x_purpose: Annotated[
        Text | None, Header(max_length=500, description="why this personal data is read")
    ] = None,
    purpose: Annotated[Text | None, Query(max_length=500)] = None,
) -> tuple[Principal, str]:
    return caller, require_purpose(caller, x_purpose or purpose)


#: The caller and the purpose they stated (refused if their role must state one).
Access = Annotated[tuple[Principal, str], Depends(_access)]


def seeker_municipality(services: Services, seeker_id: str) -> str | None:
    """The seeker's municipality now (latest start or transfer), from the obligations tables,
    falling back to the timeline itself before the projection has caught up."""
    with services.db.transaction() as tx:
        rows = tx.execute(
            "SELECT municipality FROM obligations_seekers WHERE seeker_id = ?", [seeker_id]
        )
    if rows:
        return str(rows[0][0]) if rows[0][0] is not None else None
    try:
        facts = services.app.facts(seeker_id)
    except NotFound:
        return None
    municipality = None
    for f in facts:
        if f.type == "job_search_started":
            municipality = str(f.data.get("municipality"))
        elif f.type == "seeker_transferred":
            municipality = str(f.data.get("to_municipality"))
    return municipality


def personal_read(
    services: Services,
    access: tuple[Principal, str],
    seeker_id: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    """Check the role and scope for reading one seeker; log the read (or the refusal)."""
    caller, purpose = access
    require(caller, "read_personal")
    if caller.scope is not None and not caller.covers(seeker_municipality(services, seeker_id)):
        services.access_log.record(
            actor=caller.actor,
            role=caller.role,
            action=f"{action}:denied",
            seeker_id=seeker_id,
            purpose=purpose,
            detail=detail,
        )
        raise AuthError(403, "this seeker is outside your organisation scope")
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action=action,
        seeker_id=seeker_id,
        purpose=purpose,
        detail=detail,
    )
