"""The quarantine is visible: over HTTP to auditors and admins, in the obligations answers and
the worklist, as Prometheus metrics, and from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MakeServices, bearer
from tests.projections.poison import World
from timeline.api import create_app
from timeline.bootstrap import Services
from timeline.cli.main import main
from timeline.domain.zone import HELSINKI


@pytest.fixture
def poisoned(make_services: MakeServices) -> Iterator[tuple[TestClient, Services, World]]:
    services = make_services()
    world = World("valid_until_9999")
    world.replay(services.app, services.clock)  # type: ignore[arg-type]
    services.obligations.catch_up()
    services.outcomes.catch_up()
    with TestClient(create_app(services)) as client:
        yield client, services, world


def test_auditors_and_admins_list_the_quarantine_of_every_projection(
    poisoned: tuple[TestClient, Services, World],
) -> None:
    client, services, world = poisoned
    for role in ("auditor", "admin"):
        r = client.get("/v1/quarantine", headers=bearer(role))
        assert r.status_code == 200, r.text
        projections = r.json()["projections"]
        assert set(projections) == {"obligations", "outcomes"}
        for name, body in projections.items():
            assert body["count"] == body["stale_seekers"] == 1
            assert body["position"] == services.app.recorder.max_notification_id()
            [entry] = body["entries"]
            assert entry["projection"] == name
            assert (entry["seeker_id"], entry["event_id"]) == (world.victim, world.poison.event_id)
            assert entry["stage"] == "evaluate"
            assert entry["error"].startswith("OverflowError: date value out of range")
            assert entry["position"] and entry["recorded_at"]
    only = client.get(
        "/v1/quarantine", params={"projection": "outcomes"}, headers=bearer("auditor")
    ).json()
    assert set(only["projections"]) == {"outcomes"}
    assert [e.action for e in services.access_log.query(actor="auditor:auditor")] == [
        "quarantine",
        "quarantine",
    ]


@pytest.mark.parametrize(
    ("role", "status"),
    [("caseworker-lahti", 403), ("writer", 403), ("reporter", 403), (None, 401)],
)
def test_other_roles_may_not_read_the_quarantine(
    poisoned: tuple[TestClient, Services, World], role: str | None, status: int
) -> None:
    client, _, _ = poisoned
    r = client.get("/v1/quarantine", headers=bearer(role) if role else {})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


def test_a_stale_seekers_obligations_say_so(
    poisoned: tuple[TestClient, Services, World],
) -> None:
    client, services, world = poisoned
    on = services.obligations.evaluated_on()
    assert on is not None
    h = bearer("admin")
    stale = client.get(
        f"/v1/seekers/{world.victim}/obligations", params={"on": on.isoformat()}, headers=h
    ).json()
    assert world.poison.event_id in stale["stale"]
    assert "OverflowError" in stale["stale"]
    fresh = client.get(
        f"/v1/seekers/{world.good[0]}/obligations", params={"on": on.isoformat()}, headers=h
    ).json()
    assert fresh["stale"] is None
    assert fresh["obligations"]
    # another day must be evaluated, which the poison makes impossible: a problem, not a 500
    other = client.get(
        f"/v1/seekers/{world.victim}/obligations", params={"on": "2025-09-01"}, headers=h
    )
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert "quarantined" in other.json()["detail"]
    items = client.get(
        "/v1/worklists", params={"on": on.isoformat(), "municipality": "398"}, headers=h
    ).json()["items"]
    assert items
    assert all(i["stale"] is None for i in items)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_show_each_projections_position_and_quarantined_events(
    poisoned: tuple[TestClient, Services, World],
) -> None:
    client, services, _ = poisoned
    r = client.get("/metrics")  # like /health: counts only, no token needed
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = _samples(r.text)
    end = services.app.recorder.max_notification_id()
    assert got[("timeline_log_position", ())] == end
    for name in ("obligations", "outcomes"):
        label = (("projection", name),)
        assert got[("timeline_projection_position", label)] == end
        assert got[("timeline_projection_quarantined_events", label)] == 1
        assert got[("timeline_projection_stale_seekers", label)] == 1


def test_metrics_of_a_clean_store_show_no_quarantine(make_services: MakeServices) -> None:
    services = make_services()
    World("valid_until_9999").replay(services.app, services.clock, with_victim=False)  # type: ignore[arg-type]
    services.obligations.catch_up()
    with TestClient(create_app(services)) as client:
        got = _samples(client.get("/metrics").text)
    assert got[("timeline_projection_quarantined_events", (("projection", "obligations"),))] == 0
    assert got[("timeline_projection_position", (("projection", "outcomes"),))] == 0


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_command_line_lists_the_quarantine_and_rebuild_retries_it(
    kind: str, url_for: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = url_for(kind)
    world = World("valid_until_9999")
    world.open(url).close()
    assert main(["rebuild", "obligations", "--quiet", "--db", url]) == 0
    rebuilt = json.loads(capsys.readouterr().out)
    assert rebuilt["quarantined"] == 1
    assert main(["quarantine", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "obligations: 1 quarantined, 1 seeker(s) stale" in out
    assert "outcomes: 0 quarantined" in out
    assert world.poison.event_id in out and "OverflowError" in out
    assert main(["quarantine", "--projection", "obligations", "--json", "--db", url]) == 0
    [line] = capsys.readouterr().out.splitlines()
    entry: dict[str, Any] = json.loads(line)
    assert (entry["seeker_id"], entry["stage"]) == (world.victim, "evaluate")
    on = world.batches[-1][0].astimezone(HELSINKI).date().isoformat()  # the evaluation day
    assert main(["obligations", world.victim, "--on", on, "--db", url]) == 0
    seen = capsys.readouterr()
    assert f"STALE: evaluate failed on event {world.poison.event_id}" in seen.out
    assert "STALE" in seen.err
    assert main(["obligations", world.victim, "--on", "2025-09-01", "--db", url]) == 1
    assert "cannot be evaluated" in capsys.readouterr().err


def test_the_quarantine_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["quarantine", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--json" in text and "--projection" in text and "timeline rebuild" in text
