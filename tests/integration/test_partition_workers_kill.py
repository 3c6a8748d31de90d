"""Two partitioned workers as if on two hosts (issue 15, item 4): `timeline worker --partition
0/2` and `1/2`, separate processes with separate environments, against one PostgreSQL. One is
killed with SIGKILL; the other carries on with its own partition; the killed one, restarted,
resumes from its own tracking position; the tables then equal a rebuild."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from projections.obligations import ObligationsView
from tests import pg
from timeline.application import TimelineApp
from timeline.bootstrap import bootstrap
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.settings import Settings


def _start(url: str, part: str) -> subprocess.Popen[str]:
    env = {  # a host of its own: only its own environment
        "PATH": os.environ.get("PATH", ""),
        "PYTHONUNBUFFERED": "1",
        "TIMELINE_DATABASE_URL": url,
        "TIMELINE_ENVIRONMENT": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "timeline.cli", "worker", "--partition", part],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _started_at(worker: subprocess.Popen[str]) -> int:
    """The position the worker says it starts from (its first line)."""
    assert worker.stderr is not None
    said = []
    for line in worker.stderr:
        found = re.search(r"from position (\d+)", line)
        if found:
            return int(found.group(1))
        said.append(line)
    raise AssertionError(f"the worker ended ({worker.wait()}) without starting: {''.join(said)}")


@contextmanager
def _workers() -> Iterator[list[subprocess.Popen[str]]]:
    running: list[subprocess.Popen[str]] = []
    try:
        yield running
    finally:
        for w in running:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    w.kill()


def _positions(view: ObligationsView) -> dict[tuple[int, int], int]:
    with view.db.read() as tx:
        return {(lo, hi): pos for lo, hi, pos in view.runner.tracking.rows(tx)}


def _until(done: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def _tables(view: ObligationsView) -> dict[str, list[tuple[Any, ...]]]:
    with view.db.read() as tx:
        return {
            t: sorted(tx.execute(f"SELECT * FROM obligations_{t}"), key=repr)
            for t in ("seekers", "items", "pending")
        }


@pytest.mark.postgres
@pytest.mark.slow
def test_one_of_two_partitioned_workers_killed_and_restarted_gives_the_rebuilt_tables() -> None:
    with pg.temporary_database() as dbname:
        url = pg.url(dbname)
        clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
        app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
        view = ObligationsView(app)
        first, second = (0, 2048), (2048, 4096)
        try:
            load_demo(app, clock, generate(seekers=30, seed=3))
            bootstrap(app.settings).close()  # a first start made every table (a deployment)
            end = app.recorder.max_notification_id() or 0
            with _workers() as running:
                for part in ("0/2", "1/2"):  # one after the other (docs/operations.md)
                    running.append(_start(url, part))
                    assert _started_at(running[-1]) == 0
                _until(lambda: set(_positions(view).values()) == {end}, "both reach the end")

                load_demo(app, clock, generate(seekers=12, seed=4))
                running[1].send_signal(signal.SIGKILL)  # perhaps mid-batch
                running[1].wait(timeout=10)
                killed_at = _positions(view)[second]
                later = app.recorder.max_notification_id() or 0
                assert later > end
                # the other carries on with its own partition
                _until(lambda: _positions(view)[first] == later, "partition 0 keeps up")
                assert _positions(view)[second] == killed_at, "no one else moved partition 1"
                assert view.position() == killed_at, "the projection's position: the least"

                restarted = _start(url, "1/2")
                running.append(restarted)
                assert _started_at(restarted) == killed_at, "resumed from its own position"
                _until(lambda: _positions(view)[second] == later, "partition 1 catches up")
                _until(lambda: not _tables(view)["pending"], "the bulk load is settled", seconds=10)
                time.sleep(1.5)  # a round more: the day change of both partitions is done
            incremental = _tables(view)
            assert incremental["items"]
            seekers = {row[0] for row in incremental["seekers"]}
            assert len(seekers) == 42, "every seeker, of both partitions, has a row"
            view.rebuild()
            assert _tables(view) == incremental
        finally:
            view.close()
            app.close()
