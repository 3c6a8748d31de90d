"""When the database connections go away under the service — PostgreSQL restarted, a primary
killed and its standby promoted (ops/cluster/README.md), a connection cut — every route answers
503 with ``Retry-After`` (a problem document saying to retry; an append retried with the same
event ids is answered as the original), never 500 "internal error", and answers normally again
once its pools have reconnected, without a restart."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import bearer, tokens_json
from tests.factories import envelope, event, new_seeker
from timeline.api import create_app
from timeline.bootstrap import bootstrap
from timeline.clock import FixedClock
from timeline.settings import Settings, libpq_params, store_env

pytestmark = pytest.mark.postgres


#: the service's connections carry it (a libpq parameter of the URL), so that only they are cut
TAG = "timeline-lost-connection-test"


def _cut_every_connection(url: str) -> int:
    """Terminate every session of the service (what a failover does to them)."""
    params = {**libpq_params(store_env(url)), "application_name": "cutter"}
    with psycopg.connect(**params, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [TAG],
        ).fetchone()
    return int(row[0]) if row else 0


ROUTES = ["append", "history", "obligations", "feed", "access log"]


@pytest.mark.parametrize("route", ROUTES)
def test_a_lost_connection_is_answered_503_and_the_service_recovers(
    route: str, postgres_url: str, clock: FixedClock
) -> None:
    url = f"{postgres_url}&application_name={TAG}"
    settings = Settings(database_url=url, environment="test", tokens=tokens_json())
    services = bootstrap(settings, clock)
    client = TestClient(create_app(services))
    seeker = new_seeker()
    services.app.append([event("job_search_started", seeker, on="2025-06-02")])
    services.obligations.catch_up()

    def request() -> object:
        if route == "append":
            body = envelope("coach_assigned", seeker, on="2025-06-03")
            return client.post("/v1/events", json=body, headers=bearer("writer"))
        path = {
            "history": f"/v1/seekers/{seeker}/events",
            "obligations": f"/v1/seekers/{seeker}/obligations?on=2025-06-10",
            "feed": "/v1/feed?limit=5",
            "access log": "/v1/access-log",
        }[route]
        return client.get(path, headers=bearer("admin"))

    try:
        assert request().status_code in (200, 201)  # type: ignore[attr-defined]
        assert _cut_every_connection(url) > 0
        answers = []
        for _ in range(30):
            r = request()
            answers.append(r.status_code)  # type: ignore[attr-defined]
            if r.status_code in (200, 201):  # type: ignore[attr-defined]
                break
            assert r.status_code == 503, r.text  # type: ignore[attr-defined]
            assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
            assert r.headers["retry-after"] == "1"  # type: ignore[attr-defined]
        assert answers[-1] in (200, 201), answers
    finally:
        services.close()
