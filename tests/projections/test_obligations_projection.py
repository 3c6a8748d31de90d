"""The obligations projection on every store: caught up incrementally equals rebuilt, a crash
mid-batch loses and duplicates nothing, reads come from tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from projections.obligations import ObligationsProjection, ObligationsView
from projections.runtime import Tx
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.domain.facts import Fact
from timeline.settings import Settings


@pytest.fixture
def view(app: TimelineApp) -> Iterator[ObligationsView]:
    v = ObligationsView(app)
    yield v
    v.close()


def _tables(view: ObligationsView) -> dict[str, list[tuple[Any, ...]]]:
    with view.db.transaction() as tx:
        return {
            t: sorted(tx.execute(f"SELECT * FROM obligations_{t}"), key=repr)
            for t in ("seekers", "items", "state")
        }


def _history(app: TimelineApp, clock: FixedClock, seekers: int = 6) -> list[str]:
    ids = []
    for n in range(seekers):
        s = new_seeker()
        ids.append(s)
        app.append(
            [
                event("job_search_started", s, on="2025-05-05"),
                event("coach_assigned", s, {"coach_id": f"coach-{n % 2}"}, on="2025-05-05"),
            ]
        )
        clock.advance(hours=1)
        if n % 3:
            app.append(
                [
                    event(
                        "meeting_held",
                        s,
                        {"kind": "initial_interview", "channel": "phone"},
                        on="2025-05-08",
                    ),
                    event(
                        "employment_plan_agreed",
                        s,
                        {"plan_kind": "employment_plan"},
                        on="2025-05-08",
                    ),
                ]
            )
        clock.advance(hours=1)
        app.append(
            [
                event(
                    "application_reported",
                    s,
                    {"applied_on": "2025-05-20", "kind": "vacancy"},
                    on="2025-05-20",
                )
            ]
        )
    return ids


def test_caught_up_incrementally_equals_rebuilt(
    app: TimelineApp, view: ObligationsView, clock: FixedClock
) -> None:
    _history(app, clock, 3)
    while view.runner.step(2):  # small batches, each applied as it comes
        pass
    clock.advance(days=2)  # a new day: every seeker is evaluated again
    _history(app, clock, 3)
    while view.runner.step(3):
        pass
    incremental = _tables(view)
    assert incremental["items"], "the projection produced obligations"
    assert view.rebuild(limit=4) > 4  # a backlog: loaded in bulk, settled once
    assert _tables(view) == incremental
    view.rebuild(limit=1000)  # one batch, applied
    assert _tables(view) == incremental


class Crash(ConnectionError):
    """The worker dies mid-batch (its connection gone): not a poisonous event, so the batch is
    rolled back, not quarantined."""


class CrashingProjection(ObligationsProjection):
    """Writes half a batch, then dies — as a killed worker would mid-transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.crash_next = True

    def apply(self, tx: Tx, facts: Any) -> None:
        half: list[Fact] = list(facts)[: max(1, len(facts) // 2)]
        super().apply(tx, half)
        if self.crash_next:
            self.crash_next = False
            raise Crash

    def load(self, tx: Tx, facts: Any) -> None:  # a backlog is loaded in bulk: crash there too
        half: list[Fact] = list(facts)[: max(1, len(facts) // 2)]
        super().load(tx, half)
        if self.crash_next:
            self.crash_next = False
            raise Crash


def test_a_crash_mid_batch_loses_and_duplicates_nothing(
    app: TimelineApp, clock: FixedClock
) -> None:
    _history(app, clock, 4)
    crashing = CrashingProjection()
    worker = ObligationsView(app, projection=crashing)
    try:
        with pytest.raises(Crash):
            worker.catch_up(limit=5)
        assert worker.runner.position() == 0
        with worker.db.transaction() as tx:
            for table in ("obligations_seekers", "obligations_pending"):
                assert tx.execute(f"SELECT COUNT(*) FROM {table}") == [(0,)], table
        # restart: the same (now healthy) projection resumes from its tracking position
        restarted = ObligationsView(app, db=worker.db)
        restarted.catch_up(limit=5)
        after_restart = _tables(restarted)
        last = {e["seeker_id"]: e["position"] for e in app.feed(0, 1000)}
        assert {(s[0], s[5]) for s in after_restart["seekers"]} == set(last.items())
        restarted.rebuild()
        assert _tables(restarted) == after_restart
    finally:
        worker.close()


def test_a_seekers_obligations_are_read_from_tables_not_by_replaying_events(
    app: TimelineApp, view: ObligationsView, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    [seeker, *_] = _history(app, clock, 1)
    view.catch_up()
    on = view.evaluated_on()
    assert on is not None

    def no_replay(*_: object, **__: object) -> None:
        raise AssertionError("the read replayed the aggregate")

    monkeypatch.setattr(app.repository, "get", no_replay)
    monkeypatch.setattr(app.recorder, "select_events", no_replay)
    items = view.for_seeker(seeker, on)
    assert {i["kind"] for i in items} >= {"initial_interview", "employment_plan"}
    interview = next(i for i in items if i["kind"] == "initial_interview")
    assert interview["due_on"] == "2025-05-12"
    assert interview["rule"] == "FI-2025-01/initial_interview"


def test_the_worklist_lists_what_is_overdue_for_a_coach(
    app: TimelineApp, view: ObligationsView, clock: FixedClock
) -> None:
    ids = _history(app, clock, 6)
    view.catch_up()
    on = date(2025, 5, 13)
    overdue = view.worklist(on, status="overdue")
    interviews = {i["seeker_id"] for i in overdue if i["kind"] == "initial_interview"}
    assert interviews == {ids[0], ids[3]}  # n % 3 == 0 had no interview
    coach0 = view.worklist(on, status="overdue", coach="coach-0")
    assert {i["seeker_id"] for i in coach0 if i["kind"] == "initial_interview"} == {ids[0]}
    assert all(i["municipality"] == "398" for i in overdue)
    before = view.worklist(date(2025, 5, 9), status="overdue")
    assert not [i for i in before if i["kind"] == "initial_interview"]


def test_a_new_day_re_evaluates_statuses(
    app: TimelineApp, view: ObligationsView, clock: FixedClock
) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker, on="2025-06-02")])
    view.catch_up()
    view.change_day(date(2025, 6, 5))
    [interview] = [
        i for i in view.for_seeker(seeker, date(2025, 6, 5)) if i["kind"] == "initial_interview"
    ]
    assert interview["status"] == "open"
    view.change_day(date(2025, 6, 10))
    [interview] = [
        i for i in view.for_seeker(seeker, date(2025, 6, 10)) if i["kind"] == "initial_interview"
    ]
    assert (interview["status"], interview["days_late"]) == ("overdue", 1)


def test_obligations_as_known_at_a_moment_ignore_later_backdated_entries(
    app: TimelineApp, view: ObligationsView, clock: FixedClock
) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker, on="2025-06-02")])
    known_then = clock()
    clock.advance(days=10)
    # the interview was held on 5 June, but recorded ten days later
    app.append(
        [
            event(
                "meeting_held",
                seeker,
                {"kind": "initial_interview", "channel": "phone"},
                on="2025-06-05",
            )
        ]
    )
    view.catch_up()
    day = date(2025, 6, 10)
    now = {i["kind"]: i for i in view.for_seeker(seeker, day)}
    then = {i["kind"]: i for i in view.for_seeker(seeker, day, as_of=known_then)}
    assert now["initial_interview"]["status"] == "met"
    assert then["initial_interview"]["status"] == "overdue"


def test_the_worklist_leaves_out_ended_spells(app: TimelineApp, view: ObligationsView) -> None:
    ended, open_ = new_seeker(), new_seeker()
    app.append(
        [
            event("job_search_started", ended, on="2025-05-05"),
            event("job_search_ended", ended, {"reason": "employed_open_market"}, on="2025-06-02"),
            event("job_search_started", open_, on="2025-05-05"),
        ]
    )
    view.catch_up()
    listed = {i["seeker_id"] for i in view.worklist(date(2025, 6, 9))}
    assert listed == {open_}
    history = {i["kind"]: i for i in view.for_seeker(ended, date(2025, 6, 9))}
    assert history["initial_interview"]["status"] == "overdue"


def test_lateness_stops_at_the_spells_end_on_every_read_path(
    app: TimelineApp, view: ObligationsView, clock: FixedClock
) -> None:
    """Spell from Mon 3 Feb 2025 (interview due Mon 10 Feb, never held) to Fri 28 Feb: on
    1 Dec 2025 the interview is overdue by 18 days (the end day), not 294. The same from the
    stored rows (the evaluation day), from the facts (another day) and in no worklist."""
    seeker, again = new_seeker(), new_seeker()
    clock.set(datetime(2025, 12, 1, 9, 0, tzinfo=UTC))
    app.append(
        [
            event("job_search_started", seeker, on="2025-02-03"),
            event("job_search_ended", seeker, {"reason": "employed_open_market"}, on="2025-02-28"),
            event("job_search_started", again, on="2025-02-03"),
            event("job_search_ended", again, {"reason": "employed_open_market"}, on="2025-02-28"),
            event("job_search_started", again, on="2025-11-03"),
        ]
    )
    view.catch_up()
    day = date(2025, 12, 1)
    view.change_day(day)
    for on in (day, date(2026, 12, 1)):  # stored rows, then evaluated from the facts
        items = {i["kind"]: i for i in view.for_seeker(seeker, on)}
        for kind in ("initial_interview", "employment_plan"):
            assert (items[kind]["status"], items[kind]["days_late"]) == ("overdue", 18), (on, kind)
    overdue = view.worklist(day, status="overdue")
    assert {(i["seeker_id"], i["due_on"]) for i in overdue} == {(again, "2025-11-10")}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_online_rebuild_keeps_the_tables_readable_until_it_swaps_them(
    kind: str, url_for: Callable[[str], str], clock: FixedClock
) -> None:
    app = TimelineApp(
        settings=Settings(database_url=url_for(kind), environment="test"), clock=clock
    )
    view = ObligationsView(app)
    seekers = _history(app, clock, 6)
    view.catch_up()
    before = _tables(view)
    seen_during: list[dict[str, list[tuple[Any, ...]]]] = []
    late = new_seeker()

    def meanwhile(_: int) -> None:  # called after each batch the shadow loads
        seen_during.append(_tables(view))
        if len(seen_during) == 1:  # an event arrives and the live catch-up goes on
            app.append([event("job_search_started", late, on="2025-05-20")])
            view.catch_up()

    view.rebuild(limit=3, progress=meanwhile)
    assert len(seen_during) > 2
    assert seen_during[0] == before  # readers saw the complete old tables, never a half-built
    assert all(t["items"] and set(seekers) <= {r[0] for r in t["seekers"]} for t in seen_during)
    view.catch_up()
    after = _tables(view)
    assert late in {r[0] for r in after["seekers"]}
    view.rebuild(online=False)
    assert _tables(view) == after  # online rebuild + catch-up equals a rebuild in place
    # the shadow is gone
    if kind == "postgres":
        schemas = view.db.query(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE %s",
            ["%_rebuild_obligations"],
        )
        assert schemas == [(0,)]
    else:
        assert view.db.path is not None
        assert not Path(f"{view.db.path}.rebuild-obligations").exists()
    view.close()
    app.close()
