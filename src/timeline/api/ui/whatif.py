"""The what-if page: a window's obligations and workload under another shipped ruleset beside
the actual figures, as a table and charts (docs/whatif.md). Aggregates only, for the roles
that read statistics, not logged — as ``GET /v1/stats/whatif``, whose checks it shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from projections.whatif import whatif_report
from timeline.api.ui.session import Session
from timeline.api.whatif import InvalidField, whatif_scenario
from timeline.auth import require
from timeline.domain.zone import HELSINKI
from timeline.render.charts import Chart, line_chart
from timeline.rulesets import RULESET_IDS, default_rulesets

#: the charts drawn, actual beside what-if: (kind, measure, title, unit)
CHARTS = (
    ("all", "due", "Obligations due", "obligations"),
    ("all", "overdue", "Obligations overdue", "obligations"),
    ("conversations", "per_coach", "Conversations required per coach", "per coach"),
)
#: the ruleset the form offers first: the latest
DEFAULT_RULESET = RULESET_IDS[-1]


@dataclass
class Whatif:
    """The form's values and, once asked, the comparison."""

    ruleset: str
    from_month: str
    to_month: str
    area: str
    on: str
    rulesets: list[tuple[str, str]]  # id, legal basis
    report: dict[str, Any] | None = None
    charts: list[Chart] = field(default_factory=list)
    error: str | None = None


def whatif_page(
    session: Session,
    ruleset: str | None,
    first: str | None,
    last: str | None,
    area: str | None,
    on: str | None,
) -> Whatif:
    """The form (filled with what was asked, or last year) and, when a ruleset was asked for,
    the comparison; a bad parameter leaves ``error`` naming it (and nothing is computed)."""
    services = session.services
    require(session.caller, "statistics")
    today = services.clock().astimezone(HELSINKI).date()
    shipped = default_rulesets()
    found = Whatif(
        ruleset or DEFAULT_RULESET,
        first or f"{today.year - 1:04d}-01",
        last or f"{today.year - 1:04d}-12",
        area or "",
        on or "",
        [(r, shipped.by_id(r).basis) for r in RULESET_IDS],
    )
    if ruleset is None:
        return found
    try:
        day = _day(on)
        scenario = whatif_scenario(
            ruleset, found.from_month, found.to_month, area or None, day, today
        )
    except InvalidField as exc:
        found.error = str(exc)
        return found
    report = whatif_report(services.app, scenario, area=area or None).to_dict()
    months = list(scenario.window.months)
    cells = {(r["month"], r["kind"], r["measure"]): r for r in report["rows"]}
    for kind, measure, title, unit in CHARTS:
        series = {
            side: {
                month: cell[key] if cell else None
                for month in months
                for cell in [cells.get((month, kind, measure))]
            }
            for side, key in (("actual", "actual"), (f"what-if {ruleset}", "whatif"))
        }
        found.charts.append(line_chart(title, unit, months, series))
    found.report = report
    found.on = report["on"]
    return found


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InvalidField("on", f"{text!r} is not a day, YYYY-MM-DD") from None
