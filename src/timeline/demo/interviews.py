"""The handlers of a spell's first weeks and its conversations: registration, the coach, the
first contact, meetings booked, held and missed, the job-search, supplementary and
intensified-period conversations, plans and job-search requirements. Each ``on_KIND``
handles an agenda item of that kind (``life.HANDLERS``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from timeline.demo.activity import refer, schedule_status_changes
from timeline.demo.data import REDUCED_GROUNDS
from timeline.demo.rules import (
    CALENDAR,
    FI_2026_01,
    FI_2026_03,
    add_months,
    initial_interview_days,
    local,
    pick,
)
from timeline.demo.seeker import Seeker, Spell
from timeline.domain.event_types import EventType


def on_start(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    online = rng.random() < 0.8
    data: dict[str, Any] = {
        "municipality": seeker.municipality,
        "labour_market_status": spell.status,
        "personal_identity_code": seeker.pic,
        "birth_year": seeker.birth.year,
        "language": seeker.language,
        "channel": "online" if online else rng.choice(("in_person", "phone")),
    }
    actor = seeker.seeker_actor() if online else seeker.coach_actor(spell)
    spell.start_rec = seeker.emit(
        spell,
        EventType.JOB_SEARCH_STARTED,
        at,
        data,
        actor,
        day_level=True,
        after=(seeker.last_end_recorded,),
        backdate=False,
    )
    s = spell.start
    if rng.random() < 0.8:
        day = (
            CALENDAR.add_working_days(s, rng.choice((0, 0, 1, 1, 2, 3)))
            if rng.random() < 0.9
            else s
        )
        seeker.schedule(seeker.work_time(day), "coach")
    # the initial interview: ~80 % on time, ~15 % late, ~5 % never
    due = CALENDAR.add_working_days(s, initial_interview_days(s))
    roll = rng.random()
    if roll < 0.80:
        earliest = CALENDAR.add_working_days(s, 1)
        span = max((due - earliest).days, 0)
        day = CALENDAR.roll_forward(earliest + timedelta(days=int(span * rng.random() ** 1.5)))
        interview: date | None = min(day, due)
        missed_first = False
    elif roll < 0.95:
        interview = CALENDAR.add_working_days(due, rng.randint(1, 15))
        missed_first = rng.random() < 0.4
    else:
        interview = None
        missed_first = rng.random() < 0.5
    contact_day = CALENDAR.add_working_days(s, rng.choice((0, 1, 1, 2)))
    if interview is not None and contact_day >= interview:
        contact_day = s
    seeker.schedule(
        seeker.work_time(contact_day, 8, 11),
        "first_contact",
        {"interview": interview, "missed_first": missed_first, "due": due},
    )
    if interview is None:
        # without an interview the job-search conversation cadence runs from the start
        seeker.schedule(seeker.work_time(CALENDAR.roll_forward(add_months(s, 2))), "jsc_schedule")
    schedule_status_changes(seeker, spell)
    seeker.schedule(seeker.work_time(s + timedelta(days=rng.randint(5, 12))), "contacts")
    seeker.schedule(local(s + timedelta(days=rng.randint(3, 8)), 19), "apps")
    if rng.random() < 0.03:
        seeker.schedule(
            seeker.work_time(CALENDAR.roll_forward(s + timedelta(days=rng.randint(20, 300)))),
            "transfer",
        )


def on_coach(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    coach = seeker.caseworker()
    spell.coach = coach
    data = {"coach_id": coach, "team": f"team-{seeker.municipality}-{rng.randint(1, 4)}"}
    actor = (
        seeker.system_actor()
        if rng.random() < 0.3
        else {"id": seeker.caseworker(), "role": "coach", "organisation": seeker.municipality}
    )
    seeker.emit(spell, EventType.COACH_ASSIGNED, at, data, actor, day_level=True)


def on_first_contact(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    rng = seeker.rng
    if rng.random() < 0.88:
        data = {
            "channel": rng.choice(("phone", "phone", "message", "message", "letter")),
            "direction": "outbound",
            "purpose": "invitation to the initial interview",
        }
        seeker.emit(spell, EventType.CONTACT_MADE, at, data, seeker.coach_actor(spell))
    interview: date | None = p["interview"]
    due: date = p["due"]
    if p["missed_first"]:
        first_day = CALENDAR.add_working_days(at.date(), rng.randint(1, 3))
        if first_day > due:
            first_day = due if due > at.date() else CALENDAR.add_working_days(at.date(), 1)
        if interview is None or first_day < interview:
            book(seeker, spell, at, "initial_interview", seeker.work_time(first_day), miss=True)
    if interview is not None:
        book_at = at + timedelta(minutes=rng.randint(5, 40))
        book(seeker, spell, book_at, "initial_interview", seeker.work_time(interview), miss=False)


def book(
    seeker: Seeker, spell: Spell, at: datetime, kind: str, planned: datetime, *, miss: bool | None
) -> None:
    """Emit ``meeting_scheduled`` now and put the meeting itself on the agenda."""
    rng = seeker.rng
    meeting_id = f"m-{seeker.uuid()[:8]}"
    channel = rng.choice(("phone", "phone", "video", "in_person", "in_person"))
    data = {
        "meeting_id": meeting_id,
        "kind": kind,
        "planned_at": planned.isoformat(),
        "channel": channel,
    }
    if at < planned:  # (booked on the spot otherwise: no separate scheduling event)
        seeker.emit(spell, EventType.MEETING_SCHEDULED, at, data, seeker.coach_actor(spell))
    if miss is None:
        miss = rng.random() < 0.12
    payload = {"meeting_id": meeting_id, "kind": kind, "channel": channel, "miss": miss}
    seeker.schedule(planned, "meeting", payload)


def on_meeting(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    rng = seeker.rng
    kind: str = p["kind"]
    actor = seeker.coach_actor(spell)
    if p["miss"]:
        reason = pick(
            rng,
            (("no_show", 0.4), ("cancelled_by_seeker", 0.25), ("illness", 0.2),
             ("cancelled_by_service", 0.1), ("other", 0.05)),
        )  # fmt: skip
        data = {"meeting_id": p["meeting_id"], "kind": kind, "reason": reason}
        rec = seeker.emit(spell, EventType.MEETING_MISSED, at, data, actor)
        if reason == "no_show" and rng.random() < 0.3:
            day = CALENDAR.roll_forward(at.date() + timedelta(days=rng.randint(1, 10)))
            seeker.schedule(seeker.work_time(day), "decision", {"rec": rec})
        if reason == "no_show" and at.date() >= FI_2026_03 and rng.random() < 0.5:
            # from FI-2026-03 a missed appointment ends the job search at once
            seeker.end_now(spell, at.date(), "other")
            return
        if kind not in ("initial_interview",):
            # rebook a replacement a few days later
            new_day = CALENDAR.roll_forward(at.date() + timedelta(days=rng.randint(3, 10)))
            later = at + timedelta(minutes=rng.randint(10, 120))
            book(seeker, spell, later, kind, seeker.work_time(new_day), miss=False)
        return
    data = {"kind": kind, "channel": p["channel"], "meeting_id": p["meeting_id"]}
    seeker.emit(spell, EventType.MEETING_HELD, at, data, actor)
    after = at + timedelta(minutes=rng.randint(20, 50))
    if kind == "initial_interview":
        plan_agreed(seeker, spell, after)
        if rng.random() < 0.4:
            requirement(seeker, spell, after)
        after_interview(seeker, spell, at, after)
    elif kind == "job_search_conversation":
        if rng.random() < 0.6:
            plan_agreed(seeker, spell, after)
        if rng.random() < 0.15:
            requirement(seeker, spell, after)
        if rng.random() < 0.22 and len(spell.services) < 2:
            refer(seeker, spell, after)
        book(
            seeker, spell, after, "job_search_conversation", jsc_time(seeker, at.date()), miss=None
        )
    elif kind == "supplementary_conversation" and rng.random() < 0.06:
        refer(seeker, spell, after)


def jsc_time(seeker: Seeker, last: date) -> datetime:
    rng = seeker.rng
    due = add_months(last, 3)
    if rng.random() < 0.1:
        day = due + timedelta(days=rng.randint(1, 25))
    else:
        day = due - timedelta(days=rng.randint(0, 12))
    return seeker.work_time(CALENDAR.roll_forward(day))


def after_interview(seeker: Seeker, spell: Spell, at: datetime, after: datetime) -> None:
    rng = seeker.rng
    day = at.date()
    # supplementary conversations: ~every 2 weeks for 3 months under the 2022–2025 rules
    if day < FI_2026_01:
        wanted = {"unemployed": 5, "laid_off": 2, "part_time": 2}.get(spell.status, 1)
        wanted = max(0, wanted - (rng.random() < 0.3))
    else:
        wanted = rng.choice((0, 1, 1, 2))
    if wanted:
        seeker.schedule(after + timedelta(minutes=5), "supp", {"left": wanted, "last": day})
    book(
        seeker, spell, after + timedelta(minutes=10), "job_search_conversation",
        jsc_time(seeker, day), miss=None,
    )  # fmt: skip
    # intensified-period conversations at every 6 months of unemployment (2022–2025)
    if spell.status == "unemployed":
        months = 6
        while True:
            window = add_months(spell.start, months)
            if window >= FI_2026_01 or window > seeker.end:
                break
            if spell.planned_end is not None and window > spell.planned_end:
                break
            seeker.schedule(seeker.work_time(CALENDAR.roll_forward(window)), "intensified")
            months += 6
    if rng.random() < 0.18:
        refer(seeker, spell, after + timedelta(minutes=2))


def on_supp(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    rng = seeker.rng
    last: date = p["last"]
    planned_day = CALENDAR.roll_forward(last + timedelta(days=rng.randint(11, 17)))
    book(seeker, spell, at, "supplementary_conversation", seeker.work_time(planned_day), miss=None)
    if p["left"] > 1:
        nxt = {"left": p["left"] - 1, "last": planned_day}
        seeker.schedule(seeker.work_time(planned_day, 15, 16), "supp", nxt)


def on_intensified(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    if spell.status != "unemployed":
        return
    first = CALENDAR.roll_forward(at.date() + timedelta(days=rng.randint(2, 8)))
    second = CALENDAR.roll_forward(first + timedelta(days=rng.randint(9, 16)))
    book(seeker, spell, at, "intensified_period_conversation", seeker.work_time(first), miss=None)
    if rng.random() < 0.8:
        later = at + timedelta(minutes=3)
        book(
            seeker,
            spell,
            later,
            "intensified_period_conversation",
            seeker.work_time(second),
            miss=None,
        )


def on_jsc_schedule(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    book(seeker, spell, at, "job_search_conversation", jsc_time(seeker, spell.start), miss=None)


def plan_agreed(seeker: Seeker, spell: Spell, at: datetime) -> None:
    rng = seeker.rng
    if seeker.language not in ("fi", "sv") and rng.random() < 0.6:
        plan_kind = "integration_plan"
    elif spell.status in ("outside_labour_force", "student") or rng.random() < 0.06:
        plan_kind = rng.choice(("activation_plan", "multisectoral_plan"))
    else:
        plan_kind = "employment_plan"
    data: dict[str, Any] = {
        "plan_kind": plan_kind,
        "review_on": add_months(at.date(), 3).isoformat(),
    }
    if rng.random() < 0.5:
        options = (
            "job search", "labour market training", "career guidance", "coaching",
            "work trial", "language course", "health check",
        )  # fmt: skip
        data["services_planned"] = rng.sample(options, rng.randint(1, 3))
    seeker.emit(
        spell,
        EventType.EMPLOYMENT_PLAN_AGREED,
        at,
        data,
        seeker.coach_actor(spell),
        day_level=True,
    )


def requirement(seeker: Seeker, spell: Spell, at: datetime) -> None:
    rng = seeker.rng
    day = at.date()
    data: dict[str, Any] = {"valid_from": day.isoformat()}
    if spell.status in ("part_time",) and day < FI_2026_01:
        data.update(applications_per_period=1, period="three_months")
    elif spell.status == "laid_off" and (day - spell.start).days < 90:
        data.update(
            applications_per_period=0,
            period="month",
            grounds="laid off: no requirement in the first 3 months of lay-off",
        )
        data["valid_until"] = (spell.start + timedelta(days=90)).isoformat()
    elif rng.random() < 0.22:
        data.update(
            applications_per_period=rng.randint(1, 3),
            period="month",
            grounds=rng.choice(REDUCED_GROUNDS),
        )
        data["valid_until"] = add_months(day, rng.choice((3, 6))).isoformat()
    else:
        data.update(applications_per_period=4, period="month")
    seeker.emit(
        spell,
        EventType.JOB_SEARCH_REQUIREMENT_SET,
        at,
        data,
        seeker.coach_actor(spell),
        day_level=True,
    )
