"""``/metrics`` (issue 13 §4): after appends a scrape shows the append counters and histograms
moved by the right amounts, group-commit sizes, access-log writes, each projection's lag in
events and seconds, rebuild progress, and (PostgreSQL) the connection pools.

Counters are per process (:mod:`timeline.telemetry`), so each test compares two scrapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MakeServices, bearer, tokens_json
from tests.factories import envelope, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.group_commit import GroupCommitter
from timeline.settings import Settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    r = client.get("/metrics")
    assert r.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture(params=["direct", "group-commit"])
def served(
    make_services: MakeServices, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, Services]]:
    """The API as tests build it (one transaction per append) and as ``timeline serve`` runs
    it (appends through the group committer, awaited)."""
    services = make_services()
    if request.param == "direct":
        with TestClient(create_app(services), headers=bearer("admin")) as client:
            yield client, services
        return
    with (
        GroupCommitter(services.app) as committer,
        TestClient(create_app(services, append=committer), headers=bearer("admin")) as client,
    ):
        yield client, services


def test_appends_move_the_request_and_event_counters_by_outcome(
    served: tuple[TestClient, Services],
) -> None:
    client, _ = served
    seeker = new_seeker()
    batch = [envelope("job_search_started", seeker), envelope("coach_assigned", seeker)]
    before = scrape(client)
    assert client.post("/v1/events", json=batch).status_code == 201  # 2 new
    assert client.post("/v1/events", json=batch).status_code == 200  # the same: duplicates
    mixed = [*batch, envelope("coach_assigned", seeker)]
    assert client.post("/v1/events", json=mixed).status_code == 201  # 1 new, 2 duplicates
    bad = envelope("meeting_held", seeker, data={"kind": "initial_interview"})
    assert client.post("/v1/events", json=bad).status_code == 422
    assert (
        client.post("/v1/events", content=b"[]", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    after = scrape(client)

    def requests(outcome: str) -> float:
        return moved(before, after, "timeline_append_requests_total", outcome=outcome)

    assert (requests("accepted"), requests("duplicate"), requests("rejected")) == (2, 1, 2)
    assert requests("failed") == 0
    assert moved(before, after, "timeline_appended_events_total") == 3
    assert moved(before, after, "timeline_duplicate_events_total") == 4
    latency = "timeline_append_request_duration_seconds"
    assert moved(before, after, f"{latency}_count", outcome="accepted") == 2
    assert moved(before, after, f"{latency}_count", outcome="rejected") == 2
    assert moved(before, after, f"{latency}_bucket", outcome="duplicate", le="+Inf") == 1
    assert moved(before, after, f"{latency}_sum", outcome="accepted") > 0
    # a read is not an append
    client.get("/v1/feed")
    assert (
        scrape(client)[("timeline_append_requests_total", (("outcome", "accepted"),))]
        == (after[("timeline_append_requests_total", (("outcome", "accepted"),))])
    )


def test_a_group_commit_observes_its_size(make_services: MakeServices) -> None:
    services = make_services()
    with (
        GroupCommitter(services.app) as committer,
        TestClient(create_app(services, append=committer), headers=bearer("admin")) as client,
    ):
        before = scrape(client)
        s = new_seeker()
        batch = [envelope("job_search_started", s), *(envelope("coach_assigned", s) for _ in "ab")]
        assert client.post("/v1/events", json=batch).status_code == 201
        after = scrape(client)
    assert moved(before, after, "timeline_group_commit_events_count") == 1
    assert moved(before, after, "timeline_group_commit_events_sum") == 3
    assert moved(before, after, "timeline_group_commit_events_bucket", le="2.0") == 0
    assert moved(before, after, "timeline_group_commit_events_bucket", le="5.0") == 1
    assert moved(before, after, "timeline_group_commit_requests_sum") == 1


def test_personal_reads_count_access_log_writes_by_action(
    served: tuple[TestClient, Services],
) -> None:
    client, _ = served
    s = new_seeker()
    client.post("/v1/events", json=envelope("job_search_started", s))
    before = scrape(client)
    for _ in range(2):
        assert client.get(f"/v1/seekers/{s}/events").status_code == 200
    after = scrape(client)
    assert moved(before, after, "timeline_access_log_writes_total", action="history") == 2


def test_projection_lag_in_events_and_seconds_before_and_after_catch_up(
    make_services: MakeServices, clock: FixedClock
) -> None:
    services = make_services()
    with TestClient(create_app(services), headers=bearer("admin")) as client:
        s = new_seeker()
        client.post("/v1/events", json=envelope("job_search_started", s))
        clock.advance(seconds=60)
        client.post("/v1/events", json=envelope("coach_assigned", s))
        got = scrape(client)
        end = services.app.recorder.max_notification_id()
        assert got[("timeline_log_position", ())] == end
        for name in ("obligations", "outcomes"):
            label = (("projection", name),)
            assert got[("timeline_projection_lag_events", label)] == end > 0
            # nothing applied: from the log's first event to its last
            assert got[("timeline_projection_lag_seconds", label)] == 60
        services.obligations.catch_up()
        services.outcomes.catch_up()
        got = scrape(client)
        for name in ("obligations", "outcomes"):
            label = (("projection", name),)
            assert got[("timeline_projection_position", label)] == end
            assert got[("timeline_projection_lag_events", label)] == 0
            assert got[("timeline_projection_lag_seconds", label)] == 0
        clock.advance(seconds=30)
        client.post("/v1/events", json=envelope("coach_assigned", s, data={"coach_id": "c2"}))
        got = scrape(client)
        label = (("projection", "obligations"),)
        assert got[("timeline_projection_lag_events", label)] == 1
        # the last event recorded 30 s after the one at the projection's position
        assert got[("timeline_projection_lag_seconds", label)] == 30


def test_a_rebuild_reports_its_progress_while_it_runs_and_when_done(
    make_services: MakeServices,
) -> None:
    services = make_services()
    with TestClient(create_app(services), headers=bearer("admin")) as client:
        for _ in range(4):
            s = new_seeker()
            batch = [envelope("job_search_started", s), envelope("coach_assigned", s)]
            client.post("/v1/events", json=batch)
        end = services.app.recorder.max_notification_id()
        label = (("projection", "obligations"),)
        assert ("timeline_rebuild_running", label) not in scrape(client)
        seen: list[Samples] = []
        steps: list[int] = []

        def progress(n: int) -> None:
            steps.append(n)
            if len(steps) == 1:
                seen.append(scrape(client))

        services.obligations.rebuild(limit=3, progress=progress)
        after = scrape(client)
    [during] = seen
    assert during[("timeline_rebuild_running", label)] == 1
    assert during[("timeline_rebuild_events_done", label)] == steps[0] == 3
    assert during[("timeline_rebuild_events_target", label)] == end
    assert after[("timeline_rebuild_running", label)] == 0
    assert after[("timeline_rebuild_events_done", label)] == sum(steps) == end
    assert after[("timeline_rebuild_updated_timestamp_seconds", label)] > 0
    assert ("timeline_rebuild_running", (("projection", "outcomes"),)) not in after


def test_pool_waits_and_timeouts_per_pool_on_postgresql(url_for: Any, clock: FixedClock) -> None:
    settings = Settings(
        database_url=url_for("postgres"),
        environment="test",
        tokens=tokens_json(),
        request_pool_size=1,
        request_pool_timeout=0.3,
    )
    services = bootstrap(settings, clock)
    try:
        with TestClient(create_app(services), headers=bearer("admin")) as client:
            s = new_seeker()
            client.post("/v1/events", json=envelope("job_search_started", s))
            before = scrape(client)
            with services.db.transaction():  # the request pool's one connection, held
                busy = client.get(f"/v1/seekers/{s}/events")
            assert busy.status_code == 503
            after = scrape(client)
    finally:
        services.close()
    requests = (("pool", "requests"),)
    assert moved(before, after, "timeline_pool_timeouts_total", pool="requests") == 1
    assert moved(before, after, "timeline_pool_queued_total", pool="requests") >= 1
    assert moved(before, after, "timeline_pool_wait_seconds_total", pool="requests") >= 0.29
    assert after[("timeline_pool_max_connections", requests)] == 1
    assert after[("timeline_pool_waiting", requests)] == 0
    events = (("pool", "events"),)
    assert after[("timeline_pool_requests_total", events)] > 0
    assert after[("timeline_pool_timeouts_total", events)] == 0


def test_sqlite_has_no_pool_series(url_for: Any, clock: FixedClock) -> None:
    services = bootstrap(Settings(database_url=url_for("sqlite"), environment="test"), clock)
    try:
        with TestClient(create_app(services)) as client:
            got = scrape(client)
    finally:
        services.close()
    assert not [k for k in got if k[0].startswith("timeline_pool_")]
    assert got[("timeline_log_position", ())] == 0


def test_an_openmetrics_scraper_gets_openmetrics(make_services: MakeServices) -> None:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )

    services = make_services()
    with TestClient(create_app(services)) as client:
        r = client.get(
            "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    names = {family.name for family in openmetrics_families(r.text)}
    assert {"timeline_append_requests", "timeline_projection_lag_seconds"} <= names


def test_a_rebuild_that_fails_is_no_longer_shown_running(make_services: MakeServices) -> None:
    services = make_services()
    with TestClient(create_app(services), headers=bearer("admin")) as client:
        client.post("/v1/events", json=envelope("job_search_started", new_seeker()))

        def interrupted(n: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            services.obligations.rebuild(progress=interrupted)
        got = scrape(client)
    label = (("projection", "obligations"),)
    assert got[("timeline_rebuild_running", label)] == 0
    assert got[("timeline_rebuild_events_done", label)] == 1
