"""An independent evaluator of the outcome statistics: it walks every seeker day by day from the
raw facts, derives the status of each day and the measures, and aggregates them per month for the
whole country (level ``all``) and per municipality, without the projection's segments, SQL or
roll-up. Used by the agreement test (tests/projections/test_outcomes_projection.py) and by
ops/bench/stats_agreement.py, which runs it on a large demo: :func:`load_and_compare`.

What it shares with the projection: ``effective_facts`` (corrections and retractions), the
working-day calendar, ``add_months`` and, for the obligation-based measures (interviews,
conversations, requirement), the obligation rules' ``evaluate`` (those rules have their own
independent tests); everything else is written again here."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from projections.outcomes import OutcomesView
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.domain.calendar import MONDAY_TO_FRIDAY, add_months
from timeline.domain.facts import Fact, effective_facts
from timeline.domain.rules import evaluate
from timeline.rulesets import default_rulesets
from timeline.settings import Settings

ONE = timedelta(days=1)
ACTIVATING = {
    "labour_market_training",
    "coaching",
    "work_trial",
    "pay_subsidy",
    "rehabilitative_work_activity",
}
PLACEMENT = ACTIVATING | {"startup_grant"}
END = {
    "employed_open_market": "employed_open_market",
    "self_employed": "employed_open_market",
    "employed_subsidised": "employed_subsidised",
    "studies": "studies",
    "moved_abroad": "outside_labour_force",
    "not_renewed": "other",
    "other": "other",
}


def ym(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def last_working_day(month: str) -> date:
    y, m = int(month[:4]), int(month[5:])
    d = date(y + (m == 12), m % 12 + 1, 1) - ONE
    while not MONDAY_TO_FRIDAY.is_working_day(d):
        d -= ONE
    return d


@dataclass
class Day:
    spell: int  # -1 outside
    state: str
    muni: str | None


@dataclass
class Walk:
    days: dict[date, Day] = field(default_factory=dict)
    spells: list[tuple[date, date | None, str | None]] = field(default_factory=list)
    service_ends: list[tuple[date, str]] = field(default_factory=list)


def walk(facts: Sequence[Fact], until: date) -> Walk:
    """Replay the effective facts one day at a time."""
    eff = [f for f in effective_facts(facts) if f.occurred_on <= until]
    out = Walk()
    if not any(f.type == "job_search_started" for f in eff):
        return out
    by_day: dict[date, list[Fact]] = defaultdict(list)
    for f in eff:
        by_day[f.occurred_on].append(f)
    first = min(f.occurred_on for f in eff if f.type == "job_search_started")
    open_spell = False
    spell_no = -1
    status = "unemployed"
    muni: str | None = None
    types: dict[str, str] = {}
    running: dict[str, date | None] = {}  # service id -> end day (None: not ended)
    last_reason: str | None = None
    day = min(first, *by_day)
    while day <= until:
        closing = False
        for f in by_day.get(day, []):
            t = f.type
            if t == "job_search_started":
                if open_spell and not closing:
                    continue
                if closing:  # ended and started again the same day: the new spell owns the day
                    closing = False
                open_spell = True
                spell_no += 1
                status = str(f.data["labour_market_status"])
                muni = str(f.data["municipality"])
                out.spells.append((day, None, None))
            elif t == "labour_market_status_changed":
                status = str(f.data["labour_market_status"])
            elif t == "seeker_transferred":
                muni = str(f.data["to_municipality"])
            elif t == "service_referred":
                types[str(f.data["service_id"])] = str(f.data["service_type"])
            elif t == "service_started":
                running[str(f.data["service_id"])] = None
            elif t == "service_ended":
                sid = str(f.data["service_id"])
                if sid in running:
                    running[sid] = day
                out.service_ends.append((day, types.get(sid, "other")))
            elif t == "job_search_ended" and open_spell:
                closing = True
                last_reason = str(f.data.get("reason"))
                s, _, _ = out.spells[-1]
                out.spells[-1] = (s, day, last_reason)
        if open_spell:
            if any(types.get(s, "other") in ACTIVATING for s in running):
                state = "in_service"
            elif status == "student":
                state = "outside_labour_force"
            else:
                state = status
            out.days[day] = Day(spell_no, state, muni)
        elif day >= first:
            out.days[day] = Day(-1, "after:" + END.get(last_reason or "other", "other"), muni)
        for sid in [s for s, e in running.items() if e == day]:
            del running[sid]
        if closing:
            open_spell = False
            running.clear()
        day += ONE
    return out


def _open_market(d: Day | None) -> bool:
    return d is not None and d.state in ("employed", "part_time", "after:employed_open_market")


def _unemployed(d: Day | None) -> bool:
    return d is not None and d.state in ("unemployed", "laid_off")


def _muni_for_month(w: Walk, month: str) -> str | None:
    cd = last_working_day(month)
    d = w.days.get(cd)
    if d is not None and d.muni is not None:
        return d.muni
    x = cd + ONE
    while ym(x) == month:
        if x in w.days and w.days[x].muni is not None:
            return w.days[x].muni
        x += ONE
    return None


def seeker_items(facts: Sequence[Fact], horizon: str) -> list[tuple[str, str, str, float | None]]:
    """(month, municipality, item, value) for one seeker, items named as in seeker.py."""
    y, m = int(horizon[:4]), int(horizon[5:])
    until = date(y + (m == 12), m % 12 + 1, 1) - ONE
    w = walk(facts, until)
    if not w.spells:
        return []
    out: list[tuple[str, str, str, float | None]] = []

    def add(month: str, item: str, value: float | None = 1.0) -> None:
        muni = _muni_for_month(w, month)
        if month <= horizon and muni is not None:
            out.append((month, muni, item, value))

    month = ym(w.spells[0][0])
    while month <= horizon:
        cd = last_working_day(month)
        d = w.days.get(cd)
        if d is not None and d.spell >= 0:
            add(month, "stock_total")
            add(month, "stock_" + d.state)
            if _unemployed(d):
                add(month, "stock_unemployed")
                start, x, gap = cd, cd - ONE, 0
                while True:
                    e = w.days.get(x)
                    if e is None or e.spell != d.spell or e.state == "in_service":
                        break
                    if _unemployed(e):
                        start, gap = x, 0
                    else:
                        gap += 1
                        if gap > 14:
                            break
                    x -= ONE
                lt = start <= add_months(cd, -12)
                if lt:
                    add(month, "long_term_12m")
                if start < add_months(cd, -24):
                    add(month, "long_term_24m")
                total, x = 0, add_months(cd, -16) + ONE
                while x <= cd:
                    total += _unemployed(w.days.get(x))
                    x += ONE
                if not lt and total >= 365:
                    add(month, "comparable_long_term")
        month = ym(last_working_day(month) + timedelta(days=10))
    for s, e, reason in w.spells:
        add(ym(s), "inflow")
        for k in (3, 6, 12):
            lim = add_months(s, k)
            if lim > until:
                add(ym(s), f"cohort_{k}m", None)
                continue
            x, hit = s, False
            while x <= lim and not hit:
                hit = _open_market(w.days.get(x))
                x += ONE
            add(ym(s), f"cohort_{k}m", float(hit))
        if e is not None:
            add(ym(e), "outflow", float((e - s).days))
            add(ym(e), "outflow_" + END.get(reason or "other", "other"))
            for k in (1, 3, 6, 12):
                add(ym(e), f"ended_within_{k}m", float(e <= add_months(s, k)))
    for e, kind in w.service_ends:
        if kind in PLACEMENT:
            add(ym(e), "services_ended")
            for k in (3, 6):
                x = add_months(e, k)
                add(
                    ym(e),
                    f"placement_{k}m",
                    None if x > until else float(_open_market(w.days.get(x))),
                )
    req: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for o in evaluate(facts, until, default_rulesets()):
        if o.status == "not_required" or o.due_on is None or o.due_on > until:
            continue
        mo = ym(o.due_on)
        if o.kind == "initial_interview":
            add(
                mo,
                "interview",
                None if o.met_on is None else float(max(0, (o.met_on - o.due_on).days)),
            )
        elif o.kind in ("job_search_conversation", "supplementary_conversation"):
            add(mo, o.kind, float(o.met_on is not None))
        elif o.kind == "job_search_requirement":
            req[mo].append((o.counted or 0, (o.counted or 0) >= (o.required or 0)))
    for mo, ps in req.items():
        add(mo, "requirement_applications", float(sum(c for c, _ in ps)))
        add(mo, "requirement_met", float(all(ok for _, ok in ps)))
    return out


def pct(a: float, b: int) -> float | None:
    return None if b == 0 else round(100.0 * a / b, 4)


def figures(
    by_seeker: dict[str, list[Fact]], horizon_day: date, level: str = "all"
) -> dict[tuple[str, str, str], float | None]:
    """(month, area, measure) -> value, for level ``all`` or ``municipality``."""
    horizon = ym(horizon_day)
    items: dict[tuple[str, str], list[tuple[str, str, float | None]]] = defaultdict(list)
    for sid, facts in by_seeker.items():
        for month, muni, item, value in seeker_items(facts, horizon):
            area = "all" if level == "all" else muni
            items[(month, area)].append((sid, item, value))
    out: dict[tuple[str, str, str], float | None] = {}
    for (month, area), rows in items.items():

        def of(
            item: str, rows: list[tuple[str, str, float | None]] = rows
        ) -> list[tuple[str, float | None]]:
            return [(s, v) for s, i, v in rows if i == item]

        def persons(item: str) -> int:
            return len({s for s, _ in of(item)})

        def put(name: str, value: float | None, month: str = month, area: str = area) -> None:
            out[(month, area, name)] = value

        if of("stock_total"):
            for n in (
                "stock_total",
                "stock_unemployed",
                "stock_laid_off",
                "stock_in_service",
                "stock_employed",
                "stock_part_time",
                "stock_outside_labour_force",
                "long_term_12m",
                "long_term_24m",
                "comparable_long_term",
            ):
                put(n, float(persons(n)))
            a, u = persons("stock_in_service"), persons("stock_unemployed")
            put("activation_rate", pct(a, a + u))
        if of("inflow"):
            put("inflow", float(len(of("inflow"))))
        ended = of("outflow")
        if ended:
            put("outflow_total", float(len(ended)))
            for c in (
                "employed_open_market",
                "employed_subsidised",
                "service",
                "studies",
                "outside_labour_force",
                "other",
            ):
                put(f"outflow_{c}", float(len(of(f"outflow_{c}"))))
            vals = sorted(float(v or 0) for _, v in ended)
            if len(vals) == 1:
                q = (vals[0],) * 3
            else:
                q = tuple(round(x, 4) for x in statistics.quantiles(vals, n=4, method="inclusive"))
            put("duration_q1_days", q[0])
            put("duration_median_days", q[1])
            put("duration_q3_days", q[2])
            for k in (1, 3, 6, 12):
                put(
                    f"duration_share_within_{k}m",
                    pct(sum(v or 0 for _, v in of(f"ended_within_{k}m")), len(ended)),
                )
        if of("services_ended"):
            put("services_ended", float(len(of("services_ended"))))
            for k in (3, 6):
                last = add_months(date.fromisoformat(month + "-01"), 1) - ONE
                vs = [v for _, v in of(f"placement_{k}m")]
                ok = add_months(last, k) <= horizon_day
                put(f"placement_{k}m_pct", pct(sum(v or 0 for v in vs), len(vs)) if ok else None)
        iv = of("interview")
        if iv:
            put("interviews_due", float(len(iv)))
            put("interview_on_time_pct", pct(sum(1 for _, v in iv if v == 0), len(iv)))
            late = [v for _, v in iv if v is not None and v > 0]
            put(
                "interview_median_days_late",
                round(float(statistics.median(late)), 4) if late else None,
            )
            put("interview_not_held_pct", pct(sum(1 for _, v in iv if v is None), len(iv)))
        for kind, name in (
            ("job_search_conversation", "job_search"),
            ("supplementary_conversation", "supplementary"),
        ):
            cs = of(kind)
            if cs:
                put(f"{name}_conversations_due", float(len(cs)))
                put(f"{name}_conversation_coverage_pct", pct(sum(v or 0 for _, v in cs), len(cs)))
        met = of("requirement_met")
        if met:
            p = persons("requirement_met")
            put("requirement_seekers", float(p))
            put("requirement_met_pct", pct(sum(v or 0 for _, v in met), p))
            put(
                "requirement_mean_applications",
                round(sum(v or 0 for _, v in of("requirement_applications")) / p, 4),
            )
        co = of("cohort_3m")
        if co:
            put("cohort_spells", float(len(co)))
            last = add_months(date.fromisoformat(month + "-01"), 1) - ONE
            for k in (3, 6, 12):
                vs = [v for _, v in of(f"cohort_{k}m")]
                ok = add_months(last, k) <= horizon_day
                put(
                    f"cohort_employed_{k}m_pct",
                    pct(sum(v or 0 for v in vs), len(vs)) if ok else None,
                )
    return out


def compare(
    expected: dict[tuple[str, str, str], float | None], rows: Iterable[dict[str, Any]], level: str
) -> tuple[int, list[str]]:
    """Compare with the projection's unsuppressed rows of ``level``: (cells compared, mismatches).
    Every brute-force figure must have a row, and every row of the level a brute-force figure."""
    mismatches: list[str] = []
    seen = set()
    compared = 0
    for r in rows:
        if r["level"] != level:
            continue
        key = (r["month"], r["area"], r["measure"])
        seen.add(key)
        if key not in expected:
            mismatches.append(f"{key}: projection {r['value']}, brute force has no figure")
            continue
        if r["suppressed"]:
            continue
        compared += 1
        want, got = expected[key], r["value"]
        if (want is None) != (got is None) or (
            want is not None and got is not None and abs(want - got) > 1e-6
        ):
            mismatches.append(f"{key}: projection {got}, brute force {want}")
    for key in expected.keys() - seen:
        mismatches.append(f"{key}: brute force {expected[key]}, projection has no row")
    return compared, mismatches


def load_and_compare(seekers: int, seed: int, url: str = "memory:") -> dict[str, Any]:
    """Load a demo through the store, catch the projection up, and compare with the brute-force
    evaluator at level ``all`` and per municipality. Returns the figures and timings."""
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    t0 = time.perf_counter()
    events = load_demo(app, clock, generate(seekers=seekers, seed=seed))
    t1 = time.perf_counter()
    view = OutcomesView(app)
    view.catch_up(limit=10_000)
    t2 = time.perf_counter()
    facts, _ = view.runner.read_batch(0, 10**9)
    by_seeker: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        by_seeker[f.seeker_id].append(f)
    horizon = date.fromisoformat(view.state()["horizon_day"])
    rows = view.monthly("1900-01", "2999-12")
    out: dict[str, Any] = {"seekers": len(by_seeker), "events": events, "rows": len(rows)}
    for level in ("all", "municipality"):
        compared, mismatches = compare(figures(by_seeker, horizon, level), rows, level)
        out[level] = {"cells": compared, "mismatches": mismatches}
    out["months"] = len({r["month"] for r in rows})
    t3 = time.perf_counter()
    out["seconds"] = {"load": t1 - t0, "catch_up": t2 - t1, "brute_force": t3 - t2}
    view.close()
    app.close()
    return out
