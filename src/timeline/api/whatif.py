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
        if ruleset not in RULESET_IDS:
            return _invalid("ruleset", f"unknown ruleset {ruleset!r}; one of {RULESET_IDS}")
        for field, value in (("from", from_), ("to", to)):
            try:
                Window(parse_month(value), value)
            except ValueError as exc:
                return _invalid(field, str(exc))
        if from_ > to:
            return _invalid("to", f"{to} is before from={from_}")
        try:
            window = Window(from_, to)
        except ValueError as exc:
            return _invalid("to", str(exc))
        if on is not None:
            try:
                plausible(on)
            except ValueError as exc:
                return _invalid("on", str(exc))
        try:
            area_filter(area or None)
        except ValueError as exc:
            return _invalid("area", str(exc))
        rulesets = default_rulesets()
        day = on or app.clock().astimezone(HELSINKI).date()
        scenario = Scenario(rulesets.by_id(ruleset), window, day, rulesets)
        return whatif_report(app, scenario, area=area or None).to_dict()

    return router
