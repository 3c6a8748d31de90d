"""The what-if under the ruleset that was actually in force is the live obligations projection:
for a demo dataset, on SQLite and PostgreSQL, every seeker with a spell in the window has the
same obligations, and the two sides of the report agree row for row. The what-if reads the log
(only the seekers active in the window) and writes nothing: the projection's tables are
unchanged by it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from projections.obligations import ObligationsView
from projections.whatif import Scenario, Window, read_log, read_window, replay, whatif_report
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.domain.facts import effective_facts
from timeline.rulesets import default_rulesets
from timeline.settings import Settings

WINDOW = Window("2025-01", "2025-12")  # FI-2025-01 was in force all year


@pytest.fixture(params=["sqlite", "postgres"])
def demo(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> Iterator[TimelineApp]:
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    settings = Settings(database_url=url_for(request.param), environment="test")
    app = TimelineApp(settings=settings, clock=clock)
    load_demo(app, clock, generate(seekers=60, seed=3))
    yield app
    app.close()


def _table(view: ObligationsView) -> list[tuple[object, ...]]:
    return view.db.query("SELECT * FROM obligations_items ORDER BY seeker_id, seq")


def test_the_ruleset_in_force_replays_to_the_live_projection(demo: TimelineApp) -> None:
    view = ObligationsView(demo)
    try:
        view.catch_up()
        on = view.evaluated_on()
        assert on is not None
        before = _table(view)
        rulesets = default_rulesets()
        scenario = Scenario(rulesets.by_id("FI-2025-01"), WINDOW, on, rulesets)

        everything = read_log(demo).facts
        active = {s for s, fs in everything.items() if WINDOW.active(effective_facts(fs))}
        found = read_log(demo, WINDOW).facts
        assert set(found) == active  # only the seekers with a spell in 2025 are decoded
        assert len(active) >= 10
        assert all(found[s] == everything[s] for s in active)

        window = read_window(demo, WINDOW)  # what the report reads: fewer facts, same verdicts
        assert set(window.facts) == active
        for seeker_id in sorted(active):
            actual, whatif = scenario.both(found[seeker_id])
            live = view.for_seeker(seeker_id, on)
            assert [o.to_dict() for o in whatif] == live, seeker_id
            assert whatif == actual
            assert scenario.both(window.facts[seeker_id]) == (actual, whatif), seeker_id

        report = whatif_report(demo, scenario)
        assert report.rows == replay(found, scenario).rows
        assert report.events == sum(len(found[s]) for s in active)
        shown = [r for r in report.rows if r["actual"] is not None]
        assert shown and all(r["whatif"] == r["actual"] and r["change"] in (0, None) for r in shown)
        assert (
            sum(
                r["actual"]
                for r in report.rows
                if r["measure"] == "due" and r["kind"] == "all" and r["actual"]
            )
            > 50
        )
        assert _table(view) == before  # nothing written
    finally:
        view.close()


def test_another_ruleset_changes_the_figures_but_not_the_projection(demo: TimelineApp) -> None:
    view = ObligationsView(demo)
    try:
        view.catch_up()
        on = view.evaluated_on()
        assert on is not None
        before = _table(view)
        rulesets = default_rulesets()
        report = whatif_report(demo, Scenario(rulesets.by_id("FI-2026-01"), WINDOW, on, rulesets))
        supplementary = [
            r
            for r in report.rows
            if r["kind"] == "supplementary_conversation" and r["measure"] == "due"
        ]
        # FI-2026-01 owes no supplementary conversation after an interview held in 2025
        assert sum(r["actual"] or 0 for r in supplementary) > sum(
            r["whatif"] or 0 for r in supplementary
        )
        assert _table(view) == before
    finally:
        view.close()
