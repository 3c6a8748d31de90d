"""The what-if's fast path gives what the plain one gives: the seekers of a window read by their
spell events and then their own events (not the whole log) are the same seekers with the same
facts; judging each seeker's history once under both rulesets, skipping the spells after the
window and sharing those before it, gives the same obligations in the window and the same
report, for several windows and rulesets, on SQLite and PostgreSQL. A second run in the same
process reads nothing the first read, and catches up with what was appended since; the cache
holds at most the facts it is allowed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from projections.whatif import Scenario, Window, read_log, read_window, replay, whatif_report
from projections.whatif.cache import WhatifCache, cache_for
from projections.whatif.figures import Seeker, Tally
from projections.whatif.log import UNREAD_TYPES
from projections.whatif.replay import side_by_side
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.domain.facts import Fact, effective_facts, spells
from timeline.domain.rules import Obligation
from timeline.rulesets import default_rulesets
from timeline.settings import Settings

RULESETS = default_rulesets()
ON = date(2026, 6, 30)
#: (ruleset put in force, window): a year under later rules, a window inside the 2022 rules,
#: and the law in force for a window that spans a change of law
SCENARIOS = [
    ("FI-2026-01", Window("2025-01", "2025-12")),
    ("FI-2022-05", Window("2024-03", "2024-08")),
    ("FI-2025-01", Window("2025-10", "2026-04")),
]


@pytest.fixture(params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> Iterator[TimelineApp]:
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    settings = Settings(database_url=url_for(request.param), environment="test")
    app = TimelineApp(settings=settings, clock=clock)
    load_demo(app, clock, generate(seekers=60, seed=3))
    yield app
    app.close()


def _plain(facts: list[Fact]) -> list[dict[str, Any]]:
    """A fact's fields without its log position (the window's read does not ask for it)."""
    out = []
    for f in facts:
        fields = dict(f.__dict__)
        fields.pop("_sort_key", None)
        fields.pop("position")
        out.append(fields)
    return out


def _in_window(obligations: list[Obligation], window: Window) -> list[str]:
    """What the figures can count of a side: the obligations whose day falls in the window."""
    out = []
    for o in obligations:
        day = o.period_end if o.kind == "requirement_shortfall" else o.due_on
        if day is not None and window.first_day <= day <= window.last_day:
            out.append(repr(sorted(o.to_dict().items())))
    return sorted(out)


def _read(facts: list[Fact]) -> list[Fact]:
    """The facts the window's read decodes: all but those of the types the what-if does not
    read, unless a correction names them."""
    named = {str(f.data["corrects_event_id"]) for f in facts if f.type == "correction"}
    return [f for f in facts if f.type not in UNREAD_TYPES or f.event_id in named]


def test_the_window_read_gives_the_seekers_and_facts_of_the_whole_log(demo: TimelineApp) -> None:
    everything = read_log(demo).facts
    left_unread = named = 0
    for _, window in SCENARIOS:
        active = {s for s, fs in everything.items() if window.active(effective_facts(fs))}
        found = read_window(demo, window)
        assert set(found.facts) == active, window
        assert len(active) >= 10
        for sid in active:
            assert _plain(found.facts[sid]) == _plain(_read(everything[sid])), sid
            assert found.counts is not None and found.counts[sid] == len(everything[sid])
            left_unread += len(everything[sid]) - len(found.facts[sid])
            named += sum(f.type in UNREAD_TYPES for f in found.facts[sid])
        assert found.events < sum(len(fs) for fs in everything.values())
    assert left_unread > 0 and named > 0  # (the demo has both cases)


def test_judging_once_for_the_window_gives_what_judging_everything_gives(
    demo: TimelineApp,
) -> None:
    everything = read_log(demo).facts
    for ruleset, window in SCENARIOS:
        scenario = Scenario(RULESETS.by_id(ruleset), window, ON, RULESETS)
        found = read_window(demo, window).facts
        actual, whatif = Tally(window.months), Tally(window.months)
        changed = 0
        for sid, facts in found.items():
            assert len(facts) < len(everything[sid]) or _read(facts) == facts
            full_actual, full_whatif = scenario.both(everything[sid])
            fast_actual, fast_whatif = scenario.both_for_window(facts)
            assert _in_window(fast_actual, window) == _in_window(full_actual, window), sid
            assert _in_window(fast_whatif, window) == _in_window(full_whatif, window), sid
            changed += _in_window(full_actual, window) != _in_window(full_whatif, window)
            seeker = Seeker(sid, effective_facts(everything[sid]))
            actual.add(seeker, full_actual)
            whatif.add(seeker, full_whatif)
        assert replay(found, scenario, min_cell=1).rows == side_by_side(actual, whatif, 1)
        assert replay(found, scenario).rows == side_by_side(actual, whatif, 5)
        if ruleset != "FI-2025-01":  # (that one was in force: nothing changes)
            assert changed > 0, ruleset


def test_a_second_run_reads_nothing_again_and_catches_up_with_what_was_appended(
    demo: TimelineApp,
) -> None:
    window = Window("2025-01", "2025-12")
    cache = WhatifCache()
    first = read_window(demo, window, cache)
    assert first.events > 0
    again = read_window(demo, window, cache)
    assert again.events == 0  # nothing appended: nothing read
    assert again.facts == first.facts

    newcomer, known = new_seeker(), sorted(first.facts)[0]
    demo.append(
        [
            event("job_search_started", newcomer, on="2025-03-03"),
            event("meeting_held", newcomer, on="2025-03-05"),
        ]
    )
    spell = next(
        s
        for s in spells(effective_facts(first.facts[known]))
        if s.started_on <= window.last_day
        and (s.ended_on is None or s.ended_on >= window.first_day)
    )
    day = max(spell.started_on, window.first_day).isoformat()
    demo.append([event("coach_assigned", known, {"coach_id": "coach-99"}, on=day)])
    caught = read_window(demo, window, cache)
    assert set(caught.facts) == set(first.facts) | {newcomer}
    assert [f.type for f in caught.facts[newcomer]] == ["job_search_started", "meeting_held"]
    assert caught.facts[known][:-1] == first.facts[known]
    assert caught.facts[known][-1].data == {"coach_id": "coach-99"}
    # the spell events after the last position, then the new events of the seekers they keep
    # or who had new events: a handful, not the log again
    assert 0 < caught.events < 10
    assert _plain(caught.facts[known]) == _plain(_read(read_log(demo).facts[known]))

    # a correction appended now that names an event left unread makes it read
    booked = next(f for f in read_log(demo).facts[known] if f.type in UNREAD_TYPES)
    assert booked.event_id not in {f.event_id for f in caught.facts[known]}
    demo.append(
        [
            event(
                "correction",
                known,
                {
                    "corrects_event_id": booked.event_id,
                    "reason": "it was held",
                    "replacement": {
                        "type": "meeting_held",
                        "occurred_on": day,
                        "data": {"kind": "job_search_conversation", "channel": "phone"},
                    },
                },
                on=day,
            )
        ]
    )
    corrected = read_window(demo, window, cache).facts[known]
    assert _plain(corrected) == _plain(_read(read_log(demo).facts[known]))
    assert booked.event_id in {f.event_id for f in corrected}


def test_the_cache_holds_at_most_its_bound_and_still_reads_right(demo: TimelineApp) -> None:
    window = Window("2025-01", "2025-12")
    whole = read_window(demo, window)
    bound = sum(len(fs) for fs in whole.facts.values()) // 3
    cache = WhatifCache(max_facts=bound)
    for _ in range(2):
        found = read_window(demo, window, cache)
        assert found.facts == whole.facts
        assert 0 < cache.held <= bound
        assert cache.held == sum(len(e.facts) for e in cache.seekers.values())
    assert found.events > 0  # what was let go is read again


def test_the_report_keeps_what_it_read_for_the_next_report_on_the_same_store(
    demo: TimelineApp,
) -> None:
    scenario = Scenario(RULESETS.by_id("FI-2026-01"), Window("2025-01", "2025-12"), ON, RULESETS)
    assert cache_for(demo) is cache_for(demo)
    first = whatif_report(demo, scenario)
    kept = cache_for(demo)
    assert kept.position == demo.recorder.max_notification_id()
    assert first.seekers and len(kept.seekers) >= first.seekers  # (those with obligations)
    assert whatif_report(demo, scenario).rows == first.rows
    assert cache_for(demo) is kept
