"""A real ``timeline serve`` started on a store with a backlog of a few thousand events answers
its first personal read within 2 s while its jobs catch the projections up, with no pool
timeout and no failed job in its log, becomes ready once caught up, and leaves no file beside
a SQLite database (issue 10 §6, the acceptance criterion; §8 for the files).

On main the first read waited 29.9 s on PostgreSQL: the jobs held every connection of the
one pool they shared with requests. (Timing beyond this bound is measured by
``ops/bench/startup_backlog.py``.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.settings import Settings

FIRST_READ_SECONDS = 2.0  # the bound
POOL_TIMEOUT = ("PoolTimeout", "couldn't get a connection")


def _get(url: str, timeout: float = 60) -> tuple[int, float]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            status = int(r.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - t0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.serial  # its 2 s bound is measured with the machine to itself
@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_server_started_on_a_backlog_answers_its_first_personal_read_at_once(
    kind: str, url_for: Callable[[str], str], tmp_path: Path
) -> None:
    url = url_for(kind)
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    backlog = load_demo(app, clock, generate(seekers=60, seed=1))
    [seeker] = app.index.seeker_ids(limit=1)
    app.close()
    assert backlog > 4000  # nothing projected yet: every event is a backlog
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**os.environ, "TIMELINE_ENVIRONMENT": "development", "TIMELINE_DATABASE_URL": url}
    for name in ("TIMELINE_TOKENS", "TIMELINE_TOKENS_FILE"):
        env.pop(name, None)
    with (logs / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "timeline.cli", "serve", "--port", str(port)],
            cwd=logs,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert _until(lambda: _listening(base, server), 90), "the server did not start"
        history, took = _get(f"{base}/v1/seekers/{seeker}/events")
        assert (history, took < FIRST_READ_SECONDS) == (200, True), took
        obligations, took = _get(f"{base}/v1/seekers/{seeker}/obligations")
        assert obligations in (200, 404)  # 404: "the projection has not caught up yet"
        assert took < FIRST_READ_SECONDS, took
        slowest = 0.0

        def ready() -> bool:  # and meanwhile, while the jobs catch up, more personal reads
            nonlocal slowest
            if _get(f"{base}/ready")[0] == 200:
                return True
            slowest = max(slowest, _get(f"{base}/v1/seekers/{seeker}/events")[1])
            return False

        assert _until(ready, 240), "never ready"
        assert slowest < FIRST_READ_SECONDS, slowest
        assert _get(f"{base}/v1/seekers/{seeker}/obligations")[0] == 200
        jobs = _children(server.pid)
        assert len(jobs) == 1  # the jobs' process
    finally:
        server.terminate()
        server.wait(timeout=90)
    assert [pid for pid in jobs if _alive(pid)] == []  # stopped by the server, not orphaned
    text = (logs / "serve.log").read_text(errors="replace")
    assert [line for line in text.splitlines() if any(m in line for m in POOL_TIMEOUT)] == []
    assert [line for line in text.splitlines() if " failed in " in line] == []
    if kind == "sqlite":  # nothing but the database, its key ring (docs/storage.md: kept
        # outside the data on purpose) and the logs dir here is left beside it
        assert set(os.listdir(tmp_path)) <= {
            "timeline.db",
            "timeline.db-wal",
            "timeline.db-shm",
            "timeline.keys.db",
            "timeline.keys.db-wal",
            "timeline.keys.db-shm",
        } | {"logs"}


def _listening(base: str, server: subprocess.Popen[bytes]) -> bool:
    if server.poll() is not None:
        raise AssertionError(f"the server exited with {server.returncode}")
    try:
        return _get(f"{base}/health", timeout=5)[0] == 200
    except OSError:
        return False


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (of any of its threads)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return {p for p in found if _alive(p)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its new parent) is gone too
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_the_jobs_process_is_restarted_when_it_dies_and_ends_with_its_server(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    port = _free_port()
    env = {**os.environ, "TIMELINE_ENVIRONMENT": "development", "TIMELINE_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "timeline.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _until(lambda: _listening(f"http://127.0.0.1:{port}", server), 90)
        assert _until(lambda: len(_children(server.pid)) == 1, 30)
        [first] = _children(server.pid)
        os.kill(first, signal.SIGKILL)  # the jobs process dies: the server starts another
        assert _until(lambda: _children(server.pid) - {first} != set(), 30)
        [second] = _children(server.pid) - {first}
        server.kill()  # the server dies without a word: its jobs process notices and ends
        server.wait(timeout=10)
        assert _until(lambda: not _alive(second), 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
