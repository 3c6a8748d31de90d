"""The synthetic dataset generator: deterministic, valid on the wire, within the store's rules."""

from __future__ import annotations

import io
import json
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

import pytest

from timeline.demo import (
    LAHTI_REGION,
    DemoEvent,
    business_id,
    generate,
    initial_interview_days,
    personal_identity_code,
    write_jsonl,
)
from timeline.demo.ids import uuid_text
from timeline.domain.calendar import MONDAY_TO_FRIDAY
from timeline.domain.zone import HELSINKI
from timeline.vocabulary import parse_event

END = date(2026, 10, 31)


@pytest.fixture(scope="module")
def sample() -> list[DemoEvent]:
    return list(generate(2_000, seed=7))


def _occurred(env: dict[str, Any]) -> tuple[date, datetime]:
    """The occurred day (Helsinki) and the earliest instant it can stand for."""
    if "occurred_at" in env:
        at = datetime.fromisoformat(env["occurred_at"])
        return at.astimezone(HELSINKI).date(), at
    day = date.fromisoformat(env["occurred_on"])
    return day, datetime(day.year, day.month, day.day, tzinfo=HELSINKI)


# --- identifiers ---------------------------------------------------------------------------------


def test_identity_code_and_business_id_helpers() -> None:
    assert personal_identity_code(date(1952, 10, 13), 308, "-") == "131052-308T"
    assert personal_identity_code(date(1994, 5, 1), 903, "Y") == "010594Y9032"
    assert personal_identity_code(date(2016, 5, 2), 903, "C") == "020516C903K"
    rng = random.Random(9)
    for _ in range(200):
        bits = rng.getrandbits(128)
        assert uuid_text(bits) == str(uuid.UUID(int=bits, version=4))
    assert business_id(112038) == "0112038-9"
    assert business_id(1572860) == "1572860-0"
    assert business_id(1234567) == "1234567-1"
    assert business_id(1000008) is None  # remainder 1: no valid check digit


# --- determinism and the wire --------------------------------------------------------------------


def test_same_seed_same_output_other_seed_other_output() -> None:
    def dump(seed: int) -> list[tuple[datetime, str]]:
        return [(e.recorded_at, json.dumps(e.envelope, sort_keys=True)) for e in generate(60, seed)]

    first = dump(3)
    assert first == dump(3)
    assert first != dump(4)


def test_every_envelope_parses(sample: list[DemoEvent]) -> None:
    for event in sample:
        parse_event(event.envelope, allow_test_identity_codes=True)


def test_write_jsonl_writes_compact_envelopes() -> None:
    events = list(generate(5, seed=2))
    buffer = io.StringIO()
    assert write_jsonl(events, buffer) == len(events)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == len(events)
    assert json.loads(lines[0]) == events[0].envelope
    assert ", " not in lines[0]
    assert "recorded_at" not in lines[0]


def test_recorded_order_and_times(sample: list[DemoEvent]) -> None:
    limit = datetime(END.year, END.month, END.day, tzinfo=HELSINKI) + timedelta(days=1)
    previous = None
    for event in sample:
        assert event.recorded_at.tzinfo is not None
        assert event.recorded_at.utcoffset() == timedelta(0)
        if previous is not None:
            assert event.recorded_at >= previous
        previous = event.recorded_at
        day, at = _occurred(event.envelope)
        assert at <= event.recorded_at, event.envelope
        assert day <= END
        assert event.recorded_at < limit


# --- the store's domain rules, per seeker --------------------------------------------------------


@dataclass
class _SeekerState:
    open_start: date | None = None
    last_end: date | None = None
    spell_days: list[date] = field(default_factory=list)
    events: dict[str, str] = field(default_factory=dict)  # event_id -> type
    referred: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)
    code: str | None = None
    birth_year: int | None = None


def check_domain_rules(events: list[DemoEvent]) -> None:
    """A small model of the store's refusals; raises AssertionError on the first violation."""
    seekers: dict[str, _SeekerState] = defaultdict(_SeekerState)
    seen: set[str] = set()
    for event in events:
        env = event.envelope
        st = seekers[env["seeker_id"]]
        kind, data = env["type"], env["data"]
        day, _ = _occurred(env)
        assert env["event_id"] not in seen, "event ids are unique"
        seen.add(env["event_id"])
        if kind == "job_search_started":
            assert st.open_start is None, "started while a spell is open"
            assert st.last_end is None or day > st.last_end, "spells overlap"
            st.open_start, st.spell_days = day, [day]
            code = data["personal_identity_code"]
            assert st.code in (None, code), "the same person keeps the same code"
            assert st.birth_year in (None, data["birth_year"])
            st.code, st.birth_year = code, data["birth_year"]
            assert int(code[4:6]) == data["birth_year"] % 100
            assert (code[6] in "-YXWVU") == (data["birth_year"] < 2000)
        else:
            assert st.open_start is not None, f"{kind} with no open spell"
            assert day >= st.open_start, f"{kind} before the spell started"
            st.spell_days.append(day)
        if kind == "service_started":
            assert data["service_id"] in st.referred
            st.started.add(data["service_id"])
        elif kind == "service_ended":
            assert data["service_id"] in st.started
        elif kind == "service_referred":
            st.referred.add(data["service_id"])
        elif kind == "correction":
            target = st.events.get(data["corrects_event_id"])
            assert target is not None, "correction of an unknown or later event"
            assert data["replacement"]["type"] == target
            assert target not in ("job_search_started", "job_search_ended")
        elif kind == "retraction":
            target = st.events.get(data["retracts_event_id"])
            assert target is not None, "retraction of an unknown or later event"
            assert target not in ("job_search_started", "job_search_ended")
        elif kind == "decision_recorded":
            assert all(b in st.events for b in data["basis_event_ids"])
        elif kind == "job_search_ended":
            assert max(st.spell_days) <= day, "something in the spell after its end"
            st.open_start, st.last_end = None, day
        st.events[env["event_id"]] = kind


def test_domain_rules_hold(sample: list[DemoEvent]) -> None:
    check_domain_rules(sample)


def test_checker_catches_violations(sample: list[DemoEvent]) -> None:
    first = sample[0]
    orphan = DemoEvent(first.recorded_at, {**first.envelope, "type": "contact_made"})
    with pytest.raises(AssertionError):
        check_domain_rules([orphan])
    with pytest.raises(AssertionError):
        check_domain_rules([first, first])


def test_other_windows_hold() -> None:
    events = list(generate(300, seed=11, start=date(2023, 6, 1), end=date(2024, 3, 15)))
    assert events
    check_domain_rules(events)
    for event in events:
        day, _ = _occurred(event.envelope)
        assert date(2023, 6, 1) <= day <= date(2024, 3, 15)
        assert event.recorded_at.astimezone(HELSINKI).date() <= date(2024, 3, 15)


# --- realism -------------------------------------------------------------------------------------


def test_shares_are_plausible(sample: list[DemoEvent]) -> None:
    seekers = {e.envelope["seeker_id"] for e in sample}
    assert len(seekers) == 2_000
    types = Counter(e.envelope["type"] for e in sample)
    total = len(sample)
    # backdated: recorded 3+ days after the occurred day
    backdated = sum(
        1
        for e in sample
        if (e.recorded_at.astimezone(HELSINKI).date() - _occurred(e.envelope)[0]).days >= 3
    )
    shares = {
        "backdated": backdated / total,
        "correction": types["correction"] / total,
        "retraction": types["retraction"] / total,
    }
    # initial interviews of spells whose due date is well inside the data
    starts: dict[str, date] = {}
    interviews: dict[str, date] = {}
    ends: dict[str, date] = {}
    late = never = judged = 0

    def judge(seeker: str) -> None:
        nonlocal late, never, judged
        started = starts.pop(seeker)
        due = MONDAY_TO_FRIDAY.add_working_days(started, initial_interview_days(started))
        stop = ends.pop(seeker, END)
        held = interviews.pop(seeker, None)
        if stop <= due + timedelta(days=30):
            return
        judged += 1
        if held is None:
            never += 1
        elif held > due:
            late += 1

    for e in sample:
        env = e.envelope
        sid = env["seeker_id"]
        if env["type"] == "job_search_started":
            starts[sid] = _occurred(env)[0]
        elif env["type"] == "meeting_held" and env["data"]["kind"] == "initial_interview":
            interviews.setdefault(sid, _occurred(env)[0])
        elif env["type"] == "job_search_ended":
            ends[sid] = _occurred(env)[0]
            judge(sid)
    for sid in list(starts):
        judge(sid)
    shares["late"] = late / judged
    shares["never"] = never / judged
    print(f"\nshares: { {k: round(v, 4) for k, v in shares.items()} } of {total} events")
    assert 0.03 <= shares["backdated"] <= 0.09
    assert 0.005 <= shares["correction"] <= 0.02
    assert 0.002 <= shares["retraction"] <= 0.01
    assert 0.10 <= shares["late"] <= 0.22
    assert 0.02 <= shares["never"] <= 0.09


def test_lahti_region_share_and_spells(sample: list[DemoEvent]) -> None:
    first_municipality: dict[str, str] = {}
    spells: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for e in sample:
        env = e.envelope
        if env["type"] == "job_search_started":
            first_municipality.setdefault(env["seeker_id"], env["data"]["municipality"])
            spells[env["seeker_id"]] += 1
            statuses[env["data"]["labour_market_status"]] += 1
    lahti = sum(1 for m in first_municipality.values() if m in LAHTI_REGION)
    assert 0.55 <= lahti / len(first_municipality) <= 0.65
    assert set(spells.values()) == {1, 2, 3}
    assert statuses.most_common(1)[0][0] == "unemployed"
    assert {"laid_off", "part_time", "student", "outside_labour_force"} <= set(statuses)


def test_spell_lengths_include_long_term(sample: list[DemoEvent]) -> None:
    starts: dict[str, date] = {}
    lengths: list[int] = []
    for e in sample:
        env = e.envelope
        if env["type"] == "job_search_started":
            starts[env["seeker_id"]] = _occurred(env)[0]
        elif env["type"] == "job_search_ended":
            lengths.append((_occurred(env)[0] - starts.pop(env["seeker_id"])).days)
    assert starts, "some spells stay open to the end"
    within_year = sum(1 for n in lengths if n <= 366) / len(lengths)
    assert 0.6 <= within_year <= 0.95
    assert any(n > 366 for n in lengths)
    assert any(n > 731 for n in lengths)


def test_streams_lazily() -> None:
    stream = generate(100_000, seed=5)
    head = list(islice(stream, 1_000))
    assert len(head) == 1_000
    assert head[0].recorded_at <= head[-1].recorded_at


def test_recorded_at_is_utc(sample: list[DemoEvent]) -> None:
    assert all(e.recorded_at.tzinfo is UTC for e in sample[:100])
