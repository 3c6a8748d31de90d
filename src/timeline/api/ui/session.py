"""Who is looking at the web view: the bearer token and the purpose given at the login form,
kept in HttpOnly, SameSite=Strict cookies, checked on every request by the API's own token
registry, role permissions and purpose rule (:mod:`timeline.auth`). Errors become pages: a
missing or unknown token sends the browser to the login form, a refusal shows why."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from timeline.auth import DEVELOPMENT_ADMIN, AuthError, Principal, require_purpose
from timeline.bootstrap import Services
from timeline.domain.errors import NotFound
from timeline.domain.identity import InvalidIdentifier
from timeline.render import render

TOKEN_COOKIE = "timeline_token"  # noqa: S105  (a cookie's name, not a secret)
PURPOSE_COOKIE = "timeline_purpose"
PREFIX = "/ui"
#: the most fields a login or look-up form may carry
MAX_FORM_FIELDS = 10


@dataclass(frozen=True)
class Session:
    """The caller (from the token cookie) and the purpose they stated at login."""

    services: Services
    caller: Principal
    stated: str | None

    def purpose(self, what: str) -> str:
        """The purpose for ``what`` (a read of personal data), by the API's rule: every caller
        states one; only the development admin may leave it unstated."""
        return require_purpose(self.caller, self.stated, what)

    def access(self, what: str) -> tuple[Principal, str]:
        """(caller, purpose): what the API's helpers in :mod:`timeline.api.deps` take."""
        return self.caller, self.purpose(what)

    @property
    def development(self) -> bool:
        return self.caller is DEVELOPMENT_ADMIN

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return page(template, status, session=self, **context)


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("session", None)
    return HTMLResponse(render(template, "timeline.api.ui", prefix=PREFIX, **context), status)


def session_of(services: Services, request: Request) -> Session:
    """The session of a request; :class:`AuthError` (401) without a valid token, unless the
    service runs open for development (no tokens configured), as the API does."""
    token = request.cookies.get(TOKEN_COOKIE, "")
    caller = services.tokens.authenticate(f"Bearer {token}" if token else None)
    return Session(services, caller, request.cookies.get(PURPOSE_COOKIE) or None)


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = parse_qs(body, max_num_fields=MAX_FORM_FIELDS)
    return {k: v[0] for k, v in fields.items()}


def safe_next(value: str | None) -> str:
    """Where to go after login: a page of the web view, never another site."""
    if value and value.startswith(PREFIX) and not value.startswith("//"):
        return value
    return PREFIX


def set_login(response: Response, request: Request, token: str, purpose: str) -> None:
    secure = request.url.scheme == "https"
    for name, value in ((TOKEN_COOKIE, token), (PURPOSE_COOKIE, purpose)):
        response.set_cookie(
            name, value, httponly=True, samesite="strict", secure=secure, path=PREFIX
        )


def clear_login(response: Response) -> None:
    for name in (TOKEN_COOKIE, PURPOSE_COOKIE):
        response.delete_cookie(name, path=PREFIX, httponly=True, samesite="strict")


def _problem_page(
    title: str, detail: str, status: int, errors: list[str] | None = None
) -> Response:
    return page("error.html", status, title=title, detail=detail, errors=errors or [])


#: what each error becomes on a page
_HANDLED: Mapping[type[Exception], tuple[int, str]] = {
    NotFound: (404, "Not found"),
    InvalidIdentifier: (422, "Invalid input"),
}


class UiRoute(APIRoute):
    """A route of the web view: refusals and errors as pages, not problem documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthError as exc:
                if exc.status == 401:
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    why = exc.detail if request.cookies.get(TOKEN_COOKIE) else "Sign in first."
                    login = f"{PREFIX}/login?next={quote(target, safe='')}&why={quote(why)}"
                    return RedirectResponse(login, status_code=303)
                return _problem_page("Not allowed", exc.detail, exc.status)
            except RequestValidationError as exc:
                errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
                return _problem_page("Invalid request", "; ".join(errors), 422, errors)
            except tuple(_HANDLED) as exc:
                status, title = next(v for k, v in _HANDLED.items() if isinstance(exc, k))
                return _problem_page(title, str(exc), status)

        return route
