"""The web view's routes under ``/ui``: login and logout, find a seeker, the seeker's timeline,
an office's worklist, the statistics, operations, a rule's detail, and the stylesheet. An
edge: reads the form or query, calls a page builder, renders a template."""

from __future__ import annotations

from datetime import date
from importlib.resources import files
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from timeline.api.deps import lookup_in_scope
from timeline.api.ui import office
from timeline.api.ui.seeker import parse_as_of, seeker_page
from timeline.api.ui.session import (
    PREFIX,
    UiRoute,
    clear_login,
    form_fields,
    page,
    safe_next,
    session_of,
    set_login,
)
from timeline.api.ui.whatif import whatif_page
from timeline.auth import AuthError, require
from timeline.bootstrap import Services
from timeline.domain.identity import InvalidIdentifier
from timeline.render import stylesheet

Text = Annotated[str | None, Query(max_length=200)]


def ui_router(services: Services) -> APIRouter:
    """The web view; mount with ``api.include_router(ui_router(services))``."""
    router = APIRouter(prefix=PREFIX, route_class=UiRoute, include_in_schema=False)
    _session_routes(router, services)
    _page_routes(router, services)
    return router


def _session_routes(router: APIRouter, services: Services) -> None:
    """The stylesheets, login and logout."""

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name == "timeline.css":
            return Response(stylesheet(), media_type="text/css")
        if name != "ui.css":
            return Response("not found", status_code=404, media_type="text/plain")
        css = files("timeline.api.ui").joinpath("static/ui.css").read_text(encoding="utf-8")
        return Response(css, media_type="text/css")

    @router.get("/login")
    def login_form(next: Text = None, why: Text = None) -> HTMLResponse:
        return page(
            "login.html",
            next=safe_next(next),
            why=why,
            error=None,
            development=services.tokens.open_development,
        )

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await form_fields(request)
        token, purpose = form.get("token", "").strip(), form.get("purpose", "").strip()
        target = safe_next(form.get("next"))
        error, status = None, 200
        try:
            caller = services.tokens.authenticate(f"Bearer {token}" if token else None)
        except AuthError as exc:
            error, status = exc.detail, exc.status
        else:
            reads = caller.may("read_personal") or caller.may("lookup")
            if not purpose and reads and not services.tokens.open_development:
                error, status = f"state a purpose: the {caller.role} role reads personal data", 422
        if error is not None:
            return page(
                "login.html",
                status,
                next=target,
                why=None,
                error=error,
                development=services.tokens.open_development,
            )
        response = RedirectResponse(target, status_code=303)
        set_login(response, request, token, purpose)
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        clear_login(response)
        return response


def _page_routes(router: APIRouter, services: Services) -> None:
    @router.get("")
    def home(request: Request, seeker_id: Text = None) -> Response:
        session = session_of(services, request)
        if seeker_id:
            try:
                found = UUID(seeker_id.strip())
            except ValueError:
                return session.page(
                    "find.html", 422, error=f"seeker_id: {seeker_id!r} is not a seeker id (UUID)"
                )
            return RedirectResponse(f"{PREFIX}/seekers/{found}", status_code=303)
        return session.page("find.html")

    @router.post("/lookup")
    async def lookup(request: Request) -> Response:
        session = session_of(services, request)
        require(session.caller, "lookup")
        access = session.access("looking up a person")
        code = (await form_fields(request)).get("personal_identity_code", "").strip()
        try:
            found = lookup_in_scope(services, access, services.app.lookup_person(code))
        except InvalidIdentifier as exc:
            return session.page("find.html", 422, error=f"personal_identity_code: {exc}")
        return session.page("find.html", found=found, looked_up=True)

    @router.get("/seekers/{seeker_id}")
    def seeker(
        request: Request,
        seeker_id: UUID,
        as_of: Annotated[str | None, Query(max_length=40)] = None,
        on: Annotated[date | None, Query()] = None,
    ) -> Response:
        session = session_of(services, request)
        try:
            moment = parse_as_of(as_of)
        except ValueError as exc:
            return session.page(
                "error.html", 422, title="Invalid as-of", detail=str(exc), errors=[]
            )
        found = seeker_page(session, str(seeker_id), moment, on)
        return session.page("seeker.html", **found.context())

    @router.get("/worklist")
    def worklist(
        request: Request,
        on: Annotated[date | None, Query()] = None,
        municipality: Annotated[str | None, Query(pattern=r"^([0-9]{3})?$")] = None,
        coach: Text = None,
        kind: Text = None,
        status: Annotated[str | None, Query(pattern=r"^(open|overdue)?$")] = None,
        page_: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> Response:
        session = session_of(services, request)
        try:
            found = office.worklist(
                session,
                on,
                municipality or None,
                coach or None,
                kind or None,
                status or None,
                page_,
            )
        except ValueError as exc:
            return session.page(
                "error.html", 422, title="Invalid request", detail=str(exc), errors=[]
            )
        return session.page("worklist.html", w=found)

    @router.get("/statistics")
    def statistics(
        request: Request,
        area: Annotated[str, Query(max_length=200)] = "all",
        from_: Annotated[str | None, Query(alias="from", max_length=7)] = None,
        to: Annotated[str | None, Query(max_length=7)] = None,
        measure: Annotated[list[str] | None, Query(max_length=200)] = None,
    ) -> Response:
        session = session_of(services, request)
        try:
            found = office.statistics(
                session, area or "all", from_ or None, to or None, measure or []
            )
        except ValueError as exc:
            return session.page(
                "error.html", 422, title="Invalid request", detail=str(exc), errors=[]
            )
        return session.page("statistics.html", s=found)

    @router.get("/whatif")
    def whatif(
        request: Request,
        ruleset: Annotated[str | None, Query(max_length=40)] = None,
        from_: Annotated[str | None, Query(alias="from", max_length=7)] = None,
        to: Annotated[str | None, Query(max_length=7)] = None,
        area: Annotated[str | None, Query(max_length=200)] = None,
        on: Annotated[str | None, Query(max_length=10)] = None,
    ) -> Response:
        session = session_of(services, request)
        found = whatif_page(session, ruleset or None, from_ or None, to or None, area, on)
        return session.page("whatif.html", 422 if found.error else 200, x=found)

    @router.get("/operations")
    def operations(request: Request) -> Response:
        session = session_of(services, request)
        found = office.operations(session, getattr(request.app.state, "pool_watch", None))
        return session.page("operations.html", o=found)

    @router.get("/rules/{rule:path}")
    def rule(request: Request, rule: str) -> Response:
        session = session_of(services, request)
        try:
            found = office.rule_detail(session, rule)
        except ValueError as exc:
            return session.page("error.html", 404, title="No such rule", detail=str(exc), errors=[])
        return session.page("rule.html", **found)
