"""Poisoned events injected below the edge (issue 10 §1), and a log to project them in.

Each poison is appended through ``TimelineApp.append`` with a hand-built ``ParsedEvent`` that
skips the vocabulary's validation, as an event accepted before the edge refused it would sit in
a store. ``World`` replays one script of batches, each at its own recorded time, into a store:
with the poisoned seeker (the run under test) or without them (the clean run to compare with).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import StoredEvent

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.vocabulary import ParsedEvent

START = datetime(2025, 5, 12, 9, tzinfo=UTC)


def poisoned(good: ParsedEvent, **changes: Any) -> ParsedEvent:
    """``good`` with fields (or ``data`` keys, under ``data=``) replaced, unvalidated."""
    data = changes.pop("data", None)
    if data is not None:
        changes["data"] = {**good.data, **data}
    return dataclasses.replace(good, **changes)


def _valid_until_9999(s: str) -> tuple[list[list[ParsedEvent]], ParsedEvent]:
    """After a start and a plan: a requirement valid until 9999-12-31 (OverflowError)."""
    requirement = event(
        "job_search_requirement_set",
        s,
        {
            "applications_per_period": 4,
            "period": "month",
            "valid_from": "2025-05-08",
            "valid_until": "2025-12-31",
        },
        on="2025-05-08",
    )
    poison = poisoned(requirement, data={"valid_until": "9999-12-31"})
    return [
        [event("job_search_started", s, on="2025-05-05")],
        [event("employment_plan_agreed", s, {"plan_kind": "employment_plan"}, on="2025-05-08")],
        [poison],
    ], poison


def _started_in_year_one(s: str) -> tuple[list[list[ParsedEvent]], ParsedEvent]:
    """A start on 0001-01-01 (statistics: ValueError year 0)."""
    poison = poisoned(event("job_search_started", s, on="2025-05-05"), occurred_on="0001-01-01")
    return [[poison]], poison


def _coach_with_nul(s: str) -> tuple[list[list[ParsedEvent]], ParsedEvent]:
    """A coach id with a NUL byte (PostgreSQL text cannot hold it)."""
    poison = poisoned(event("coach_assigned", s, on="2025-05-06"), data={"coach_id": "c\u0000x"})
    return [[event("job_search_started", s, on="2025-05-05")], [poison]], poison


POISONS: dict[str, Callable[[str], tuple[list[list[ParsedEvent]], ParsedEvent]]] = {
    "valid_until_9999": _valid_until_9999,
    "started_in_year_one": _started_in_year_one,
    "coach_with_nul": _coach_with_nul,
}


@dataclass
class World:
    """Six good seekers and one poisoned one over two recorded months: the poison arrives
    between the good seekers' events, a day change and a month change come after it, and the
    poisoned seeker later sends a good event too."""

    poison_kind: str
    good: list[str] = field(default_factory=lambda: [new_seeker() for _ in range(6)])
    victim: str = field(default_factory=new_seeker)
    batches: list[tuple[datetime, list[ParsedEvent], bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        at = START
        victim_batches, self.poison = POISONS[self.poison_kind](self.victim)

        def add(events: list[ParsedEvent], *, victim: bool = False, hours: float = 1) -> None:
            nonlocal at
            self.batches.append((at, events, victim))
            at += timedelta(hours=hours)

        for n, s in enumerate(self.good[:3]):
            add(_start(s, n))
        for events in victim_batches:
            add(events, victim=True)
        for n, s in enumerate(self.good[3:], start=3):
            add(_start(s, n))
        at += timedelta(days=2)  # a new day: every seeker is evaluated again
        for s in self.good:
            add([_application(s, "2025-05-07")])
        add([_application(self.victim, "2025-05-07")], victim=True)  # a later good event
        at += timedelta(days=40)  # a new month for the statistics
        for s in self.good[::2]:
            add([_application(s, "2025-06-16")])

    def replay(self, app: TimelineApp, clock: FixedClock, *, with_victim: bool = True) -> None:
        for at, events, victim in self.batches:
            if victim and not with_victim:
                continue
            clock.set(at)
            app.append(events)

    def open(self, url: str, *, with_victim: bool = True) -> TimelineApp:
        clock = FixedClock(START)
        app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
        self.replay(app, clock, with_victim=with_victim)
        return app


def _start(s: str, n: int) -> list[ParsedEvent]:
    municipality = ("398", "837")[n % 2]
    events = [
        event(
            "job_search_started",
            s,
            {"municipality": municipality, "labour_market_status": "unemployed"},
            on="2025-05-05",
        ),
        event("coach_assigned", s, {"coach_id": f"coach-{n % 2}"}, on="2025-05-05"),
    ]
    if n % 3:
        events.append(
            event("employment_plan_agreed", s, {"plan_kind": "employment_plan"}, on="2025-05-06")
        )
    return events


def _application(s: str, on: str) -> ParsedEvent:
    return event("application_reported", s, {"applied_on": on, "kind": "vacancy"}, on=on)


def set_topic(app: TimelineApp, position: int, topic: str) -> str:
    """Rewrite the stored topic of the event at log ``position`` (as a code change that
    removed an event class would leave it unreadable); return the old topic."""
    recorder: Any = app.recorder
    [notification] = recorder.select_notifications(position, 1)
    old = str(notification.topic)
    if hasattr(recorder, "_stored_events"):  # the in-memory store
        stored = recorder._stored_events[position - 1]
        recorder._stored_events[position - 1] = StoredEvent(
            stored.originator_id, stored.originator_version, topic, stored.state
        )
        return old
    table = recorder.events_table_name
    if hasattr(recorder.datastore, "schema"):  # PostgreSQL
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute(
                f'UPDATE "{recorder.datastore.schema}"."{table}" SET topic = %s '
                "WHERE notification_id = %s",
                [topic, position],
            )
        return old
    with recorder.datastore.transaction(commit=True) as c:
        c.execute(f"UPDATE {table} SET topic = ? WHERE rowid = ?", [topic, position])
    return old
