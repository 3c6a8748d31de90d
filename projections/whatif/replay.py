"""The what-if replay, pure: every seeker with a job-search spell active in a window is
evaluated twice in memory — under the rulesets that were in force, and as if another ruleset had
been in force for the window (:func:`timeline.domain.rules.in_force_instead`) — and the two sets
of figures are reported side by side. Nothing is written anywhere; the live projections are
never read or touched.

The facts come from the caller (``projections.whatif.log`` reads them from the event log)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from projections.outcomes.months import first_day, last_day, month_of, months_between, parse_month
from projections.whatif.figures import ROWS, AreaFilter, Key, Seeker, Tally, figures, hidden
from timeline.domain.calendar import MONDAY_TO_FRIDAY, WorkingDayCalendar
from timeline.domain.facts import Fact, effective_facts, spells
from timeline.domain.rules import (
    KINDS,
    RULES,
    Obligation,
    Ruleset,
    Rulesets,
    evaluate,
    in_force_instead,
)
from timeline.domain.rules.history import History, SpellFacts, build_history
from timeline.vocabulary import EARLIEST_DAY, LATEST_DAY

MIN_CELL = 5  # as the statistics (OutcomeSettings.min_cell, STATISTICS.md)
#: the longest window: ten years of monthly rows is already more than anyone reads
MAX_MONTHS = 120


@dataclass(frozen=True)
class Window:
    """The months ``first``..``last`` (``YYYY-MM``), both included."""

    first: str
    last: str

    def __post_init__(self) -> None:
        lo, hi = month_of(EARLIEST_DAY), month_of(LATEST_DAY)
        for month in (self.first, self.last):
            if not lo <= parse_month(month) <= hi:
                raise ValueError(f"{month} is outside {lo} … {hi}")
        if self.last < self.first:
            raise ValueError(f"the window ends ({self.last}) before it starts ({self.first})")
        if len(self.months) > MAX_MONTHS:
            raise ValueError(f"the window has {len(self.months)} months; at most {MAX_MONTHS}")

    @property
    def first_day(self) -> date:
        return first_day(self.first)

    @property
    def last_day(self) -> date:
        return last_day(self.last)

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(months_between(self.first, self.last))

    def active(self, effective: Sequence[Fact]) -> bool:
        """Whether a spell of these (effective) facts is open on some day of the window."""
        lo, hi = self.first_day, self.last_day
        return any(
            s.started_on <= hi and (s.ended_on is None or s.ended_on >= lo)
            for s in spells(effective)
        )


def plausible(day: date) -> date:
    """``day`` when it lies in the plausible range of the vocabulary (docs/events.md,
    "Ranges"); ``ValueError`` otherwise."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"{day.isoformat()} is outside {EARLIEST_DAY} … {LATEST_DAY}")
    return day


@dataclass(frozen=True)
class Scenario:
    """What is compared: ``ruleset`` in force for ``window`` instead of the rulesets that
    were, every obligation evaluated as on ``on``."""

    ruleset: Ruleset
    window: Window
    on: date
    rulesets: Rulesets
    calendar: WorkingDayCalendar = MONDAY_TO_FRIDAY

    def __post_init__(self) -> None:
        plausible(self.on)

    @property
    def whatif(self) -> Rulesets:
        return in_force_instead(
            self.rulesets, self.ruleset, self.window.first_day, self.window.last_day
        )

    def both(self, facts: Sequence[Fact]) -> tuple[list[Obligation], list[Obligation]]:
        """One seeker's obligations under the rulesets in force, and under the what-if."""
        actual = evaluate(facts, self.on, self.rulesets, self.calendar)
        return actual, evaluate(facts, self.on, self.whatif, self.calendar)

    def both_for_window(
        self,
        facts: Sequence[Fact],
        whatif: Rulesets | None = None,
        *,
        effective: Sequence[Fact] | None = None,
    ) -> tuple[list[Obligation], list[Obligation]]:
        """What :meth:`both` gives of the obligations that may fall due in the window, for
        less: the seeker's history (effective facts, spells, meetings by spell) is built once
        and judged under both rulesets, a spell that starts after the window is not evaluated
        (every obligation of a spell falls due on or after its first day), and a spell that
        ended before the window is evaluated once for both (every day its rules look up a
        ruleset for lies between its start and its end, and before the window the two agree),
        and no review period, intensified period or job-search conversation that begins after
        the window is made (``History.until``: each falls due on or after its first day).
        ``whatif``: :attr:`whatif`, and ``effective``: ``effective_facts(facts)``, when the
        caller has them already."""
        first, last = self.window.first_day, self.window.last_day
        if effective is None:
            history = build_history(facts, self.on, self.rulesets, self.calendar)
        else:
            history = build_history(
                effective, self.on, self.rulesets, self.calendar, effective=True
            )
        history.until = last
        other = copy.copy(history)
        other.rulesets = whatif if whatif is not None else self.whatif
        actual: list[Obligation] = []
        instead: list[Obligation] = []
        for part in history.spells:
            spell = part.spell
            if spell.started_on > last:
                break  # (spells come in order)
            found = _judged(history, part)
            actual.extend(found)
            if spell.ended_on is not None and spell.ended_on < first:
                instead.extend(found)
            else:
                instead.extend(_judged(other, part))
        return actual, instead


def _judged(history: History, part: SpellFacts) -> list[Obligation]:
    """One spell's obligations, as :func:`timeline.domain.rules.evaluate` lists them."""
    found: list[Obligation] = []
    for rule in RULES:
        found.extend(rule(history, part))
    found.sort(key=Obligation.sort_key)
    return found


@dataclass
class Report:
    """Figures side by side: ``rows`` of (month, kind, measure, actual, whatif, change,
    suppressed); a suppressed side is ``None``."""

    ruleset: str
    basis: str
    window: Window
    on: date
    area: str | None
    seekers: int | None
    events: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "basis": self.basis,
            "compared_with": "the rulesets in force",
            "from": self.window.first,
            "to": self.window.last,
            "on": self.on.isoformat(),
            "area": self.area,
            "seekers": self.seekers,
            "events": self.events,
            "rows": self.rows,
        }


def replay(
    facts_by_seeker: Mapping[str, Sequence[Fact]],
    scenario: Scenario,
    *,
    area: AreaFilter | None = None,
    min_cell: int = MIN_CELL,
    counts: Mapping[str, int] | None = None,
) -> Report:
    """The what-if over every seeker whose spell is active in the window (in ``area``, judged by
    the municipality on each obligation's due day). ``counts``: each seeker's events, when
    some were left out of ``facts_by_seeker`` unread (the report names how many events)."""
    months = scenario.window.months
    actual, whatif = Tally(months, area), Tally(months, area)
    whatif_rulesets = scenario.whatif
    events = 0
    for sid, facts in facts_by_seeker.items():
        effective = effective_facts(facts)
        if not scenario.window.active(effective):
            continue
        events += counts[sid] if counts is not None else len(facts)
        seeker = Seeker(sid, effective)
        mine, theirs = scenario.both_for_window(facts, whatif_rulesets, effective=effective)
        actual.add(seeker, mine)
        whatif.add(seeker, theirs)
    persons = len(actual.seekers | whatif.seekers)
    return Report(
        ruleset=scenario.ruleset.id,
        basis=scenario.ruleset.basis,
        window=scenario.window,
        on=scenario.on,
        area=area.area if area else None,
        seekers=None if 0 < persons < min_cell else persons,
        events=events,
        rows=side_by_side(actual, whatif, min_cell),
    )


def side_by_side(actual: Tally, whatif: Tally, min_cell: int) -> list[dict[str, Any]]:
    """One row per month and (kind, measure), each side suppressed on its own; the change is
    shown only when both sides are."""
    a, w = figures(actual), figures(whatif)
    a_hidden, w_hidden = hidden(a, min_cell), hidden(w, min_cell)
    order = {row: i for i, row in enumerate(ROWS)}
    rows = []
    for key in sorted(a, key=lambda k: (k[0], order[(k[1], k[2])])):
        before = _shown(a, a_hidden, key)
        after = _shown(w, w_hidden, key)
        change = None if before is None or after is None else round(after - before, 2)
        rows.append(
            {
                "month": key[0],
                "kind": key[1],
                "measure": key[2],
                "actual": before,
                "whatif": after,
                "change": change,
                "suppressed": key in a_hidden or key in w_hidden,
            }
        )
    return rows


def _shown(found: Mapping[Key, tuple[float | None, int]], shut: set[Key], key: Key) -> float | None:
    return None if key in shut else found[key][0]


# -- one seeker, for an auditor -----------------------------------------------------------------


def pairs(actual: Iterable[Obligation], whatif: Iterable[Obligation]) -> list[dict[str, Any]]:
    """A seeker's obligations under both, matched by kind, rule (without the ruleset) and the
    order in which they come: the n-th review period with the n-th, and so on. What exists on
    one side only is paired with ``None``."""
    keyed: dict[tuple[str, str, int], dict[str, Any]] = {}
    for side, found in (("actual", actual), ("whatif", whatif)):
        seen: dict[tuple[str, str], int] = {}
        for o in found:
            rule = o.rule.split("/", 1)[1]
            n = seen[(o.kind, rule)] = seen.get((o.kind, rule), 0) + 1
            row = keyed.setdefault(
                (o.kind, rule, n), {"kind": o.kind, "rule": rule, "actual": None, "whatif": None}
            )
            row[side] = o.to_dict()
            day = o.period_start or o.due_on or o.met_on or date.min
            row["_order"] = min(row.get("_order", (date.max, 0)), (day, KINDS.index(o.kind)))
    out = sorted(keyed.values(), key=lambda r: (r["_order"], r["rule"]))
    for row in out:
        del row["_order"]
    return out
