"""The no-op POST route the scale bench compares appends with: only on request, never in the
API's schema, never in `timeline serve`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import MakeServices, bearer
from tests.factories import envelope, new_seeker
from timeline.api import create_app
from timeline.api.grouped import _serve, parse_options


def _grouped(url: str, *flags: str) -> TestClient:
    options, _ = parse_options(["--db", url, "--port", "8000", *flags])
    api, close = _serve(options)
    api.router.on_shutdown.append(close)
    return TestClient(api)


def test_the_grouped_server_answers_the_noop_route_when_asked_and_writes_nothing(
    url_for: Callable[[str], str],
) -> None:
    body = envelope("job_search_started", new_seeker())
    with _grouped(url_for("sqlite"), "--bench-noop-route") as client:
        before = client.get("/ready").json()["checks"]["log_position"]
        r = client.post("/bench/noop", json=body)
        assert r.status_code == 201
        assert r.json() == {"noop": True}
        assert r.headers["content-type"] == "application/json"
        assert client.get("/ready").json()["checks"]["log_position"] == before
        assert "/bench/noop" not in client.get("/openapi.json").json()["paths"]
        # The real append of the same server still works beside it.
        assert client.post("/v1/events", json=body).status_code == 201


def test_the_grouped_server_has_no_noop_route_by_default(url_for: Callable[[str], str]) -> None:
    with _grouped(url_for("sqlite")) as client:
        assert client.post("/bench/noop", json={}).status_code == 404


def test_the_service_app_has_no_noop_route(make_services: MakeServices) -> None:
    """`timeline serve` builds its API with `create_app`: the bench route is not in it."""
    with TestClient(create_app(make_services()), headers=bearer("admin")) as client:
        assert client.post("/bench/noop", json={}).status_code == 404
        assert not [p for p in client.get("/openapi.json").json()["paths"] if "bench" in p]
