"""Bad input over HTTP: every refusal is a 4xx problem document naming the field, and a refused
request writes nothing — out-of-range times, times without an offset, control characters, deep
nesting, integers past 64 bits, strings for numbers, other media types, oversized bodies."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import TOKENS, bearer, tokens_json
from tests.factories import ACTOR, envelope, new_seeker
from timeline.api import app as app_module
from timeline.api import create_app
from timeline.api.routes import events as events_module
from timeline.bootstrap import Services, bootstrap
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.group_commit import GroupCommitter
from timeline.settings import Settings

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
EXTREMES = ("0001-01-01T00:00:00+02:00", "9999-12-31T23:59:59-02:00")
NO_OFFSET = "2026-11-25T12:00:00"
#: what the CLI says of a time without an offset (the one shared parser)
NO_OFFSET_MSG = f"{NO_OFFSET!r} has no UTC offset; write e.g. 2025-06-01T12:00:00+03:00"


def _services(url: str, clock: FixedClock, **settings: Any) -> Services:
    return bootstrap(
        Settings(database_url=url, environment="test", tokens=tokens_json(), **settings), clock
    )


@pytest.fixture(params=["sqlite", "postgres"])
def services(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[Services]:
    built = _services(url_for(str(request.param)), clock)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), headers=bearer("admin")) as c:
        yield c


@pytest.fixture
def seeker(client: TestClient) -> str:
    s = new_seeker()
    assert client.post("/v1/events", json=envelope("job_search_started", s)).status_code == 201
    return s


def _problem(r: httpx.Response, status: int, loc: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    if loc is not None:  # a refusal by the timeline rules names the event's index
        assert {loc, f"[0].{loc}"} & {e["loc"] for e in body["errors"]}, body
    return body


def _positions(client: TestClient) -> int:
    return len(client.get("/v1/feed", params={"limit": 1000}).json()["events"])


# -- the body of POST /v1/events ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "overrides", "loc"),
    [
        ("job_search_started", {"at": EXTREMES[0]}, "occurred_at"),
        ("job_search_started", {"at": EXTREMES[1]}, "occurred_at"),
        ("job_search_started", {"at": "1989-12-31T21:59:59+00:00"}, "occurred_at"),
        ("job_search_started", {"at": NO_OFFSET}, "occurred_at"),
        ("job_search_started", {"on": "0001-01-01"}, "occurred_on"),
        ("job_search_started", {"on": "1989-12-31"}, "occurred_on"),
        ("job_search_started", {"on": "9999-12-31"}, "occurred_on"),
        ("job_search_started", {"on": "2099-12-31"}, "occurred_on"),  # beyond the tolerance
        ("coach_assigned", {"data": {"coach_id": "c\u0000x"}}, "data.coach_id"),
        ("coach_assigned", {"data": {"coach_id": "c1", "team": "a\u001bb"}}, "data.team"),
        ("coach_assigned", {"actor": {**ACTOR, "id": "x\u0000"}}, "actor.id"),
        ("coach_assigned", {"actor": {**ACTOR, "organisation": "398\n"}}, "actor.organisation"),
        ("coach_assigned", {"source": "backend\u007f"}, "source"),
        ("coach_assigned", {"expected_version": "1"}, "expected_version"),
        ("coach_assigned", {"expected_version": True}, "expected_version"),
        ("coach_assigned", {"expected_version": 1.0}, "expected_version"),
        ("coach_assigned", {"expected_version": 2**63}, "expected_version"),
    ],
)
def test_an_implausible_event_is_422_naming_the_field_and_nothing_is_written(
    client: TestClient, seeker: str, type_: str, overrides: dict[str, Any], loc: str
) -> None:
    before = _positions(client)
    kw = {k: v for k, v in overrides.items() if k in ("at", "on", "data")}
    extra = {k: v for k, v in overrides.items() if k not in kw}
    who = seeker if type_ == "coach_assigned" else new_seeker()
    body = envelope(type_, who, **kw, **extra)
    _problem(client.post("/v1/events", json=[envelope("coach_assigned", seeker), body]), 422)
    problem = _problem(client.post("/v1/events", json=body), 422, loc)
    if overrides.get("at") == NO_OFFSET:
        assert problem["errors"][0]["msg"] == NO_OFFSET_MSG
    assert _positions(client) == before


@pytest.mark.parametrize(
    ("data", "loc", "words"),
    [
        ({"valid_from": "2025-06-01", "valid_until": "9999-12-31"}, "data.valid_until", "range"),
        ({"valid_from": "0001-01-01"}, "data.valid_from", "range"),
        ({"valid_from": "2025-06-01", "valid_until": "2031-06-02"}, "data.valid_until", "days"),
        (
            {"valid_from": "2025-06-01", "applications_per_period": "4"},
            "data.applications_per_period",
            "integer",
        ),
    ],
)
def test_a_requirement_out_of_range_is_refused_before_it_can_stop_the_projections(
    client: TestClient, seeker: str, data: dict[str, Any], loc: str, words: str
) -> None:
    before = _positions(client)
    full = {"applications_per_period": 4, "period": "month", **data}
    r = client.post("/v1/events", json=envelope("job_search_requirement_set", seeker, data=full))
    problem = _problem(r, 422, loc)
    assert words in problem["detail"]
    assert _positions(client) == before


def test_a_corrections_replacement_is_held_to_the_same_ranges(
    client: TestClient, seeker: str
) -> None:
    coach = envelope("coach_assigned", seeker)
    assert client.post("/v1/events", json=coach).status_code == 201
    before = _positions(client)

    def correction(replacement: dict[str, Any]) -> dict[str, Any]:
        data = {
            "corrects_event_id": coach["event_id"],
            "reason": "typo",
            "replacement": replacement,
        }
        return envelope("correction", seeker, data=data)

    cases = [
        ({"occurred_on": "0001-01-01", "data": {"coach_id": "c2"}}, "data.replacement.occurred_on"),
        ({"occurred_at": EXTREMES[1], "data": {"coach_id": "c2"}}, "data.replacement.occurred_at"),
        ({"occurred_on": "2099-01-01", "data": {"coach_id": "c2"}}, "data.replacement.occurred_on"),
        (
            {"occurred_on": "2025-06-02", "data": {"coach_id": "\u0000"}},
            "data.replacement.data.coach_id",
        ),
    ]
    for replacement, loc in cases:
        body = correction({"type": "coach_assigned", **replacement})
        _problem(client.post("/v1/events", json=body), 422, loc)
    assert _positions(client) == before


def test_a_deeply_nested_body_is_a_400_problem(client: TestClient) -> None:
    r = client.post("/v1/events", content=b"[" * 1000 + b"]" * 1000, headers=JSON)
    assert "not valid JSON" in _problem(r, 400)["detail"]
    r = client.post("/v1/seekers/lookup", content=b"[" * 5000 + b"]" * 5000, headers=JSON)
    _problem(r, 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", None, "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
@pytest.mark.parametrize("path", ["/v1/events", "/v1/seekers/lookup"])
def test_a_body_not_labelled_json_is_415(
    client: TestClient, path: str, content_type: str | None
) -> None:
    body = envelope("job_search_started", new_seeker())
    if path.endswith("lookup"):
        body = {"personal_identity_code": "131052-308T"}
    headers = {"content-type": content_type} if content_type else {}
    r = client.post(path, content=json.dumps(body).encode(), headers=headers)
    _problem(r, 415)
    assert _positions(client) == 0
    for label in ("application/json; charset=utf-8", "application/merge-patch+json"):
        r = client.post(path, content=json.dumps(body).encode(), headers={"content-type": label})
        # the first append creates; the same event again is a duplicate (200, like a look-up)
        created = path == "/v1/events" and label.endswith("utf-8")
        assert r.status_code == (201 if created else 200), r.text


# -- query parameters and headers ----------------------------------------------------------------


@pytest.mark.parametrize("value", [*EXTREMES, "0001-01-01", NO_OFFSET, "yesterday"])
def test_every_instant_in_a_query_is_checked(client: TestClient, seeker: str, value: str) -> None:
    for path, name in [
        (f"/v1/seekers/{seeker}/events", "as_of"),
        (f"/v1/seekers/{seeker}/obligations", "as_of"),
        ("/v1/access-log", "from"),
        ("/v1/access-log", "to"),
    ]:
        _problem(client.get(path, params={name: value}), 422, f"query.{name}")


def test_a_time_without_offset_is_refused_with_the_words_of_the_cli(
    client: TestClient, seeker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = client.get(f"/v1/seekers/{seeker}/obligations", params={"as_of": NO_OFFSET})
    problem = _problem(r, 422, "query.as_of")
    assert problem["errors"][0]["msg"] == NO_OFFSET_MSG
    with pytest.raises(SystemExit) as exit_:
        main(["history", seeker, "--as-of", NO_OFFSET, "--db", "memory:"])
    assert exit_.value.code == 2
    assert NO_OFFSET_MSG in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "2025-6-1"])
def test_every_day_in_a_query_is_checked(client: TestClient, seeker: str, value: str) -> None:
    _problem(client.get(f"/v1/seekers/{seeker}/obligations", params={"on": value}), 422, "query.on")
    _problem(client.get("/v1/worklists", params={"on": value}), 422, "query.on")


@pytest.mark.parametrize("bad", ["a\u0000b", "a\u0007b", "a\u0085b"])
def test_control_characters_in_query_text_are_422(
    client: TestClient, seeker: str, bad: str
) -> None:
    checks = [
        (f"/v1/seekers/{seeker}/events", {"purpose": bad}, {"X-Purpose": ""}, "query.purpose"),
        ("/v1/access-log", {"actor": bad}, {}, "query.actor"),
        ("/v1/worklists", {"coach": bad}, {}, "query.coach"),
        ("/v1/stats/monthly", {"area": bad, "from": "2025-01", "to": "2025-02"}, {}, "query.area"),
        (
            "/v1/stats/monthly",
            {"measure": bad, "from": "2025-01", "to": "2025-02"},
            {},
            "query.measure",
        ),
    ]
    for path, params, headers, loc in checks:
        _problem(client.get(path, params=params, headers=headers), 422, loc)
    # the read was refused before it was logged
    assert all(bad not in e["purpose"] for e in client.get("/v1/access-log").json()["entries"])


def test_a_control_character_in_the_purpose_header_is_422(services: Services, seeker: str) -> None:
    # a raw ASGI request: HTTP clients refuse to send such a header at all
    app = create_app(services)
    for bad in (b"a\x00b", b"a\x1fb"):
        headers = {"authorization": bearer("admin")["Authorization"].encode(), "x-purpose": bad}
        status, _, body, _ = asyncio.run(
            _asgi(app, "GET", f"/v1/seekers/{seeker}/events", headers, [])
        )
        assert status == 422
        assert "header.x-purpose" in [e["loc"] for e in json.loads(body)["errors"]]


@pytest.mark.parametrize("after", [2**63, 2**64, 10**30])
def test_integers_past_64_bits_are_422(client: TestClient, seeker: str, after: int) -> None:
    _problem(client.get("/v1/feed", params={"after": after}), 422, "query.after")
    r = client.get(f"/v1/seekers/{seeker}/events", params={"after_version": after})
    _problem(r, 422, "query.after_version")
    assert client.get("/v1/feed", params={"after": 2**63 - 1}).json()["events"] == []


def test_unknown_routes_and_methods_are_problem_documents(client: TestClient) -> None:
    _problem(client.get("/v1/nothing-here"), 404)
    _problem(client.delete("/v1/events"), 405)


def test_every_schema_reference_in_the_served_openapi_resolves(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    def refs(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = list(refs(spec))
    assert "#/components/schemas/Actor" in found
    for ref in found:
        node = spec
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


# -- size: the body limit, the error cap, the event loop -------------------------------------------


async def _asgi(
    app: FastAPI, method: str, path: str, headers: dict[str, bytes], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes, int]:
    """One request straight to the ASGI app, the body in ``chunks``: the status, headers and
    body of the answer, and how many chunks the app received."""
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received < max(len(chunks), 1):
            received += 1
            more = received < len(chunks)
            return {
                "type": "http.request",
                "body": chunks[received - 1] if chunks else b"",
                "more_body": more,
            }
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], head, body, received


@pytest.fixture
def small(url_for: Callable[[str], str], clock: FixedClock) -> Iterator[FastAPI]:
    """An app whose body limit is 2 KiB."""
    built = _services(url_for("sqlite"), clock, max_body_bytes=2048)
    yield create_app(built)
    built.close()


_ADMIN = {
    "authorization": f"Bearer {TOKENS['admin'][0]}".encode(),
    "content-type": b"application/json",
    "x-purpose": b"testing",
}


@pytest.mark.parametrize("path", ["/v1/events", "/v1/seekers/lookup"])
def test_a_body_declared_over_the_limit_is_413_before_any_of_it_is_read(
    small: FastAPI, path: str
) -> None:
    chunks = [b" " * 1024] * 100
    headers = {**_ADMIN, "content-length": str(100 * 1024).encode()}
    status, head, body, received = asyncio.run(_asgi(small, "POST", path, headers, chunks))
    assert (status, received) == (413, 0)
    assert head["content-type"].startswith(PROBLEM)
    assert "2048 bytes" in json.loads(body)["detail"]


@pytest.mark.parametrize("path", ["/v1/events", "/v1/seekers/lookup"])
def test_a_streamed_body_is_cut_off_as_it_passes_the_limit(small: FastAPI, path: str) -> None:
    chunks = [b" " * 1024] * 100  # no content-length: counted as it arrives
    status, head, _, received = asyncio.run(_asgi(small, "POST", path, _ADMIN, chunks))
    assert status == 413
    assert head["content-type"].startswith(PROBLEM)
    assert received == 3  # 3 KiB > 2 KiB: nothing after the chunk that passed the limit
    # a body within the limit, streamed the same way, is read and validated
    body = json.dumps(envelope("job_search_started", new_seeker())).encode()
    if path.endswith("lookup"):
        body = json.dumps({"personal_identity_code": "131052-308T"}).encode()
    assert len(body) < 2048
    status, *_ = asyncio.run(_asgi(small, "POST", path, _ADMIN, [body[:100], body[100:]]))
    assert status == (200 if path.endswith("lookup") else 201)


def test_the_body_limit_is_a_setting_of_4_mib_by_default(client: TestClient) -> None:
    assert Settings().max_body_bytes == 4 * 1024 * 1024
    r = client.post("/v1/events", content=b" " * (4 * 1024 * 1024 + 1), headers=JSON)
    _problem(r, 413)


def test_routes_other_than_append_take_small_bodies(client: TestClient) -> None:
    # a look-up's body is a few dozen bytes: 20 KiB of unknown keys is refused unread, not
    # parsed and validated on the event loop
    keys = {f"k{i}": 0 for i in range(2000)} | {"personal_identity_code": "131052-308T"}
    r = client.post("/v1/seekers/lookup", json=keys)
    assert len(r.request.content) > app_module.SMALL_BODY_BYTES
    _problem(r, 413)


def _bad_batch(n: int, unknown: int) -> list[dict[str, Any]]:
    s = new_seeker()
    return [
        {**envelope("coach_assigned", s), **{f"x{k}": k for k in range(unknown)}} for _ in range(n)
    ]


def test_a_422_reports_the_first_100_errors_and_counts_the_rest(client: TestClient) -> None:
    r = client.post("/v1/events", json=_bad_batch(1000, 5))
    problem = _problem(r, 422, "[0].x0")
    assert len(problem["errors"]) == 100
    assert problem["errors_omitted"] == 5000 - 100
    assert "(and 4990 more)" in problem["detail"]
    assert len(r.content) < 50_000


def _gated(
    order: list[str],
) -> tuple[threading.Event, threading.Event, Callable[..., Any]]:
    """Make validation wait (at most 10 s) until released; note in ``order`` when it ran on."""
    started, release = threading.Event(), threading.Event()
    validate = events_module.parse_batch

    def gated(*args: Any, **kwargs: Any) -> Any:
        started.set()
        order.append("validation resumed" if release.wait(timeout=10) else "validation alone")
        return validate(*args, **kwargs)

    return started, release, gated


@pytest.mark.parametrize("mode", ["direct", "group-commit"])
def test_health_answers_while_a_large_invalid_batch_is_being_validated(
    url_for: Callable[[str], str],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    order: list[str] = []
    started, release, gated = _gated(order)
    monkeypatch.setattr(events_module, "parse_batch", gated)
    services = _services(url_for("sqlite"), clock)
    body = json.dumps(_bad_batch(1000, 3)).encode()
    assert len(body) > events_module.INLINE_BODY_BYTES

    async def scenario(app: FastAPI) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            post = asyncio.create_task(
                client.post("/v1/events", content=body, headers={**bearer("admin"), **JSON})
            )
            # validation has begun (if it held the event loop, nothing below could run)
            await anyio.to_thread.run_sync(started.wait, 10)
            health = await client.get("/health")
            assert health.status_code == 200
            order.append("health answered")
            release.set()
            return await post

    try:
        if mode == "direct":
            refused = asyncio.run(scenario(create_app(services)))
        else:
            with GroupCommitter(services.app) as committer:
                refused = asyncio.run(scenario(create_app(services, append=committer)))
    finally:
        services.close()
    assert order == ["health answered", "validation resumed"]
    assert refused.status_code == 422
    assert len(refused.json()["errors"]) == 100
