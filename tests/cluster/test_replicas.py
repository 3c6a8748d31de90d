"""Item 1 of issue 15: read replicas with read-your-writes. A primary and a streaming hot
standby (ops/cluster/pgcluster.py); the service on ``TIMELINE_DATABASE_URL`` = the primary and
``TIMELINE_READ_DATABASE_URL`` = the standby, driven through its HTTP API. A read passing the
position an append answered sees the event: served by the replica once it has replayed that far,
by the primary (after the bounded wait) while the standby's replay is paused. Appends, the
access log and the projections' catch-up are the primary's."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

# ops/cluster is on sys.path (conftest.py)
from pgcluster import Cluster, Clusters, free_port

from timeline.api.app import create_app
from timeline.bootstrap import Services, bootstrap
from timeline.settings import Settings

pytestmark = pytest.mark.cluster

DBNAME = "timeline"
PURPOSE = {"X-Purpose": "testing read replicas"}
STARTED = date.today() - timedelta(days=30)


@dataclass
class Replicated:
    primary: Cluster
    standby: Cluster
    services: Services
    client: TestClient

    def append(self, seeker: str, type_: str, data: dict[str, Any]) -> int:
        """Append one event through the API; the position it answered."""
        body = {
            "event_id": str(uuid.uuid4()),
            "seeker_id": seeker,
            "type": type_,
            "occurred_on": STARTED.isoformat(),
            "actor": {"id": "caseworker:1", "role": "coach", "organisation": "398"},
            "source": "test",
            "data": data,
        }
        answer = self.client.post("/v1/events", json=body)
        assert answer.status_code == 201, answer.text
        return int(answer.json()[0]["position"])

    def wait_replayed(self, what: str, position: int, timeout: float = 30) -> None:
        """Until the standby has the log (``what`` = "log") or a projection up to ``position``."""
        replica = self.services.replica
        assert replica is not None
        deadline = time.monotonic() + timeout
        while True:
            if what == "log":
                reached = replica.app.recorder.max_notification_id() or 0
            else:
                reached = getattr(replica, what).position()
            if reached >= position:
                return
            assert time.monotonic() < deadline, f"the standby's {what} stays at {reached}"
            time.sleep(0.02)


def _until(check: Any, timeout: float = 30) -> None:
    """Until ``check()`` is true; a connection refused meanwhile (the database not yet
    replayed on the standby) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except psycopg.OperationalError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture
def replicated(clusters: Clusters) -> Iterator[Replicated]:
    primary = clusters.primary()
    standby = clusters.standby(primary)
    primary.sql(f"CREATE DATABASE {DBNAME}")
    # the schema is made on the primary (as by `timeline serve` there) and reaches the standby
    bootstrap(Settings(database_url=primary.url(DBNAME), environment="test")).close()
    _until(lambda: standby.sql("SELECT to_regclass('outcomes_tracking') IS NOT NULL", (), DBNAME))
    settings = Settings(
        database_url=primary.url(DBNAME),
        read_database_url=standby.url(DBNAME),
        read_wait_ms=200,
        environment="development",  # no tokens: every request an admin
    )
    services = bootstrap(settings)
    try:
        with TestClient(create_app(services)) as client:
            yield Replicated(primary, standby, services, client)
    finally:
        services.close()


def test_a_read_after_an_append_sees_the_event_from_the_replica_once_it_has_replayed(
    replicated: Replicated,
) -> None:
    r, seeker = replicated, str(uuid.uuid4())
    started = r.append(
        seeker, "job_search_started", {"municipality": "398", "labour_market_status": "unemployed"}
    )
    at = r.append(seeker, "coach_assigned", {"coach_id": "c1"})
    history = f"/v1/seekers/{seeker}/events"

    # at once: the replica if it has replayed within the wait, else the primary; either way
    # the read sees what was appended
    answer = r.client.get(history, params={"min_position": at}, headers=PURPOSE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Served-By"] in ("replica", "primary")
    assert [e["type"] for e in answer.json()["events"]] == ["job_search_started", "coach_assigned"]

    r.wait_replayed("log", at)
    for params, headers in (({"min_position": at}, {}), ({}, {"X-Min-Position": str(at)})):
        answer = r.client.get(history, params=params, headers={**PURPOSE, **headers})
        assert answer.headers["X-Served-By"] == "replica", (params, headers)
        assert len(answer.json()["events"]) == 2
    # without min_position: the replica
    assert r.client.get(history, headers=PURPOSE).headers["X-Served-By"] == "replica"
    feed = r.client.get(
        "/v1/feed", params={"after": started - 1, "min_position": at}, headers=PURPOSE
    )
    assert feed.headers["X-Served-By"] == "replica"
    assert [e["position"] for e in feed.json()["events"]] == [started, at]

    # the projections' reads: their tracking position on the replica is what counts
    r.services.obligations.catch_up()  # the worker's step, on the primary
    r.services.outcomes.catch_up()
    r.wait_replayed("obligations", at)
    r.wait_replayed("outcomes", at)
    obligations = r.client.get(
        f"/v1/seekers/{seeker}/obligations", params={"min_position": at}, headers=PURPOSE
    )
    assert obligations.status_code == 200, obligations.text
    assert obligations.headers["X-Served-By"] == "replica"
    assert obligations.json()["position"] >= at
    worklist = r.client.get("/v1/worklists", params={"municipality": "398", "min_position": at})
    assert worklist.status_code == 200, worklist.text
    assert worklist.headers["X-Served-By"] == "replica"
    assert worklist.json()["position"] >= at
    month = STARTED.strftime("%Y-%m")
    stats = r.client.get(
        "/v1/stats/monthly", params={"from": month, "to": month, "min_position": at}
    )
    assert stats.status_code == 200, stats.text
    assert stats.headers["X-Served-By"] == "replica"


def test_with_the_standby_paused_a_read_falls_back_to_the_primary_and_appends_never_go_there(
    replicated: Replicated,
) -> None:
    r, seeker = replicated, str(uuid.uuid4())
    first = r.append(
        seeker, "job_search_started", {"municipality": "398", "labour_market_status": "unemployed"}
    )
    r.services.obligations.catch_up()
    r.wait_replayed("log", first)
    r.wait_replayed("obligations", first)
    r.standby.sql("SELECT pg_wal_replay_pause()")
    _until(lambda: r.standby.sql("SELECT pg_get_wal_replay_pause_state()") == "paused")

    at = r.append(seeker, "coach_assigned", {"coach_id": "c1"})  # the primary takes it
    history = f"/v1/seekers/{seeker}/events"
    answer = r.client.get(history, params={"min_position": at}, headers=PURPOSE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Served-By"] == "primary"
    assert [e["type"] for e in answer.json()["events"]] == ["job_search_started", "coach_assigned"]
    # the replica serves what it has: the second event is not there (it is the primary's only)
    stale = r.client.get(history, headers=PURPOSE)
    assert stale.headers["X-Served-By"] == "replica"
    assert [e["type"] for e in stale.json()["events"]] == ["job_search_started"]
    assert (
        r.standby.sql("SELECT count(*) FROM timeline_event_index WHERE position = %s", [at], DBNAME)
        == 0
    )
    assert (
        r.primary.sql("SELECT count(*) FROM timeline_event_index WHERE position = %s", [at], DBNAME)
        == 1
    )

    r.services.obligations.catch_up()
    obligations = r.client.get(
        f"/v1/seekers/{seeker}/obligations", params={"min_position": at}, headers=PURPOSE
    )
    assert obligations.headers["X-Served-By"] == "primary"
    assert obligations.json()["position"] >= at

    r.standby.sql("SELECT pg_wal_replay_resume()")
    r.wait_replayed("log", at)
    answer = r.client.get(history, headers={**PURPOSE, "X-Min-Position": str(at)})
    assert answer.headers["X-Served-By"] == "replica"
    assert len(answer.json()["events"]) == 2


def test_without_a_read_replica_every_read_is_the_primarys(clusters: Clusters) -> None:
    primary = clusters.primary()
    primary.sql(f"CREATE DATABASE {DBNAME}")
    services = bootstrap(Settings(database_url=primary.url(DBNAME), environment="development"))
    try:
        assert services.replica is None
        client = TestClient(create_app(services))
        answer = client.get("/v1/feed", params={"min_position": 10**9}, headers=PURPOSE)
        assert answer.status_code == 200
        assert answer.headers["X-Served-By"] == "primary"
    finally:
        services.close()


def test_a_replica_that_is_down_stops_neither_the_start_nor_the_reads_that_need_a_position(
    clusters: Clusters,
) -> None:
    primary = clusters.primary()
    primary.sql(f"CREATE DATABASE {DBNAME}")
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/{DBNAME}?connect_timeout=1"
    settings = Settings(
        database_url=primary.url(DBNAME),
        read_database_url=nowhere,
        request_pool_timeout=1,
        environment="development",
    )
    services = bootstrap(settings)  # nothing is asked of the replica yet
    try:
        client = TestClient(create_app(services))
        seeker = str(uuid.uuid4())
        body = {
            "event_id": str(uuid.uuid4()),
            "seeker_id": seeker,
            "type": "job_search_started",
            "occurred_on": STARTED.isoformat(),
            "actor": {"id": "caseworker:1", "role": "coach", "organisation": "398"},
            "source": "test",
            "data": {"municipality": "398", "labour_market_status": "unemployed"},
        }
        appended = client.post("/v1/events", json=body)
        assert appended.status_code == 201, appended.text
        at = appended.json()[0]["position"]
        history = f"/v1/seekers/{seeker}/events"
        answer = client.get(history, params={"min_position": at}, headers=PURPOSE)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Served-By"] == "primary"
        # a read sent to the replica without a position: "retry later", not an internal error
        assert client.get(history, headers=PURPOSE).status_code == 503
    finally:
        services.close()
