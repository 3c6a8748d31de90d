"""Schemathesis over the served OpenAPI schema, in process, on SQLite: whatever a client sends
that the schema allows — or breaks on purpose (negative mode) — the answer is never a 5xx, and
every refusal is a problem document. A fixed amount of work (EXAMPLES per operation, mode and
seeker): about 40 s on an idle two-core machine, within two minutes under CI load."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from tests.conftest import TOKENS, bearer, tokens_json
from tests.factories import envelope
from timeline.api import create_app
from timeline.bootstrap import bootstrap
from timeline.clock import FixedClock
from timeline.settings import Settings

#: examples per operation, generation mode and seeker (a random one, or one that exists)
EXAMPLES = 100
KNOWN = "5b0c8a8e-0a57-4c4e-8d0e-3f1f7c9d2a10"
PROBLEM = "application/problem+json"


@pytest.fixture
def served(url_for: Callable[[str], str], clock: FixedClock) -> Iterator[FastAPI]:
    """The app on SQLite with one seeker whose timeline and obligations exist, so the fuzzed
    reads reach the projections and not only the 404 of an unknown seeker."""
    services = bootstrap(
        Settings(database_url=url_for("sqlite"), environment="test", tokens=tokens_json()), clock
    )
    app = create_app(services)
    with TestClient(app, headers=bearer("admin")) as client:
        started = client.post(
            "/v1/events",
            json=[
                envelope("job_search_started", KNOWN, on="2025-03-03"),
                envelope("coach_assigned", KNOWN, on="2025-03-04"),
                envelope(
                    "employment_plan_agreed",
                    KNOWN,
                    on="2025-03-10",
                    data={"plan_kind": "employment_plan"},
                ),
            ],
        )
        assert started.status_code == 201, started.text
    services.obligations.catch_up()
    yield app
    services.close()


@pytest.mark.slow
def test_no_generated_request_makes_the_service_fail(served: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", served)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # an unresolvable schema ($ref to nothing) fails here
        operations += 1
        seekers: list[dict[str, Any]] = [{}]
        if "{seeker_id}" in operation.path:
            seekers.append({"path_parameters": {"seeker_id": KNOWN}})
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for fixed in seekers:

                @given(case=operation.as_strategy(generation_mode=mode, **fixed))
                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                )
                def call(case: schemathesis.Case) -> None:
                    # as an admin (the deepest reach); a generated purpose is kept
                    case.headers = {
                        "X-Purpose": "fuzzing",
                        **(case.headers or {}),
                        "Authorization": f"Bearer {TOKENS['admin'][0]}",
                    }
                    response = case.call()
                    statuses[response.status_code] += 1
                    kind = response.headers.get("content-type", [""])[0]
                    if response.status_code >= 500 or (
                        response.status_code >= 400 and not kind.startswith(PROBLEM)
                    ):
                        failures.append(
                            f"{response.status_code} {kind} {response.text[:300]!r}\n"
                            f"    {case.as_curl_command()}"
                        )

                try:
                    call()
                except Unsatisfiable:  # e.g. no invalid request exists for GET /health
                    continue
    assert operations >= 9
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:20])
    # the run reached the service both ways: some requests were served, some refused
    assert sum(n for s, n in statuses.items() if s < 300) > 0
    assert sum(n for s, n in statuses.items() if 400 <= s < 500) > 0
