"""The what-if's reads: every seeker's facts from the event log, through a port the application
satisfies (its recorder's notifications and its mapper, as the projections' runner reads them;
one seeker's facts as ``TimelineApp.facts`` gives them). No projection table is read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.utils import get_topic

from projections.outcomes.areas import load_areas
from projections.runtime.decode import FactDecoder
from projections.runtime.log import Decoder, Notifications
from projections.runtime.quarantine import is_poison
from projections.whatif.figures import AreaFilter
from projections.whatif.replay import MIN_CELL, Report, Scenario, Window, pairs, replay
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, effective_facts
from timeline.domain.timeline import Timeline

PAGE = 10_000


class WhatifLog(Protocol):
    """What the what-if reads of the write side (``TimelineApp`` satisfies it structurally;
    projections never import the application): the global log, its decoder, and one seeker's
    facts."""

    @property
    def recorder(self) -> Notifications: ...

    @property
    def mapper(self) -> Decoder: ...

    def facts(self, seeker_id: str) -> list[Fact]: ...


#: the events that decide a seeker's spells (and what may amend them): decoded first, so the
#: events of a seeker with no spell in the window need never be decoded
_SPELL_TOPICS = frozenset(
    get_topic(c)
    for c in (
        Timeline.Opened,
        Timeline.JobSearchStarted,
        Timeline.JobSearchEnded,
        Timeline.Corrected,
        Timeline.Retracted,
    )
)
_SPELL_TYPES = (EventType.JOB_SEARCH_STARTED, EventType.JOB_SEARCH_ENDED)


@dataclass
class LogRead:
    """The readable facts by seeker (with a window: of the seekers with a spell active in it),
    how many events were read, how many of them could not be decoded."""

    facts: dict[str, list[Fact]]
    events: int
    unreadable: int


def read_log(app: WhatifLog, window: Window | None = None, page: int = PAGE) -> LogRead:
    """The whole log, in pages of ``page`` notifications. With ``window``, only the seekers
    with a job-search spell active in it: their spells are found from the start, end,
    correction and retraction events alone (a correction that makes another event a start or
    an end keeps the seeker), and only their other events are decoded. An event that cannot
    be decoded (the projections quarantine it) is left out and counted in ``unreadable``."""
    decoder = FactDecoder(app.mapper)  # the projections' fast path (falls back to the mapper)
    raw: dict[str, list[Any]] = defaultdict(list)
    decoded: dict[int, Fact] = {}
    by_seeker: dict[str, list[Fact]] = defaultdict(list)
    events = 0
    after = 0
    bad: set[int] = set()
    while True:
        notifications = app.recorder.select_notifications(after, page, inclusive_of_start=False)
        if not notifications:
            break
        events += len(notifications)
        for n in notifications:
            if window is None or n.topic in _SPELL_TOPICS:
                fact = _decode(decoder, n)
                if fact is None:
                    bad.add(n.id)
                    continue
                decoded[n.id] = fact
                by_seeker[fact.seeker_id].append(fact)
                if window is None:
                    continue
            raw[str(n.originator_id)].append(n)
        after = notifications[-1].id
    if window is None:
        return LogRead(dict(by_seeker), events, len(bad))
    out: dict[str, list[Fact]] = {}
    for sid, stored in raw.items():
        if not _may_be_active(by_seeker.get(sid, []), window):
            continue
        facts = []
        for n in stored:
            fact = decoded.get(n.id) or _decode(decoder, n)
            if fact is None:
                bad.add(n.id)
            else:
                facts.append(fact)
        out[sid] = facts
    return LogRead(out, events, len(bad))


def _decode(decoder: FactDecoder, n: Any) -> Fact | None:
    try:
        return decoder.fact(n, n.id)
    except Exception as exc:
        if not is_poison(exc):
            raise
        return None


def _may_be_active(spell_facts: list[Fact], window: Window) -> bool:
    """Whether a seeker may have a spell active in ``window``, from their start, end,
    correction and retraction facts: exactly, unless a correction turns an event not among
    them into a start or an end (then yes, to be safe)."""
    ids = {f.event_id for f in spell_facts}
    for f in spell_facts:
        if (
            f.type == EventType.CORRECTION
            and str(f.data["corrects_event_id"]) not in ids
            and f.data["replacement"].get("type") in _SPELL_TYPES
        ):
            return True
    return window.active(effective_facts(spell_facts))


def whatif_report(
    app: WhatifLog, scenario: Scenario, *, area: str | None = None, min_cell: int = MIN_CELL
) -> Report:
    """Read the log and replay it under ``scenario`` (see :func:`replay`)."""
    found = read_log(app, scenario.window)
    return replay(found.facts, scenario, area=area_filter(area), min_cell=min_cell)


def seeker_pairs(app: WhatifLog, seeker_id: str, scenario: Scenario) -> list[dict[str, Any]]:
    """One seeker's obligations under both (see :func:`pairs`); ``NotFound`` for an unknown
    seeker."""
    return pairs(*scenario.both(app.facts(seeker_id)))


def area_filter(area: str | None) -> AreaFilter | None:
    """A municipality code or a known area id; ``ValueError`` naming the choices otherwise."""
    if area is None or area == "all":
        return None
    areas = load_areas()
    known = {a.id for a in areas.areas}
    if not (len(area) == 3 and area.isascii() and area.isdigit()) and area not in known:
        msg = (
            f"unknown area {area!r}; write a three-digit municipality code (398) or an area id "
            f"({', '.join(sorted(known))})"
        )
        raise ValueError(msg)
    return AreaFilter(area, areas)
