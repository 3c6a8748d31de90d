"""The what-if's reads: the facts of the seekers with a spell in a window from the event log,
through a port the application satisfies (its recorder's notifications and its mapper, as the
projections' runner reads them; seekers' stored events from its event index, as the projections
read them again; one seeker's facts as ``TimelineApp.facts`` gives them). No projection table is
read.

:func:`read_window` is what a run reads: the spell events of every seeker (the log's topic
selection: the store sends nothing else), then the stored events of the seekers with a spell in
the window only (one indexed range read each), kept between runs in a :class:`WhatifCache`.
:func:`read_log` reads the whole log in position order (a reference, and the benchmark's
baseline)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.utils import get_topic
from orjson import loads

from projections.outcomes.areas import load_areas
from projections.runtime.decode import FactDecoder
from projections.runtime.log import Decoder, Notifications, PositionIndex
from projections.runtime.quarantine import is_poison
from projections.whatif.cache import SeekerFacts, WhatifCache, cache_for
from projections.whatif.figures import AreaFilter
from projections.whatif.replay import MIN_CELL, Report, Scenario, Window, pairs, replay
from timeline.domain.event_types import EventType
from timeline.domain.facts import Fact, effective_facts
from timeline.domain.timeline import EVENT_CLASSES, Timeline
from timeline.store import form2

PAGE = 10_000


class WhatifLog(Protocol):
    """What the what-if reads of the write side (``TimelineApp`` satisfies it structurally;
    projections never import the application): the global log, its decoder, and one seeker's
    facts."""

    @property
    def recorder(self) -> Notifications: ...

    @property
    def mapper(self) -> Decoder: ...

    @property
    def index(self) -> PositionIndex: ...

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
#: the types neither the rules nor the figures read (contacts, meetings booked, services):
#: :func:`read_window` counts their events without decoding them, unless a correction of the
#: seeker names the event (it may turn it into a type they read). The what-if's tests judge
#: the demo's seekers both ways and find the same obligations.
UNREAD_TYPES = frozenset(
    {
        EventType.CONTACT_MADE,
        EventType.MEETING_SCHEDULED,
        EventType.SERVICE_REFERRED,
        EventType.SERVICE_STARTED,
        EventType.SERVICE_ENDED,
    }
)
_UNREAD_TOPICS = frozenset(get_topic(EVENT_CLASSES[t]) for t in UNREAD_TYPES)


@dataclass
class LogRead:
    """The readable facts by seeker (with a window: of the seekers with a spell active in it),
    how many events were read, how many of them could not be decoded."""

    facts: dict[str, list[Fact]]
    events: int
    unreadable: int
    #: (:func:`read_window`) the readable events of each seeker, those left undecoded included
    counts: dict[str, int] | None = None


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


def read_window(
    app: WhatifLog,
    window: Window,
    cache: WhatifCache | None = None,
    *,
    page: int = PAGE,
) -> LogRead:
    """The facts of every seeker with a job-search spell active in ``window`` (as
    :func:`read_log` with a window gives them), read with as little as the window needs:

    1. the start, end, correction and retraction events after the cache's position, selected
       by topic in the store (the other events are not sent), decoded and kept by seeker;
    2. the seekers with a spell in the window found from those alone (a correction that makes
       another event a start or an end keeps the seeker, to be safe);
    3. their stored events with their positions (one indexed range read a seeker; none when
       nothing was appended to the log since they were read), those after the version the
       cache holds for them decoded
       — but for the events of :data:`UNREAD_TYPES` no correction names: only counted.

    ``cache`` (default: none kept) is brought up to the log's last position. ``events`` counts
    the events read from the store by this call; ``unreadable`` the events of the seekers
    returned that could not be decoded (left out, as the projections quarantine them);
    ``counts`` each seeker's readable events (decoded or left unread)."""
    cache = cache if cache is not None else WhatifCache()
    decoder = FactDecoder(app.mapper)
    with cache.lock:
        top = app.recorder.max_notification_id() or 0
        if top < cache.position:  # the log went backwards: another store behind the same app
            cache.clear()
        events = _catch_up_spells(app, decoder, cache, top, page)
        stale: dict[str, int] = {}
        found: dict[str, SeekerFacts] = {}
        for sid, spell_facts in cache.spell_facts.items():
            if not _may_be_active(spell_facts, window):
                continue
            entry = cache.get(sid)
            corrected = _corrected(spell_facts)
            if entry is not None and not corrected <= entry.corrected:
                entry = None  # a new correction may name an event left unread: read again
            if entry is not None and entry.checked >= top:
                found[sid] = entry
            else:
                stale[sid] = entry.version if entry is not None else 0
        for sid, after in stale.items():
            # (one indexed range read; the stream's id is converted once, not once a row)
            new = [n for n in app.index.seeker_notifications(sid) if n.originator_version > after]
            events += len(new)
            corrected = _corrected(cache.spell_facts[sid])
            entry = cache.get(sid) if after else None
            found[sid] = entry = _extended(entry, decoder, new, after, top, corrected)
            cache.put(sid, entry)
    facts = {sid: list(e.facts) for sid, e in found.items()}
    counts = {sid: len(e.facts) + e.unread for sid, e in found.items()}
    return LogRead(facts, events, sum(e.unreadable for e in found.values()), counts)


def _corrected(spell_facts: Sequence[Fact]) -> frozenset[str]:
    """The events the seeker's corrections name."""
    return frozenset(
        str(f.data["corrects_event_id"]) for f in spell_facts if f.type == EventType.CORRECTION
    )


def _catch_up_spells(
    app: WhatifLog, decoder: FactDecoder, cache: WhatifCache, top: int, page: int
) -> int:
    """Read the spell events after ``cache.position`` up to ``top`` into the cache; how many."""
    after, read = cache.position, 0
    topics = sorted(_SPELL_TOPICS)
    while after < top:
        notifications = app.recorder.select_notifications(
            after, page, top, topics, inclusive_of_start=False
        )
        if not notifications:
            break
        read += len(notifications)
        for n in notifications:
            fact = _decode(decoder, n)
            if fact is None:
                cache.unreadable.add(n.id)
            else:
                cache.spell_facts.setdefault(fact.seeker_id, []).append(fact)
        after = notifications[-1].id
    cache.position = top
    return read


def _extended(
    entry: SeekerFacts | None,
    decoder: FactDecoder,
    stored: Sequence[Any],
    after: int,
    top: int,
    corrected: frozenset[str],
) -> SeekerFacts:
    """``entry`` (the seeker's facts up to version ``after``) with the ``stored`` events after
    it decoded (those of :data:`UNREAD_TYPES` only counted, unless ``corrected`` names them),
    known complete up to log position ``top``."""
    facts = list(entry.facts) if entry is not None else []
    unreadable = entry.unreadable if entry is not None else 0
    unread = entry.unread if entry is not None else 0
    skip = decoder.fast  # (another stored form: every event is decoded)
    for s in stored:
        if skip and s.topic in _UNREAD_TOPICS and _event_id(s.state) not in corrected:
            unread += 1
            continue
        fact = _decode(decoder, s)
        if fact is None:
            unreadable += 1
        else:
            facts.append(fact)
    version = stored[-1].originator_version if stored else after
    return SeekerFacts(version, top, tuple(facts), unreadable, unread, corrected)


def _event_id(state: bytes) -> str | None:
    """The event id of a stored state the fast decoder reads (None if it cannot be read here:
    the event is then decoded, and kept out if it cannot be)."""
    try:
        if state[:1] == bytes([form2.FORM]):  # stored form 2: the id is in its envelope
            return form2.parse(state).event_id
        found = loads(state)["event_id"]
    except Exception:
        return None
    return found if isinstance(found, str) else None


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
    app: WhatifLog,
    scenario: Scenario,
    *,
    area: str | None = None,
    min_cell: int = MIN_CELL,
    cache: WhatifCache | None = None,
) -> Report:
    """Read the seekers of the window (:func:`read_window`, through ``cache``: by default the
    one kept for ``app`` in this process) and replay them under ``scenario`` (see
    :func:`replay`)."""
    found = read_window(app, scenario.window, cache if cache is not None else cache_for(app))
    return replay(
        found.facts, scenario, area=area_filter(area), min_cell=min_cell, counts=found.counts
    )


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
