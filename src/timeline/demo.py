"""A realistic synthetic dataset: job seekers' timelines under the Finnish service model, 2022–2026.

``generate(seekers, seed)`` yields :class:`DemoEvent` values (the wire envelope plus the time the
backend sends it to the store) in ascending ``recorded_at`` order. The output is a pure function of
the arguments: all randomness comes from ``random.Random(seed)`` (one derived generator per seeker),
never from the clock or ``uuid4``.

How it streams: each seeker is a small discrete-event simulation (an agenda of the next few things
that will happen: the next meeting, next month's applications, a running service, the spell's end)
that emits events in occurred order. Each event gets a recording delay (minutes to hours, about 5 %
backdated by 3–40 days), pushed later where the store's rules need it (everything in a spell after
its ``job_search_started``, ``job_search_ended`` after everything in the spell, ``service_started``
after its referral, a correction after the event it corrects). A per-seeker buffer releases events
once the simulation has moved past their recording time, and a lazy heap-merge interleaves the
seekers, activating a seeker only when the merged stream reaches its first registration. Memory is
O(active seekers), each holding a handful of pending items.

The store's domain rules the output respects, per seeker and in recording order: only
``job_search_started`` when no spell is open and no start while one is open; every other event
occurs on a day within the open spell (start and end day inclusive) and is recorded while that spell
is open; ``service_started`` after its ``service_referred``, ``service_ended`` after its
``service_started``; corrections and retractions name an earlier-recorded event of the same seeker
(never a ``job_search_started``/``job_search_ended``); occurred ≤ recorded; nothing occurs or is
recorded after ``end``.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, TextIO

import holidays

from timeline.domain.event_types import EventType
from timeline.domain.zone import HELSINKI

__all__ = [
    "LAHTI_REGION",
    "OTHER_MUNICIPALITIES",
    "DemoEvent",
    "add_working_days",
    "business_id",
    "generate",
    "initial_interview_days",
    "is_working_day",
    "personal_identity_code",
    "write_jsonl",
]


#: the Lahti-region municipal pilot 2021–2024 (RESEARCH.md 9.1) with relative weights
LAHTI_REGION: dict[str, float] = {"398": 0.62, "098": 0.15, "560": 0.12, "016": 0.06, "316": 0.05}
OTHER_MUNICIPALITIES: dict[str, float] = {
    "837": 0.30,
    "091": 0.25,
    "853": 0.20,
    "092": 0.15,
    "743": 0.10,
}
LAHTI_SHARE = 0.60
_LAHTI_TABLE = tuple(LAHTI_REGION.items())
_OTHER_TABLE = tuple(OTHER_MUNICIPALITIES.items())

_CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_BID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)

RULES_2026 = date(2026, 1, 1)
RULES_2026_03 = date(2026, 3, 1)

_BACKDATE_SHARE = 0.05
_CORRECTION_SHARE = 0.014
_RETRACTION_SHARE = 0.008

_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


# --- identifiers -------------------------------------------------------------------------------


def personal_identity_code(birth: date, individual: int, sign: str) -> str:
    """A henkilötunnus ``DDMMYYCNNNQ`` with the correct check character (test codes: 900–999)."""
    body = f"{birth.day:02d}{birth.month:02d}{birth.year % 100:02d}"
    number = f"{individual:03d}"
    return f"{body}{sign}{number}{_CHECK_CHARS[int(body + number) % 31]}"


def business_id(digits: int) -> str | None:
    """The Y-tunnus ``NNNNNNN-C`` for seven digits, or None when no check digit exists (rem. 1)."""
    text = f"{digits:07d}"
    remainder = sum(int(c) * w for c, w in zip(text, _BID_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return None
    return f"{text}-{0 if remainder == 0 else 11 - remainder}"


# --- calendar ----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("FI", years=year))


def is_working_day(day: date) -> bool:
    """Monday–Friday, not a Finnish public holiday nor Midsummer/Christmas Eve."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(day: date, n: int) -> date:
    """``n`` working days after ``day`` (day 0 not counted)."""
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def _next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def initial_interview_days(started_on: date) -> int:
    """Working days allowed for the initial interview: 5, and 10 from ``FI-2026-01``."""
    return 10 if started_on >= RULES_2026 else 5


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _uuid_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))``, without building the object (it is hot)."""
    h = f"{(bits & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=HELSINKI)


# --- reference data ----------------------------------------------------------------------------

_EMPLOYER_NAMES = (
    "Lahden Rakennus Oy", "Päijät-Hämeen Logistiikka Oy", "Hollolan Konepaja Oy",
    "Orimattilan Puu ja Kaluste Oy", "Asikkalan Matkailu Oy", "Kärkölän Elintarvike Oy",
    "Salpausselän Siivouspalvelut Oy", "Vesijärven Venetelakka Oy", "Tampereen Ohjelmisto Oy",
    "Pirkanmaan Hoivapalvelut Oy", "Turun Satamapalvelut Oy", "Varsinais-Suomen Kuljetus Oy",
    "Helsingin Kahvilat Oy", "Uudenmaan Henkilöstöpalvelut Oy", "Vantaan Varastopalvelut Oy",
    "Seinäjoen Metalli Oy", "Etelä-Pohjanmaan Maatalouskone Oy", "Pohjolan Kauppa Oy",
    "Suomen Asiakaspalvelu Oy", "Järvi-Suomen Energia Oy", "Kiinteistöhuolto Kuutamo Oy",
    "Ravintola Harju Oy", "Hämeen Sähkötyö Oy", "Koulutuskeskus Salpaus", "Kotihoito Apila Oy",
    "Rautakauppa Nikkari Oy", "Autokorjaamo Sinisalo Oy", "Pakkaus ja Painotuote Oy",
    "Metsäpalvelu Kataja Oy", "IT-tuki Pilvi Oy",
)  # fmt: skip
_JOB_TITLES = (
    "varastotyöntekijä", "myyjä", "asiakaspalvelija", "siivooja", "lähihoitaja", "kokki",
    "rakennustyöntekijä", "hitsaaja", "kuorma-autonkuljettaja", "ohjelmistokehittäjä",
    "kirjanpitäjä", "sähköasentaja", "koneistaja", "tarjoilija", "toimistosihteeri",
    "kiinteistönhoitaja", "trukinkuljettaja", "tuotantotyöntekijä", "IT-tukihenkilö",
    "projektityöntekijä",
)  # fmt: skip


def _employer_directory() -> tuple[tuple[str, str], ...]:
    rng = random.Random(0x7E1)  # noqa: S311 - synthetic data, not security
    out: list[tuple[str, str]] = []
    for name in _EMPLOYER_NAMES:
        bid = None
        while bid is None:
            bid = business_id(rng.randrange(100_000, 3_400_000))
        out.append((name, bid))
    return tuple(out)


_EMPLOYERS = _employer_directory()

_SERVICE_TYPES: tuple[tuple[str, float, int, int], ...] = (
    # type, weight, min days, max days
    ("labour_market_training", 0.22, 60, 200),
    ("coaching", 0.22, 30, 90),
    ("work_trial", 0.14, 30, 180),
    ("pay_subsidy", 0.12, 90, 365),
    ("rehabilitative_work_activity", 0.08, 90, 300),
    ("startup_grant", 0.03, 120, 365),
    ("career_guidance", 0.14, 7, 30),
    ("other", 0.05, 14, 90),
)
_PROVIDERS = {
    "public": ("Koulutuskeskus Salpaus", "Työllisyyspalvelut", "Kunnan sosiaalipalvelut"),
    "private": ("Valmennuspalvelu Taito Oy", "Uravalmennus Polku Oy", "Rekrytointi Nousu Oy"),
    "third_sector": ("Työpaja Verstas ry", "Nuorten Kipinä ry", "Monitoimikeskus Silta ry"),
}
_END_REASONS = (
    ("employed_open_market", 0.44),
    ("employed_subsidised", 0.09),
    ("self_employed", 0.04),
    ("studies", 0.10),
    ("moved_abroad", 0.02),
    ("not_renewed", 0.21),
    ("other", 0.10),
)
_REDUCED_GROUNDS = (
    "health reasons assessed in the plan",
    "caring responsibilities",
    "few suitable vacancies in the commuting area",
    "full-time labour market training",
    "rehabilitation need",
)


@lru_cache(maxsize=256)
def _table(weighted: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    keys = [k for k, _ in weighted]
    cum: list[float] = []
    total = 0.0
    for _, w in weighted:
        total += w
        cum.append(total)
    return keys, cum


def _pick(rng: random.Random, weighted: Iterable[tuple[str, float]]) -> str:
    items = weighted if isinstance(weighted, tuple) else tuple(weighted)
    keys, cum = _table(items)
    return rng.choices(keys, cum_weights=cum)[0]


# --- output ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoEvent:
    """One generated event: when the backend sends it to the store, and the wire envelope."""

    recorded_at: datetime  # aware UTC, >= the occurred time
    envelope: dict[str, Any]  # JSON-ready: str UUIDs, ISO strings


def write_jsonl(events: Iterable[DemoEvent], fp: TextIO) -> int:
    """Write one envelope per line (compact JSON, no recorded time); return the count."""
    count = 0
    for event in events:
        fp.write(json.dumps(event.envelope, ensure_ascii=False, separators=(",", ":")))
        fp.write("\n")
        count += 1
    return count


# --- the per-seeker simulation -----------------------------------------------------------------

_Item = tuple[date, int, datetime, int, str, dict[str, Any]]  # day, rank, at, seq, kind, payload
_Pending = tuple[datetime, int, dict[str, Any]]  # recorded, seq, envelope


@dataclass(frozen=True)
class _Rec:
    """What later events need to know of an emitted one."""

    event_id: str
    recorded: datetime
    type: EventType
    occurred: datetime
    day_level: bool
    data: dict[str, Any]


class _Spell:
    """Mutable state of one job-search spell."""

    def __init__(self, start: date, status: str, planned_end: date | None) -> None:
        self.start = start
        self.status = status
        self.planned_end = planned_end  # None: still open at the end of the data
        self.end_key = 0  # the valid end item's seq
        self.start_rec: _Rec | None = None
        self.max_recorded: datetime | None = None
        self.coach: str | None = None
        self.interview_on: date | None = None
        self.services: dict[str, datetime] = {}  # service_id -> latest recorded (ref/start)
        self.running_services: dict[str, date] = {}  # service_id -> planned end day
        self.ended = False
        self.end_reason: str | None = None


class _Seeker:
    def __init__(self, index: int, seed: int, first_start: date, start: date, end: date) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
        rng = self.rng
        self.index = index
        self.period_start = start
        self.end = end
        self.cap = _local(end, 22).astimezone(UTC)
        self.hard_limit = _local(end, 23, 59).astimezone(UTC) + timedelta(seconds=59)
        self.seeker_id = self._uuid()
        self.first_start = first_start
        if rng.random() < LAHTI_SHARE:
            self.municipality = _pick(rng, _LAHTI_TABLE)
        else:
            self.municipality = _pick(rng, _OTHER_TABLE)
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
        self.language = _pick(
            rng,
            (("fi", 0.84), ("sv", 0.03), ("en", 0.04), ("ru", 0.03), ("ar", 0.02), ("et", 0.02),
             ("uk", 0.02)),
        )  # fmt: skip
        self.spells_wanted = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
        self.seq = 0
        self.agenda: list[_Item] = []
        self.buffer: list[_Pending] = []
        self.last_end_recorded: datetime | None = None
        self.touched: set[str] = set()  # event ids already corrected or retracted

    # -- helpers --

    def _uuid(self) -> str:
        return _uuid_text(self.rng.getrandbits(128))

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _source(self) -> str:
        return "lahti-case-system" if self.municipality in LAHTI_REGION else "kunta-integration"

    def _caseworker(self, municipality: str | None = None) -> str:
        m = municipality or self.municipality
        pool = 40 if m == "398" else 15
        return f"caseworker:{int(m) * 10 % 9000 + 1000 + self.rng.randrange(pool):04d}"

    def _coach_actor(self, spell: _Spell) -> dict[str, str]:
        who = spell.coach if spell.coach and self.rng.random() < 0.85 else self._caseworker()
        return {"id": who, "role": "coach", "organisation": self.municipality}

    def _seeker_actor(self) -> dict[str, str]:
        return {"id": "system:oma-asiointi", "role": "seeker", "organisation": self.municipality}

    def _system_actor(self) -> dict[str, str]:
        return {
            "id": "system:kunta-integration",
            "role": "system",
            "organisation": self.municipality,
        }

    def _work_time(self, day: date, lo: int = 8, hi: int = 15) -> datetime:
        return _local(day, self.rng.randint(lo, hi), self.rng.choice((0, 15, 30, 45)))

    def _schedule(
        self, at: datetime, kind: str, payload: dict[str, Any] | None = None, rank: int = 0
    ) -> int:
        seq = self._next_seq()
        heapq.heappush(self.agenda, (at.date(), rank, at, seq, kind, payload or {}))
        return seq

    def _delay(self, backdate: bool) -> timedelta:
        rng = self.rng
        if backdate and rng.random() < _BACKDATE_SHARE:
            return timedelta(days=rng.randint(3, 40), minutes=rng.randint(0, 600))
        return timedelta(minutes=min(int(rng.expovariate(1 / 90)) + 2, 8 * 60))

    # -- emitting --

    def _emit(
        self,
        spell: _Spell,
        type_: EventType,
        at: datetime,
        data: dict[str, Any],
        actor: dict[str, str],
        *,
        day_level: bool = False,
        source: str | None = None,
        after: Iterable[datetime | None] = (),
        backdate: bool = True,
    ) -> _Rec:
        at_utc = at.astimezone(UTC)
        recorded = min(at_utc + self._delay(backdate), max(self.cap, at_utc))
        for dep in (spell.start_rec.recorded if spell.start_rec else None, *after):
            if dep is not None and recorded <= dep:
                recorded = dep + timedelta(seconds=self.rng.randint(1, 120))
        recorded = min(recorded, self.hard_limit)
        event_id = self._uuid()
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
            "oma-asiointi" if actor["role"] == "seeker" else self._source()
        )
        envelope["data"] = data
        heapq.heappush(self.buffer, (recorded, self._next_seq(), envelope))
        if spell.max_recorded is None or recorded > spell.max_recorded:
            spell.max_recorded = recorded
        rec = _Rec(event_id, recorded, type_, at, day_level, data)
        self._maybe_amend(rec)
        return rec

    def _maybe_amend(self, rec: _Rec) -> None:
        """Now and then a correction or retraction of ``rec`` follows days later."""
        rng = self.rng
        roll = rng.random()
        correctable = rec.type in _CORRECTABLE
        retractable = rec.type in _RETRACTABLE and not (
            rec.type == EventType.MEETING_HELD and rec.data.get("kind") == "initial_interview"
        )
        if correctable and roll < _CORRECTION_SHARE:
            kind = EventType.CORRECTION
        elif retractable and _CORRECTION_SHARE <= roll < _CORRECTION_SHARE + _RETRACTION_SHARE:
            kind = EventType.RETRACTION
        else:
            return
        day = _next_working_day(rec.occurred.date() + timedelta(days=rng.randint(1, 21)))
        self._schedule(self._work_time(day), kind, {"rec": rec})

    # -- the seeker's life --

    def events(self) -> Iterator[_Pending]:
        rng = self.rng
        start_day = self.first_start
        for n in range(self.spells_wanted):
            spell = self._plan_spell(start_day)
            yield from self._run_spell(spell)
            if spell.planned_end is None or not spell.ended:
                break
            gap = rng.choice((rng.randint(20, 120), rng.randint(60, 500)))
            start_day = _next_working_day(spell.planned_end + timedelta(days=gap))
            if start_day > self.end - timedelta(days=14) or n + 1 >= self.spells_wanted:
                break
        while self.buffer:
            yield heapq.heappop(self.buffer)

    def _plan_spell(self, start: date) -> _Spell:
        rng = self.rng
        status = _pick(
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
        return _Spell(start, status, end_day if end_day <= self.end else None)

    def _run_spell(self, spell: _Spell) -> Iterator[_Pending]:
        s = spell.start
        self._schedule(self._work_time(s, 8, 14), "start")
        if spell.planned_end is not None:
            spell.end_key = self._schedule(_local(spell.planned_end, 16, 45), "end", rank=1)
        watermark_day, watermark = s, _local(s, 0).astimezone(UTC)
        while self.agenda:
            day, _rank, at, seq, kind, payload = heapq.heappop(self.agenda)
            if spell.ended:
                break
            if kind == "end" and seq != spell.end_key:
                continue
            limit = spell.planned_end or self.end
            if day > limit or day > self.end:
                continue
            getattr(self, "_on_" + kind)(spell, at, payload)
            if day != watermark_day:
                watermark_day, watermark = day, _local(day, 0).astimezone(UTC)
            while self.buffer and self.buffer[0][0] < watermark:
                yield heapq.heappop(self.buffer)
        self.agenda.clear()

    # -- handlers (one per agenda kind) --

    def _on_start(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
        online = rng.random() < 0.8
        data: dict[str, Any] = {
            "municipality": self.municipality,
            "labour_market_status": spell.status,
            "personal_identity_code": self.pic,
            "birth_year": self.birth.year,
            "language": self.language,
            "channel": "online" if online else rng.choice(("in_person", "phone")),
        }
        actor = self._seeker_actor() if online else self._coach_actor(spell)
        spell.start_rec = self._emit(
            spell,
            EventType.JOB_SEARCH_STARTED,
            at,
            data,
            actor,
            day_level=True,
            after=(self.last_end_recorded,),
            backdate=False,
        )
        s = spell.start
        if rng.random() < 0.8:
            day = add_working_days(s, rng.choice((0, 0, 1, 1, 2, 3))) if rng.random() < 0.9 else s
            self._schedule(self._work_time(day), "coach")
        # the initial interview: ~80 % on time, ~15 % late, ~5 % never
        due = add_working_days(s, initial_interview_days(s))
        roll = rng.random()
        if roll < 0.80:
            earliest = add_working_days(s, 1)
            span = max((due - earliest).days, 0)
            day = _next_working_day(earliest + timedelta(days=int(span * rng.random() ** 1.5)))
            interview: date | None = min(day, due)
            missed_first = False
        elif roll < 0.95:
            interview = add_working_days(due, rng.randint(1, 15))
            missed_first = rng.random() < 0.4
        else:
            interview = None
            missed_first = rng.random() < 0.5
        contact_day = add_working_days(s, rng.choice((0, 1, 1, 2)))
        if interview is not None and contact_day >= interview:
            contact_day = s
        self._schedule(
            self._work_time(contact_day, 8, 11),
            "first_contact",
            {"interview": interview, "missed_first": missed_first, "due": due},
        )
        if interview is None:
            # without an interview the job-search conversation cadence runs from the start
            self._schedule(self._work_time(_next_working_day(_add_months(s, 2))), "jsc_schedule")
        self._schedule_status_changes(spell)
        self._schedule(self._work_time(s + timedelta(days=rng.randint(5, 12))), "contacts")
        self._schedule(_local(s + timedelta(days=rng.randint(3, 8)), 19), "apps")
        if rng.random() < 0.03:
            self._schedule(
                self._work_time(_next_working_day(s + timedelta(days=rng.randint(20, 300)))),
                "transfer",
            )

    def _on_coach(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
        coach = self._caseworker()
        spell.coach = coach
        data = {"coach_id": coach, "team": f"team-{self.municipality}-{rng.randint(1, 4)}"}
        actor = (
            self._system_actor()
            if rng.random() < 0.3
            else {"id": self._caseworker(), "role": "coach", "organisation": self.municipality}
        )
        self._emit(spell, EventType.COACH_ASSIGNED, at, data, actor, day_level=True)

    def _on_first_contact(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        rng = self.rng
        if rng.random() < 0.88:
            data = {
                "channel": rng.choice(("phone", "phone", "message", "message", "letter")),
                "direction": "outbound",
                "purpose": "invitation to the initial interview",
            }
            self._emit(spell, EventType.CONTACT_MADE, at, data, self._coach_actor(spell))
        interview: date | None = p["interview"]
        due: date = p["due"]
        if p["missed_first"]:
            first_day = add_working_days(at.date(), rng.randint(1, 3))
            if first_day > due:
                first_day = due if due > at.date() else add_working_days(at.date(), 1)
            if interview is None or first_day < interview:
                self._book(spell, at, "initial_interview", self._work_time(first_day), miss=True)
        if interview is not None:
            book_at = at + timedelta(minutes=rng.randint(5, 40))
            self._book(spell, book_at, "initial_interview", self._work_time(interview), miss=False)

    def _book(
        self, spell: _Spell, at: datetime, kind: str, planned: datetime, *, miss: bool | None
    ) -> None:
        """Emit ``meeting_scheduled`` now and put the meeting itself on the agenda."""
        rng = self.rng
        meeting_id = f"m-{self._uuid()[:8]}"
        channel = rng.choice(("phone", "phone", "video", "in_person", "in_person"))
        data = {
            "meeting_id": meeting_id,
            "kind": kind,
            "planned_at": planned.isoformat(),
            "channel": channel,
        }
        if at < planned:  # (booked on the spot otherwise: no separate scheduling event)
            self._emit(spell, EventType.MEETING_SCHEDULED, at, data, self._coach_actor(spell))
        if miss is None:
            miss = rng.random() < 0.12
        payload = {"meeting_id": meeting_id, "kind": kind, "channel": channel, "miss": miss}
        self._schedule(planned, "meeting", payload)

    def _on_meeting(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        rng = self.rng
        kind: str = p["kind"]
        actor = self._coach_actor(spell)
        if p["miss"]:
            reason = _pick(
                rng,
                (("no_show", 0.4), ("cancelled_by_seeker", 0.25), ("illness", 0.2),
                 ("cancelled_by_service", 0.1), ("other", 0.05)),
            )  # fmt: skip
            data = {"meeting_id": p["meeting_id"], "kind": kind, "reason": reason}
            rec = self._emit(spell, EventType.MEETING_MISSED, at, data, actor)
            if reason == "no_show" and rng.random() < 0.3:
                day = _next_working_day(at.date() + timedelta(days=rng.randint(1, 10)))
                self._schedule(self._work_time(day), "decision", {"rec": rec})
            if reason == "no_show" and at.date() >= RULES_2026_03 and rng.random() < 0.5:
                # from FI-2026-03 a missed appointment ends the job search at once
                self._end_now(spell, at.date(), "other")
                return
            if kind not in ("initial_interview",):
                # rebook a replacement a few days later
                new_day = _next_working_day(at.date() + timedelta(days=rng.randint(3, 10)))
                later = at + timedelta(minutes=rng.randint(10, 120))
                self._book(spell, later, kind, self._work_time(new_day), miss=False)
            return
        data = {"kind": kind, "channel": p["channel"], "meeting_id": p["meeting_id"]}
        self._emit(spell, EventType.MEETING_HELD, at, data, actor)
        after = at + timedelta(minutes=rng.randint(20, 50))
        if kind == "initial_interview":
            spell.interview_on = at.date()
            self._plan_agreed(spell, after)
            if rng.random() < 0.4:
                self._requirement(spell, after)
            self._after_interview(spell, at, after)
        elif kind == "job_search_conversation":
            if rng.random() < 0.6:
                self._plan_agreed(spell, after)
            if rng.random() < 0.15:
                self._requirement(spell, after)
            if rng.random() < 0.22 and len(spell.services) < 2:
                self._refer(spell, after)
            self._book(
                spell, after, "job_search_conversation", self._jsc_time(at.date()), miss=None
            )
        elif kind == "supplementary_conversation" and rng.random() < 0.06:
            self._refer(spell, after)

    def _jsc_time(self, last: date) -> datetime:
        rng = self.rng
        due = _add_months(last, 3)
        if rng.random() < 0.1:
            day = due + timedelta(days=rng.randint(1, 25))
        else:
            day = due - timedelta(days=rng.randint(0, 12))
        return self._work_time(_next_working_day(day))

    def _after_interview(self, spell: _Spell, at: datetime, after: datetime) -> None:
        rng = self.rng
        day = at.date()
        # supplementary conversations: ~every 2 weeks for 3 months under the 2022–2025 rules
        if day < RULES_2026:
            wanted = {"unemployed": 5, "laid_off": 2, "part_time": 2}.get(spell.status, 1)
            wanted = max(0, wanted - (rng.random() < 0.3))
        else:
            wanted = rng.choice((0, 1, 1, 2))
        if wanted:
            self._schedule(
                after + timedelta(minutes=5), "supp", {"left": wanted, "last": day, "i": 0}
            )
        self._book(
            spell, after + timedelta(minutes=10), "job_search_conversation",
            self._jsc_time(day), miss=None,
        )  # fmt: skip
        # intensified-period conversations at every 6 months of unemployment (2022–2025)
        if spell.status == "unemployed":
            months = 6
            while True:
                window = _add_months(spell.start, months)
                if window >= RULES_2026 or window > self.end:
                    break
                if spell.planned_end is not None and window > spell.planned_end:
                    break
                self._schedule(self._work_time(_next_working_day(window)), "intensified")
                months += 6
        if rng.random() < 0.18:
            self._refer(spell, after + timedelta(minutes=2))

    def _on_supp(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        rng = self.rng
        last: date = p["last"]
        planned_day = _next_working_day(last + timedelta(days=rng.randint(11, 17)))
        self._book(spell, at, "supplementary_conversation", self._work_time(planned_day), miss=None)
        if p["left"] > 1:
            nxt = {"left": p["left"] - 1, "last": planned_day, "i": p["i"] + 1}
            self._schedule(self._work_time(planned_day, 15, 16), "supp", nxt)

    def _on_intensified(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
        if spell.status != "unemployed":
            return
        first = _next_working_day(at.date() + timedelta(days=rng.randint(2, 8)))
        second = _next_working_day(first + timedelta(days=rng.randint(9, 16)))
        self._book(spell, at, "intensified_period_conversation", self._work_time(first), miss=None)
        if rng.random() < 0.8:
            later = at + timedelta(minutes=3)
            self._book(
                spell, later, "intensified_period_conversation", self._work_time(second), miss=None
            )

    def _on_jsc_schedule(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        self._book(spell, at, "job_search_conversation", self._jsc_time(spell.start), miss=None)

    def _plan_agreed(self, spell: _Spell, at: datetime) -> None:
        rng = self.rng
        if self.language not in ("fi", "sv") and rng.random() < 0.6:
            plan_kind = "integration_plan"
        elif spell.status in ("outside_labour_force", "student") or rng.random() < 0.06:
            plan_kind = rng.choice(("activation_plan", "multisectoral_plan"))
        else:
            plan_kind = "employment_plan"
        data: dict[str, Any] = {
            "plan_kind": plan_kind,
            "review_on": _add_months(at.date(), 3).isoformat(),
        }
        if rng.random() < 0.5:
            options = (
                "job search", "labour market training", "career guidance", "coaching",
                "work trial", "language course", "health check",
            )  # fmt: skip
            data["services_planned"] = rng.sample(options, rng.randint(1, 3))
        self._emit(
            spell,
            EventType.EMPLOYMENT_PLAN_AGREED,
            at,
            data,
            self._coach_actor(spell),
            day_level=True,
        )

    def _requirement(self, spell: _Spell, at: datetime) -> None:
        rng = self.rng
        day = at.date()
        data: dict[str, Any] = {"valid_from": day.isoformat()}
        if spell.status in ("part_time",) and day < RULES_2026:
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
                grounds=rng.choice(_REDUCED_GROUNDS),
            )
            data["valid_until"] = _add_months(day, rng.choice((3, 6))).isoformat()
        else:
            data.update(applications_per_period=4, period="month")
        self._emit(
            spell,
            EventType.JOB_SEARCH_REQUIREMENT_SET,
            at,
            data,
            self._coach_actor(spell),
            day_level=True,
        )

    def _refer(self, spell: _Spell, at: datetime) -> None:
        rng = self.rng
        stype = _pick(rng, tuple((t, w) for t, w, _lo, _hi in _SERVICE_TYPES))
        lo, hi = next((lo, hi) for t, _w, lo, hi in _SERVICE_TYPES if t == stype)
        provider = _pick(rng, (("public", 0.5), ("private", 0.35), ("third_sector", 0.15)))
        service_id = f"svc-{self._uuid()[:12]}"
        data = {
            "service_id": service_id,
            "service_type": stype,
            "provider": provider,
            "provider_name": rng.choice(_PROVIDERS[provider]),
        }
        rec = self._emit(
            spell, EventType.SERVICE_REFERRED, at, data, self._coach_actor(spell), day_level=True
        )
        spell.services[service_id] = rec.recorded
        if rng.random() < 0.82:
            start_day = _next_working_day(at.date() + timedelta(days=rng.randint(7, 45)))
            length = rng.randint(lo, hi)
            self._schedule(
                self._work_time(start_day, 8, 10), "service_start",
                {"id": service_id, "days": length},
            )  # fmt: skip

    def _on_service_start(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        service_id: str = p["id"]
        rec = self._emit(
            spell,
            EventType.SERVICE_STARTED,
            at,
            {"service_id": service_id},
            self._coach_actor(spell),
            day_level=True,
            after=(spell.services[service_id],),
        )
        spell.services[service_id] = rec.recorded
        end_day = _next_working_day(at.date() + timedelta(days=p["days"]))
        spell.running_services[service_id] = end_day
        self._schedule(self._work_time(end_day, 12, 15), "service_end", {"id": service_id})

    def _on_service_end(
        self, spell: _Spell, at: datetime, p: dict[str, Any], reason: str | None = None
    ) -> None:
        rng = self.rng
        service_id: str = p["id"]
        if service_id not in spell.running_services:
            return
        del spell.running_services[service_id]
        if reason is None:
            reason = _pick(
                rng,
                (("completed", 0.65), ("interrupted", 0.15), ("employed", 0.12), ("other", 0.08)),
            )
        rec = self._emit(
            spell,
            EventType.SERVICE_ENDED,
            at,
            {"service_id": service_id, "end_reason": reason},
            self._coach_actor(spell),
            day_level=True,
            after=(spell.services[service_id],),
        )
        spell.services[service_id] = rec.recorded
        if reason == "employed" and rng.random() < 0.6:
            self._end_now(spell, add_working_days(at.date(), rng.randint(0, 5)), "employed")

    def _schedule_status_changes(self, spell: _Spell) -> None:
        rng = self.rng
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
            day = _next_working_day(s + timedelta(days=offset))
            self._schedule(self._work_time(day), "status", {"status": status})

    def _on_status(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        spell.status = p["status"]
        data = {"labour_market_status": spell.status}
        self._emit(
            spell, EventType.LABOUR_MARKET_STATUS_CHANGED, at, data, self._coach_actor(spell),
            day_level=True,
        )  # fmt: skip

    def _on_contacts(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
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
        self._emit(spell, EventType.CONTACT_MADE, at, data, self._coach_actor(spell))
        nxt = at.date() + timedelta(days=int(rng.expovariate(1 / 35)) + 5)
        self._schedule(self._work_time(_next_working_day(nxt)), "contacts")

    def _on_apps(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        """Applications of one calendar month, reported in oma-asiointi."""
        rng = self.rng
        month = date(at.year, at.month, 1)
        next_month = _add_months(month, 1)
        status = spell.status
        if status in ("laid_off", "part_time", "student", "outside_labour_force"):
            mean = 1.0
        else:
            mean = 3.4
        count = min(6, max(0, round(rng.gauss(mean, 1.6))))
        first = max(month, spell.start, at.date())
        span = (next_month - first).days
        for _ in range(count):
            day = first + timedelta(days=rng.randrange(span))
            self._schedule(self._work_time(day, 8, 21), "application", {})
        self._schedule(_local(next_month, 0, 30), "apps")

    def _on_application(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
        applied = at.date() - timedelta(days=rng.choice((0, 0, 0, 1, 2, 3, 5)))
        applied = max(applied, spell.start)
        kind = _pick(
            rng,
            (("vacancy", 0.70), ("open_application", 0.15), ("agency_registration", 0.08),
             ("self_employment_step", 0.02), ("other_agreed", 0.05)),
        )  # fmt: skip
        data: dict[str, Any] = {"applied_on": applied.isoformat(), "kind": kind}
        if kind in ("vacancy", "open_application", "agency_registration"):
            name, bid = rng.choice(_EMPLOYERS)
            data["employer_name"] = name
            if rng.random() < 0.55:
                data["employer_business_id"] = bid
            data["job_title"] = rng.choice(_JOB_TITLES)
            if kind == "vacancy" and rng.random() < 0.5:
                data["vacancy_ref"] = f"TMT-{rng.randint(10_000_000, 99_999_999)}"
        self._emit(
            spell, EventType.APPLICATION_REPORTED, at, data, self._seeker_actor(), day_level=True
        )

    def _on_transfer(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
        everywhere = [*LAHTI_REGION, *OTHER_MUNICIPALITIES]
        to = rng.choice([m for m in everywhere if m != self.municipality])
        self._emit(
            spell, EventType.SEEKER_TRANSFERRED, at, {"to_municipality": to},
            self._coach_actor(spell), day_level=True,
        )  # fmt: skip
        self.municipality = to
        spell.coach = None
        if rng.random() < 0.7:
            self._schedule(self._work_time(add_working_days(at.date(), rng.randint(1, 5))), "coach")

    def _on_decision(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        rec: _Rec = p["rec"]
        if rec.event_id in self.touched:
            return
        decision = "reminder" if at.date() < RULES_2026_03 else "labour_policy_statement"
        data = {
            "decision_type": decision,
            "basis_event_ids": [rec.event_id],
            "text": "Missed appointment without an acceptable reason.",
        }
        self._emit(
            spell, EventType.DECISION_RECORDED, at, data, self._coach_actor(spell),
            after=(rec.recorded,), backdate=False,
        )  # fmt: skip
        self.touched.add(rec.event_id)

    def _on_correction(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        rec: _Rec = p["rec"]
        if rec.event_id in self.touched:
            return
        fixed, reason = _corrected(self.rng, rec)
        replacement: dict[str, Any] = {"type": rec.type}
        if rec.day_level:
            replacement["occurred_on"] = rec.occurred.date().isoformat()
        else:
            replacement["occurred_at"] = rec.occurred.isoformat()
        replacement["data"] = fixed
        data = {"corrects_event_id": rec.event_id, "reason": reason, "replacement": replacement}
        self._emit(
            spell, EventType.CORRECTION, at, data, self._coach_actor(spell),
            after=(rec.recorded,), backdate=False,
        )  # fmt: skip
        self.touched.add(rec.event_id)

    def _on_retraction(self, spell: _Spell, at: datetime, p: dict[str, Any]) -> None:
        rec: _Rec = p["rec"]
        if rec.event_id in self.touched:
            return
        reason = self.rng.choice(
            ("duplicate entry", "recorded on the wrong person", "entered in error")
        )
        data = {"retracts_event_id": rec.event_id, "reason": reason}
        self._emit(
            spell, EventType.RETRACTION, at, data, self._coach_actor(spell),
            after=(rec.recorded,), backdate=False,
        )  # fmt: skip
        self.touched.add(rec.event_id)

    def _end_now(self, spell: _Spell, day: date, reason: str) -> None:
        """Move the spell's end to ``day`` (not before anything already on the agenda today)."""
        if day > self.end:
            return
        if spell.planned_end is not None and day >= spell.planned_end:
            return
        spell.planned_end = day
        spell.end_reason = reason
        spell.end_key = self._schedule(_local(day, 16, 45), "end", rank=1)

    def _on_end(self, spell: _Spell, at: datetime, _p: dict[str, Any]) -> None:
        rng = self.rng
        # running services end with the spell, recorded before the end
        for service_id in list(spell.running_services):
            sreason = "employed" if (spell.end_reason or "").startswith("employed") else "other"
            self._on_service_end(spell, at - timedelta(minutes=5), {"id": service_id}, sreason)
        reason = spell.end_reason
        if reason is None:
            reason = _pick(rng, _END_REASONS)
            if spell.status == "laid_off" and rng.random() < 0.7:
                reason = "employed_open_market"
        elif reason == "employed":
            reason = "employed_subsidised" if rng.random() < 0.3 else "employed_open_market"
        actor = self._system_actor() if reason == "not_renewed" else self._coach_actor(spell)
        rec = self._emit(
            spell, EventType.JOB_SEARCH_ENDED, at, {"reason": reason}, actor, day_level=True,
            after=(spell.max_recorded,), backdate=False,
        )  # fmt: skip
        self.last_end_recorded = rec.recorded
        spell.ended = True


_CORRECTABLE = frozenset(
    {
        EventType.MEETING_HELD,
        EventType.CONTACT_MADE,
        EventType.APPLICATION_REPORTED,
        EventType.EMPLOYMENT_PLAN_AGREED,
        EventType.COACH_ASSIGNED,
        EventType.LABOUR_MARKET_STATUS_CHANGED,
        EventType.MEETING_MISSED,
        EventType.SERVICE_REFERRED,
        EventType.SERVICE_ENDED,
    }
)
_RETRACTABLE = frozenset(
    {EventType.APPLICATION_REPORTED, EventType.CONTACT_MADE, EventType.MEETING_HELD}
)


def _other(rng: random.Random, options: Iterable[str], current: Any) -> str:
    return rng.choice([o for o in options if o != current])


def _corrected(rng: random.Random, rec: _Rec) -> tuple[dict[str, Any], str]:
    """The corrected data of ``rec`` (one field fixed) and the reason."""
    data = dict(rec.data)
    t = rec.type
    if t == EventType.MEETING_HELD:
        data["channel"] = _other(rng, ("phone", "video", "in_person"), data["channel"])
        return data, "wrong channel recorded"
    if t == EventType.CONTACT_MADE:
        data["channel"] = _other(rng, ("phone", "video", "in_person", "message"), data["channel"])
        return data, "wrong channel recorded"
    if t == EventType.APPLICATION_REPORTED:
        if "job_title" in data:
            data["job_title"] = _other(rng, _JOB_TITLES, data["job_title"])
            return data, "seeker corrected the job title"
        data["kind"] = _other(rng, ("open_application", "other_agreed"), data["kind"])
        return data, "seeker corrected the kind of application"
    if t == EventType.EMPLOYMENT_PLAN_AGREED:
        review = date.fromisoformat(data["review_on"]) + timedelta(days=rng.randint(7, 30))
        data["review_on"] = review.isoformat()
        return data, "review date agreed differently"
    if t == EventType.COACH_ASSIGNED:
        data["coach_id"] = f"caseworker:{rng.randint(1000, 9999):04d}"
        return data, "wrong coach selected"
    if t == EventType.LABOUR_MARKET_STATUS_CHANGED:
        data["labour_market_status"] = _other(
            rng, ("unemployed", "laid_off", "part_time"), data["labour_market_status"]
        )
        return data, "status recorded wrongly"
    if t == EventType.MEETING_MISSED:
        data["reason"] = _other(
            rng, ("no_show", "cancelled_by_seeker", "illness", "other"), data["reason"]
        )
        return data, "reason clarified"
    if t == EventType.SERVICE_REFERRED:
        provider = data.get("provider", "public")
        data["provider_name"] = _other(rng, _PROVIDERS[provider], data.get("provider_name"))
        return data, "wrong provider recorded"
    if t == EventType.SERVICE_ENDED:
        data["end_reason"] = _other(
            rng, ("completed", "interrupted", "employed", "other"), data.get("end_reason")
        )
        return data, "end reason clarified"
    raise AssertionError(f"not correctable: {t}")


# --- the merged stream -------------------------------------------------------------------------


def generate(
    seekers: int = 200,
    seed: int = 1,
    *,
    start: date = date(2022, 1, 3),
    end: date = date(2026, 10, 31),
) -> Iterator[DemoEvent]:
    """Yield the synthetic events of ``seekers`` job seekers in ascending ``recorded_at`` order
    (per seeker: the order the store receives them). Deterministic for ``seed``."""
    if end <= start:
        raise ValueError("end must be after start")
    master = random.Random(seed)  # noqa: S311 - synthetic data, not security
    latest_first = max(start, end - timedelta(days=45))
    span = (latest_first - start).days
    # (first registration instant, index, seeker seed, its day): a few bytes per seeker
    pending: list[tuple[datetime, int, int, date]] = []
    for index in range(seekers):
        seeker_seed = master.getrandbits(64)
        u = master.random()
        # a stock at the start plus a steady inflow: more first registrations early on
        offset = int(span * (u**1.6 if master.random() < 0.5 else u))
        first = _next_working_day(start + timedelta(days=offset))
        if first > latest_first:
            first = start
        pending.append((_local(first, 0).astimezone(UTC), index, seeker_seed, first))
    pending.sort()
    heap: list[tuple[datetime, int, int, dict[str, Any], Iterator[_Pending]]] = []
    p = 0
    while heap or p < len(pending):
        while p < len(pending) and (not heap or pending[p][0] <= heap[0][0]):
            _, index, seeker_seed, first = pending[p]
            p += 1
            stream = _Seeker(index, seeker_seed, first, start, end).events()
            for recorded, seq, envelope in stream:
                heapq.heappush(heap, (recorded, index, seq, envelope, stream))
                break
        if not heap:
            continue
        recorded, index, _seq, envelope, stream = heap[0]
        yield DemoEvent(recorded, envelope)
        for nxt_recorded, nxt_seq, nxt_envelope in stream:
            heapq.heapreplace(heap, (nxt_recorded, index, nxt_seq, nxt_envelope, stream))
            break
        else:
            heapq.heappop(heap)
