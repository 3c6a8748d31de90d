"""Who is calling, with what purpose, and may they read this seeker — as FastAPI dependencies
and the access-log entries that go with them. Routes (and the web view) take these; none of
them checks a scope or writes the access log itself.

Scope is decided by whose seeker it is now: the municipality of its latest effective start or
transfer, from the stored timeline (:func:`timeline.domain.scope.municipality_now`), never from
a projection that may lag behind a transfer, nor from anything the request claims.

The functions take a :class:`Guard` — the application and the access log — which the app
factory keeps in ``app.state.guard`` (the composition root's bundle is one). The paged lists'
dependencies (worklists, the access log) are in :mod:`timeline.api.paging`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, NoReturn, Protocol

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPBearer

from timeline.api.problems import BadRequest
from timeline.application import TimelineApp
from timeline.audit.access_log import AccessLog
from timeline.auth import AuthError, Principal, TokenRegistry, require, require_purpose
from timeline.domain.errors import NotFound, OutOfScope
from timeline.domain.scope import municipality_now
from timeline.vocabulary import ParsedEvent, Text


class Guard(Protocol):
    """What the scope checks and the access log need: the stored timelines and the log."""

    @property
    def app(self) -> TimelineApp: ...

    @property
    def access_log(self) -> AccessLog: ...


def guard_of(request: Request) -> Guard:
    """The request's :class:`Guard` (set by :func:`timeline.api.app.create_app`)."""
    guard: Guard = request.app.state.guard
    return guard


#: Swagger UI's Authorize button: the token goes in ``Authorization: Bearer …``. Only for the
#: OpenAPI document; the header is read and judged by :class:`timeline.auth.TokenRegistry`.
_BEARER = HTTPBearer(
    scheme_name="bearer",
    auto_error=False,
    description="A token of TIMELINE_TOKENS_FILE (`timeline token` prints one); without any "
    "configured tokens (development), every request acts as an admin.",
)


def caller_of(request: Request) -> Principal:
    """The request's authenticated principal (401 without a known token)."""
    tokens: TokenRegistry = request.app.state.tokens
    return tokens.authenticate(request.headers.get("authorization"))


async def _caller(  # async: no thread-pool hop for a few hashes
    request: Request, _: Annotated[object, Security(_BEARER)]
) -> Principal:
    return caller_of(request)


#: What an operation that authenticates the caller itself (:func:`caller_of`, without the
#: :data:`Caller` dependency) declares in the OpenAPI document: the ``bearer`` scheme.
BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]


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


def seeker_municipality(guard: Guard, seeker_id: str) -> str | None:
    """The municipality the seeker belongs to now, from its stored timeline (None: unknown
    seeker, or no start in effect)."""
    try:
        return municipality_now(guard.app.facts(seeker_id))
    except NotFound:
        return None


def check_scope(
    guard: Guard,
    caller: Principal,
    purpose: str,
    seeker_id: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    """Refuse (and log the refusal of) a scoped caller's ``action`` on a seeker that is not in
    its scope now."""
    if caller.scope is None or caller.covers(seeker_municipality(guard, seeker_id)):
        return
    refuse_for_scope(
        guard,
        caller,
        action,
        purpose,
        detail,
        "this seeker is outside your organisation scope",
        seeker_id=seeker_id,
    )


def refuse_for_scope(
    guard: Guard,
    caller: Principal,
    action: str,
    purpose: str,
    detail: dict[str, Any],
    reason: str,
    *,
    seeker_id: str | None = None,
) -> NoReturn:
    """Log a refusal for scope as ``<action>:denied`` (beside the reads), then refuse (403)."""
    guard.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action=f"{action}:denied",
        seeker_id=seeker_id,
        purpose=purpose,
        detail={**detail, "reason": reason},
    )
    raise AuthError(403, reason)


def personal_read(
    guard: Guard,
    access: tuple[Principal, str],
    seeker_id: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    """Check the role and scope for reading one seeker; log the read (or the refusal)."""
    caller, purpose = access
    require(caller, "read_personal")
    check_scope(guard, caller, purpose, seeker_id, action, detail)
    guard.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action=action,
        seeker_id=seeker_id,
        purpose=purpose,
        detail=detail,
    )


def log_append_refused(
    guard: Guard, caller: Principal, exc: OutOfScope, events: Sequence[ParsedEvent]
) -> None:
    """An append refused for scope, in the access log beside the refused reads."""
    refused = events[exc.index] if exc.index is not None and exc.index < len(events) else None
    guard.access_log.record(
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


def lookup_in_scope(guard: Guard, access: tuple[Principal, str], found: Sequence[str]) -> list[str]:
    """The seekers of a look-up the caller may know of (those in its scope now), with the
    look-up in the access log: the seekers answered, and one entry per seeker withheld (so a
    seeker's own log shows who looked for them from outside its scope)."""
    caller, purpose = access
    shown = (
        list(found)
        if caller.scope is None
        else [s for s in found if caller.covers(seeker_municipality(guard, s))]
    )
    withheld = [s for s in found if s not in shown]
    guard.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="lookup",
        seeker_id=shown[0] if len(shown) == 1 else None,
        purpose=purpose,
        detail={"found": shown, "withheld": len(withheld)},
    )
    for seeker_id in withheld:
        guard.access_log.record(
            actor=caller.actor,
            role=caller.role,
            action="lookup:denied",
            seeker_id=seeker_id,
            purpose=purpose,
            detail={"reason": "outside the caller's scope"},
        )
    return shown


def require_every_municipality(
    guard: Guard, access: tuple[Principal, str], action: str, what: str
) -> None:
    """Refuse (and log) a scoped caller something that spans every municipality (the feed)."""
    caller, purpose = access
    if caller.scope is not None:
        refuse_for_scope(
            guard,
            caller,
            action,
            purpose,
            {},
            f"{what} holds every municipality's seekers: only a token whose scope is * may read it",
        )


def log_feed_page(
    guard: Guard, access: tuple[Principal, str], after: int, items: Sequence[dict[str, Any]]
) -> None:
    """One access-log entry per page of the feed that carried events (an empty page shows no
    one's data and is not logged): the positions and how many events and seekers."""
    if not items:
        return
    caller, purpose = access
    guard.access_log.record(
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


def log_quarantine_read(
    guard: Guard, access: tuple[Principal, str], projection: str | None, rows: int
) -> None:
    """A read of the quarantine (its entries name seekers), in the access log."""
    caller, purpose = access
    guard.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="quarantine",
        seeker_id=None,
        purpose=purpose,
        detail={"projection": projection, "rows": rows},
    )


# -- bodies ------------------------------------------------------------------------------------


def _json_content(request: Request) -> None:
    """Refuse (415) a body that does not say it is JSON: ``application/json`` or
    ``application/*+json``, in UTF-8."""
    header = request.headers.get("content-type", "")
    media, *params = (part.strip().lower() for part in header.split(";"))
    kind, _, subtype = media.partition("/")
    charsets = {p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")}
    json = kind == "application" and (subtype == "json" or subtype.endswith("+json"))
    if not json or not charsets <= {"utf-8", "utf8"}:
        shown = repr(header) if header else "a body without a content-type"
        raise BadRequest(
            f"the body must be JSON in UTF-8 (content-type: application/json), not {shown}",
            status=415,
            title="Unsupported media type",
        )


#: for routes whose body the framework parses (a model parameter)
JsonContent = Depends(_json_content)


async def raw_body(request: Request) -> bytes:
    """The request's body, once its content type says JSON in UTF-8 (else 415, unread)."""
    _json_content(request)
    return await request.body()


#: The raw request body: validation is ours, so errors can name every bad event of a batch.
RawBody = Annotated[bytes, Depends(raw_body)]
