"""The HTTP contract: answers per event, problem documents naming the field, status codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MakeServices, bearer
from tests.factories import envelope, new_seeker
from timeline.api import create_app
from timeline.api.schemas import Appended
from timeline.clock import FixedClock
from timeline.group_commit import GroupCommitter

PROBLEM = "application/problem+json"


@pytest.fixture(params=["direct", "group-commit", "group-commit-async"])
def client(make_services: MakeServices, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """The same contract whether each request writes its own transaction or (as
    ``timeline serve`` does) requests are gathered by the group committer."""
    services = make_services(max_batch=5)
    if request.param == "direct":
        with TestClient(create_app(services), headers=bearer("admin")) as c:
            yield c
        return
    with (
        GroupCommitter(services.app) as committer,
        TestClient(
            create_app(
                services,
                append=committer if request.param.endswith("async") else committer.submit,
            ),
            headers=bearer("admin"),
        ) as c,
    ):
        yield c


def test_post_one_event_answers_its_position_version_recorded_time_and_hash(
    client: TestClient, clock: FixedClock
) -> None:
    seeker = new_seeker()
    body = envelope("job_search_started", seeker)
    r = client.post("/v1/events", json=body)
    assert r.status_code == 201  # created
    [answer] = r.json()
    assert answer["event_id"] == body["event_id"]
    assert answer["seeker_id"] == seeker
    assert answer["version"] == 1
    assert answer["position"] >= 1
    assert not answer["duplicate"]
    assert answer["recorded_at"].startswith(clock().strftime("%Y-%m-%dT%H:%M"))
    assert len(answer["hash"]) == 64
    retried = client.post("/v1/events", json=body)
    assert retried.status_code == 200  # nothing new
    again = retried.json()[0]
    assert again["duplicate"]
    assert again["position"] == answer["position"]


def test_a_batch_answers_per_event_in_order(client: TestClient) -> None:
    s = new_seeker()
    batch = [envelope("job_search_started", s), envelope("coach_assigned", s)]
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 201
    assert [a["version"] for a in r.json()] == [1, 2]
    # one new event beside a duplicate is still a creation
    more = client.post("/v1/events", json=[*batch, envelope("coach_assigned", s)])
    assert more.status_code == 201
    assert [a["duplicate"] for a in more.json()] == [True, True, False]


def test_the_append_answer_is_the_documented_schema_as_json(client: TestClient) -> None:
    """The route writes its answer itself (no response-model pass): each item still has
    exactly the fields of the OpenAPI document's `Appended`, of their types, as JSON."""
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Appended"]
    types = {"string": str, "integer": int, "boolean": bool}
    body = [envelope("job_search_started", new_seeker())]
    for status in (201, 200):  # new, then every event a duplicate
        r = client.post("/v1/events", json=body)
        assert r.status_code == status
        assert r.headers["content-type"] == "application/json"
        [item] = r.json()
        assert set(item) == set(schema["properties"]) == set(schema["required"])
        for name, value in item.items():
            assert type(value) is types[schema["properties"][name]["type"]], name
        assert Appended.model_validate(item).duplicate is (status == 200)


def test_invalid_events_are_422_problems_naming_the_index_and_field(client: TestClient) -> None:
    s = new_seeker()
    batch = [
        envelope("job_search_started", s),
        envelope("meeting_held", s, data={"kind": "initial_interview"}),
    ]
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["status"] == 422
    assert problem["title"] == "Invalid event"
    assert {"loc": "[1].data.channel", "msg": "Field required", "type": "missing"} in (
        problem["errors"]
    )
    assert client.get(f"/v1/seekers/{s}/events").status_code == 404


def test_a_timeline_rule_refusal_names_the_event_index(client: TestClient) -> None:
    s = new_seeker()
    r = client.post(
        "/v1/events",
        json=[
            envelope("job_search_started", s),
            envelope("service_ended", s, data={"service_id": "x"}),
        ],
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "[1].data.service_id"


def test_a_stale_expected_version_is_409_with_the_current_version(client: TestClient) -> None:
    s = new_seeker()
    client.post("/v1/events", json=envelope("job_search_started", s))
    r = client.post("/v1/events", json=envelope("coach_assigned", s, expected_version=0))
    assert r.status_code == 409
    assert r.json()["current_version"] == 1


def test_a_batch_over_the_configured_maximum_is_413(client: TestClient) -> None:
    s = new_seeker()
    r = client.post("/v1/events", json=[envelope("coach_assigned", s) for _ in range(6)])
    assert r.status_code == 413
    assert "at most 5" in r.json()["detail"]


def test_malformed_json_and_store_set_fields_are_refused(client: TestClient) -> None:
    json = {"content-type": "application/json"}
    assert client.post("/v1/events", content=b"{nope", headers=json).status_code == 400
    body = {**envelope("job_search_started", new_seeker()), "recorded_at": "2020-01-01T00:00Z"}
    r = client.post("/v1/events", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "recorded_at"


def test_history_pages_and_reads_as_of(client: TestClient, clock: FixedClock) -> None:
    s = new_seeker()
    client.post("/v1/events", json=envelope("job_search_started", s))
    t1 = clock().isoformat()
    clock.advance(days=3)
    client.post(
        "/v1/events",
        json=[envelope("coach_assigned", s, data={"coach_id": f"c{i}"}) for i in range(3)],
    )
    page = client.get(f"/v1/seekers/{s}/events", params={"limit": 2}).json()
    assert [e["version"] for e in page["events"]] == [1, 2]
    assert page["next_after_version"] == 2
    rest = client.get(f"/v1/seekers/{s}/events", params={"after_version": 2}).json()
    assert [e["version"] for e in rest["events"]] == [3, 4]
    assert rest["next_after_version"] is None
    then = client.get(f"/v1/seekers/{s}/events", params={"as_of": t1}).json()
    assert [e["type"] for e in then["events"]] == ["job_search_started"]


def test_the_feed_and_the_person_lookup(client: TestClient) -> None:
    s = new_seeker()
    client.post("/v1/events", json=envelope("job_search_started", s))
    feed = client.get("/v1/feed", params={"after": 0, "limit": 10}).json()
    assert [e["seeker_id"] for e in feed["events"]] == [s]
    found = client.post("/v1/seekers/lookup", json={"personal_identity_code": "131052-308T"})
    assert found.json() == {"seeker_ids": [s]}
    bad = client.post("/v1/seekers/lookup", json={"personal_identity_code": "131052-308X"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == "personal_identity_code"


def test_openapi_documents_the_event_envelope(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    one = body["schema"]["oneOf"][0]["$ref"].removeprefix("#/components/schemas/")
    variant = spec["components"]["schemas"][one]["oneOf"][0]["$ref"].split("/")[-1]
    assert "event_id" in spec["components"]["schemas"][variant]["properties"]
