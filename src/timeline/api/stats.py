"""``GET /v1/stats/monthly``: the published outcome statistics (no personal data, small cells
suppressed). An edge: parses, calls the view, returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from projections.outcomes import OutcomesView
from projections.outcomes.measures import BY_NAME
from projections.outcomes.months import parse_month
from timeline.api.deps import Caller
from timeline.api.problems import problem
from timeline.auth import require
from timeline.vocabulary import Text


def _invalid(field: str, msg: str) -> JSONResponse:
    return problem(
        422,
        "invalid-request",
        "Invalid request",
        f"query.{field}: {msg}",
        errors=[{"loc": f"query.{field}", "msg": msg, "type": "value_error"}],
    )


def stats_router(view: OutcomesView) -> APIRouter:
    router = APIRouter(prefix="/v1/stats", tags=["statistics"])

    @router.get("/monthly", response_model=None)
    def monthly(
        caller: Caller,
        from_: Annotated[
            Text, Query(alias="from", max_length=7, description="first month, YYYY-MM")
        ],
        to: Annotated[Text, Query(max_length=7, description="last month, YYYY-MM")],
        area: Annotated[
            Text | None, Query(max_length=200, description="municipality code or area id")
        ] = None,
        measure: Annotated[
            Text | None, Query(max_length=200, description="one measure name")
        ] = None,
    ) -> dict[str, Any] | JSONResponse:
        """Rows of ``outcomes_monthly`` (see docs/statistics-tables.md): no personal data,
        small cells suppressed. For reporters, auditors and admins."""
        require(caller, "statistics")
        for field, value in (("from", from_), ("to", to)):
            try:
                parse_month(value)
            except ValueError as exc:
                return _invalid(field, str(exc))
        if from_ > to:
            return _invalid("to", f"{to} is before from={from_}")
        if measure is not None and measure not in BY_NAME:
            return _invalid("measure", f"unknown measure {measure!r}")
        rows = view.monthly(from_, to, area or None, measure)
        return {"rows": rows, "count": len(rows)}

    return router
