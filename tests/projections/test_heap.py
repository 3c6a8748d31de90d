"""A bulk catch-up collects garbage less often while it runs, and leaves the collector's
thresholds as it found them — nested, from two threads, and when it fails."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence

import pytest

from projections.obligations import ObligationsView
from projections.obligations.projection import ObligationsProjection
from projections.runtime import Tx
from projections.runtime.heap import YOUNG, fewer_collections
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.domain.facts import Fact


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    found = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*found)


def test_the_raise_lasts_while_anyone_holds_it(thresholds: tuple[int, int, int]) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG, 10, 10)
        inner_done = threading.Event()
        leave = threading.Event()

        def hold() -> None:
            with fewer_collections():
                inner_done.set()
                leave.wait(5)

        other = threading.Thread(target=hold)
        other.start()
        assert inner_done.wait(5)
        with fewer_collections():
            assert gc.get_threshold() == (YOUNG, 10, 10)
        assert gc.get_threshold() == (YOUNG, 10, 10)  # the thread still holds it
        leave.set()
        other.join(5)
        assert gc.get_threshold() == (YOUNG, 10, 10)  # and so does this block
    assert gc.get_threshold() == thresholds


def test_a_failure_inside_restores_the_thresholds(thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the batch failed")
    assert gc.get_threshold() == thresholds


def test_a_rebuild_collects_less_while_loading_and_restores_the_thresholds_after(
    app: TimelineApp, thresholds: tuple[int, int, int]
) -> None:
    seekers = [new_seeker() for _ in range(3)]
    app.append(
        [
            event(
                "job_search_started",
                s,
                {"municipality": "398", "labour_market_status": "unemployed"},
            )
            for s in seekers
        ]
    )
    seen: list[tuple[int, int, int]] = []

    class Watching(ObligationsProjection):
        def load(self, tx: Tx, facts: Sequence[Fact]) -> None:
            seen.append(gc.get_threshold())
            super().load(tx, facts)

    view = ObligationsView(app, projection=Watching())
    try:
        assert view.rebuild(limit=1) == 3  # a backlog: loaded in bulk
    finally:
        view.close()
    assert seen and all(t == (YOUNG, 10, 10) for t in seen)
    assert gc.get_threshold() == thresholds
