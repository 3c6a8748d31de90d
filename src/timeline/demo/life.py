"""A seeker's life: spell after spell, each a small discrete-event simulation. The agenda's
items are handled through :data:`HANDLERS`, one function per kind of item; the events they
emit are released in recorded order once the simulation has moved past their time."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from timeline.demo import activity, interviews
from timeline.demo.rules import CALENDAR, local
from timeline.demo.seeker import Pending, Seeker, Spell
from timeline.domain.event_types import EventType

Handler = Callable[[Seeker, Spell, datetime, dict[str, Any]], None]

#: the handler of each kind of agenda item
HANDLERS: dict[str, Handler] = {
    "start": interviews.on_start,
    "coach": interviews.on_coach,
    "first_contact": interviews.on_first_contact,
    "meeting": interviews.on_meeting,
    "supp": interviews.on_supp,
    "intensified": interviews.on_intensified,
    "jsc_schedule": interviews.on_jsc_schedule,
    "service_start": activity.on_service_start,
    "service_end": activity.on_service_end,
    "status": activity.on_status,
    "contacts": activity.on_contacts,
    "apps": activity.on_apps,
    "application": activity.on_application,
    "transfer": activity.on_transfer,
    "decision": activity.on_decision,
    EventType.CORRECTION: activity.on_correction,
    EventType.RETRACTION: activity.on_retraction,
    "end": activity.on_end,
}


def seeker_events(seeker: Seeker) -> Iterator[Pending]:
    """The seeker's events ``(recorded, seq, envelope)`` in recorded order, spell by spell."""
    rng = seeker.rng
    start_day = seeker.first_start
    for n in range(seeker.spells_wanted):
        spell = seeker.plan_spell(start_day)
        yield from run_spell(seeker, spell)
        if spell.planned_end is None or not spell.ended:
            break
        gap = rng.choice((rng.randint(20, 120), rng.randint(60, 500)))
        start_day = CALENDAR.roll_forward(spell.planned_end + timedelta(days=gap))
        if start_day > seeker.end - timedelta(days=14) or n + 1 >= seeker.spells_wanted:
            break
    while seeker.buffer:
        yield heapq.heappop(seeker.buffer)


def run_spell(seeker: Seeker, spell: Spell) -> Iterator[Pending]:
    s = spell.start
    seeker.schedule(seeker.work_time(s, 8, 14), "start")
    if spell.planned_end is not None:
        spell.end_key = seeker.schedule(local(spell.planned_end, 16, 45), "end", rank=1)
    watermark_day, watermark = s, local(s, 0).astimezone(UTC)
    while seeker.agenda:
        day, _rank, at, seq, kind, payload = heapq.heappop(seeker.agenda)
        if spell.ended:
            break
        if kind == "end" and seq != spell.end_key:
            continue
        limit = spell.planned_end or seeker.end
        if day > limit or day > seeker.end:
            continue
        HANDLERS[kind](seeker, spell, at, payload)
        if day != watermark_day:
            watermark_day, watermark = day, local(day, 0).astimezone(UTC)
        while seeker.buffer and seeker.buffer[0][0] < watermark:
            yield heapq.heappop(seeker.buffer)
    seeker.agenda.clear()
