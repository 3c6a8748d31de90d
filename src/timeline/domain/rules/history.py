"""A seeker's history as the rules see it on a day: effective facts up to that day, split into
spells, with the labour-market status over time. Built in one sorted pass."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from timeline.domain.calendar import WorkingDayCalendar
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, Spell, effective_facts, spells
from timeline.domain.rules.rulesets import Rulesets

#: the types whose data may carry a new labour-market status
_STATUS_SETTERS = (EventType.JOB_SEARCH_STARTED, EventType.LABOUR_MARKET_STATUS_CHANGED)
# (compared once per fact: module names, not class attributes; see timeline.domain.event_types)
_DECISION, _APPLICATION = EventType.DECISION_RECORDED, EventType.APPLICATION_REPORTED
_HELD, _MISSED = EventType.MEETING_HELD, EventType.MEETING_MISSED
_PLAN, _REQUIREMENT = EventType.EMPLOYMENT_PLAN_AGREED, EventType.JOB_SEARCH_REQUIREMENT_SET


@dataclass(frozen=True)
class StatusRun:
    """A stretch of one labour-market status, from ``started_on`` until the next run."""

    status: str
    started_on: date
    event_id: str


@dataclass
class SpellFacts:
    """The facts of one spell (meetings, plans, requirements, applications, misses)."""

    spell: Spell
    previous: Spell | None
    held: dict[str, list[Fact]] = field(default_factory=dict)
    missed: list[Fact] = field(default_factory=list)
    plans: list[Fact] = field(default_factory=list)
    requirements: list[Fact] = field(default_factory=list)
    applications: list[Fact] = field(default_factory=list)
    #: ``applied_on`` of each application, same order (applications are sorted by it)
    application_days: list[date] = field(default_factory=list)

    def meetings(self, *kinds: str) -> list[Fact]:
        if len(kinds) == 1:
            return self.held.get(kinds[0], [])
        out = [f for k in kinds for f in self.held.get(k, [])]
        out.sort(key=Fact.sort_key)
        return out


@dataclass
class History:
    seeker_id: str
    on: date
    rulesets: Rulesets
    calendar: WorkingDayCalendar
    spells: list[SpellFacts]
    runs: list[StatusRun]
    #: event id -> the days on which a ``decision_recorded`` named it among its basis
    reviewed_on: dict[str, list[date]]
    _run_starts: list[date] = field(default_factory=list)
    #: a caller that reads only the obligations due up to this day (the what-if's window) sets
    #: it: the rules then leave out the review periods, intensified periods and job-search
    #: conversations that begin after it (each falls due on or after its first day). None:
    #: every obligation up to ``on``.
    until: date | None = None

    def __post_init__(self) -> None:
        self._run_starts = [r.started_on for r in self.runs]

    def status_run_on(self, day: date) -> StatusRun | None:
        i = bisect.bisect_right(self._run_starts, day)
        return self.runs[i - 1] if i else None

    def status_on(self, day: date) -> str | None:
        run = self.status_run_on(day)
        return run.status if run else None


def build_history(
    facts: Iterable[Fact],
    on: date,
    rulesets: Rulesets,
    calendar: WorkingDayCalendar,
    *,
    effective: bool = False,
) -> History:
    """Apply corrections and retractions, keep what occurred on or before ``on``, and index it.
    ``effective``: ``facts`` are already :func:`effective_facts`' answer (not made again)."""
    kept = [f for f in (facts if effective else effective_facts(facts)) if f.occurred_on <= on]
    seeker_ids = {f.seeker_id for f in kept}
    if len(seeker_ids) > 1:
        raise ValueError("facts of more than one seeker")
    found = spells(kept)
    parts: list[SpellFacts] = []
    for i, spell in enumerate(found):
        parts.append(SpellFacts(spell, found[i - 1] if i else None))
    starts = [s.started_on for s in found]
    runs: list[StatusRun] = []
    reviewed: dict[str, list[date]] = {}
    for fact in kept:
        status = fact.data.get("labour_market_status")
        if fact.type in _STATUS_SETTERS and status:
            if not runs or runs[-1].status != status:
                runs.append(StatusRun(str(status), fact.occurred_on, fact.event_id))
            continue
        if fact.type == _DECISION:
            for basis in fact.data.get("basis_event_ids", ()):
                reviewed.setdefault(str(basis), []).append(fact.occurred_on)
            continue
        day = applied_on(fact) if fact.type == _APPLICATION else fact.occurred_on
        i = bisect.bisect_right(starts, day) - 1
        if i < 0 or not found[i].covers(day):
            continue
        _file(parts[i], fact)
    for part in parts:
        pairs = sorted(((applied_on(a), a) for a in part.applications), key=lambda p: p[0])
        part.application_days = [day for day, _ in pairs]
        part.applications = [a for _, a in pairs]
    seeker_id = next(iter(seeker_ids), "")
    return History(seeker_id, on, rulesets, calendar, parts, runs, reviewed)


def _file(part: SpellFacts, fact: Fact) -> None:
    if fact.type == _HELD:
        part.held.setdefault(str(fact.data.get("kind")), []).append(fact)
    elif fact.type == _MISSED:
        part.missed.append(fact)
    elif fact.type == _PLAN:
        part.plans.append(fact)
    elif fact.type == _REQUIREMENT:
        part.requirements.append(fact)
    elif fact.type == _APPLICATION:
        part.applications.append(fact)


def applied_on(fact: Fact) -> date:
    """The day an application was made (``data.applied_on``, else the day it was reported)."""
    raw = fact.data.get("applied_on")
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw)) if raw else fact.occurred_on


def data_date(fact: Fact, key: str) -> date | None:
    raw = fact.data.get(key)
    if raw is None or isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw))
