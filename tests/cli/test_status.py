"""``timeline status`` (issue 13 §4): the picture of ``/metrics`` for a terminal and, with
``--json``, for scripts — the same positions, lag and quarantine the server's scrape shows,
with the last sealed digest day and the last nightly verification."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import tokens_json
from tests.projections.poison import World
from timeline.api import create_app
from timeline.bootstrap import Services, bootstrap
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.domain.zone import HELSINKI
from timeline.jobs import Jobs, NightlyAudit
from timeline.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def poisoned(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[tuple[str, Services, World]]:
    """A store with a poisoned event (quarantined by the obligations), the obligations caught
    up, the statistics not, a digest sealed and a nightly audit recorded."""
    url = url_for(str(request.param))
    services = bootstrap(
        Settings(database_url=url, environment="test", tokens=tokens_json()), clock
    )
    world = World("valid_until_9999")
    world.replay(services.app, clock)
    services.obligations.catch_up()
    jobs = Jobs(services.app, services.obligations, clock, services.outcomes)
    assert NightlyAudit(jobs, services.app, services.access_log, services.digests)() == "ok"
    jobs.close()
    try:
        yield url, services, world
    finally:
        services.close()


def status_json(url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["status", "--db", url, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def test_status_json_matches_the_metrics_scrape(
    poisoned: tuple[str, Services, World], capsys: pytest.CaptureFixture[str], clock: FixedClock
) -> None:
    url, services, _ = poisoned
    got = status_json(url, capsys)
    with TestClient(create_app(services)) as client:
        text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    end = services.app.recorder.max_notification_id()
    assert got["log_position"] == samples[("timeline_log_position", ())] == end
    projections = got["projections"]
    for name, state in projections.items():
        label = (("projection", name),)
        assert state["position"] == samples[("timeline_projection_position", label)]
        assert state["lag_events"] == samples[("timeline_projection_lag_events", label)]
        assert state["lag_seconds"] == samples[("timeline_projection_lag_seconds", label)]
        assert state["quarantined"] == samples[("timeline_projection_quarantined_events", label)]
        assert state["stale_seekers"] == samples[("timeline_projection_stale_seekers", label)]
    obligations, outcomes = projections["obligations"], projections["outcomes"]
    assert (obligations["position"], obligations["lag_events"]) == (end, 0)
    assert (obligations["quarantined"], obligations["stale_seekers"]) == (1, 1)
    assert (outcomes["position"], outcomes["lag_events"]) == (0, end)
    assert outcomes["lag_seconds"] > 0  # the world's events span weeks of recorded time
    yesterday = clock().astimezone(HELSINKI).date() - timedelta(days=1)
    assert got["last_digest_day"] == yesterday.isoformat()
    last_verify = got["last_verify"]
    assert last_verify["outcome"] == "ok"
    assert "verified clean" in last_verify["detail"]
    assert got["pools"] == {
        "events": {"size": services.settings.postgres_pool_size},
        "requests": {
            "size": services.settings.request_pool_size,
            "timeout_seconds": services.settings.request_pool_timeout,
        },
        "jobs": {"size": services.settings.jobs_pool_size},
    }


def test_status_prints_the_picture_for_a_terminal(
    poisoned: tuple[str, Services, World], capsys: pytest.CaptureFixture[str]
) -> None:
    url, services, _ = poisoned
    capsys.readouterr()
    assert main(["status", "--db", url]) == 0
    out = capsys.readouterr().out
    end = services.app.recorder.max_notification_id()
    lines = out.splitlines()
    assert f"log position   {end:,}" in out
    [obligations] = [line.split() for line in lines if line.startswith("obligations")]
    # projection, position, behind (events), behind (s), quarantined, stale, rebuild
    assert obligations[:3] == ["obligations", f"{end:,}", "0"]
    assert obligations[4:7] == ["1", "1", "-"]
    [outcomes] = [line.split() for line in lines if line.startswith("outcomes")]
    assert outcomes[:3] == ["outcomes", "0", f"{end:,}"]
    assert any(line.startswith("last verify    ok at ") for line in lines)
    assert "last digest    20" in out


def test_status_shows_a_finished_rebuild(
    poisoned: tuple[str, Services, World], capsys: pytest.CaptureFixture[str]
) -> None:
    url, services, _ = poisoned
    done = services.outcomes.rebuild()
    rebuild = status_json(url, capsys)["projections"]["outcomes"]["rebuild"]
    assert rebuild["running"] is False
    assert (
        rebuild["done"] == rebuild["total"] == done == services.app.recorder.max_notification_id()
    )


def test_status_refuses_an_unusable_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 2
    assert capsys.readouterr().err.startswith("timeline status: ")
