"""Every route × every role and scope: who may do what, to whose seekers, with what purpose,
and what the access log keeps. On SQLite and PostgreSQL, through the group committer that
``timeline serve`` uses.

The world: a seeker of Lahti (398), one of Tampere (837), and one of Helsinki (091) registered
with the identity code 131052-308T. Every envelope claims ``actor.organisation`` "398": a claim
is recorded, never trusted, so the matrix also holds the escapes of issue 10 §4 (append to a
091 seeker claiming 398, start in 091, pull an 837 seeker to 398 and read it, look up the 091
seeker's code from 398)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import TOKENS, MakeServices, bearer
from tests.factories import VALID_CODE, envelope, event, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.group_commit import GroupCommitter
from timeline.settings import Settings

LAHTI, TAMPERE, HELSINKI = "398", "837", "091"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, url_for: Any) -> str:
    return str(url_for(request.param))


@dataclass
class World:
    client: TestClient
    services: Services
    lahti: str
    tampere: str
    helsinki: str

    def start(self, municipality: str, code: str | None = None) -> str:
        """A seeker started by an operator (unscoped)."""
        seeker = new_seeker()
        data = {"municipality": municipality, "labour_market_status": "unemployed"}
        if code:
            data["personal_identity_code"] = code
        self.services.app.append([event("job_search_started", seeker, data)])
        return seeker


@pytest.fixture
def world(make_services: MakeServices) -> Iterator[World]:
    services = make_services()
    probe = World(TestClient(create_app(services)), services, "", "", "")
    lahti, tampere = probe.start(LAHTI), probe.start(TAMPERE)
    helsinki = probe.start(HELSINKI, code=VALID_CODE)
    services.obligations.catch_up()
    with (
        GroupCommitter(services.app) as committer,
        TestClient(create_app(services, append=committer)) as client,
    ):
        yield World(client, services, lahti, tampere, helsinki)


Headers = dict[str, str]
Call = Callable[[World, Headers], Any]  # -> what the caller got (a status, or more)

FOUND, HIDDEN = "found", "not found"  # a look-up's answer: the seeker, or as if unknown


def _start_in(municipality: str) -> Call:
    def call(w: World, h: Headers) -> int:
        data = {"municipality": municipality, "labour_market_status": "unemployed"}
        return w.client.post(
            "/v1/events", json=envelope("job_search_started", new_seeker(), data), headers=h
        ).status_code

    return call


def _write_to(seeker: Callable[[World], str]) -> Call:
    def call(w: World, h: Headers) -> int:
        body = envelope("coach_assigned", seeker(w))  # claims organisation 398
        return w.client.post("/v1/events", json=body, headers=h).status_code

    return call


def _transfer(origin: str, target: str) -> Call:
    """Transfer a fresh seeker of ``origin`` to ``target``; then read it as a caseworker of
    the target (the receiving side sees it once it is transferred, and only then)."""

    def call(w: World, h: Headers) -> tuple[int, int]:
        seeker = w.start(origin)
        w.services.obligations.catch_up()
        body = envelope("seeker_transferred", seeker, {"to_municipality": target})
        moved = w.client.post("/v1/events", json=body, headers=h).status_code
        w.services.obligations.catch_up()
        reader = {LAHTI: "caseworker-lahti", TAMPERE: "caseworker-tampere"}[target]
        read = w.client.get(f"/v1/seekers/{seeker}/events", headers=bearer(reader))
        return moved, read.status_code

    return call


def _erase(w: World, h: Headers) -> int:
    """Erase a fresh seeker (docs/erasure.md): admins only."""
    body = {"seeker_id": w.start(LAHTI), "reason": "wrongly registered", "authority": "test"}
    return w.client.post("/v1/admin/erasures", json=body, headers=h).status_code


def _lookup(w: World, h: Headers) -> Any:
    r = w.client.post("/v1/seekers/lookup", headers=h, json={"personal_identity_code": VALID_CODE})
    if r.status_code != 200:
        return r.status_code
    return FOUND if r.json()["seeker_ids"] == [w.helsinki] else HIDDEN


def _get(path: str, **params: str) -> Call:
    def call(w: World, h: Headers) -> int:
        seekers = {"lahti": w.lahti, "tampere": w.tampere, "helsinki": w.helsinki}
        url = path.format(**seekers)
        query = {k: v.format(**seekers) for k, v in params.items()}
        return w.client.get(url, params=query, headers=h).status_code

    return call


YEAR = {"from": "2025-01", "to": "2025-12"}
HISTORY, OBLIGATIONS = "/v1/seekers/{%s}/events", "/v1/seekers/{%s}/obligations"

#: name -> (the route it calls, the call)
ENDPOINTS: dict[str, tuple[str, Call]] = {
    "start in 398": ("POST /v1/events", _start_in(LAHTI)),
    "start in 837": ("POST /v1/events", _start_in(TAMPERE)),
    "start in 091 (escape 2)": ("POST /v1/events", _start_in(HELSINKI)),
    "write to 398": ("POST /v1/events", _write_to(lambda w: w.lahti)),
    "write to 837": ("POST /v1/events", _write_to(lambda w: w.tampere)),
    "write to 091 claiming 398 (escape 1)": ("POST /v1/events", _write_to(lambda w: w.helsinki)),
    "transfer 398 to 837, read as 837": ("POST /v1/events", _transfer(LAHTI, TAMPERE)),
    "pull 837 to 398, read as 398 (escape 3)": ("POST /v1/events", _transfer(TAMPERE, LAHTI)),
    "history(398)": ("GET /v1/seekers/{seeker_id}/events", _get(HISTORY % "lahti")),
    "history(837)": ("GET /v1/seekers/{seeker_id}/events", _get(HISTORY % "tampere")),
    "history(091)": ("GET /v1/seekers/{seeker_id}/events", _get(HISTORY % "helsinki")),
    "obligations(398)": ("GET /v1/seekers/{seeker_id}/obligations", _get(OBLIGATIONS % "lahti")),
    "obligations(837)": (
        "GET /v1/seekers/{seeker_id}/obligations",
        _get(OBLIGATIONS % "tampere"),
    ),
    "worklist(398)": ("GET /v1/worklists", _get("/v1/worklists", municipality=LAHTI)),
    "worklist(837)": ("GET /v1/worklists", _get("/v1/worklists", municipality=TAMPERE)),
    "worklist(all)": ("GET /v1/worklists", _get("/v1/worklists")),
    "lookup 091's code (escape 4)": ("POST /v1/seekers/lookup", _lookup),
    "feed": ("GET /v1/feed", _get("/v1/feed")),
    "access-log": ("GET /v1/access-log", _get("/v1/access-log")),
    "access-log(398)": ("GET /v1/access-log", _get("/v1/access-log", seeker_id="{lahti}")),
    "access-log(837)": ("GET /v1/access-log", _get("/v1/access-log", seeker_id="{tampere}")),
    "stats": (
        "GET /v1/stats/monthly",
        _get("/v1/stats/monthly", **{"from": "2025-01"}, to="2025-12"),
    ),
    "whatif": ("GET /v1/stats/whatif", _get("/v1/stats/whatif", ruleset="FI-2026-01", **YEAR)),
    "health": ("GET /health", _get("/health")),
    "metrics": ("GET /metrics", _get("/metrics")),
    "ready": ("GET /ready", _get("/ready")),
    "quarantine": ("GET /v1/quarantine", _get("/v1/quarantine")),
    "erase": ("POST /v1/admin/erasures", _erase),
    "erasure register": ("GET /v1/admin/erasures", _get("/v1/admin/erasures")),
}

OK, CREATED, DENIED, NO_TOKEN = 200, 201, 403, 401
APPENDS = [name for name, (route, _) in ENDPOINTS.items() if route == "POST /v1/events"]
NOTHING = dict.fromkeys(ENDPOINTS, DENIED) | {
    "health": OK,
    "metrics": OK,
    "ready": OK,
    "transfer 398 to 837, read as 837": (DENIED, DENIED),
    "pull 837 to 398, read as 398 (escape 3)": (DENIED, DENIED),
}
EVERY_WRITE = dict.fromkeys(APPENDS, CREATED) | {
    "transfer 398 to 837, read as 837": (CREATED, OK),
    "pull 837 to 398, read as 398 (escape 3)": (CREATED, OK),
}
ADMIN_ONLY = {"erase": DENIED, "erasure register": DENIED}
EVERY_READ = (
    {name: OK for name, (route, _) in ENDPOINTS.items() if route != "POST /v1/events"}
    | {"lookup 091's code (escape 4)": FOUND}
    | ADMIN_ONLY
)

EXPECTED: dict[str, dict[str, Any]] = {
    "anonymous": dict.fromkeys(ENDPOINTS, NO_TOKEN)
    | {
        "health": OK,
        "metrics": OK,
        "ready": OK,
        "transfer 398 to 837, read as 837": (NO_TOKEN, DENIED),
        "pull 837 to 398, read as 398 (escape 3)": (NO_TOKEN, DENIED),
    },
    "admin": EVERY_WRITE | EVERY_READ | {"erase": CREATED, "erasure register": OK},
    "writer": NOTHING | EVERY_WRITE | {"lookup 091's code (escape 4)": FOUND},
    "writer-lahti": NOTHING
    | {
        "start in 398": CREATED,
        "write to 398": CREATED,
        "transfer 398 to 837, read as 837": (CREATED, OK),
        "lookup 091's code (escape 4)": HIDDEN,
    },
    "writer-helsinki": NOTHING
    | {"start in 091 (escape 2)": CREATED, "write to 091 claiming 398 (escape 1)": CREATED}
    | {"lookup 091's code (escape 4)": FOUND},
    "caseworker-lahti": NOTHING
    | {
        "history(398)": OK,
        "obligations(398)": OK,
        "worklist(398)": OK,
        "lookup 091's code (escape 4)": HIDDEN,
    },
    "caseworker-tampere": NOTHING
    | {
        "history(837)": OK,
        "obligations(837)": OK,
        "worklist(837)": OK,
        "lookup 091's code (escape 4)": HIDDEN,
    },
    "auditor": NOTHING | EVERY_READ,
    "auditor-lahti": NOTHING
    | {
        "history(398)": OK,
        "obligations(398)": OK,
        "worklist(398)": OK,
        "lookup 091's code (escape 4)": HIDDEN,
        "access-log(398)": OK,
        "stats": OK,
        "whatif": OK,
    },
    "reporter": NOTHING | {"stats": OK, "whatif": OK},
}


def test_the_matrix_names_every_role_and_every_route(world: World) -> None:
    assert set(EXPECTED) == {"anonymous", *TOKENS}
    paths = world.client.get("/openapi.json").json()["paths"]
    served = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    assert {route for route, _ in ENDPOINTS.values()} == served


@pytest.mark.parametrize("role", list(EXPECTED))
def test_every_route_answers_each_role_and_scope_as_specified(world: World, role: str) -> None:
    headers = {} if role == "anonymous" else bearer(role)
    got = {name: call(world, headers) for name, (_, call) in ENDPOINTS.items()}
    assert got == EXPECTED[role]
    assert world.services.access_log.verify() is None


SCOPED = [name for name, (_, _, scope) in TOKENS.items() if scope != "*"]


@pytest.mark.parametrize("role", SCOPED)
def test_every_refusal_for_scope_is_in_the_access_log(world: World, role: str) -> None:
    headers = bearer(role)
    refused: list[str] = []

    def keep(response: Response) -> None:
        mine = response.request.headers.get("authorization") == headers["Authorization"]
        if mine and response.status_code == 403:
            response.read()
            if "scope" in response.json()["detail"]:
                refused.append(str(response.request.url.path))

    world.client.event_hooks = {"response": [keep]}
    for _, call in ENDPOINTS.values():
        call(world, headers)
    actor = f"{TOKENS[role][1]}:{role}"
    denied = [
        e.action
        for e in world.services.access_log.query(actor=actor)
        if e.action.endswith(":denied") and e.action != "lookup:denied"  # lookups answer 200
    ]
    assert refused  # every scoped role is refused something
    assert len(denied) == len(refused), (denied, refused)


def test_every_personal_read_leaves_an_access_log_entry(world: World) -> None:
    client, services, lahti = world.client, world.services, world.lahti
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


def test_a_read_outside_the_scope_is_refused_and_logged(world: World) -> None:
    r = world.client.get(f"/v1/seekers/{world.tampere}/events", headers=bearer("caseworker-lahti"))
    assert r.status_code == 403
    assert "scope" in r.json()["detail"]
    [entry] = world.services.access_log.query(seeker_id=world.tampere)
    assert entry.action == "history:denied"


def test_a_look_up_that_finds_a_seeker_outside_the_scope_is_logged_against_that_seeker(
    world: World,
) -> None:
    code = {"personal_identity_code": VALID_CODE}
    h = bearer("writer-lahti", purpose="registration")
    assert world.client.post("/v1/seekers/lookup", json=code, headers=h).json() == {
        "seeker_ids": []
    }
    [withheld] = world.services.access_log.query(seeker_id=world.helsinki)
    assert (withheld.actor, withheld.action, withheld.purpose) == (
        "writer:writer-lahti",
        "lookup:denied",
        "registration",
    )
    [asked] = world.services.access_log.query(actor="writer:writer-lahti")[:1]
    assert (asked.action, asked.to_dict()["detail"]) == ("lookup", {"found": [], "withheld": 1})


@pytest.mark.parametrize("who", ["caseworker-lahti", "auditor", "admin", "writer"])
def test_every_role_must_state_a_purpose_to_read_personal_data(world: World, who: str) -> None:
    reads: list[Callable[[], Response]] = [
        lambda: world.client.post(
            "/v1/seekers/lookup",
            json={"personal_identity_code": VALID_CODE},
            headers=bearer(who, None),
        ),
    ]
    if who != "writer":
        reads += [
            lambda: world.client.get(
                f"/v1/seekers/{world.lahti}/events", headers=bearer(who, None)
            ),
            lambda: world.client.get(
                f"/v1/seekers/{world.lahti}/obligations", headers=bearer(who, None)
            ),
        ]
    if who in ("auditor", "admin"):
        reads.append(lambda: world.client.get("/v1/feed", headers=bearer(who, None)))
    for read in reads:
        r = read()
        assert r.status_code == 403
        assert "purpose" in r.json()["detail"]
    assert world.services.access_log.query() == []
    ok = world.client.get(
        f"/v1/seekers/{world.lahti}/events",
        params={"purpose": "review"},
        headers=bearer("auditor", None),
    )
    assert ok.status_code == 200


def test_only_the_development_admin_may_leave_the_purpose_unstated(
    store_url: str, clock: FixedClock
) -> None:
    # no tokens configured, development environment: every request is the development admin
    services = bootstrap(Settings(database_url=store_url, environment="development"), clock)
    try:
        seeker = World(TestClient(create_app(services)), services, "", "", "").start(LAHTI)
        with TestClient(create_app(services)) as client:
            assert client.get(f"/v1/seekers/{seeker}/events").status_code == 200
            assert client.get("/v1/feed").status_code == 200
        [read, page] = services.access_log.query()
        assert (read.actor, read.purpose) == ("admin:development", page.purpose)
        assert read.purpose.startswith("unstated")
    finally:
        services.close()


def test_each_page_of_the_feed_is_in_the_access_log(world: World) -> None:
    h = bearer("auditor", purpose="replication to the data warehouse")
    first = world.client.get("/v1/feed", params={"limit": 2}, headers=h).json()
    rest = world.client.get(
        "/v1/feed", params={"after": first["next_after"], "limit": 10}, headers=h
    ).json()
    empty = world.client.get("/v1/feed", params={"after": rest["next_after"]}, headers=h).json()
    assert empty["events"] == []
    entries = [e.to_dict() for e in world.services.access_log.query(actor="auditor:auditor")]
    assert [(e["action"], e["purpose"]) for e in entries] == [
        ("feed", "replication to the data warehouse"),
        ("feed", "replication to the data warehouse"),
    ]  # the empty page showed no one's data: not logged
    assert [e["detail"] for e in entries] == [
        {"after": 0, "first": 1, "last": 2, "count": 2, "seekers": 2},
        {"after": 2, "first": 3, "last": 3, "count": 1, "seekers": 1},
    ]
    assert world.services.access_log.verify() is None


def test_a_bad_token_is_401_with_a_bearer_challenge(world: World) -> None:
    r = world.client.get("/v1/feed", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
