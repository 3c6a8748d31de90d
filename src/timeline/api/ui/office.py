"""The pages that are not one seeker: an office's worklist, the monthly statistics, the
operations picture and a rule's detail. Each checks the role (and scope) as the API does, and
logs what the API logs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from projections.outcomes.areas import load_areas
from projections.outcomes.measures import BY_NAME, MEASURES
from projections.outcomes.months import parse_month
from timeline.api.deps import refuse_for_scope
from timeline.api.ui.session import Session
from timeline.auth import AuthError, require
from timeline.domain.rules.obligations import KINDS
from timeline.domain.zone import HELSINKI
from timeline.health import PoolWatch, _recorded_after, readiness
from timeline.render.charts import Chart, line_chart
from timeline.render.obligations import STATUS_COLOUR

PAGE_SIZE = 50
DEFAULT_MEASURES = (
    "stock_total",
    "stock_unemployed",
    "long_term_12m",
    "inflow",
    "outflow_total",
    "activation_rate",
    "interview_on_time_pct",
)


@dataclass
class Worklist:
    on: date
    municipality: str | None
    municipalities: list[str] | None  # the caller's scope, None: any
    coach: str | None
    kind: str | None
    status: str | None
    page: int
    more: bool  # another page follows
    items: list[dict[str, Any]]
    coaches: list[str]
    kinds: Sequence[str] = KINDS
    colours: dict[str, str] | None = None


def worklist(
    session: Session,
    on: date | None,
    municipality: str | None,
    coach: str | None,
    kind: str | None,
    status: str | None,
    page: int,
) -> Worklist:
    services, caller = session.services, session.caller
    require(caller, "worklist")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    scope = sorted(caller.scope) if caller.scope is not None else None
    if scope and not municipality:
        municipality = scope[0]  # the form offers the scope's municipalities; the first by default
    asked = {"municipality": municipality, "status": status, "coach": coach}
    if not caller.covers(municipality):
        reason = f"municipality {municipality} is outside your scope"
        refuse_for_scope(services, caller, "worklist", "worklist", asked, reason)
    day = on or services.clock().astimezone(HELSINKI).date()
    view = services.obligations
    page = max(page, 1)
    # this page's rows and one more, to know whether another page follows
    found = view.worklist(
        day,
        status=status,
        municipality=municipality,
        coach=coach,
        kind=kind,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    shown = found[:PAGE_SIZE]
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="worklist",
        seeker_id=None,
        purpose="worklist",
        detail={**asked, "on": day.isoformat(), "kind": kind, "page": page, "rows": len(shown)},
    )
    return Worklist(
        day,
        municipality,
        scope,
        coach,
        kind,
        status,
        page,
        len(found) > PAGE_SIZE,
        shown,
        view.coaches(municipality),
        colours=dict(STATUS_COLOUR),
    )


@dataclass
class Statistics:
    area: str
    from_month: str
    to_month: str
    measures: list[str]
    months: list[str]
    table: list[tuple[str, list[dict[str, Any] | None]]]
    charts: list[Chart]
    areas: list[tuple[str, str]]
    all_measures: list[tuple[str, str, str]]  # name, unit, meaning


def _months(first: str, last: str) -> list[str]:
    y, m = (int(p) for p in first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def statistics(
    session: Session, area: str, first: str | None, last: str | None, measures: list[str]
) -> Statistics:
    services = session.services
    require(session.caller, "statistics")
    today = services.clock().astimezone(HELSINKI).date()
    latest = services.outcomes.monthly("1990-01", f"{today:%Y-%m}", "all", "stock_total")
    last = last or (latest[-1]["month"] if latest else f"{today:%Y-%m}")
    first = first or f"{int(last[:4]) - 2:04d}-{last[5:]}"
    for name, value in (("from", first), ("to", last)):
        try:
            parse_month(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if first > last:
        raise ValueError(f"to: {last} is before from={first}")
    chosen = [m for m in measures if m in BY_NAME] or list(DEFAULT_MEASURES)
    unknown = [m for m in measures if m not in BY_NAME]
    if unknown:
        raise ValueError(f"measure: unknown measure {unknown[0]!r}")
    rows = services.outcomes.monthly(first, last, area, None)
    cells = {(r["month"], r["measure"]): r for r in rows}
    months = _months(first, last)
    table = [(month, [cells.get((month, m)) for m in chosen]) for month in months]
    charts = []
    for unit in dict.fromkeys(BY_NAME[m].unit for m in chosen):
        series = {
            m: {
                month: (None if c is None or c["suppressed"] else c["value"])
                for month in months
                for c in [cells.get((month, m))]
            }
            for m in chosen
            if BY_NAME[m].unit == unit
        }
        charts.append(line_chart(f"{unit} by month, area {area}", unit, months, series))
    areas = [("all", "every municipality"), ("pilot", "pilot areas"), ("non_pilot", "outside")]
    areas += [(a.id, f"{a.name} ({a.kind.replace('_', ' ')})") for a in load_areas().areas]
    return Statistics(
        area,
        first,
        last,
        chosen,
        months,
        table,
        charts,
        areas,
        [(m.name, m.unit, m.meaning) for m in MEASURES],
    )


def operations(session: Session, watch: PoolWatch | None) -> dict[str, Any]:
    """Projection positions and lag, quarantined events, the last digest, the last nightly
    audit (seal and verify) and the other jobs' last runs. For the admin role; the quarantine
    names seekers, so it is read with a purpose and logged as the API's ``/v1/quarantine``."""
    services, caller = session.services, session.caller
    if caller.role != "admin":
        raise AuthError(403, f"the operations page is for the admin role, not {caller.role}")
    purpose = session.purpose("reading the quarantine")
    views = {"obligations": services.obligations, "outcomes": services.outcomes}
    state = readiness(
        services.app, services.db, views, services.settings, services.clock, watch or PoolWatch()
    )
    for entry in state.checks.get("projections", {}).values():
        if entry["behind"] and "lag_seconds" not in entry:  # /ready asks only past its limit
            recorded = _recorded_after(services.app, entry["position"])
            lag = (services.clock() - recorded).total_seconds() if recorded else 0.0
            entry["lag_seconds"] = round(lag, 1)
    quarantine: dict[str, dict[str, Any]] = {}
    for name, view in views.items():
        count, stale = view.quarantine_counts()
        quarantine[name] = {
            "count": count,
            "stale": stale,
            "entries": [e.to_dict() for e in view.quarantine(50)],
        }
    services.access_log.record(
        actor=caller.actor,
        role=caller.role,
        action="quarantine",
        seeker_id=None,
        purpose=purpose,
        detail={"projection": None, "rows": sum(len(q["entries"]) for q in quarantine.values())},
    )
    kept = services.digests.kept()
    with services.db.transaction() as tx:
        tx.execute(tx.sql.JOB_RUNS_TABLE)  # (made by the jobs' first start; here if none ran)
        runs = tx.execute(
            "SELECT job, started_at, finished_at, outcome, detail FROM timeline_job_runs "
            "ORDER BY started_at DESC LIMIT 500"
        )
    last_runs: dict[str, tuple[Any, ...]] = {}
    for run in runs:
        last_runs.setdefault(str(run[0]), run)
    return {
        "ready": state.ready,
        "reasons": state.reasons,
        "checks": state.checks,
        "quarantine": quarantine,
        "digest": kept[-1].to_dict() if kept else None,
        "digests": len(kept),
        "audit": last_runs.get("nightly_audit"),
        "runs": sorted(last_runs.values(), key=lambda r: str(r[0])),
    }


_REQUIREMENT = (
    "default_applications",
    "default_period",
    "requirement_statuses",
    "review_period",
    "laid_off",
    "part_time",
    "counted_application",
    "offered_jobs",
)
#: per rule: its section of docs/rules.md and the parameters it reads (by name prefix)
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "initial_interview": ("1. Initial interview", ("initial_interview",)),
    "employment_plan": ("2. Employment plan", ()),
    "supplementary_conversation": ("3. Supplementary job-search conversations", ("supplementary",)),
    "job_search_conversation": ("4. Job-search conversation", ("job_search_conversation",)),
    "intensified_period": ("5. Intensified period", ("intensified_period",)),
    "job_search_requirement": ("6. Job-search requirement", _REQUIREMENT),
    "requirement_shortfall": ("8. Shortfall for review", (*_REQUIREMENT, "neglect")),
    "missed_appointment": ("9. Missed appointments", ("missed_appointment", "neglect")),
}


def rule_detail(session: Session, rule: str) -> dict[str, Any]:
    """A rule (``<ruleset>/<rule>[/n]``): its ruleset's basis, its section of docs/rules.md
    and the ruleset's parameters, those the rule reads first."""
    ruleset_id, _, name = rule.partition("/")
    rulesets = session.services.obligations.projection.rulesets
    try:
        ruleset = rulesets.by_id(ruleset_id)
    except KeyError:
        raise ValueError(f"rule: no ruleset {ruleset_id!r}") from None
    base = name.split("/")[0]
    section, prefixes = RULES.get(base, ("", ()))
    params = [
        (p, getattr(ruleset, p), ruleset.tag(p), p.startswith(prefixes))
        for p in ruleset.parameter_names()
    ]
    return {
        "rule": rule,
        "name": base,
        "section": section,
        "ruleset": ruleset,
        "params": sorted(params, key=lambda p: not p[3]),
    }
