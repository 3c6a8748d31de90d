"""The seeker page: the timeline as known at a moment (and what changed since), the
obligations of a day beside it, and the chain's verification. Every read goes through the
API's own helpers (:func:`timeline.api.deps.personal_read`): checked for role and scope and
written to the access log as the API writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from projections.obligations import Unevaluable
from timeline.api.deps import personal_read
from timeline.api.ui.session import Session
from timeline.audit.verify import verify_seeker
from timeline.domain.errors import NoRuleset, NotFound
from timeline.domain.zone import HELSINKI
from timeline.render.timeline import EventRow, TimelineView, build_timeline, event_rows
from timeline.results import HistoryEntry

#: how an as-of field's value is shown and read (the browser's datetime-local form)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def parse_as_of(value: str | None) -> datetime | None:
    """An as-of moment from the form: ``YYYY-MM-DDTHH:MM`` in Helsinki time (or any ISO 8601
    time with its offset). ValueError naming the field and the form expected."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"as_of: {value!r} is not a date and time (YYYY-MM-DDTHH:MM, Helsinki time)"
        ) from None
    if not 1990 <= moment.year <= 2099:
        raise ValueError(f"as_of: {value!r} is outside 1990–2099")
    return moment if moment.tzinfo else moment.replace(tzinfo=HELSINKI)


def local(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).strftime(LOCAL_FORMAT)


@dataclass
class SeekerPage:
    seeker_id: str
    as_of: datetime | None
    on: date
    view: TimelineView
    later: list[EventRow]
    now_summary: dict[str, str] | None
    obligations_problem: str | None = None
    stale: str | None = None
    chain: str | None = None  # None: verified
    chain_head: str | None = None
    steps: list[str] = field(default_factory=list)  # recorded times, for the slider

    def context(self) -> dict[str, Any]:
        return {
            "p": self,
            "as_of_value": local(self.as_of) if self.as_of else "",
            "as_of_text": self.as_of.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")
            if self.as_of
            else None,
        }


def changed_since(then: list[HistoryEntry], now: list[HistoryEntry]) -> set[str]:
    """Events of ``then`` whose status is different now (corrected or retracted since)."""
    status_now = {e.index.event_id: e.status for e in now}
    return {e.index.event_id for e in then if status_now.get(e.index.event_id) != e.status}


def seeker_page(
    session: Session, seeker_id: str, as_of: datetime | None, on: date | None
) -> SeekerPage:
    services = session.services
    app = services.app
    access = session.access("reading a personal timeline")
    iso = as_of.isoformat() if as_of else None
    personal_read(
        services, access, seeker_id, "history", {"as_of": iso, "after_version": 0, "view": "ui"}
    )
    now = app.history(seeker_id)  # NotFound: an unknown seeker (a 404 page)
    try:
        then = app.history(seeker_id, as_of=as_of) if as_of else now
    except NotFound:  # nothing of this seeker was recorded by then
        then = []
    day = on or (as_of or app.clock()).astimezone(HELSINKI).date()
    changed = changed_since(then, now) if as_of else set()
    known = {e.index.event_id for e in then}
    versions = {e.index.event_id: e.index.version for e in now}
    later = [e for e in now if e.index.event_id not in known]
    due, problem, stale = _obligations(session, seeker_id, day, as_of)
    page = SeekerPage(
        seeker_id=seeker_id,
        as_of=as_of,
        on=day,
        view=build_timeline(
            then,
            until=day,
            as_of=as_of,
            on=day,
            changed=changed,
            obligations=due,
            versions=versions,
        ),
        later=event_rows(later, versions, set()),
        now_summary=build_timeline(now, until=day).summary if as_of else None,
        obligations_problem=problem,
        stale=stale,
        steps=sorted({local(e.index.recorded_at) for e in now}),
    )
    broken = verify_seeker(app, seeker_id, erased=bool(app.erased([seeker_id])))
    page.chain = str(broken) if broken is not None else None
    page.chain_head = now[-1].index.hash if now else None
    return page


def _obligations(
    session: Session, seeker_id: str, on: date, as_of: datetime | None
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """The obligations of ``on`` as known at ``as_of`` (logged as the API logs them), why
    there are none, and why they are stale (the seeker quarantined)."""
    services = session.services
    view = services.obligations
    try:
        view.check_day(on)
    except NoRuleset as exc:
        return [], str(exc), None
    personal_read(
        services,
        session.access("reading a personal timeline"),
        seeker_id,
        "obligations",
        {"on": on.isoformat(), "as_of": as_of.isoformat() if as_of else None, "view": "ui"},
    )
    if not view.has_seeker(seeker_id):
        why = "no obligations yet: the obligations projection has not caught up with this seeker"
        return [], why, None
    try:
        found = view.for_seeker(seeker_id, on, as_of=as_of)
    except Unevaluable as exc:
        return [], str(exc), view.stale(seeker_id)
    return found, None, view.stale(seeker_id)
