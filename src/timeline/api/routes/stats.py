"""``GET /v1/stats/monthly``: the published outcome statistics (no personal data, small cells
suppressed). An edge: parses, calls the view, returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from projections.outcomes.measures import BY_NAME
from projections.outcomes.months import parse_month
from timeline.api.deps import Caller
from timeline.api.problems import BadRequest, problem_responses
from timeline.api.replica import FromOutcomes, served_by_doc
from timeline.api.schemas import MonthlyStats
from timeline.auth import require
from timeline.vocabulary import Text


def _invalid(field: str, msg: str) -> BadRequest:
    return BadRequest(msg, status=422, title="Invalid request", loc=f"query.{field}")


def router() -> APIRouter:
    api = APIRouter(prefix="/v1/stats", tags=["statistics"])

    @api.get(
        "/monthly",
        response_model=MonthlyStats,
        summary="Read the monthly outcome statistics of an area (no personal data).",
        responses={**problem_responses(401, 403, 422), **served_by_doc()},
    )
    def monthly(
        caller: Caller,
        side: FromOutcomes,
        from_: Annotated[
            Text, Query(alias="from", max_length=7, description="first month, YYYY-MM")
        ],
        to: Annotated[Text, Query(max_length=7, description="last month, YYYY-MM")],
        area: Annotated[
            Text | None,
            Query(
                max_length=200,
                description="a municipality code, an area id, all, pilot or non_pilot",
            ),
        ] = None,
        measure: Annotated[
            Text | None, Query(max_length=200, description="one measure name")
        ] = None,
    ) -> dict[str, Any]:
        """Rows of ``outcomes_monthly`` (see docs/statistics-tables.md): no personal data,
        small cells suppressed. For reporters, auditors and admins."""
        require(caller, "statistics")
        for field, value in (("from", from_), ("to", to)):
            try:
                parse_month(value)
            except ValueError as exc:
                raise _invalid(field, str(exc)) from None
        if from_ > to:
            raise _invalid("to", f"{to} is before from={from_}")
        if measure is not None and measure not in BY_NAME:
            raise _invalid("measure", f"unknown measure {measure!r}")
        view = side.outcomes
        if area and not view.knows_area(area):
            raise _invalid(
                "area",
                f"unknown area {area!r}: a municipality code (three digits), an area id, "
                "all, pilot or non_pilot",
            )
        rows = view.monthly(from_, to, area or None, measure)
        return {"rows": rows, "count": len(rows)}

    return api
