"""Who is calling, with what purpose, and may they read this seeker — as FastAPI dependencies.

Scope is decided by whose seeker it is now: the municipality of its latest effective start or
transfer, from the stored timeline (:func:`timeline.domain.scope.municipality_now`), never from
a projection that may lag behind a transfer, nor from anything the request claims."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Header, Query, Request

from timeline.auth import AuthError, Principal, require, require_purpose
from timeline.bootstrap import Services
from timeline.domain.errors import NotFound, OutOfScope
from timeline.domain.scope import municipality_now
from timeline.vocabulary import ParsedEvent, Text


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _caller(  # async: no thread-pool hop for a few hashes
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    return _services(request).tokens.authenticate(authorization)


#: The authenticated principal (role + organisation scope).
Caller = Annotated[Principal, Depends(_caller)]


def _access_for(permission: str, what: str) -> Callable[..., tuple[Principal, str]]:
    """A dependency: the caller, once its role may ``permission``, and the purpose it stated."""

    def access(
        caller: Caller,
        x_purpose: Annotated[
            Text | None, Header(max_length=500, description="why this personal data is read")
        ] = None,
        purpose: Annotated[Text | None, Query(max_length=500)] = None,
    ) -> tuple[Principal, str]:
        require(caller, permission)
        return caller, require_purpose(caller, x_purpose or purpose, what)

    return access


#: The caller and the purpose they stated for reading a personal timeline or its obligations.
Access = Annotated[
    tuple[Principal, str], Depends(_access_for("read_personal", "reading a personal timeline"))
]
#: The caller and the purpose they stated for looking a person up by identity code.
LookupAccess = Annotated[
    tuple[Principal, str], Depends(_access_for("lookup", "looking up a person"))
]
#: The caller and the purpose they stated for reading the feed (every seeker's events).
FeedAccess = Annotated[tuple[Principal, str], Depends(_access_for("feed", "reading the feed"))]


def seeker_municipality(services: Services, seeker_id: str) -> str | None:
    """The municipality the seeker belongs to now, from its stored timeline (None: unknown
    seeker, or no start in effect)."""
    try:
        return municipality_now(services.app.facts(seeker_id))
    except NotFound:
        return None


def check_scope(
    services: Services,
    caller: Principal,
    purpose: str,
    seeker_id: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    """Refuse (and log the refusal of) a scoped caller's ``action`` on a seeker that is not in
    its scope now."""
    if caller.scope is None or caller.covers(seeker_municipality(services, seeker_id)):
        return
    refuse_for_scope(
        services,
        caller,
        action,
        purpose,
        detail,
        "this seeker is outside your organisation scope",
        seeker_id=seeker_id,
    )


def refuse_for_scope(
    services: Services,
    caller: Principal,
    action: str,
    purpose: str,
    detail: dict[str, Any],
    reason: str,
    *,
    seeker_id: str | None = None,
) -> NoReturn:
    """Log a refusal for scope as ``<action>:denied`` (beside the reads), then refuse (403)."""
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action=f"{action}:denied",
        seeker_id=seeker_id,
        purpose=purpose,
        detail={**detail, "reason": reason},
    )
    raise AuthError(403, reason)


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
    check_scope(services, caller, purpose, seeker_id, action, detail)
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action=action,
        seeker_id=seeker_id,
        purpose=purpose,
        detail=detail,
    )


def log_append_refused(
    services: Services, caller: Principal, exc: OutOfScope, events: Sequence[ParsedEvent]
) -> None:
    """An append refused for scope, in the access log beside the refused reads."""
    refused = events[exc.index] if exc.index is not None and exc.index < len(events) else None
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="append:denied",
        seeker_id=exc.seeker_id,
        purpose="append",
        detail={
            "index": exc.index,
            "event_id": exc.event_id,
            "type": refused.type if refused is not None else None,
            "events": len(events),
            "reason": str(exc),
        },
    )


def lookup_in_scope(
    services: Services, access: tuple[Principal, str], found: Sequence[str]
) -> list[str]:
    """The seekers of a look-up the caller may know of (those in its scope now), with the
    look-up in the access log: the seekers answered, and one entry per seeker withheld (so a
    seeker's own log shows who looked for them from outside its scope)."""
    caller, purpose = access
    shown = (
        list(found)
        if caller.scope is None
        else [s for s in found if caller.covers(seeker_municipality(services, s))]
    )
    withheld = [s for s in found if s not in shown]
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="lookup",
        seeker_id=shown[0] if len(shown) == 1 else None,
        purpose=purpose,
        detail={"found": shown, "withheld": len(withheld)},
    )
    for seeker_id in withheld:
        services.access_log.record(
            actor=caller.actor,
            role=caller.role,
            action="lookup:denied",
            seeker_id=seeker_id,
            purpose=purpose,
            detail={"reason": "outside the caller's scope"},
        )
    return shown


def require_every_municipality(
    services: Services, access: tuple[Principal, str], action: str, what: str
) -> None:
    """Refuse (and log) a scoped caller something that spans every municipality (the feed)."""
    caller, purpose = access
    if caller.scope is not None:
        refuse_for_scope(
            services,
            caller,
            action,
            purpose,
            {},
            f"{what} holds every municipality's seekers: only a token whose scope is * may read it",
        )


def log_feed_page(
    services: Services, access: tuple[Principal, str], after: int, items: Sequence[dict[str, Any]]
) -> None:
    """One access-log entry per page of the feed that carried events (an empty page shows no
    one's data and is not logged): the positions and how many events and seekers."""
    if not items:
        return
    caller, purpose = access
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="feed",
        seeker_id=None,
        purpose=purpose,
        detail={
            "after": after,
            "first": items[0]["position"],
            "last": items[-1]["position"],
            "count": len(items),
            "seekers": len({i["seeker_id"] for i in items}),
        },
    )
