"""One seeker's simulation state: the agenda of what happens next, the buffer of emitted
events waiting for their recorded time, and the helpers every handler uses (actors, times,
:meth:`Seeker.emit`, :meth:`Seeker.schedule`). The handlers are in ``interviews`` and
``activity``; ``life`` runs them."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from timeline.demo.data import (
    BACKDATE_SHARE,
    CORRECTABLE,
    CORRECTION_SHARE,
    LAHTI_REGION,
    LAHTI_SHARE,
    LAHTI_TABLE,
    OTHER_TABLE,
    RETRACTABLE,
    RETRACTION_SHARE,
)
from timeline.demo.ids import personal_identity_code, uuid_text
from timeline.demo.rules import CALENDAR, local, pick
from timeline.domain.event_types import EventType

Item = tuple[date, int, datetime, int, str, dict[str, Any]]  # day, rank, at, seq, kind, payload
Pending = tuple[datetime, int, dict[str, Any]]  # recorded, seq, envelope


@dataclass(frozen=True)
class Rec:
    """What later events need to know of an emitted one."""

    event_id: str
    recorded: datetime
    type: EventType
    occurred: datetime
    day_level: bool
    data: dict[str, Any]


class Spell:
    """Mutable state of one job-search spell."""

    def __init__(self, start: date, status: str, planned_end: date | None) -> None:
        self.start = start
        self.status = status
        self.planned_end = planned_end  # None: still open at the end of the data
        self.end_key = 0  # the valid end item's seq
        self.start_rec: Rec | None = None
        self.max_recorded: datetime | None = None
        self.coach: str | None = None
        self.services: dict[str, datetime] = {}  # service_id -> latest recorded (ref/start)
        self.running_services: dict[str, date] = {}  # service_id -> planned end day
        self.ended = False
        self.end_reason: str | None = None


class Seeker:
    """One job seeker's simulation: its random generator, its agenda (what happens next), the
    events emitted but not yet released (by recorded time), and what later events need."""

    def __init__(self, seed: int, first_start: date, end: date) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        rng = self.rng
        self.end = end
        self.cap = local(end, 22).astimezone(UTC)
        self.hard_limit = local(end, 23, 59).astimezone(UTC) + timedelta(seconds=59)
        self.seeker_id = self.uuid()
        self.first_start = first_start
        if rng.random() < LAHTI_SHARE:
            self.municipality = pick(rng, LAHTI_TABLE)
        else:
            self.municipality = pick(rng, OTHER_TABLE)
        age = rng.choices(
            (rng.randint(17, 24), rng.randint(25, 44), rng.randint(45, 63)), weights=(2, 5, 3)
        )[0]
        birth_year = first_start.year - age
        self.birth = date(birth_year, rng.randint(1, 12), rng.randint(1, 28))
        if birth_year >= 2000:
            sign = "B" if rng.random() < 0.15 else "A"
        else:
            sign = "Y" if rng.random() < 0.1 else "-"
        self.pic = personal_identity_code(self.birth, rng.randint(900, 999), sign)
        self.language = pick(
            rng,
            (("fi", 0.84), ("sv", 0.03), ("en", 0.04), ("ru", 0.03), ("ar", 0.02), ("et", 0.02),
             ("uk", 0.02)),
        )  # fmt: skip
        self.spells_wanted = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
        self.seq = 0
        self.agenda: list[Item] = []
        self.buffer: list[Pending] = []
        self.last_end_recorded: datetime | None = None
        self.touched: set[str] = set()  # event ids already corrected or retracted

    # -- helpers --

    def uuid(self) -> str:
        return uuid_text(self.rng.getrandbits(128))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def source(self) -> str:
        return "lahti-case-system" if self.municipality in LAHTI_REGION else "kunta-integration"

    def caseworker(self, municipality: str | None = None) -> str:
        m = municipality or self.municipality
        pool = 40 if m == "398" else 15
        return f"caseworker:{int(m) * 10 % 9000 + 1000 + self.rng.randrange(pool):04d}"

    def coach_actor(self, spell: Spell) -> dict[str, str]:
        who = spell.coach if spell.coach and self.rng.random() < 0.85 else self.caseworker()
        return {"id": who, "role": "coach", "organisation": self.municipality}

    def seeker_actor(self) -> dict[str, str]:
        return {"id": "system:oma-asiointi", "role": "seeker", "organisation": self.municipality}

    def system_actor(self) -> dict[str, str]:
        return {
            "id": "system:kunta-integration",
            "role": "system",
            "organisation": self.municipality,
        }

    def work_time(self, day: date, lo: int = 8, hi: int = 15) -> datetime:
        return local(day, self.rng.randint(lo, hi), self.rng.choice((0, 15, 30, 45)))

    def schedule(
        self, at: datetime, kind: str, payload: dict[str, Any] | None = None, rank: int = 0
    ) -> int:
        seq = self.next_seq()
        heapq.heappush(self.agenda, (at.date(), rank, at, seq, kind, payload or {}))
        return seq

    def delay(self, backdate: bool) -> timedelta:
        rng = self.rng
        if backdate and rng.random() < BACKDATE_SHARE:
            return timedelta(days=rng.randint(3, 40), minutes=rng.randint(0, 600))
        return timedelta(minutes=min(int(rng.expovariate(1 / 90)) + 2, 8 * 60))

    # -- emitting --

    def emit(
        self,
        spell: Spell,
        type_: EventType,
        at: datetime,
        data: dict[str, Any],
        actor: dict[str, str],
        *,
        day_level: bool = False,
        source: str | None = None,
        after: Iterable[datetime | None] = (),
        backdate: bool = True,
    ) -> Rec:
        at_utc = at.astimezone(UTC)
        recorded = min(at_utc + self.delay(backdate), max(self.cap, at_utc))
        for dep in (spell.start_rec.recorded if spell.start_rec else None, *after):
            if dep is not None and recorded <= dep:
                recorded = dep + timedelta(seconds=self.rng.randint(1, 120))
        recorded = min(recorded, self.hard_limit)
        event_id = self.uuid()
        envelope: dict[str, Any] = {
            "event_id": event_id,
            "seeker_id": self.seeker_id,
            "type": type_,
        }
        if day_level:
            envelope["occurred_on"] = at.date().isoformat()
        else:
            envelope["occurred_at"] = at.isoformat()
        envelope["actor"] = actor
        envelope["source"] = source or (
            "oma-asiointi" if actor["role"] == "seeker" else self.source()
        )
        envelope["data"] = data
        heapq.heappush(self.buffer, (recorded, self.next_seq(), envelope))
        if spell.max_recorded is None or recorded > spell.max_recorded:
            spell.max_recorded = recorded
        rec = Rec(event_id, recorded, type_, at, day_level, data)
        self.maybe_amend(rec)
        return rec

    def maybe_amend(self, rec: Rec) -> None:
        """Now and then a correction or retraction of ``rec`` follows days later."""
        rng = self.rng
        roll = rng.random()
        correctable = rec.type in CORRECTABLE
        retractable = rec.type in RETRACTABLE and not (
            rec.type == EventType.MEETING_HELD and rec.data.get("kind") == "initial_interview"
        )
        if correctable and roll < CORRECTION_SHARE:
            kind = EventType.CORRECTION
        elif retractable and CORRECTION_SHARE <= roll < CORRECTION_SHARE + RETRACTION_SHARE:
            kind = EventType.RETRACTION
        else:
            return
        day = CALENDAR.roll_forward(rec.occurred.date() + timedelta(days=rng.randint(1, 21)))
        self.schedule(self.work_time(day), kind, {"rec": rec})

    # -- the spell --

    def plan_spell(self, start: date) -> Spell:
        rng = self.rng
        status = pick(
            rng,
            (("unemployed", 0.72), ("laid_off", 0.14), ("part_time", 0.08), ("student", 0.03),
             ("outside_labour_force", 0.03)),
        )  # fmt: skip
        bucket = rng.random()
        if status == "laid_off":
            days = rng.randint(30, 200) if bucket < 0.85 else rng.randint(200, 500)
        elif bucket < 0.15:
            days = rng.randint(30, 90)
        elif bucket < 0.72:
            days = rng.randint(91, 365)
        elif bucket < 0.90:
            days = rng.randint(366, 730)
        else:
            days = rng.randint(731, 1200)
        end_day = start + timedelta(days=days)
        return Spell(start, status, end_day if end_day <= self.end else None)

    def end_now(self, spell: Spell, day: date, reason: str) -> None:
        """Move the spell's end to ``day`` (not before anything already on the agenda today)."""
        if day > self.end:
            return
        if spell.planned_end is not None and day >= spell.planned_end:
            return
        spell.planned_end = day
        spell.end_reason = reason
        spell.end_key = self.schedule(local(day, 16, 45), "end", rank=1)
