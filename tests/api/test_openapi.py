"""The OpenAPI document as a client generator and a reader of /docs meet it: valid (checked by
openapi-spec-validator), every reference resolving, a schema for every answer, the problem
schema for every refusal, the bearer scheme, tags and sentences; the append body's example is
one the server accepts; and a client generated from the served document appends and reads."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.conftest import MakeServices, bearer
from tests.factories import new_seeker
from timeline.api import create_app

TAGS = {"events", "seekers", "worklists", "audit", "statistics", "operations", "admin"}


@pytest.fixture
def client(make_services: MakeServices) -> Iterator[TestClient]:
    with TestClient(create_app(make_services()), headers=bearer("admin")) as c:
        yield c


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


@pytest.mark.parametrize("store_url", ["memory:"])
def test_the_document_is_valid_and_every_reference_resolves(spec: dict[str, Any]) -> None:
    validate(spec)  # raises naming the first fault
    schemas = spec["components"]["schemas"]
    assert {r for r in _refs(spec) if r.removeprefix("#/components/schemas/") not in schemas} == (
        set()
    )
    assert "HTTPValidationError" not in schemas  # refusals are problem documents


@pytest.mark.parametrize("store_url", ["memory:"])
def test_every_route_is_tagged_summarised_and_answers_with_a_schema(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        where = f"{method.upper()} {path}"
        assert set(op["tags"]) <= TAGS and op["tags"], where
        assert re.fullmatch(r"[A-Z].*\.", op["summary"]), where
        ok = op["responses"].get("200") or op["responses"]["201"]
        if path != "/metrics":  # the Prometheus text format
            assert "$ref" in str(ok["content"]["application/json"]["schema"]), where
        for status, answer in op["responses"].items():
            if status[0] in "45":
                problem = answer["content"]["application/problem+json"]["schema"]
                assert problem == {"$ref": "#/components/schemas/Problem"}, (where, status)
    assert {t["name"] for t in spec["tags"]} == TAGS


@pytest.mark.parametrize("store_url", ["memory:"])
def test_personal_routes_use_the_bearer_scheme_and_refusals_are_documented(
    spec: dict[str, Any],
) -> None:
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    post = spec["paths"]["/v1/events"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert {"401", "403", "409", "413", "415", "422"} <= set(post["responses"])
    assert "security" not in spec["paths"]["/health"]["get"]


@pytest.mark.parametrize("store_url", ["memory:"])
def test_the_append_body_is_a_union_of_the_event_types_discriminated_by_type(
    spec: dict[str, Any],
) -> None:
    schemas = spec["components"]["schemas"]
    union = schemas["EventIn"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert len(mapping) == 18 and "job_search_started" in mapping
    started = schemas[mapping["job_search_started"].split("/")[-1]]
    data = schemas[started["properties"]["data"]["$ref"].split("/")[-1]]
    assert {"municipality", "labour_market_status"} <= set(data["required"])


@pytest.mark.parametrize("store_url", ["memory:"])
def test_the_documented_example_is_accepted_then_answered_as_a_duplicate(
    client: TestClient, spec: dict[str, Any]
) -> None:
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    example = body["examples"]["one event"]["value"]
    first = client.post("/v1/events", json=example)
    assert first.status_code == 201, first.text
    again = client.post("/v1/events", json=body["examples"]["a batch"]["value"])
    assert again.status_code == 200
    assert again.json()[0]["duplicate"] is True


@pytest.mark.parametrize("store_url", ["memory:"])
def test_the_docs_pages_load_their_assets_from_the_service(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", html.text)
        assets += re.findall(r"""url: ['"]([^'"]+)['"]""", html.text)
        assert assets, page
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            assert client.get(asset).status_code == 200, asset


@pytest.mark.parametrize("store_url", ["memory:"])
def test_a_generated_client_appends_an_event_and_reads_it_back(
    client: TestClient, tmp_path: Path, spec: dict[str, Any]
) -> None:
    (tmp_path / "spec.json").write_text(client.get("/openapi.json").text)
    (tmp_path / "config.yaml").write_text("package_name_override: generated_timeline\n")
    done = subprocess.run(
        [
            Path(sys.executable).parent / "openapi-python-client",
            "generate",
            "--path",
            tmp_path / "spec.json",
            "--output-path",
            tmp_path / "generated_timeline",
            "--meta",
            "none",
            "--config",
            tmp_path / "config.yaml",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (tmp_path / "generated_timeline" / "client.py").exists(), done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        gen = importlib.import_module("generated_timeline")
        append = importlib.import_module("generated_timeline.api.events.append_v1_events_post")
        history = importlib.import_module(
            "generated_timeline.api.seekers.history_v1_seekers_seeker_id_events_get"
        )
        models = importlib.import_module("generated_timeline.models")

        api = gen.AuthenticatedClient(base_url=str(client.base_url), token="tok-admin")
        client.headers["Authorization"] = f"{api.prefix} {api.token}"
        api.set_httpx_client(client)
        seeker = new_seeker()
        example = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
        event = {**example["application/json"]["examples"]["one event"]["value"]}
        event.update(event_id=str(UUID(int=7)), seeker_id=seeker)
        sent = models.JobSearchStartedEvent.from_dict(event)

        written = append.sync_detailed(client=api, body=sent)
        assert written.status_code == 201
        [appended] = written.parsed
        assert str(appended.seeker_id) == seeker and appended.duplicate is False

        read = history.sync(client=api, seeker_id=UUID(seeker), x_purpose="testing")
        assert isinstance(read, models.History)
        [entry] = read.events
        assert str(entry.event_id) == event["event_id"]
        assert entry.type_ == "job_search_started"
        assert entry.data.additional_properties["municipality"] == "398"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("generated_timeline")]:
            del sys.modules[name]
