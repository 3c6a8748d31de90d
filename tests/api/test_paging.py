"""Worklists and the access log page with an opaque cursor (``next_cursor`` → ``?cursor=``), as
history and the feed page with theirs; a cursor keeps the first page's filters and scope; and an
unknown statistics area is refused like an unknown measure."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MakeServices, bearer
from tests.factories import envelope, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services

PROBLEM = "application/problem+json"


@pytest.fixture
def served(make_services: MakeServices) -> Iterator[tuple[TestClient, Services]]:
    services = make_services()
    with TestClient(create_app(services), headers=bearer("admin")) as client:
        yield client, services


def _pages(client: TestClient, path: str, key: str, **params: Any) -> list[list[Any]]:
    pages: list[list[Any]] = []
    r = client.get(path, params=params)
    while True:
        assert r.status_code == 200, r.text
        pages.append(r.json()[key])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages
        r = client.get(path, params={"cursor": cursor, "limit": params["limit"]})


def _started(client: TestClient, services: Services, n: int) -> None:
    batch = [envelope("job_search_started", new_seeker(), on="2025-06-02") for _ in range(n)]
    assert client.post("/v1/events", json=batch).status_code == 201
    services.obligations.catch_up()


def test_a_worklist_read_page_by_page_is_the_whole_worklist(
    served: tuple[TestClient, Services],
) -> None:
    client, services = served
    _started(client, services, 5)
    asked = {"on": "2025-06-05", "municipality": "398"}
    whole = client.get("/v1/worklists", params={**asked, "limit": 1000}).json()
    assert whole["next_cursor"] is None and len(whole["items"]) >= 5
    pages = _pages(client, "/v1/worklists", "items", **asked, limit=2)
    assert [len(p) for p in pages[:-1]] == [2] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= 2  # the last page is the one without a cursor, never empty
    assert [item for page in pages for item in page] == whole["items"]
    logged = services.access_log.query()
    assert sum(1 for e in logged if e.action == "worklist") == 1 + len(pages)


def test_a_worklist_cursor_keeps_the_scope_of_its_municipality(
    served: tuple[TestClient, Services],
) -> None:
    client, services = served
    _started(client, services, 3)
    first = client.get(
        "/v1/worklists",
        params={"on": "2025-06-05", "municipality": "398", "limit": 1},
        headers=bearer("caseworker-lahti"),
    ).json()
    cursor = first["next_cursor"]
    elsewhere = client.get(
        "/v1/worklists", params={"cursor": cursor}, headers=bearer("caseworker-tampere")
    )
    assert elsewhere.status_code == 403
    assert elsewhere.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("path", ["/v1/worklists", "/v1/access-log"])
def test_a_cursor_not_given_by_the_route_is_422_naming_it(
    served: tuple[TestClient, Services], path: str
) -> None:
    client, _ = served

    def forged(fields: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()

    route = "worklist" if path.endswith("worklists") else "access-log"
    for cursor in (
        "not a cursor",
        forged({"r": "feed", "after": 1}),  # another route's
        forged({"r": route, "offset": -1, "after": -1}),  # this route's form, broken
    ):
        r = client.get(path, params={"cursor": cursor, "municipality": "398"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == "query.cursor"


def test_the_access_log_read_page_by_page_is_the_whole_log(
    served: tuple[TestClient, Services],
) -> None:
    client, _ = served
    seeker = new_seeker()
    assert client.post("/v1/events", json=envelope("job_search_started", seeker)).status_code
    for _ in range(5):
        assert client.get(f"/v1/seekers/{seeker}/events").status_code == 200
    whole = client.get("/v1/access-log", params={"seeker_id": seeker}).json()
    assert len(whole["entries"]) == 5 and whole["next_cursor"] is None
    pages = _pages(client, "/v1/access-log", "entries", seeker_id=seeker, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e for page in pages for e in page] == whole["entries"]


def test_an_unknown_statistics_area_is_422_like_an_unknown_measure(
    served: tuple[TestClient, Services],
) -> None:
    client, _ = served
    months = {"from": "2025-01", "to": "2025-02"}
    for field, value in (("area", "atlantis"), ("measure", "happiness")):
        r = client.get("/v1/stats/monthly", params={**months, field: value})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["errors"][0]["loc"] == f"query.{field}"
    for known in ("398", "all", "pilot", "non_pilot"):
        r = client.get("/v1/stats/monthly", params={**months, "area": known})
        assert r.status_code == 200, (known, r.text)
