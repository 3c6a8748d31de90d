"""A projection worker killed with SIGKILL mid-catch-up loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from projections.obligations import ObligationsView
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.settings import Settings

WORKER = """
import sys
import time
from timeline.application import TimelineApp
from timeline.settings import Settings
from projections.obligations import ObligationsView
app = TimelineApp(settings=Settings(database_url=sys.argv[1], environment="test"))
view = ObligationsView(app)

def slowly(step):  # rows written, transaction still open: a kill lands mid-batch
    def slow(tx, *args):
        result = step(tx, *args)
        time.sleep(0.05)
        return result
    return slow

# a backlog is loaded in bulk, then settled a page at a time: slow every step
view.projection.apply = slowly(view.projection.apply)
view.projection.load = slowly(view.projection.load)
view.projection.settle = slowly(view.projection.settle)
print("started", flush=True)
view.catch_up(limit=20)
print("finished", flush=True)
"""


def _tables(view: ObligationsView) -> dict[str, list[tuple[Any, ...]]]:
    with view.db.transaction() as tx:
        return {
            t: sorted(tx.execute(f"SELECT * FROM obligations_{t}"), key=repr)
            for t in ("seekers", "items", "state")
        }


def _tables_of(view: ObligationsView, table: str) -> list[tuple[Any, ...]]:
    with view.db.read() as tx:
        return tx.execute(f"SELECT * FROM {table}")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_worker_killed_mid_catch_up_resumes_without_loss_or_duplicates(
    kind: str, url_for: Callable[[str], str]
) -> None:
    url = url_for(kind)
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    total = load_demo(app, clock, generate(seekers=15, seed=11))
    # our tables exist before the worker starts: creating them while it holds SQLite's write
    # lock could wait until it has finished, and then the kill would land too late
    view = ObligationsView(app)
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 60
    while view.runner.position() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = view.runner.position()
    assert 0 < killed_at < total, "killed after some batches, before the end"
    # restart: resume from the tracking position
    view.catch_up(limit=50)
    resumed = _tables(view)
    # every seeker evaluated up to their last event, none twice
    last = {e["seeker_id"]: e["position"] for e in app.feed(0, total)}
    assert sorted((s[0], s[5]) for s in resumed["seekers"]) == sorted(last.items())
    assert not _tables_of(view, "obligations_pending")
    view.rebuild()
    assert _tables(view) == resumed
    print(f"\n{kind}: killed after position {killed_at} of {total}")
    view.close()
    app.close()
