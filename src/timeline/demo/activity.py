"""The handlers of what goes on during a spell: referrals and services, status changes,
contacts, applications, transfers, decisions, corrections, retractions and the spell's end.
Each ``on_KIND`` handles an agenda item of that kind (``life.HANDLERS``)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from timeline.demo.data import (
    END_REASONS,
    JOB_TITLES,
    LAHTI_REGION,
    OTHER_MUNICIPALITIES,
    PROVIDERS,
    SERVICE_TYPES,
)
from timeline.demo.ids import EMPLOYERS
from timeline.demo.rules import CALENDAR, FI_2026_03, add_months, local, pick
from timeline.demo.seeker import Rec, Seeker, Spell
from timeline.domain.event_types import EventType


def refer(seeker: Seeker, spell: Spell, at: datetime) -> None:
    rng = seeker.rng
    stype = pick(rng, tuple((t, w) for t, w, _lo, _hi in SERVICE_TYPES))
    lo, hi = next((lo, hi) for t, _w, lo, hi in SERVICE_TYPES if t == stype)
    provider = pick(rng, (("public", 0.5), ("private", 0.35), ("third_sector", 0.15)))
    service_id = f"svc-{seeker.uuid()[:12]}"
    data = {
        "service_id": service_id,
        "service_type": stype,
        "provider": provider,
        "provider_name": rng.choice(PROVIDERS[provider]),
    }
    rec = seeker.emit(
        spell, EventType.SERVICE_REFERRED, at, data, seeker.coach_actor(spell), day_level=True
    )
    spell.services[service_id] = rec.recorded
    if rng.random() < 0.82:
        start_day = CALENDAR.roll_forward(at.date() + timedelta(days=rng.randint(7, 45)))
        length = rng.randint(lo, hi)
        seeker.schedule(
            seeker.work_time(start_day, 8, 10), "service_start",
            {"id": service_id, "days": length},
        )  # fmt: skip


def on_service_start(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    service_id: str = p["id"]
    rec = seeker.emit(
        spell,
        EventType.SERVICE_STARTED,
        at,
        {"service_id": service_id},
        seeker.coach_actor(spell),
        day_level=True,
        after=(spell.services[service_id],),
    )
    spell.services[service_id] = rec.recorded
    end_day = CALENDAR.roll_forward(at.date() + timedelta(days=p["days"]))
    spell.running_services[service_id] = end_day
    seeker.schedule(seeker.work_time(end_day, 12, 15), "service_end", {"id": service_id})


def on_service_end(
    seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any], reason: str | None = None
) -> None:
    rng = seeker.rng
    service_id: str = p["id"]
    if service_id not in spell.running_services:
        return
    del spell.running_services[service_id]
    if reason is None:
        reason = pick(
            rng,
            (("completed", 0.65), ("interrupted", 0.15), ("employed", 0.12), ("other", 0.08)),
        )
    rec = seeker.emit(
        spell,
        EventType.SERVICE_ENDED,
        at,
        {"service_id": service_id, "end_reason": reason},
        seeker.coach_actor(spell),
        day_level=True,
        after=(spell.services[service_id],),
    )
    spell.services[service_id] = rec.recorded
    if reason == "employed" and rng.random() < 0.6:
        seeker.end_now(spell, CALENDAR.add_working_days(at.date(), rng.randint(0, 5)), "employed")


def schedule_status_changes(seeker: Seeker, spell: Spell) -> None:
    rng = seeker.rng
    s = spell.start
    changes: list[tuple[int, str]] = []
    if spell.status == "laid_off" and rng.random() < 0.25:
        changes.append((rng.randint(30, 150), "unemployed"))
    elif spell.status == "unemployed" and rng.random() < 0.12:
        changes.append((rng.randint(30, 300), rng.choice(("part_time", "laid_off"))))
    elif spell.status == "part_time" and rng.random() < 0.3:
        changes.append((rng.randint(30, 200), "unemployed"))
    elif spell.status == "student" and rng.random() < 0.5:
        changes.append((rng.randint(20, 120), "unemployed"))
    for offset, status in changes:
        day = CALENDAR.roll_forward(s + timedelta(days=offset))
        seeker.schedule(seeker.work_time(day), "status", {"status": status})


def on_status(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    spell.status = p["status"]
    data = {"labour_market_status": spell.status}
    seeker.emit(
        spell, EventType.LABOUR_MARKET_STATUS_CHANGED, at, data, seeker.coach_actor(spell),
        day_level=True,
    )  # fmt: skip


def on_contacts(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    inbound = rng.random() < 0.55
    data = {
        "channel": rng.choice(("message", "message", "phone", "video"))
        if inbound
        else rng.choice(("phone", "message", "letter")),
        "direction": "inbound" if inbound else "outbound",
        "purpose": rng.choice(
            ("question about benefits", "job offer follow-up", "change in situation",
             "appointment change", "service information")
        ),
    }  # fmt: skip
    seeker.emit(spell, EventType.CONTACT_MADE, at, data, seeker.coach_actor(spell))
    nxt = at.date() + timedelta(days=int(rng.expovariate(1 / 35)) + 5)
    seeker.schedule(seeker.work_time(CALENDAR.roll_forward(nxt)), "contacts")


def on_apps(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    """Applications of one calendar month, reported in oma-asiointi."""
    rng = seeker.rng
    month = date(at.year, at.month, 1)
    next_month = add_months(month, 1)
    status = spell.status
    quiet = ("laid_off", "part_time", "student", "outside_labour_force")
    mean = 1.0 if status in quiet else 3.4
    count = min(6, max(0, round(rng.gauss(mean, 1.6))))
    first = max(month, spell.start, at.date())
    span = (next_month - first).days
    for _ in range(count):
        day = first + timedelta(days=rng.randrange(span))
        seeker.schedule(seeker.work_time(day, 8, 21), "application", {})
    seeker.schedule(local(next_month, 0, 30), "apps")


def on_application(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    applied = at.date() - timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 5)))
    applied = max(applied, spell.start)
    kind = pick(
        rng,
        (("vacancy", 0.70), ("open_application", 0.15), ("agency_registration", 0.08),
         ("self_employment_step", 0.02), ("other_agreed", 0.05)),
    )  # fmt: skip
    data: dict[str, Any] = {"applied_on": applied.isoformat(), "kind": kind}
    if kind in ("vacancy", "open_application", "agency_registration"):
        name, bid = rng.choice(EMPLOYERS)
        data["employer_name"] = name
        if rng.random() < 0.55:
            data["employer_business_id"] = bid
        data["job_title"] = rng.choice(JOB_TITLES)
        if kind == "vacancy" and rng.random() < 0.5:
            data["vacancy_ref"] = f"TMT-{rng.randint(10_000_000, 99_999_999)}"
    seeker.emit(
        spell, EventType.APPLICATION_REPORTED, at, data, seeker.seeker_actor(), day_level=True
    )


def on_transfer(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    everywhere = [*LAHTI_REGION, *OTHER_MUNICIPALITIES]
    to = rng.choice([m for m in everywhere if m != seeker.municipality])
    seeker.emit(
        spell, EventType.SEEKER_TRANSFERRED, at, {"to_municipality": to},
        seeker.coach_actor(spell), day_level=True,
    )  # fmt: skip
    seeker.municipality = to
    spell.coach = None
    if rng.random() < 0.7:
        seeker.schedule(
            seeker.work_time(CALENDAR.add_working_days(at.date(), rng.randint(1, 5))), "coach"
        )


def on_decision(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    rec: Rec = p["rec"]
    if rec.event_id in seeker.touched:
        return
    decision = "reminder" if at.date() < FI_2026_03 else "labour_policy_statement"
    data = {
        "decision_type": decision,
        "basis_event_ids": [rec.event_id],
        "text": "Missed appointment without an acceptable reason.",
    }
    seeker.emit(
        spell, EventType.DECISION_RECORDED, at, data, seeker.coach_actor(spell),
        after=(rec.recorded,), backdate=False,
    )  # fmt: skip
    seeker.touched.add(rec.event_id)


def on_correction(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    rec: Rec = p["rec"]
    if rec.event_id in seeker.touched:
        return
    fixed, reason = corrected(seeker.rng, rec)
    replacement: dict[str, Any] = {"type": rec.type}
    if rec.day_level:
        replacement["occurred_on"] = rec.occurred.date().isoformat()
    else:
        replacement["occurred_at"] = rec.occurred.isoformat()
    replacement["data"] = fixed
    data = {"corrects_event_id": rec.event_id, "reason": reason, "replacement": replacement}
    seeker.emit(
        spell, EventType.CORRECTION, at, data, seeker.coach_actor(spell),
        after=(rec.recorded,), backdate=False,
    )  # fmt: skip
    seeker.touched.add(rec.event_id)


def on_retraction(seeker: Seeker, spell: Spell, at: datetime, p: dict[str, Any]) -> None:
    rec: Rec = p["rec"]
    if rec.event_id in seeker.touched:
        return
    reason = seeker.rng.choice(
        ("duplicate entry", "recorded on the wrong person", "entered in error")
    )
    data = {"retracts_event_id": rec.event_id, "reason": reason}
    seeker.emit(
        spell, EventType.RETRACTION, at, data, seeker.coach_actor(spell),
        after=(rec.recorded,), backdate=False,
    )  # fmt: skip
    seeker.touched.add(rec.event_id)


def on_end(seeker: Seeker, spell: Spell, at: datetime, _p: dict[str, Any]) -> None:
    rng = seeker.rng
    # running services end with the spell, recorded before the end
    for service_id in list(spell.running_services):
        sreason = "employed" if (spell.end_reason or "").startswith("employed") else "other"
        on_service_end(seeker, spell, at - timedelta(minutes=5), {"id": service_id}, sreason)
    reason = spell.end_reason
    if reason is None:
        reason = pick(rng, END_REASONS)
        if spell.status == "laid_off" and rng.random() < 0.7:
            reason = "employed_open_market"
    elif reason == "employed":
        reason = "employed_subsidised" if rng.random() < 0.3 else "employed_open_market"
    actor = seeker.system_actor() if reason == "not_renewed" else seeker.coach_actor(spell)
    rec = seeker.emit(
        spell, EventType.JOB_SEARCH_ENDED, at, {"reason": reason}, actor, day_level=True,
        after=(spell.max_recorded,), backdate=False,
    )  # fmt: skip
    seeker.last_end_recorded = rec.recorded
    spell.ended = True


def other_than(rng: random.Random, options: Iterable[str], current: Any) -> str:
    return rng.choice([o for o in options if o != current])


def corrected(rng: random.Random, rec: Rec) -> tuple[dict[str, Any], str]:
    """The corrected data of ``rec`` (one field fixed) and the reason."""
    data = dict(rec.data)
    t = rec.type
    if t == EventType.MEETING_HELD:
        data["channel"] = other_than(rng, ("phone", "video", "in_person"), data["channel"])
        return data, "wrong channel recorded"
    if t == EventType.CONTACT_MADE:
        data["channel"] = other_than(
            rng, ("phone", "video", "in_person", "message"), data["channel"]
        )
        return data, "wrong channel recorded"
    if t == EventType.APPLICATION_REPORTED:
        if "job_title" in data:
            data["job_title"] = other_than(rng, JOB_TITLES, data["job_title"])
            return data, "seeker corrected the job title"
        data["kind"] = other_than(rng, ("open_application", "other_agreed"), data["kind"])
        return data, "seeker corrected the kind of application"
    if t == EventType.EMPLOYMENT_PLAN_AGREED:
        review = date.fromisoformat(data["review_on"]) + timedelta(days=rng.randint(7, 30))
        data["review_on"] = review.isoformat()
        return data, "review date agreed differently"
    if t == EventType.COACH_ASSIGNED:
        data["coach_id"] = f"caseworker:{rng.randint(1000, 9999):04d}"
        return data, "wrong coach selected"
    if t == EventType.LABOUR_MARKET_STATUS_CHANGED:
        data["labour_market_status"] = other_than(
            rng, ("unemployed", "laid_off", "part_time"), data["labour_market_status"]
        )
        return data, "status recorded wrongly"
    if t == EventType.MEETING_MISSED:
        data["reason"] = other_than(
            rng, ("no_show", "cancelled_by_seeker", "illness", "other"), data["reason"]
        )
        return data, "reason clarified"
    if t == EventType.SERVICE_REFERRED:
        provider = data.get("provider", "public")
        data["provider_name"] = other_than(rng, PROVIDERS[provider], data.get("provider_name"))
        return data, "wrong provider recorded"
    if t == EventType.SERVICE_ENDED:
        data["end_reason"] = other_than(
            rng, ("completed", "interrupted", "employed", "other"), data.get("end_reason")
        )
        return data, "end reason clarified"
    raise AssertionError(f"not correctable: {t}")
