"""A projection never halts on one event (issue 10 §1): each poisoned event injected below the
edge is quarantined, its seeker marked stale, and the rest of the log applied — incrementally,
in bulk, on a day change and in rebuilds; a rebuild after the cause is fixed clears it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.obligations import ObligationsProjection, ObligationsView
from projections.obligations.projection import QUARANTINE
from projections.outcomes import OutcomesView
from projections.outcomes.aggregate import ROW_COLUMNS
from projections.runtime import DatedView, Tx
from projections.runtime.quarantine import Entry
from tests.factories import event
from tests.projections.poison import START, World, set_topic
from timeline.application import TimelineApp
from timeline.domain.facts import Fact

#: (poison, projection it stops on main, stores where it does)
CASES = [
    ("valid_until_9999", "obligations", ("memory", "sqlite", "postgres")),
    ("valid_until_9999", "outcomes", ("memory", "sqlite", "postgres")),
    ("started_in_year_one", "outcomes", ("memory", "sqlite", "postgres")),
    ("coach_with_nul", "obligations", ("postgres",)),
]
PARAMS = [
    pytest.param(poison, projection, kind, id=f"{poison}-{projection}-{kind}")
    for poison, projection, kinds in CASES
    for kind in kinds
]

Open = Callable[[str], TimelineApp]


@pytest.fixture
def urls(url_for: Callable[[str], str], tmp_path: Path) -> Callable[[str], tuple[str, str]]:
    """Two stores of a kind: the one under test and a clean one."""

    def pair(kind: str) -> tuple[str, str]:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / 'poisoned.db'}", f"sqlite:///{tmp_path / 'clean.db'}"
        return url_for(kind), url_for(kind)

    return pair


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Views and applications to close after the test."""
    opened: list[Any] = []
    yield opened
    for thing in reversed(opened):
        thing.close()


def _view(projection: str, app: TimelineApp, closing: list[Any]) -> DatedView:
    view: DatedView = (ObligationsView if projection == "obligations" else OutcomesView)(app)
    closing.append(view)
    return view


def _rows(view: DatedView, without: str) -> dict[str, list[tuple[Any, ...]]]:
    """The tables' rows of every seeker but ``without``, log positions left out (the poisoned
    seeker's events take positions in the run under test)."""
    with view.db.read() as tx:
        if isinstance(view, ObligationsView):
            seekers = tx.execute(
                "SELECT seeker_id, municipality, coach_id, spell_open, spell_started_on, stale "
                f"FROM obligations_seekers WHERE seeker_id <> {tx.sql.P}",
                [without],
            )
            return {
                "seekers": sorted(seekers, key=repr),
                "items": sorted(
                    tx.execute(
                        f"SELECT * FROM obligations_items WHERE seeker_id <> {tx.sql.P}", [without]
                    ),
                    key=repr,
                ),
                "state": tx.execute("SELECT * FROM obligations_state"),
            }
        figures = ",".join(c for c in ROW_COLUMNS if c != "position")
        return {
            "contributions": sorted(
                tx.execute(
                    f"SELECT * FROM outcomes_work_contributions WHERE seeker_id <> {tx.sql.P}",
                    [without],
                ),
                key=repr,
            ),
            # the poisoned seeker is left out of the statistics: every published row equals
            # the clean run's, where the seeker does not exist
            "monthly": sorted(tx.execute(f"SELECT {figures} FROM outcomes_monthly"), key=repr),
            "horizon": tx.execute("SELECT value FROM outcomes_state WHERE key = 'horizon_day'"),
        }


def _position_of(app: TimelineApp, event_id: str) -> int:
    [row] = app.index.index_by_event_ids([event_id]).values()
    assert row.position is not None
    return row.position


def _assert_quarantined(
    view: DatedView, app: TimelineApp, world: World, clean: dict[str, list[Any]]
) -> Entry:
    """Caught up to the log's end, the poisoned seeker quarantined and stale, every other
    seeker's rows those of the clean run."""
    assert view.position() == app.recorder.max_notification_id()
    [entry] = view.quarantine()
    assert (entry.seeker_id, entry.event_id) == (world.victim, world.poison.event_id)
    assert entry.position == _position_of(app, world.poison.event_id)
    assert entry.stage in ("evaluate", "write")
    # the time is the event's own recorded time, never the clock
    assert entry.recorded_at == app.index.index_by_event_ids([world.poison.event_id])[
        world.poison.event_id
    ].recorded_at.isoformat().replace("Z", "+00:00")
    if isinstance(view, ObligationsView):
        stale = view.stale(world.victim)
        assert stale is not None
        assert world.poison.event_id in stale
        assert entry.error.split(" (at ")[0] in stale
        assert all(view.stale(s) is None for s in world.good)
    else:
        assert isinstance(view, OutcomesView)
        assert view.state()["stale_seekers"] == "1"
        with view.db.read() as tx:
            assert not tx.execute(
                f"SELECT 1 FROM outcomes_work_contributions WHERE seeker_id = {tx.sql.P}",
                [world.victim],
            )
    assert _rows(view, world.victim) == clean
    return entry


def _clean(world: World, projection: str, url: str, closing: list[Any]) -> dict[str, Any]:
    app = world.open(url, with_victim=False)
    closing.append(app)
    view = _view(projection, app, closing)
    view.catch_up()
    return _rows(view, world.victim)


@pytest.mark.parametrize(("poison", "projection", "kind"), PARAMS)
def test_a_poisoned_event_is_quarantined_while_catch_up_and_rebuilds_go_on(
    poison: str,
    projection: str,
    kind: str,
    urls: Callable[[str], tuple[str, str]],
    closing: list[Any],
) -> None:
    url, clean_url = urls(kind)
    world = World(poison)
    clean = _clean(world, projection, clean_url, closing)
    clock_app = world.open(url)  # the whole log first, then projected as the live service does:
    closing.append(clock_app)
    view = _view(projection, clock_app, closing)
    # Given the log applied batch by batch (the poisoned seeker's later good event included)
    while view.runner.step(2):
        pass
    view.runner.settle()
    first = _assert_quarantined(view, clock_app, world, clean)
    # When it is rebuilt, online and offline, from the log
    assert view.rebuild(limit=4) == clock_app.recorder.max_notification_id()
    # Then the same event is quarantined again and everything else is rebuilt
    assert _assert_quarantined(view, clock_app, world, clean) == first
    view.rebuild(limit=4, online=False)
    assert _assert_quarantined(view, clock_app, world, clean) == first


@pytest.mark.parametrize(("poison", "projection", "kind"), PARAMS)
def test_a_poisoned_event_is_quarantined_by_a_bulk_catch_up(
    poison: str,
    projection: str,
    kind: str,
    urls: Callable[[str], tuple[str, str]],
    closing: list[Any],
) -> None:
    url, clean_url = urls(kind)
    world = World(poison)
    clean = _clean(world, projection, clean_url, closing)
    app = world.open(url)
    closing.append(app)
    view = _view(projection, app, closing)
    assert view.catch_up(limit=3) == app.recorder.max_notification_id()  # loaded, then settled
    _assert_quarantined(view, app, world, clean)


@pytest.mark.parametrize(
    ("poison", "kind"),
    [
        ("valid_until_9999", "memory"),
        ("valid_until_9999", "sqlite"),
        ("valid_until_9999", "postgres"),
        ("coach_with_nul", "postgres"),
    ],
)
def test_the_day_change_goes_on_past_a_poisoned_seeker(
    poison: str, kind: str, urls: Callable[[str], tuple[str, str]], closing: list[Any]
) -> None:
    url, clean_url = urls(kind)
    world = World(poison)
    clean_app = world.open(clean_url, with_victim=False)
    app = world.open(url)
    closing.extend([clean_app, app])
    views = [ObligationsView(a) for a in (clean_app, app)]
    closing.extend(views)
    for v in views:
        v.catch_up()
        assert v.change_day(date(2025, 7, 1)) > 0
    [entry] = views[1].quarantine()
    assert entry.event_id == world.poison.event_id
    assert views[1].stale(world.victim) is not None
    assert _rows(views[1], world.victim) == _rows(views[0], world.victim)


@pytest.mark.parametrize(
    ("poison", "projection", "kind"),
    [
        ("valid_until_9999", "obligations", "memory"),
        ("valid_until_9999", "obligations", "sqlite"),
        ("valid_until_9999", "outcomes", "postgres"),
        ("coach_with_nul", "obligations", "postgres"),
    ],
)
def test_a_retraction_of_the_poisoned_event_clears_its_entry_and_the_stale_mark(
    poison: str,
    projection: str,
    kind: str,
    urls: Callable[[str], tuple[str, str]],
    closing: list[Any],
) -> None:
    url, _ = urls(kind)
    world = World(poison)
    app = world.open(url)
    closing.append(app)
    view = _view(projection, app, closing)
    view.catch_up()
    assert [e.event_id for e in view.quarantine()] == [world.poison.event_id]
    app.append(
        [
            event(
                "retraction",
                world.victim,
                {"retracts_event_id": world.poison.event_id, "reason": "entered wrongly"},
                on="2025-06-16",
            )
        ]
    )
    view.catch_up()  # the seeker's next evaluation succeeds: the entry goes, the mark too
    assert view.quarantine() == []
    view.rebuild()
    assert view.quarantine() == []
    if isinstance(view, ObligationsView):
        assert view.stale(world.victim) is None
        assert view.for_seeker(world.victim, date(2025, 6, 16))
    else:
        assert isinstance(view, OutcomesView)
        assert view.state()["stale_seekers"] == "0"
        with view.db.read() as tx:
            assert tx.execute(
                f"SELECT 1 FROM outcomes_work_contributions WHERE seeker_id = {tx.sql.P}",
                [world.victim],
            )


@pytest.mark.parametrize(
    ("projection", "target"),
    [
        ("obligations", "projections.obligations.projection.evaluate"),
        ("outcomes", "projections.outcomes.projection.contributions"),
    ],
)
def test_a_rebuild_after_a_code_fix_clears_the_entries_of_a_bug(
    projection: str,
    target: str,
    app: TimelineApp,
    closing: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World("valid_until_9999")
    world.replay(app, app.clock, with_victim=False)  # type: ignore[arg-type]
    unlucky = world.good[1]
    module, name = target.rsplit(".", 1)
    real = getattr(__import__(module, fromlist=[name]), name)

    def buggy(facts: Sequence[Fact], *args: Any, **kwargs: Any) -> Any:
        if any(f.seeker_id == unlucky and f.type == "application_reported" for f in facts):
            raise KeyError("a bug in this release")
        return real(facts, *args, **kwargs)

    monkeypatch.setattr(target, buggy)
    view = _view(projection, app, closing)
    view.catch_up()
    [entry] = view.quarantine()
    assert entry.seeker_id == unlucky
    assert entry.error.startswith("KeyError: 'a bug in this release' (at test_quarantine.py")
    # the first event whose arrival made the evaluation raise is the one blamed
    first_application = next(
        e.event_id
        for _, events, _ in world.batches
        for e in events
        if e.seeker_id == unlucky and e.type == "application_reported"
    )
    assert entry.event_id == first_application
    monkeypatch.undo()  # the fixed release
    view.rebuild()
    assert view.quarantine() == []
    assert view.position() == app.recorder.max_notification_id()


@pytest.mark.parametrize("bulk", [False, True], ids=["applied", "loaded"])
def test_an_event_that_cannot_be_read_is_kept_out_until_a_rebuild_reads_it(
    bulk: bool, app: TimelineApp, closing: list[Any]
) -> None:
    world = World("valid_until_9999")
    world.replay(app, app.clock, with_victim=False)  # type: ignore[arg-type]
    last = app.recorder.max_notification_id()
    # a seeker's second event, in the middle of the log, and the log's last event
    middle = world.batches[2][1][1]
    broken = {
        _position_of(app, middle.event_id): middle.seeker_id,
        last: app.feed(last - 1, 1)[0]["seeker_id"],
    }
    topics = {p: set_topic(app, p, "timeline.domain.timeline:Gone") for p in broken}
    views = [ObligationsView(app), OutcomesView(app)]
    closing.extend(views)
    for view in views:
        view.catch_up(limit=4 if bulk else 1000)
        assert view.position() == last
        entries = view.quarantine()
        assert [(e.position, e.seeker_id, e.stage) for e in entries] == [
            (p, s, "decode") for p, s in sorted(broken.items())
        ]
        assert all(e.event_id and e.recorded_at for e in entries)  # from the event index
        assert all("TopicError" in e.error or "Gone" in e.error for e in entries)
    obligations, outcomes = views
    for seeker in set(broken.values()):
        assert "decode failed" in (obligations.stale(seeker) or "")
    assert outcomes.state()["stale_seekers"] == str(len(set(broken.values())))
    for p, topic in topics.items():  # the release that knows the event class again
        set_topic(app, p, topic)
    for view in views:
        view.catch_up()
        assert len(view.quarantine()) == 2  # kept out until the log is read again
        view.rebuild()
        assert view.quarantine() == []
    assert all(obligations.stale(s) is None for s in broken.values())


class Brittle(ObligationsProjection):
    """A release whose batch code (outside any one seeker's evaluation) trips on one event."""

    def __init__(self, bad: str) -> None:
        super().__init__()
        self.bad = bad

    def _check(self, facts: Sequence[Fact]) -> None:
        if any(f.event_id == self.bad for f in facts):
            raise TypeError("unsupported operand")

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None:
        self._check(facts)
        super().apply(tx, facts)

    def load(self, tx: Tx, facts: Sequence[Fact]) -> None:
        self._check(facts)
        super().load(tx, facts)


@pytest.mark.parametrize("limit", [1000, 3], ids=["applied", "loaded"])
def test_an_event_that_fails_its_batch_is_kept_out_and_the_batch_applied(
    limit: int, app: TimelineApp, closing: list[Any]
) -> None:
    world = World("valid_until_9999")
    world.replay(app, app.clock, with_victim=False)  # type: ignore[arg-type]
    seeker = world.good[4]
    bad = next(e for _, evs, _ in world.batches for e in evs if e.seeker_id == seeker)
    view = ObligationsView(app, projection=Brittle(bad.event_id))
    closing.append(view)
    view.catch_up(limit=limit)
    assert view.position() == app.recorder.max_notification_id()
    [entry] = view.quarantine()
    assert (entry.stage, entry.event_id, entry.seeker_id) == ("apply", bad.event_id, seeker)
    assert "apply failed" in (view.stale(seeker) or "")
    # the seeker is evaluated on every event of theirs but the one kept out
    with view.db.read() as tx:
        known = QUARANTINE.for_seekers(tx, [seeker])
    kept = {f.event_id for f in view.projection.facts_of([seeker], view.position(), known)[seeker]}
    every = {e.event_id for _, evs, _ in world.batches for e in evs if e.seeker_id == seeker}
    assert kept == every - {bad.event_id}


class Unwell(ObligationsProjection):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def apply(self, tx: Tx, facts: Sequence[Fact]) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("server closed the connection unexpectedly"),
        sqlite3.OperationalError("database is locked"),
        ConnectionResetError("connection reset by peer"),
    ],
    ids=["postgres", "sqlite", "socket"],
)
def test_a_database_that_is_unwell_stops_the_batch_and_quarantines_nothing(
    error: Exception, app: TimelineApp, closing: list[Any]
) -> None:
    app.clock.set(START)  # type: ignore[attr-defined]
    World("valid_until_9999").replay(app, app.clock, with_victim=False)  # type: ignore[arg-type]
    view = ObligationsView(app, projection=Unwell(error))
    closing.append(view)
    with pytest.raises(type(error)):
        view.catch_up()
    assert view.position() == 0
    assert view.quarantine() == []


def test_obligations_tables_made_before_the_quarantine_are_upgraded_in_place(
    app: TimelineApp, closing: list[Any]
) -> None:
    old = ObligationsView(app)
    closing.append(old)
    with old.db.transaction() as tx:  # the table as an earlier release made it
        tx.execute("DROP TABLE obligations_seekers")
        tx.execute(
            "CREATE TABLE obligations_seekers (seeker_id TEXT PRIMARY KEY, municipality TEXT, "
            "coach_id TEXT, spell_open INTEGER NOT NULL, spell_started_on TEXT, "
            "position BIGINT NOT NULL)"
        )
        # and the copy of every fact that releases before issue 12 kept
        tx.execute("CREATE TABLE obligations_facts (seeker_id TEXT NOT NULL, data TEXT)")
    World("valid_until_9999").replay(app, app.clock)  # type: ignore[arg-type]
    upgraded = ObligationsView(app, db=old.db)
    with upgraded.db.read() as tx:
        assert not tx.execute(tx.sql.COLUMNS_OF, ["obligations_facts"])
    upgraded.catch_up()
    assert upgraded.quarantine()
    assert sum(upgraded.stale(s) is not None for s in _seekers(upgraded)) == 1


def _seekers(view: ObligationsView) -> list[str]:
    with view.db.read() as tx:
        return [str(r[0]) for r in tx.execute("SELECT seeker_id FROM obligations_seekers")]


def test_a_stale_seeker_keeps_their_last_clean_items_with_statuses_for_the_day_asked(
    app: TimelineApp, closing: list[Any]
) -> None:
    world = World("valid_until_9999")
    world.replay(app, app.clock)  # type: ignore[arg-type]
    view = ObligationsView(app)
    closing.append(view)
    while view.runner.step(2):  # the start and the plan are evaluated before the poison comes
        pass
    view.runner.settle()
    view.change_day(date(2025, 7, 1))
    assert view.stale(world.victim) is not None
    items = {i["kind"]: i for i in view.for_seeker(world.victim, date(2025, 7, 1))}
    interview = items["initial_interview"]
    assert (interview["due_on"], interview["status"], interview["days_late"]) == (
        "2025-05-12",
        "overdue",
        (date(2025, 7, 1) - date(2025, 5, 12)).days,
    )
    assert items["employment_plan"]["status"] == "met"
