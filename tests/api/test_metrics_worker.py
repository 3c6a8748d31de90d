"""``timeline worker --metrics-port`` serves the jobs' process metrics (issue 13 §4): the same
picture read from the store as the server's ``/metrics`` (here: lag falling to 0 as its
catch-up runs), its own job runs, and on PostgreSQL its own pools."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.settings import Settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> Samples | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_worker_serves_its_metrics_on_its_own_port(
    kind: str, url_for: Callable[[str], str]
) -> None:
    url = url_for(kind)
    clock = FixedClock(datetime(2025, 6, 10, 9, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    for _ in range(3):
        app.append([event("job_search_started", new_seeker())])
    end = app.recorder.max_notification_id()
    app.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "timeline.cli", "worker", "--db", url, "--metrics-port", str(port)],
        env={**env, "TIMELINE_ENVIRONMENT": "test"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    obligations = (("projection", "obligations"),)
    got: Samples | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            got = scrape(port)
            if (
                got is not None
                and got.get(("timeline_projection_lag_events", obligations)) == 0
                and got.get(("timeline_job_runs_total", (("job", "catch_up"), ("outcome", "ok"))))
            ):
                break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert got is not None, "the worker's metrics port never answered"
    assert got[("timeline_log_position", ())] == end
    assert got[("timeline_projection_position", obligations)] == end
    assert got[("timeline_projection_lag_events", obligations)] == 0
    assert got[("timeline_job_runs_total", (("job", "catch_up"), ("outcome", "ok")))] >= 1
    assert got[("timeline_append_requests_total", (("outcome", "accepted"),))] == 0
    pools = {dict(k[1])["pool"] for k in got if k[0] == "timeline_pool_requests_total"}
    assert pools == ({"jobs", "jobs-events"} if kind == "postgres" else set())


def test_the_jobs_child_of_serve_serves_its_metrics_when_given_a_port(
    url_for: Callable[[str], str],
) -> None:
    """``timeline serve`` runs the jobs as ``python -m timeline.jobs``, with the server's
    settings in the environment: TIMELINE_JOBS_METRICS_PORT gives that child a port."""
    url = url_for("sqlite")
    app = TimelineApp(settings=Settings(database_url=url, environment="test"))
    app.append([event("job_search_started", new_seeker())])
    app.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env.update(
        TIMELINE_DATABASE_URL=url,
        TIMELINE_ENVIRONMENT="test",
        TIMELINE_JOBS_METRICS_PORT=str(port),
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "timeline.worker"], env=env, stderr=subprocess.PIPE
    )
    got: Samples | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            got = scrape(port)
            if got is not None and got.get(("timeline_log_position", ())) == 1:
                break
            time.sleep(0.2)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    assert got is not None, "the jobs' metrics port never answered"
    assert got[("timeline_log_position", ())] == 1
