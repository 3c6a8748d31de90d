"""The request body's size limit, as ASGI middleware: a body over the limit is refused with a
413 problem document before the rest of it is read."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from timeline.api.problems import problem, to_problem


class BodyTooLarge(HTTPException):
    """Raised by the limited ``receive`` when the body passes the limit. An HTTP exception, so
    the framework answers it with the route's exception handlers (a problem document) wherever
    the body was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than {limit} bytes, the most this route takes "
            "(POST /v1/events: TIMELINE_MAX_BODY_BYTES; send fewer events per request)",
        )


class BodyLimit:
    """Refuse request bodies over the limit of their path (``limits``, else ``default``) in
    bytes: at once, unread, when ``Content-Length`` declares more; else as soon as the bytes
    received pass the limit (a streamed body), without receiving the rest."""

    def __init__(self, app: ASGIApp, default: int, limits: Mapping[str, int]) -> None:
        self.app = app
        self.default = default
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isascii() or not declared.isdigit():
                response = problem(400, "bad-request", "Bad request", "invalid Content-Length")
                await response(scope, receive, send)
                return
            if int(declared) > limit:
                await to_problem(BodyTooLarge(limit))(scope, receive, send)
                return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge as exc:
            if started:
                raise
            await to_problem(exc)(scope, receive, send)
