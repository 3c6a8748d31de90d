"""Small builders of facts for rule tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.facts import Fact
from timeline.domain.rules import Obligation, evaluate
from timeline.rulesets import default_rulesets

SEEKER = "8b9f2f6e-2d7c-4d55-a8a1-5b2a4b0f0c33"
_versions = itertools.count(1)


def d(text: str) -> date:
    return date.fromisoformat(text)


def fact(
    type_: str,
    on: date | str,
    data: Mapping[str, Any] | None = None,
    *,
    version: int | None = None,
    event_id: str | None = None,
    seeker_id: str = SEEKER,
) -> Fact:
    """A fact of ``type_`` that occurred on ``on``; versions increase in creation order."""
    day = d(on) if isinstance(on, str) else on
    number = next(_versions) if version is None else version
    return Fact(
        event_id=event_id or f"e{number}",
        seeker_id=seeker_id,
        type=type_,
        occurred_on=day,
        recorded_at=datetime(2020, 1, 1, tzinfo=UTC),
        version=number,
        data=dict(data or {}),
    )


def started(on: date | str, status: str = "unemployed", **kw: Any) -> Fact:
    return fact(
        "job_search_started", on, {"municipality": "398", "labour_market_status": status}, **kw
    )


def ended(on: date | str, reason: str = "employed_open_market", **kw: Any) -> Fact:
    return fact("job_search_ended", on, {"reason": reason}, **kw)


def held(on: date | str, kind: str, **kw: Any) -> Fact:
    return fact("meeting_held", on, {"kind": kind, "channel": "in_person"}, **kw)


def missed(on: date | str, reason: str = "no_show", **kw: Any) -> Fact:
    return fact("meeting_missed", on, {"kind": "job_search_conversation", "reason": reason}, **kw)


def status(on: date | str, value: str, **kw: Any) -> Fact:
    return fact("labour_market_status_changed", on, {"labour_market_status": value}, **kw)


def plan(on: date | str, **kw: Any) -> Fact:
    return fact("employment_plan_agreed", on, {"plan_kind": "employment_plan"}, **kw)


def applied(
    on: date | str, kind: str = "vacancy", reported_on: date | str | None = None, **kw: Any
) -> Fact:
    day = d(on) if isinstance(on, str) else on
    return fact(
        "application_reported",
        reported_on or day,
        {"applied_on": day.isoformat(), "kind": kind},
        **kw,
    )


def requirement(
    valid_from: str, per_period: int = 4, period: str = "month", on: str | None = None, **kw: Any
) -> Fact:
    data: dict[str, Any] = {
        "applications_per_period": per_period,
        "period": period,
        "valid_from": valid_from,
    }
    if per_period < 4 and period == "month":
        data["grounds"] = "labour market situation"
    return fact("job_search_requirement_set", on or valid_from, data, **kw)


def decision(on: date | str, *basis: str, **kw: Any) -> Fact:
    return fact(
        "decision_recorded",
        on,
        {"decision_type": "labour_policy_statement", "basis_event_ids": list(basis)},
        **kw,
    )


def correction(
    target: Fact,
    on: date | str,
    type_: str | None = None,
    data: Mapping[str, Any] | None = None,
    **kw: Any,
) -> Fact:
    day = d(on) if isinstance(on, str) else on
    replacement = {
        "type": type_ or target.type,
        "occurred_on": day.isoformat(),
        "occurred_at": None,
        "data": dict(data if data is not None else target.data),
    }
    return fact(
        "correction",
        day,
        {"corrects_event_id": target.event_id, "reason": "typo", "replacement": replacement},
        **kw,
    )


def retraction(target: Fact, **kw: Any) -> Fact:
    return fact(
        "retraction",
        target.occurred_on,
        {"retracts_event_id": target.event_id, "reason": "wrong person"},
        **kw,
    )


RULESETS = default_rulesets()


def run(
    facts: list[Fact],
    on: date | str,
    kind: str | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    calendar: WorkingDayCalendar = MONDAY_TO_FRIDAY,
) -> list[Obligation]:
    """Evaluate the shipped rulesets on ``on``; keep only ``kind`` when given."""
    day = d(on) if isinstance(on, str) else on
    found = evaluate(facts, day, RULESETS, calendar, overrides)
    return [o for o in found if kind is None or o.kind == kind]


def one(facts: list[Fact], on: date | str, kind: str, **kw: Any) -> Obligation:
    [found] = run(facts, on, kind, **kw)
    return found
