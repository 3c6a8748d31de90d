"""Obligations: what is due, by when, and its status as on a day. JSON-ready via ``to_dict``."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Literal, get_args

from timeline.domain.rules.rulesets import Ruleset

Status = Literal["open", "met", "met_late", "overdue", "not_required"]
Kind = Literal[
    "initial_interview",
    "employment_plan",
    "supplementary_conversation",
    "job_search_conversation",
    "intensified_period",
    "job_search_requirement",
    "missed_appointment",
    "requirement_shortfall",
]
#: every kind, in the order obligations of one day are listed
KINDS: tuple[Kind, ...] = get_args(Kind)
_CONFIDENCE_ORDER = {"C": 0, "P": 1, "R": 2}


@dataclass(frozen=True)
class Obligation:
    """One obligation (or review flag) of a seeker as on a day.

    ``rule`` is a stable id ``<ruleset>/<rule>``. ``days_late`` is calendar days: for ``met_late``
    how late it was met, for ``overdue`` how far past ``due_on`` the evaluation day is (or the
    spell's end, if it ended first: lateness is frozen there).
    ``confidence`` is the weakest tag of the parameters used ("C" when all were confirmed) and
    ``assumptions`` names each [P]/[R] parameter used with its value. Flags
    (``missed_appointment``, ``requirement_shortfall``) are ``open`` until a ``decision_recorded``
    names their evidence, then ``met`` on the decision's day; ``consequence`` says what the
    ruleset makes of them. The service never decides a sanction."""

    seeker_id: str
    kind: Kind
    ruleset: str
    rule: str
    status: Status
    due_on: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    met_on: date | None = None
    days_late: int | None = None
    required: int | None = None
    counted: int | None = None
    basis_event_ids: tuple[str, ...] = ()
    confidence: str = "C"
    assumptions: tuple[str, ...] = ()
    consequence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def sort_key(self) -> tuple[date, int, str]:
        day = self.period_start or self.due_on or self.met_on or date.min
        return (day, KINDS.index(self.kind), self.rule)


def status_on(
    due_on: date, met_on: date | None, on: date, ended_on: date | None = None
) -> tuple[Status, int | None]:
    """Status and days late as on ``on`` for something due on ``due_on`` and met on ``met_on``
    (a ``met_on`` after ``on`` is not yet known and ignored).

    ``ended_on`` is the day the spell ended (ignored if after ``on``: not yet known then).
    Obligations stop that day (RULES.md, "At a spell's end"): one met by the end keeps its
    status; one overdue at the end stays ``overdue`` with ``days_late`` frozen at the end day;
    one still open at the end, or falling due after it, is ``not_required`` (kept in the
    output so the audit shows why nothing was done). Nothing accrues lateness after the end."""
    stopped = ended_on is not None and ended_on <= on
    last = ended_on if stopped and ended_on is not None else on
    if met_on is not None and met_on <= last:
        if met_on <= due_on:
            return "met", None
        return "met_late", (met_on - due_on).days
    if stopped and due_on >= last:
        return "not_required", None
    if last > due_on:
        return "overdue", (last - due_on).days
    return "open", None


def confidence_of(assumptions: Iterable[str]) -> str:
    if isinstance(assumptions, tuple):
        return _confidence(assumptions)
    return _worst(assumptions)


@functools.lru_cache(maxsize=4096)
def _confidence(assumptions: tuple[str, ...]) -> str:
    """(The few distinct tuples of assumptions come again with every obligation.)"""
    return _worst(assumptions)


def _worst(assumptions: Iterable[str]) -> str:
    worst = "C"
    for text in assumptions:
        tag = text[-2]
        if _CONFIDENCE_ORDER.get(tag, 0) > _CONFIDENCE_ORDER[worst]:
            worst = tag
    return worst


def obligation(
    seeker_id: str,
    kind: Kind,
    ruleset: Ruleset,
    rule: str,
    params: Iterable[str],
    *,
    extra_assumptions: Iterable[str] = (),
    **values: Any,
) -> Obligation:
    """Build an obligation naming its ruleset and rule, with the assumptions of ``params``."""
    found = ruleset.assumptions(params)
    assumptions = (*found, *extra_assumptions) if extra_assumptions else found
    return Obligation(
        seeker_id=seeker_id,
        kind=kind,
        ruleset=ruleset.id,
        rule=f"{ruleset.id}/{rule}",
        confidence=confidence_of(assumptions),
        assumptions=assumptions,
        **values,
    )
