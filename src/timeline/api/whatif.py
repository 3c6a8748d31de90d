"""``GET /v1/stats/whatif``: the obligations and workload of a window under a shipped ruleset,
beside the actual figures (aggregates only, small cells suppressed; docs/whatif.md). An edge:
parses, calls ``projections.whatif``, returns."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from projections.outcomes.months import parse_month
from projections.whatif import Scenario, Window, area_filter, plausible, whatif_report
from timeline.api.deps import Caller
from timeline.api.problems import problem, problem_responses
from timeline.application import TimelineApp
from timeline.auth import require
from timeline.domain.zone import HELSINKI
from timeline.rulesets import RULESET_IDS, default_rulesets
from timeline.vocabulary import Text


class InvalidField(ValueError):
    """A what-if parameter refused: ``field`` (as the query names it) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def whatif_scenario(
    ruleset: str, first: str, last: str, area: str | None, on: date | None, today: date
) -> Scenario:
    """The scenario asked for — a shipped ``ruleset`` in force for the months ``first`` ..
    ``last``, evaluated as on ``on`` (default ``today``), ``area`` a municipality code or an
    area id — or :class:`InvalidField` naming the first bad parameter (``ruleset``, ``from``,
    ``to``, ``on``, ``area``). Shared by the HTTP route and the web view's what-if page."""
    if ruleset not in RULESET_IDS:
        raise InvalidField("ruleset", f"unknown ruleset {ruleset!r}; one of {RULESET_IDS}")
    for field, value in (("from", first), ("to", last)):
        try:
            Window(parse_month(value), value)
        except ValueError as exc:
            raise InvalidField(field, str(exc)) from None
    if first > last:
        raise InvalidField("to", f"{last} is before from={first}")
    try:
        window = Window(first, last)
    except ValueError as exc:
        raise InvalidField("to", str(exc)) from None
    if on is not None:
        try:
            plausible(on)
        except ValueError as exc:
            raise InvalidField("on", str(exc)) from None
    try:
        area_filter(area)
    except ValueError as exc:
        raise InvalidField("area", str(exc)) from None
    rulesets = default_rulesets()
    return Scenario(rulesets.by_id(ruleset), window, on or today, rulesets)


def _invalid(field: str, msg: str) -> JSONResponse:
    return problem(
        422,
        "invalid-request",
        "Invalid request",
        f"query.{field}: {msg}",
        errors=[{"loc": f"query.{field}", "msg": msg, "type": "value_error"}],
    )


class WhatifRow(BaseModel):
    """One figure of one month and kind: actual beside what-if (``None`` where suppressed)."""

    month: str = Field(description="YYYY-MM")
    kind: str = Field(description="kind of obligation, or `all`")
    measure: str = Field(description="due, met_on_time, met_late, overdue, open, …")
    actual: float | None
    whatif: float | None
    change: float | None = Field(description="whatif − actual; null when either is hidden")
    suppressed: bool = Field(description="a cell of either side hidden (fewer than 5 persons)")


class WhatifReport(BaseModel):
    """The comparison for a window (docs/whatif.md)."""

    model_config = ConfigDict(populate_by_name=True)

    ruleset: str
    basis: str
    compared_with: str
    from_: str = Field(alias="from")
    to: str
    on: str
    area: str | None
    seekers: int
    events: int
    rows: list[WhatifRow]


def whatif_router(app: TimelineApp) -> APIRouter:
    router = APIRouter(prefix="/v1/stats", tags=["statistics"])

    @router.get(
        "/whatif",
        response_model=WhatifReport,
        response_model_by_alias=True,
        summary="Compare a window's obligations and workload under another ruleset with the "
        "actual figures.",
        responses=problem_responses(401, 403, 422),
    )
    def whatif(
        caller: Caller,
        ruleset: Annotated[
            Text, Query(max_length=40, description=f"one of {', '.join(RULESET_IDS)}")
        ],
        from_: Annotated[
            Text, Query(alias="from", max_length=7, description="first month, YYYY-MM")
        ],
        to: Annotated[Text, Query(max_length=7, description="last month, YYYY-MM")],
        area: Annotated[
            Text | None, Query(max_length=200, description="municipality code or area id")
        ] = None,
        on: Annotated[
            date | None, Query(description="evaluate as on this day (default: today)")
        ] = None,
    ) -> dict[str, Any] | JSONResponse:
        """Every job-search spell active in the months ``from``..``to`` evaluated again as if
        ``ruleset`` had been in force for them, beside the figures under the rulesets that were:
        per month and kind, obligations due, met on time, met late, overdue, open, median days
        late; conversations required per coach; seekers with a requirement shortfall. No
        personal data; cells of fewer than 5 persons suppressed. For reporters, auditors and
        admins."""
        require(caller, "statistics")
        today = app.clock().astimezone(HELSINKI).date()
        try:
            scenario = whatif_scenario(ruleset, from_, to, area or None, on, today)
        except InvalidField as exc:
            return _invalid(exc.field, exc.reason)
        return whatif_report(app, scenario, area=area or None).to_dict()

    return router
