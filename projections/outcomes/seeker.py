"""One seeker's contributions to the monthly statistics: a pure function of the seeker's raw
facts, the horizon month (the month of the latest recorded event), the settings, the rulesets
and the calendar. Nothing here reads the clock or a database.

The seeker's days are cut into segments of constant *state*: inside a job-search spell the
status class (``in_service`` when an activating service runs that day, else the class of the
labour-market status), outside every spell ``after:<outflow category of the last spell>``.
Measures read the segments (interval arithmetic); the tests' brute-force evaluator walks the
same definitions day by day."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from projections.outcomes.months import count_date, last_day, month_of, months_between
from projections.outcomes.settings import OutcomeSettings
from timeline.domain.calendar import WorkingDayCalendar, add_months
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, Spell, effective_facts, spells
from timeline.domain.rules import Rulesets, evaluate
from timeline.domain.scope import places

DAY = timedelta(days=1)
# (compared once per fact: module names, not class attributes; see timeline.domain.event_types)
_STATUS_SETTERS = (EventType.JOB_SEARCH_STARTED, EventType.LABOUR_MARKET_STATUS_CHANGED)
_REFERRED, _SERVICE_STARTED = EventType.SERVICE_REFERRED, EventType.SERVICE_STARTED
_SERVICE_ENDED = EventType.SERVICE_ENDED
UNEMPLOYED = frozenset({"unemployed", "laid_off"})
OPEN_MARKET = frozenset({"employed", "part_time", "after:employed_open_market"})


@dataclass(frozen=True)
class Contribution:
    """One item a seeker adds to a month: ``item`` names what (``stock_unemployed``, ``inflow``,
    ``outflow`` with the spell's length in days, ...); ``value`` its number (None: unknown)."""

    month: str
    municipality: str
    item: str
    value: float | None = 1.0


@dataclass(frozen=True)
class Segment:
    start: date
    end: date
    state: str
    spell: int  # index of the spell, -1 outside every spell


@dataclass
class Service:
    type: str = "other"
    started_on: date | None = None
    ended_on: date | None = None


def status_class(status: str, settings: OutcomeSettings) -> str:
    return settings.student_class if status == "student" else status


class SeekerDays:
    """A seeker's effective facts turned into states by day."""

    def __init__(
        self, effective: Sequence[Fact], horizon_end: date, settings: OutcomeSettings
    ) -> None:
        self.settings = settings
        self.horizon_end = horizon_end
        self.spells: list[Spell] = spells(effective)
        self.status_days: list[date] = []
        self.statuses: list[str] = []
        moves = places(effective)  # the same rule that decides a caller's scope
        self.place_days: list[date] = [m.since for m in moves]
        self.places: list[str] = [m.municipality for m in moves]
        self.services: dict[str, Service] = {}
        for f in effective:
            if f.type in _STATUS_SETTERS:
                self.status_days.append(f.occurred_on)
                self.statuses.append(str(f.data.get("labour_market_status")))
            if f.type == _REFERRED:
                sid = str(f.data.get("service_id"))
                self.services.setdefault(sid, Service()).type = str(f.data.get("service_type"))
            elif f.type == _SERVICE_STARTED:
                self.services.setdefault(
                    str(f.data.get("service_id")), Service()
                ).started_on = f.occurred_on
            elif f.type == _SERVICE_ENDED:
                self.services.setdefault(
                    str(f.data.get("service_id")), Service()
                ).ended_on = f.occurred_on
        self.segments = self._segments()
        self._starts = [s.start for s in self.segments]

    def municipality(self, day: date) -> str | None:
        i = bisect.bisect_right(self.place_days, day)
        return self.places[i - 1] if i else None

    def month_municipality(self, month: str, calendar: WorkingDayCalendar) -> str | None:
        """The seeker's municipality on the month's count date, or else the first one recorded
        later in the month."""
        cd = count_date(month, calendar)
        found = self.municipality(cd)
        if found is not None:
            return found
        i = bisect.bisect_right(self.place_days, cd)
        if i < len(self.place_days) and self.place_days[i] <= last_day(month):
            return self.places[i]
        return None

    def _activating(self, day: date, spell_start: date) -> bool:
        """An activating service started in this spell runs on ``day`` (end day included)."""
        return any(
            s.type in self.settings.activating_services
            and s.started_on is not None
            and spell_start <= s.started_on <= day
            and (s.ended_on is None or day <= s.ended_on)
            for s in self.services.values()
        )

    def _state(self, day: date) -> tuple[str, int]:
        index = -1
        for i, sp in enumerate(self.spells):
            if sp.covers(day):
                index = i  # the later spell wins a shared day
        if index < 0:
            before = [sp for sp in self.spells if sp.ended_on is not None and sp.ended_on < day]
            last = before[-1].end_reason if before else None
            return f"after:{self.settings.outflow_category(last)}", -1
        if self._activating(day, self.spells[index].started_on):
            return "in_service", index
        i = bisect.bisect_right(self.status_days, day)
        status = self.statuses[i - 1] if i else "unemployed"
        return status_class(status, self.settings), index

    def _segments(self) -> list[Segment]:
        if not self.spells:
            return []
        first = self.spells[0].started_on
        cuts = {first}
        for sp in self.spells:
            cuts.add(sp.started_on)
            if sp.ended_on is not None:
                cuts.update((sp.ended_on, sp.ended_on + DAY))
        cuts.update(self.status_days)
        for s in self.services.values():
            if s.started_on is not None:
                cuts.add(s.started_on)
            if s.ended_on is not None:
                cuts.add(s.ended_on + DAY)
        days = sorted(d for d in cuts if first <= d <= self.horizon_end)
        out: list[Segment] = []
        for i, start in enumerate(days):
            end = days[i + 1] - DAY if i + 1 < len(days) else self.horizon_end
            state, spell = self._state(start)
            if out and out[-1].state == state and out[-1].spell == spell:
                out[-1] = Segment(out[-1].start, end, state, spell)
            else:
                out.append(Segment(start, end, state, spell))
        return out

    def state_on(self, day: date) -> Segment | None:
        i = bisect.bisect_right(self._starts, day)
        if not i or day > self.horizon_end:
            return None
        return self.segments[i - 1]

    def any_open_market(self, first: date, last: date) -> bool:
        """Whether the seeker was in the open labour market on some day of [first, last]."""
        return any(
            s.state in OPEN_MARKET and s.start <= last and first <= s.end for s in self.segments
        )

    def unemployment_run_start(self, day: date) -> date | None:
        """Where the continuous unemployment containing ``day`` began (None: not unemployed).
        Runs stay inside one spell; a registered gap of at most ``short_break_days`` days
        without an activating service (when ``service_breaks``) is bridged."""
        seg = self.state_on(day)
        if seg is None or seg.state not in UNEMPLOYED:
            return None
        i = self.segments.index(seg)
        start = seg.start
        j = i - 1
        while j >= 0:
            prev = self.segments[j]
            if prev.spell != seg.spell:
                break
            if prev.state in UNEMPLOYED:
                start = prev.start
                j -= 1
                continue
            # a gap: the unemployed-free segments back to the previous unemployed one
            k = j
            gap_days = 0
            bridged = False
            while k >= 0 and self.segments[k].spell == seg.spell:
                cur = self.segments[k]
                if cur.state in UNEMPLOYED:
                    bridged = True
                    break
                if cur.state == "in_service" and self.settings.service_breaks:
                    break
                gap_days += (cur.end - cur.start).days + 1
                k -= 1
            if not bridged or gap_days > self.settings.short_break_days:
                break
            j = k
        return start

    def unemployed_days(self, first: date, last: date) -> int:
        """Days in [first, last] in the unemployed class."""
        total = 0
        for s in self.segments:
            if s.state in UNEMPLOYED:
                lo, hi = max(s.start, first), min(s.end, last)
                if lo <= hi:
                    total += (hi - lo).days + 1
        return total


def contributions(
    facts: Iterable[Fact],
    horizon: str,
    settings: OutcomeSettings,
    rulesets: Rulesets,
    calendar: WorkingDayCalendar,
) -> list[Contribution]:
    """Everything one seeker adds to the months up to ``horizon`` (``YYYY-MM``)."""
    raw = list(facts)
    horizon_end = last_day(horizon)
    effective = [f for f in effective_facts(raw) if f.occurred_on <= horizon_end]
    days = SeekerDays(effective, horizon_end, settings)
    if not days.spells:
        return []
    out: list[Contribution] = []

    def add(month: str, item: str, value: float | None = 1.0) -> None:
        if month > horizon:
            return
        muni = days.month_municipality(month, calendar)
        if muni is not None:
            out.append(Contribution(month, muni, item, value))

    for month in months_between(month_of(days.spells[0].started_on), horizon):
        _stock(days, month, calendar, add)
    for sp in days.spells:
        _flows(days, sp, add)
    for sid, service in sorted(days.services.items()):
        del sid
        if service.ended_on is None or service.type not in settings.placement_services:
            continue
        month = month_of(service.ended_on)
        add(month, "services_ended")
        for k in (3, 6):
            seg = days.state_on(add_months(service.ended_on, k))
            add(month, f"placement_{k}m", None if seg is None else float(seg.state in OPEN_MARKET))
    _obligations(effective, horizon_end, rulesets, calendar, add)
    return out


def _stock(days: SeekerDays, month: str, calendar: WorkingDayCalendar, add: _Add) -> None:
    cd = count_date(month, calendar)
    seg = days.state_on(cd)
    if seg is None or seg.spell < 0:
        return
    add(month, "stock_total")
    if seg.state in UNEMPLOYED:
        add(month, "stock_unemployed")
    add(month, f"stock_{seg.state}")
    run = days.unemployment_run_start(cd)
    if run is None:
        return
    long_term = run <= add_months(cd, -12)
    if long_term:
        add(month, "long_term_12m")
    if run < add_months(cd, -24):
        add(month, "long_term_24m")
    window = days.unemployed_days(add_months(cd, -16) + DAY, cd)
    if not long_term and window >= days.settings.comparable_days:
        add(month, "comparable_long_term")


def _flows(days: SeekerDays, sp: Spell, add: _Add) -> None:
    start_month = month_of(sp.started_on)
    add(start_month, "inflow")
    for k in (3, 6, 12):
        until = add_months(sp.started_on, k)
        known = until <= days.horizon_end
        value = float(days.any_open_market(sp.started_on, until)) if known else None
        add(start_month, f"cohort_{k}m", value)
    if sp.ended_on is None:
        return
    month = month_of(sp.ended_on)
    add(month, "outflow", float((sp.ended_on - sp.started_on).days))
    add(month, f"outflow_{days.settings.outflow_category(sp.end_reason)}")
    for k in (1, 3, 6, 12):
        add(month, f"ended_within_{k}m", float(sp.ended_on <= add_months(sp.started_on, k)))


def _obligations(
    effective: Sequence[Fact],
    horizon_end: date,
    rulesets: Rulesets,
    calendar: WorkingDayCalendar,
    add: _Add,
) -> None:
    requirement: dict[str, list[tuple[int, bool]]] = {}
    # (``effective``: the seeker's effective facts up to ``horizon_end``, as ``evaluate`` would
    # make them from the raw facts again)
    for o in evaluate(effective, horizon_end, rulesets, calendar, effective=True):
        if o.status == "not_required" or o.due_on is None or o.due_on > horizon_end:
            continue
        month = month_of(o.due_on)
        if o.kind == "initial_interview":
            late = None if o.met_on is None else float(max(0, (o.met_on - o.due_on).days))
            add(month, "interview", late)
        elif o.kind in ("job_search_conversation", "supplementary_conversation"):
            add(month, o.kind, float(o.met_on is not None))
        elif o.kind == "job_search_requirement":
            required = o.required or 0
            counted = o.counted or 0
            requirement.setdefault(month, []).append((counted, counted >= required))
    for month, periods in requirement.items():
        add(month, "requirement_applications", float(sum(c for c, _ in periods)))
        add(month, "requirement_met", float(all(m for _, m in periods)))


class _Add(Protocol):
    def __call__(self, month: str, item: str, value: float | None = 1.0, /) -> None: ...
