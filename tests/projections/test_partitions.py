"""Partitioned workers: seekers split by a stable bucket into N partitions, each kept from its
own tracking position, give the tables one worker gives, and a rebuild by N worker processes
gives the tables of a plain rebuild."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from projections.obligations import ObligationsProjection, ObligationsView
from projections.runtime import Partition, bucket
from tests.projections.test_obligations_projection import _history
from timeline.application import TimelineApp
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.settings import Settings


def test_a_seekers_bucket_is_pinned_and_partitions_are_contiguous_ranges() -> None:
    # the first 12 bits of SHA-256 of the uuid's 16 bytes (hosts and releases must agree)
    assert bucket("00000000-0000-0000-0000-000000000000") == 0x374
    assert bucket("123e4567-e89b-12d3-a456-426614174000") == 518
    assert [(p.lo, p.hi) for p in (Partition(k, 3) for k in range(3))] == [
        (0, 1365),
        (1365, 2730),
        (2730, 4096),
    ]
    # going from N to 2N splits each range in two
    assert (Partition(0, 2).lo, Partition(0, 2).hi) == (Partition(0, 4).lo, Partition(1, 4).hi)
    assert Partition.parse("1/2") == Partition(1, 2)
    for bad in ("2/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="partition"):
            Partition.parse(bad)


def _tables(view: ObligationsView) -> dict[str, list[tuple[Any, ...]]]:
    with view.db.read() as tx:
        return {
            t: sorted(tx.execute(f"SELECT * FROM obligations_{t}"), key=repr)
            for t in ("seekers", "items")
        }


@pytest.fixture
def whole(app: TimelineApp) -> Iterator[ObligationsView]:
    v = ObligationsView(app)
    yield v
    v.close()


def _partition(app: TimelineApp, whole: ObligationsView, k: int, n: int) -> ObligationsView:
    return ObligationsView(app, whole.db, ObligationsProjection(partition=Partition(k, n)))


def test_n_partitions_caught_up_equal_a_plain_rebuild(
    app: TimelineApp, whole: ObligationsView, clock: FixedClock
) -> None:
    _history(app, clock, 4)
    whole.catch_up(limit=3)  # one worker kept the tables so far; then two take over
    started = whole.position()
    parts = [_partition(app, whole, k, 2) for k in range(2)]
    _history(app, clock, 4)
    assert parts[0].catch_up(limit=3) > 0  # partition 0 runs ahead, partition 1 not yet
    assert whole.position() == started, "the projection's position: the least partition's"
    assert whole.catch_up() == 0, "the unpartitioned worker steps aside"
    clock.advance(days=2)  # a new day: every seeker of each partition is evaluated again
    _history(app, clock, 4)
    while parts[1].runner.step(2) + parts[0].runner.step(5):  # small batches, interleaved
        pass
    for p in parts:
        p.runner.settle()
    end = app.recorder.max_notification_id()
    assert [p.runner.position() for p in parts] == [end, end]
    assert whole.position() == end
    owned = [{r[0] for r in _tables(p)["seekers"] if p.runner.partition.owns(r[0])} for p in parts]
    assert owned[0] and owned[1], "both partitions have seekers"
    incremental = _tables(whole)
    assert incremental["items"]
    whole.rebuild(limit=4)
    assert _tables(whole) == incremental
    # after the rebuild the partitions start from its position, and go on
    _history(app, clock, 2)
    for p in parts:
        p.catch_up()
    caught_up = _tables(whole)
    whole.rebuild()
    assert _tables(whole) == caught_up


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_rebuild_with_two_worker_processes_equals_a_plain_rebuild(
    kind: str, url_for: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = url_for(kind)
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    load_demo(app, clock, generate(seekers=12, seed=5))
    view = ObligationsView(app)
    try:
        assert main(["rebuild", "obligations", "--db", url, "--quiet"]) == 0
        plain = json.loads(capsys.readouterr().out)
        one = _tables(view)
        assert one["items"]
        assert main(["rebuild", "obligations", "--db", url, "--quiet", "--workers", "2"]) == 0
        two = json.loads(capsys.readouterr().out)
        assert (two["workers"], two["events"], two["position"]) == (
            2,
            plain["events"],
            plain["position"],
        )
        assert _tables(view) == one
        with view.db.read() as tx:  # one position again: the partitions were collapsed
            assert view.runner.tracking.rows(tx) == []
    finally:
        view.close()
        app.close()


def test_workers_are_refused_where_they_cannot_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rebuild", "outcomes", "--db", "memory:", "--workers", "2"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["rebuild", "obligations", "--db", "memory:", "--workers", "2"]) == 2
    assert "in-memory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["worker", "--partition", "2/2"])
    assert "partition" in capsys.readouterr().err
