"""Liveness (/health) is not readiness (/ready): /health answers while the store does not;
/ready says, as a problem document with the reasons, when the store does not answer, a request
pool is exhausted or timing out, or a projection lags beyond its bound (issue 10 §6)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MakeServices, bearer, tokens_json
from tests.factories import event, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services, bootstrap, jobs_services
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.status import Picture


def _refuse(*_: Any, **__: Any) -> Any:
    raise ConnectionError("connection refused")


def _lagging(services: Services, n: int = 3) -> None:
    services.app.append(
        [event("job_search_started", new_seeker(), on="2025-06-02") for _ in range(n)]
    )


def test_health_answers_while_the_store_does_not(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services()
    client = TestClient(create_app(services))
    monkeypatch.setattr(services.app.recorder, "max_notification_id", _refuse)
    monkeypatch.setattr(services.db, "query", _refuse)
    monkeypatch.setattr(services.db, "read", _refuse)
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reasons"] == ["the event store does not answer: connection refused"]


def test_ready_names_each_projection_that_lags_and_turns_ready_once_caught_up(
    make_services: MakeServices, clock: FixedClock
) -> None:
    services = make_services(ready_max_lag_events=2, ready_max_lag_seconds=60)
    client = TestClient(create_app(services))
    assert client.get("/ready").status_code == 200  # an empty store is caught up
    _lagging(services, n=3)
    clock.advance(seconds=61)
    r = client.get("/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["title"] == "Not ready"
    assert [reason.split(" is ")[0] for reason in body["reasons"]] == [
        "projection obligations",
        "projection outcomes",
    ]
    assert "3 events behind the log (more than 2)" in body["reasons"][0]
    assert body["checks"]["projections"]["obligations"] == {
        "position": 0,
        "behind": 3,
        "lag_seconds": 61.0,
    }
    services.obligations.catch_up()
    assert [r.split(" is ")[0] for r in client.get("/ready").json()["reasons"]] == [
        "projection outcomes"
    ]
    services.outcomes.catch_up()
    r = client.get("/ready")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"
    assert r.json()["checks"]["projections"]["outcomes"] == {"position": 3, "behind": 0}


def test_seekers_loaded_in_bulk_keep_it_not_ready_until_they_are_evaluated(
    make_services: MakeServices,
) -> None:
    """A backlog caught up in bulk moves the position to the log's end before the settle pass
    has evaluated its seekers: until it has, their obligations are missing, so not ready."""
    services = make_services()
    client = TestClient(create_app(services))
    _lagging(services, n=4)
    services.outcomes.catch_up()
    runner = services.obligations.runner
    assert runner.step(1000, bulk=True) == 4  # loaded, not evaluated
    r = client.get("/ready")
    assert r.status_code == 503
    assert r.json()["reasons"] == [
        "projection obligations: 4 seekers loaded in bulk are not evaluated yet "
        "(the settle pass after a catch-up is running)"
    ]
    assert r.json()["checks"]["projections"]["obligations"] == {
        "position": 4,
        "behind": 0,
        "unsettled": 4,
    }
    picture = {p.name: p for p in Picture.of(services).projections()}  # status and metrics
    assert (picture["obligations"].unsettled_seekers, picture["outcomes"].unsettled_seekers) == (
        4,
        0,
    )
    runner.settle()
    assert client.get("/ready").status_code == 200
    assert Picture.of(services).projections()[0].unsettled_seekers == 0


@pytest.mark.parametrize(
    ("behind", "seconds", "ready"),
    [
        (2, 61, True),  # within the events' bound, however old
        (3, 60, True),  # beyond it, but only by events recorded within the seconds' bound
        (3, 61, False),  # beyond both
    ],
)
def test_a_lag_is_tolerated_within_either_bound(
    make_services: MakeServices, clock: FixedClock, behind: int, seconds: int, ready: bool
) -> None:
    services = make_services(ready_max_lag_events=2, ready_max_lag_seconds=60)
    _lagging(services, n=behind)
    clock.advance(seconds=seconds)
    assert TestClient(create_app(services)).get("/ready").status_code == (200 if ready else 503)


def test_a_request_that_finds_no_free_connection_is_answered_503_at_once(
    postgres_url: str, clock: FixedClock
) -> None:
    """Requests wait at most request_pool_timeout for a connection (they waited 30 s and
    failed with 500), and /ready says the pool is timing out."""
    services = bootstrap(
        Settings(
            database_url=postgres_url,
            environment="test",
            tokens=tokens_json(),
            request_pool_size=1,
            request_pool_timeout=0.2,
        ),
        clock,
    )
    api = create_app(services)
    client = TestClient(api)
    [appended] = services.app.append([event("job_search_started", new_seeker())])
    pool = services.db._pool
    taken = pool.getconn()  # every request connection is busy
    try:
        r = client.get(f"/v1/seekers/{appended.seeker_id}/events", headers=bearer("admin"))
        assert r.status_code == 503
        assert r.headers["retry-after"] == "1"
        assert r.json()["title"] == "Service busy"
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any("pool requests timed out" in r for r in ready.json()["reasons"])
    finally:
        pool.putconn(taken)
    assert client.get("/ready").status_code == 503  # timeouts keep it not ready for a while
    watch = api.state.pool_watch
    watch.monotonic = lambda: 1e12  # long after the last timeout
    assert client.get("/ready").status_code == 200
    services.close()


def test_requests_do_not_wait_for_connections_the_jobs_hold(
    postgres_url: str, clock: FixedClock
) -> None:
    """The jobs have pools of their own: with every one of them taken, a personal read and
    /ready answer at once."""
    services = bootstrap(
        Settings(
            database_url=postgres_url,
            environment="test",
            tokens=tokens_json(),
            jobs_pool_size=2,
            request_pool_timeout=0.5,
        ),
        clock,
    )
    jobs = jobs_services(services)
    assert jobs is not services
    [appended] = services.app.append([event("job_search_started", new_seeker())])
    taken = [jobs.db._pool.getconn() for _ in range(2)]
    store_pool = jobs.app.recorder.datastore.pool  # type: ignore[attr-defined]
    taken_store = [store_pool.getconn() for _ in range(2)]
    try:
        client = TestClient(create_app(services))
        r = client.get(f"/v1/seekers/{appended.seeker_id}/events", headers=bearer("admin"))
        assert r.status_code == 200
        assert client.get("/ready").status_code == 200
    finally:
        for conn in taken:
            jobs.db._pool.putconn(conn)
        for conn in taken_store:
            store_pool.putconn(conn)
    jobs.close()
    services.close()
