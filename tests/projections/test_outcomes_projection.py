"""The outcomes projection on every store: caught up incrementally equals rebuilt (positions
included), every row says the position it was computed at, no personal identifiers are
published, and the figures agree with an independent day-by-day evaluator on a demo dataset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ops.bench.outcomes_bruteforce import load_and_compare
from projections.outcomes import OutcomesView
from projections.outcomes.aggregate import ROW_COLUMNS
from projections.outcomes.tables import PUBLIC_TABLES
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.domain.event_types import EventType


@pytest.fixture
def view(app: TimelineApp) -> Iterator[OutcomesView]:
    v = OutcomesView(app)
    yield v
    v.close()


def _tables(view: OutcomesView) -> dict[str, list[tuple[Any, ...]]]:
    """The tables' contents, with each published row's figures (not the position it was last
    recomputed at: a caught-up row of an untouched month keeps its older one)."""
    figures = ",".join(c for c in ROW_COLUMNS if c != "position")
    with view.db.transaction() as tx:
        return {
            t: sorted(tx.execute(sql), key=repr)
            for t, sql in (
                ("outcomes_monthly", f"SELECT {figures} FROM outcomes_monthly"),
                ("outcomes_state", "SELECT * FROM outcomes_state"),
                ("outcomes_work_contributions", "SELECT * FROM outcomes_work_contributions"),
            )
        }


def _history(app: TimelineApp, view: OutcomesView, clock: FixedClock) -> None:
    """Twelve seekers over three recorded months, caught up after every append; with a
    backdated correction and a retraction."""
    clock.set(datetime(2025, 3, 3, 9, tzinfo=UTC))
    seekers = [new_seeker() for _ in range(12)]
    for n, s in enumerate(seekers):
        muni = ("398", "016", "837", "091")[n % 4]
        data = {"municipality": muni, "labour_market_status": ("unemployed", "laid_off")[n % 2]}
        app.append([event("job_search_started", s, data, on="2025-02-03")])
        view.catch_up()
    clock.set(datetime(2025, 4, 14, 9, tzinfo=UTC))  # the horizon moves to April
    for n, s in enumerate(seekers[:6]):
        app.append(
            [
                event(
                    "service_referred",
                    s,
                    {"service_id": f"s{n}", "service_type": "coaching"},
                    on="2025-03-10",
                ),
                event("service_started", s, {"service_id": f"s{n}"}, on="2025-03-10"),
            ]
        )
        view.catch_up()
    wrong = event("job_search_ended", seekers[7], {"reason": "studies"}, on="2025-04-10")
    app.append([wrong])
    view.catch_up()
    clock.set(datetime(2025, 5, 20, 9, tzinfo=UTC))  # and to May
    app.append(
        [
            event(
                "correction",
                seekers[7],
                {
                    "corrects_event_id": wrong.event_id,
                    "reason": "it was a job",
                    "replacement": {
                        "type": "job_search_ended",
                        "occurred_on": "2025-04-10",
                        "data": {"reason": "employed_open_market"},
                    },
                },
                on="2025-05-20",
            )
        ]
    )
    view.catch_up()
    retracted = event(
        "labour_market_status_changed",
        seekers[8],
        {"labour_market_status": "employed"},
        on="2025-05-05",
    )
    app.append([retracted])
    view.catch_up()
    app.append(
        [
            event(
                "retraction",
                seekers[8],
                {"retracts_event_id": retracted.event_id, "reason": "wrong seeker"},
                on="2025-05-20",
            )
        ]
    )
    view.catch_up()


def test_caught_up_incrementally_equals_rebuilt(
    app: TimelineApp, view: OutcomesView, clock: FixedClock
) -> None:
    _history(app, view, clock)
    caught_up = _tables(view)
    assert caught_up["outcomes_monthly"], "the history publishes rows"
    assert view.rebuild() > 0  # one batch, applied
    assert _tables(view) == caught_up
    assert view.rebuild(limit=4) > 4  # a backlog: loaded in bulk, published once
    assert _tables(view) == caught_up


def test_every_row_carries_the_log_position_it_was_computed_at(
    app: TimelineApp, view: OutcomesView, clock: FixedClock
) -> None:
    _history(app, view, clock)
    rows = view.monthly("2025-01", "2025-12")
    assert view.position() == app.recorder.max_notification_id()
    assert view.state()["published_at"] == str(view.position())  # every row current as of it
    assert max(r["position"] for r in rows) == view.position()
    assert all(0 < r["position"] <= view.position() for r in rows)
    assert max(r["month"] for r in rows) == "2025-05"  # up to the latest recorded month
    assert {r["month"]: r["provisional"] for r in rows}["2025-05"] is True
    assert {r["month"]: r["provisional"] for r in rows}["2025-04"] is False


def test_a_late_event_publishes_again_only_the_months_it_changes(
    app: TimelineApp, view: OutcomesView, clock: FixedClock
) -> None:
    _history(app, view, clock)
    before = {
        (r["month"], r["level"], r["area"], r["measure"]): r
        for r in view.monthly("2025-01", "2025-12")
    }
    # the same day (the horizon stays): a seeker found employed in April, recorded late
    seeker = next(  # an unemployed seeker with nothing but a start recorded
        s
        for s in sorted({e["seeker_id"] for e in app.feed(0, 10_000)})
        if [(f.type, f.data.get("labour_market_status")) for f in app.facts(s)]
        == [(EventType.JOB_SEARCH_STARTED, "unemployed")]
    )
    app.append(
        [
            event(
                "labour_market_status_changed",
                seeker,
                {"labour_market_status": "employed"},
                on="2025-04-07",
            )
        ]
    )
    view.catch_up()
    after = {
        (r["month"], r["level"], r["area"], r["measure"]): r
        for r in view.monthly("2025-01", "2025-12")
    }
    republished = {k[0] for k, r in after.items() if r["position"] == view.position()}
    # April on, up to the horizon month, and February: the spell's start month, whose cohort
    # now counts one more employed within 3 months; January and March stay as they were
    assert republished == {"2025-02", "2025-04", "2025-05"}
    assert all(after[k] == before[k] for k in after if k[0] not in republished)
    caught_up = _tables(view)
    view.rebuild()
    assert _tables(view) == caught_up


def test_published_tables_hold_no_personal_identifiers(
    app: TimelineApp, view: OutcomesView, clock: FixedClock
) -> None:
    _history(app, view, clock)
    seekers = {s for (s,) in _select(view, "SELECT seeker_id FROM outcomes_work_seekers")}
    assert seekers == {e["seeker_id"] for e in app.feed(0, 10_000)}
    for table in PUBLIC_TABLES:
        for row in _select(view, f"SELECT * FROM {table}"):
            assert not seekers & {str(v) for v in row}, table


def _select(view: OutcomesView, sql: str) -> list[tuple[Any, ...]]:
    with view.db.transaction() as tx:
        return tx.execute(sql)


def test_bad_months_and_measures_are_refused_by_name(view: OutcomesView) -> None:
    with pytest.raises(ValueError, match="2025-13"):
        view.monthly("2025-13", "2025-12")
    with pytest.raises(ValueError, match="no_such"):
        view.monthly("2025-01", "2025-12", measure="no_such")


def test_the_projection_agrees_with_a_day_by_day_evaluator_on_a_demo_dataset() -> None:
    result = load_and_compare(seekers=200, seed=11)
    print({k: v for k, v in result.items() if k not in ("all", "municipality")})
    for level in ("all", "municipality"):
        assert result[level]["cells"] > 500, level
        assert result[level]["mismatches"] == [], level


def test_tables_of_a_release_that_copied_every_fact_are_upgraded_in_place(
    app: TimelineApp, view: OutcomesView, clock: FixedClock
) -> None:
    """Earlier releases kept ``outcomes_work_facts`` (a copy of every fact) and found every
    seeker there; the upgrade takes the seekers from it and drops it, so a new horizon month
    still recomputes every seeker."""
    _history(app, view, clock)
    feed = app.feed(0, 10_000)
    with view.db.transaction() as tx:  # the tables as an earlier release left them
        tx.execute("DROP TABLE outcomes_work_seekers")
        tx.execute(
            "CREATE TABLE outcomes_work_facts (seeker_id TEXT NOT NULL, version INTEGER NOT NULL, "
            "position BIGINT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, "
            "occurred_on TEXT NOT NULL, occurred_at TEXT, recorded_at TEXT NOT NULL, "
            "data TEXT NOT NULL, PRIMARY KEY (seeker_id, version))"
        )
        tx.copy(  # (the upgrade reads the seeker ids only)
            "outcomes_work_facts",
            (
                "seeker_id",
                "version",
                "position",
                "event_id",
                "type",
                "occurred_on",
                "recorded_at",
                "data",
            ),
            [
                (
                    e["seeker_id"],
                    e["version"],
                    e["position"],
                    e["event_id"],
                    e["type"],
                    "-",
                    "-",
                    "{}",
                )
                for e in feed
            ],
        )
    upgraded = OutcomesView(app, db=view.db)
    with view.db.read() as tx:
        assert not tx.execute(tx.sql.COLUMNS_OF, ["outcomes_work_facts"])
        seekers = {r[0] for r in tx.execute("SELECT seeker_id FROM outcomes_work_seekers")}
    assert seekers == {e["seeker_id"] for e in feed}
    clock.set(datetime(2025, 7, 1, 9, tzinfo=UTC))  # the horizon month moves: every seeker
    app.append([event("job_search_started", new_seeker(), on="2025-07-01")])
    upgraded.catch_up()
    caught_up = _tables(upgraded)
    upgraded.rebuild()
    assert _tables(upgraded) == caught_up
