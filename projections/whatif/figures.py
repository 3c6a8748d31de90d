"""The figures of one side of a what-if (the rules that were in force, or the ruleset asked
about): per month of the window and per kind of obligation, how many fell due, how many were
met on time, met late, overdue or still open, the median days late; conversations required per
coach; seekers with a job-search requirement shortfall. Small cells are suppressed as in the
statistics (``projections.outcomes.suppression``). Pure: obligations and facts in, figures out.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from projections.outcomes.areas import Areas
from projections.outcomes.months import first_day, last_day, month_of
from projections.outcomes.suppression import suppress, suppress_derived
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact
from timeline.domain.rules import Obligation
from timeline.domain.scope import places

#: the obligations with a due day, in the order rows are listed; "all" sums them
DUE_KINDS = (
    "initial_interview",
    "employment_plan",
    "supplementary_conversation",
    "job_search_conversation",
    "intensified_period",
    "job_search_requirement",
)
CONVERSATION_KINDS = ("supplementary_conversation", "job_search_conversation", "intensified_period")
#: an obligation's status -> the measure that counts it
STATUS_MEASURES = {
    "met": "met_on_time",
    "met_late": "met_late",
    "overdue": "overdue",
    "open": "open",
}
COUNT_MEASURES = ("due", "met_on_time", "met_late", "overdue", "open")
#: (kind, measure) of every row, in order; count measures are suppressed on their persons,
#: derived ones (medians, ratios) on their base and on the counts they depend on
ROWS: tuple[tuple[str, str], ...] = (
    *((k, m) for k in (*DUE_KINDS, "all") for m in (*COUNT_MEASURES, "median_days_late")),
    ("conversations", "required"),
    ("conversations", "coaches"),
    ("conversations", "per_coach"),
    ("job_search_requirement", "seekers_with_shortfall"),
)
DERIVED = {"median_days_late": ("met_late", "overdue"), "per_coach": ("required", "coaches")}
Key = tuple[str, str, str]  # month, kind, measure


@dataclass
class Bucket:
    """Obligations (or conversations) counted, the persons they belong to, and values (days
    late; coach ids)."""

    total: int = 0
    persons: set[str] = field(default_factory=set)
    values: list[int] = field(default_factory=list)
    coaches: set[str] = field(default_factory=set)


class Seeker:
    """What the figures need of a seeker besides their obligations: their municipality and
    coach on a day (from ``job_search_started``/``seeker_transferred`` and ``coach_assigned``)."""

    def __init__(self, seeker_id: str, effective: Sequence[Fact]) -> None:
        self.seeker_id = seeker_id
        moves = places(effective)
        self._place_days = [p.since for p in moves]
        self._places = [p.municipality for p in moves]
        coach = EventType.COACH_ASSIGNED  # (a local name: compared once per fact)
        assigned = [
            (f.occurred_on, str(f.data.get("coach_id"))) for f in effective if f.type == coach
        ]
        self._coach_days = [d for d, _ in assigned]
        self._coaches = [c for _, c in assigned]

    def municipality_on(self, day: date) -> str | None:
        i = bisect.bisect_right(self._place_days, day)
        return self._places[i - 1] if i else (self._places[0] if self._places else None)

    def coach_on(self, day: date) -> str | None:
        i = bisect.bisect_right(self._coach_days, day)
        return self._coaches[i - 1] if i else None


@dataclass(frozen=True)
class AreaFilter:
    """A municipality code (``398``) or an employment or pilot area id (``paijat-hame``): does
    a seeker's municipality on a day belong to it?"""

    area: str
    areas: Areas

    def covers(self, municipality: str | None, day: date) -> bool:
        if municipality is None:
            return False
        if municipality == self.area:
            return True
        return self.area in (
            self.areas.employment_area(municipality, day),
            self.areas.pilot_area(municipality, day),
        )


@dataclass
class Tally:
    """One side's buckets for the months of a window."""

    months: tuple[str, ...]
    area: AreaFilter | None = None
    buckets: dict[Key, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    seekers: set[str] = field(default_factory=set)

    def add(self, seeker: Seeker, obligations: Iterable[Obligation]) -> None:
        """Count a seeker's obligations that fall due in the window (shortfalls: whose review
        period ends in it), in the area, and are owed (not ``not_required``)."""
        sid = seeker.seeker_id
        lo, hi = first_day(self.months[0]), last_day(self.months[-1])
        for o in obligations:
            day = o.period_end if o.kind == "requirement_shortfall" else o.due_on
            if day is None or o.status == "not_required" or not lo <= day <= hi:
                continue
            month = month_of(day)
            if self.area is not None and not self.area.covers(seeker.municipality_on(day), day):
                continue
            self.seekers.add(sid)
            if o.kind == "requirement_shortfall":
                self.buckets[
                    (month, "job_search_requirement", "seekers_with_shortfall")
                ].persons.add(sid)
                continue
            if o.kind not in DUE_KINDS:
                continue
            measure = STATUS_MEASURES[o.status]
            for kind in (o.kind, "all"):
                for name in ("due", measure):
                    b = self.buckets[(month, kind, name)]
                    b.total += 1
                    b.persons.add(sid)
                if o.days_late is not None and measure in ("met_late", "overdue"):
                    b = self.buckets[(month, kind, "median_days_late")]
                    b.values.append(o.days_late)
                    b.persons.add(sid)
            if o.kind in CONVERSATION_KINDS:
                b = self.buckets[(month, "conversations", "required")]
                b.total += (o.required or 1) if o.kind == "intensified_period" else 1
                b.persons.add(sid)
                b.coaches.add(seeker.coach_on(day) or "(none)")


Figure = tuple[float | None, int]  # value, persons it rests on


def figures(tally: Tally) -> dict[Key, Figure]:
    """Every row of every month: (value, persons). Zero where nothing fell due."""
    out: dict[Key, Figure] = {}
    for month in tally.months:
        for kind, measure in ROWS:
            b = tally.buckets.get((month, kind, measure))
            persons = len(b.persons) if b else 0
            value: float | None
            if measure == "median_days_late":
                value = float(statistics.median(b.values)) if b and b.values else None
            elif measure == "seekers_with_shortfall":
                value = float(persons)
            elif measure == "coaches":
                req = tally.buckets.get((month, kind, "required"))
                persons = len(req.persons) if req else 0
                value = float(len(req.coaches)) if req else 0.0
            elif measure == "per_coach":
                req = tally.buckets.get((month, kind, "required"))
                persons = len(req.persons) if req else 0
                value = round(req.total / len(req.coaches), 2) if req and req.coaches else None
            else:
                value = float(b.total) if b else 0.0
            out[(month, kind, measure)] = (value, persons)
    return out


def hidden(found: dict[Key, Figure], minimum: int) -> set[Key]:
    """The keys to publish as suppressed: counts of 1..minimum-1 persons and their complements
    (a kind's statuses and its due; the kinds and "all"; the conversation kinds and the
    conversations required; overdue review periods and seekers with a shortfall), and derived
    figures on a small base or on a suppressed count."""
    counts = {k: base for k, (_, base) in found.items() if k[2] not in DERIVED}
    relations: list[tuple[Key, list[Key]]] = []
    months = sorted({k[0] for k in found})
    for month in months:
        for kind in (*DUE_KINDS, "all"):
            relations.append(((month, kind, "due"), [(month, kind, m) for m in COUNT_MEASURES[1:]]))
        for m in COUNT_MEASURES:
            relations.append(((month, "all", m), [(month, k, m) for k in DUE_KINDS]))
        # conversations required = the conversation kinds due (an intensified period twice)
        conversations = [(month, k, "due") for k in CONVERSATION_KINDS]
        relations.append(((month, "conversations", "required"), conversations))
        # every overdue review period has its shortfall: the two counts go together
        relations.append(
            (
                (month, "job_search_requirement", "seekers_with_shortfall"),
                [(month, "job_search_requirement", "overdue")],
            )
        )
    out = suppress(counts, relations, minimum)
    derived = {k: [(k[0], k[1], d) for d in DERIVED[k[2]]] for k in found if k[2] in DERIVED}
    bases = {k: found[k][1] for k in derived}
    return out | suppress_derived(derived, bases, out, minimum)
