"""Every connection the service makes to PostgreSQL — the event store's pool (the library's),
the pools of the projections and the access log (for requests and for the jobs), the jobs'
dedicated sessions, the CLI's check — is made with the URL's libpq parameters and hosts: a URL
naming several hosts with ``target_session_attrs=read-write`` (how the service finds a promoted
standby, ops/cluster/README.md) must not work for some connections and not others."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from timeline.bootstrap import Services, bootstrap, jobs_services
from timeline.cli.input import check_database
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.vocabulary import parse_event

pytestmark = pytest.mark.postgres


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _names(services: Services) -> dict[str, str | None]:
    """``application_name`` as each kind of connection reports it."""
    with services.app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        store = conn.info.parameter_status("application_name")
    with services.db.connection() as conn:
        side = conn.info.parameter_status("application_name")
    with services.db.dedicated_connection() as conn:
        dedicated = conn.info.parameter_status("application_name")
    return {"event store": store, "side pool": side, "dedicated": dedicated}


def test_every_connection_gets_the_urls_libpq_parameters(
    postgres_url: str, clock: FixedClock
) -> None:
    url = f"{postgres_url}&application_name=timeline-url-test"
    services = bootstrap(Settings(database_url=url, environment="test"), clock)
    jobs = jobs_services(services)
    try:
        expected = dict.fromkeys(["event store", "side pool", "dedicated"], "timeline-url-test")
        assert _names(services) == expected
        assert _names(jobs) == expected
    finally:
        jobs.close()
        services.close()


def _event(seeker: str) -> Any:
    return parse_event(
        {
            "event_id": "7d1f0c1e-2b8a-4a57-9a57-8c1c2f0e9a01",
            "seeker_id": seeker,
            "type": "job_search_started",
            "occurred_on": "2025-06-02",
            "actor": {"id": "caseworker:1", "role": "coach", "organisation": "398"},
            "source": "test",
            "data": {"municipality": "398", "labour_market_status": "unemployed"},
        }
    )


def test_a_url_listing_a_dead_host_first_uses_the_next_for_every_connection(
    postgres_url: str, clock: FixedClock
) -> None:
    # the URL of the session's database with a host that refuses connections put before it
    head, _, rest = postgres_url.partition("@")
    url = f"{head}@127.0.0.1:{_closed_port()},{rest}&target_session_attrs=read-write"
    check_database(url)  # the CLI's check: no UsageError
    services = bootstrap(Settings(database_url=url, environment="test"), clock)
    try:
        [appended] = services.app.append([_event("0b6b1f4e-3c55-4f0f-8f43-5f3f2a8f7c11")])
        assert appended.position is not None
        services.access_log.record(
            actor="test", role="admin", action="history", seeker_id=None, purpose="testing"
        )
        assert services.db.query("SELECT count(*) FROM timeline_access_log") == [(1,)]
        with services.db.dedicated_connection() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    finally:
        services.close()
