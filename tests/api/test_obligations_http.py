"""Obligations and worklists over HTTP, served from the projection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from projections.obligations import ObligationsView
from tests.conftest import MakeServices, bearer
from tests.factories import envelope, new_seeker
from timeline.api import create_app
from timeline.clock import FixedClock


@pytest.fixture
def setup(make_services: MakeServices) -> Iterator[tuple[TestClient, ObligationsView]]:
    services = make_services()
    with TestClient(create_app(services), headers=bearer("admin")) as client:
        yield client, services.obligations


def test_a_seekers_obligations_on_a_day(
    setup: tuple[TestClient, ObligationsView], clock: FixedClock
) -> None:
    client, view = setup
    s = new_seeker()
    client.post("/v1/events", json=envelope("job_search_started", s, on="2025-06-02"))
    view.catch_up()
    body = client.get(f"/v1/seekers/{s}/obligations", params={"on": "2025-06-09"}).json()
    interview = next(o for o in body["obligations"] if o["kind"] == "initial_interview")
    assert (interview["due_on"], interview["status"]) == ("2025-06-09", "open")
    later = client.get(f"/v1/seekers/{s}/obligations", params={"on": "2025-06-11"}).json()
    interview = next(o for o in later["obligations"] if o["kind"] == "initial_interview")
    assert (interview["status"], interview["days_late"]) == ("overdue", 2)
    assert body["position"] >= 1


def test_an_unknown_seeker_has_no_obligations(setup: tuple[TestClient, ObligationsView]) -> None:
    client, _ = setup
    r = client.get(f"/v1/seekers/{new_seeker()}/obligations")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_worklist_filters_by_status_and_municipality(
    setup: tuple[TestClient, ObligationsView],
) -> None:
    client, view = setup
    lahti, tampere = new_seeker(), new_seeker()
    client.post(
        "/v1/events",
        json=[
            envelope("job_search_started", lahti, on="2025-06-02"),
            envelope(
                "job_search_started",
                tampere,
                on="2025-06-02",
                data={"municipality": "837", "labour_market_status": "unemployed"},
            ),
        ],
    )
    view.catch_up()
    items = client.get(
        "/v1/worklists", params={"on": "2025-06-10", "status": "overdue", "municipality": "837"}
    ).json()["items"]
    assert {i["seeker_id"] for i in items} == {tampere}
    bad = client.get("/v1/worklists", params={"status": "late"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == "query.status"


def test_a_day_before_the_first_ruleset_is_refused_naming_the_day_not_answered_empty(
    setup: tuple[TestClient, ObligationsView],
) -> None:
    client, view = setup
    s = new_seeker()
    client.post("/v1/events", json=envelope("job_search_started", s, on="2025-06-02"))
    view.catch_up()
    for path in (f"/v1/seekers/{s}/obligations", "/v1/worklists"):
        r = client.get(path, params={"on": "2022-05-01"})
        assert r.status_code == 422, path
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["type"].endswith("/no-ruleset")
        assert body["earliest"] == "2022-05-02"
        assert body["errors"] == [
            {"loc": "on", "msg": body["detail"], "type": "no_ruleset"},
        ]
        assert "no ruleset covers 2022-05-01" in body["detail"]
        assert client.get(path, params={"on": "2022-05-02"}).status_code == 200, path
