"""Every endpoint × every role: who may do what, scopes, purposes, and the access log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import MakeServices, bearer
from tests.factories import envelope, event, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services

LAHTI, TAMPERE = "398", "837"


@pytest.fixture
def world(make_services: MakeServices) -> Iterator[tuple[TestClient, Services, str, str]]:
    services = make_services()
    lahti, tampere = new_seeker(), new_seeker()
    services.app.append(
        [
            _event("job_search_started", lahti, LAHTI),
            _event("job_search_started", tampere, TAMPERE),
        ]
    )
    services.obligations.catch_up()
    with TestClient(create_app(services)) as client:
        yield client, services, lahti, tampere


def _event(type_: str, seeker: str, municipality: str) -> Any:
    return event(
        type_, seeker, {"municipality": municipality, "labour_market_status": "unemployed"}
    )


Call = Callable[[TestClient, dict[str, str], str, str], Response]


def _post_event(org: str) -> Call:
    def call(c: TestClient, h: dict[str, str], lahti: str, tampere: str) -> Response:
        body = envelope(
            "job_search_started",
            new_seeker(),
            data={"municipality": org, "labour_market_status": "unemployed"},
        )
        body["actor"] = {**body["actor"], "organisation": org}
        return c.post("/v1/events", json=body, headers=h)

    return call


ENDPOINTS: dict[str, Call] = {
    "append(398)": _post_event(LAHTI),
    "append(837)": _post_event(TAMPERE),
    "history(398)": lambda c, h, lahti, t: c.get(f"/v1/seekers/{lahti}/events", headers=h),
    "history(837)": lambda c, h, lahti, t: c.get(f"/v1/seekers/{t}/events", headers=h),
    "obligations(398)": lambda c, h, lahti, t: c.get(f"/v1/seekers/{lahti}/obligations", headers=h),
    "obligations(837)": lambda c, h, lahti, t: c.get(f"/v1/seekers/{t}/obligations", headers=h),
    "worklist(398)": lambda c, h, lahti, t: c.get(
        "/v1/worklists", params={"municipality": LAHTI}, headers=h
    ),
    "worklist(837)": lambda c, h, lahti, t: c.get(
        "/v1/worklists", params={"municipality": TAMPERE}, headers=h
    ),
    "feed": lambda c, h, lahti, t: c.get("/v1/feed", headers=h),
    "lookup": lambda c, h, lahti, t: c.post(
        "/v1/seekers/lookup", headers=h, json={"personal_identity_code": "131052-308T"}
    ),
    "access-log": lambda c, h, lahti, t: c.get("/v1/access-log", headers=h),
    "stats": lambda c, h, lahti, t: c.get(
        "/v1/stats/monthly", params={"from": "2025-01", "to": "2025-12"}, headers=h
    ),
    "health": lambda c, h, lahti, t: c.get("/health", headers=h),
}

OK, DENIED, NO_TOKEN = 200, 403, 401
EXPECTED: dict[str, dict[str, int]] = {
    "anonymous": dict.fromkeys(ENDPOINTS, NO_TOKEN) | {"health": OK},
    "admin": dict.fromkeys(ENDPOINTS, OK),
    "writer": dict.fromkeys(ENDPOINTS, DENIED)
    | {"append(398)": OK, "append(837)": OK, "lookup": OK, "health": OK},
    "writer-lahti": dict.fromkeys(ENDPOINTS, DENIED)
    | {"append(398)": OK, "lookup": OK, "health": OK},
    "caseworker-lahti": dict.fromkeys(ENDPOINTS, DENIED)
    | {"history(398)": OK, "obligations(398)": OK, "worklist(398)": OK, "lookup": OK, "health": OK},
    "auditor": dict.fromkeys(ENDPOINTS, OK) | {"append(398)": DENIED, "append(837)": DENIED},
    "reporter": dict.fromkeys(ENDPOINTS, DENIED) | {"stats": OK, "health": OK},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_every_endpoint_answers_each_role_as_specified(
    world: tuple[TestClient, Services, str, str], role: str
) -> None:
    client, _, lahti, tampere = world
    headers = {} if role == "anonymous" else bearer(role)
    got = {
        name: call(client, headers, lahti, tampere).status_code for name, call in ENDPOINTS.items()
    }
    assert got == EXPECTED[role]


def test_every_personal_read_leaves_an_access_log_entry(
    world: tuple[TestClient, Services, str, str],
) -> None:
    client, services, lahti, _ = world
    h = bearer("caseworker-lahti", purpose="initial interview preparation")
    client.get(f"/v1/seekers/{lahti}/events", headers=h)
    client.get(f"/v1/seekers/{lahti}/obligations", headers=h)
    entries = services.access_log.query(seeker_id=lahti)
    assert [(e.actor, e.action, e.purpose) for e in entries] == [
        ("caseworker:caseworker-lahti", "history", "initial interview preparation"),
        ("caseworker:caseworker-lahti", "obligations", "initial interview preparation"),
    ]
    seen = client.get(
        "/v1/access-log", params={"seeker_id": lahti}, headers=bearer("auditor")
    ).json()["entries"]
    assert [e["action"] for e in seen] == ["history", "obligations"]
    assert services.access_log.verify() is None


def test_a_read_outside_the_scope_is_refused_and_logged(
    world: tuple[TestClient, Services, str, str],
) -> None:
    client, services, _, tampere = world
    r = client.get(f"/v1/seekers/{tampere}/events", headers=bearer("caseworker-lahti"))
    assert r.status_code == 403
    assert "scope" in r.json()["detail"]
    [entry] = services.access_log.query(seeker_id=tampere)
    assert entry.action == "history:denied"


def test_roles_that_must_state_a_purpose_are_refused_without_one(
    world: tuple[TestClient, Services, str, str],
) -> None:
    client, services, lahti, _ = world
    r = client.get(f"/v1/seekers/{lahti}/events", headers=bearer("caseworker-lahti", None))
    assert r.status_code == 403
    assert "purpose" in r.json()["detail"]
    assert services.access_log.query(seeker_id=lahti) == []
    ok = client.get(
        f"/v1/seekers/{lahti}/events", params={"purpose": "review"}, headers=bearer("auditor", None)
    )
    assert ok.status_code == 200


def test_a_bad_token_is_401_with_a_bearer_challenge(
    world: tuple[TestClient, Services, str, str],
) -> None:
    client, *_ = world
    r = client.get("/v1/feed", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
