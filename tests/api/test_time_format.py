"""One way of writing a recorded instant in every answer: UTC with microseconds
(``2025-06-10T09:00:00.000000+00:00``), the very text the hash chain covers, whether it comes
back from the append, the history, the feed or the access log."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MakeServices, bearer
from tests.factories import envelope, new_seeker
from timeline.api import create_app
from timeline.clock import FixedClock
from timeline.domain.canonical import GENESIS_HASH, chain_hash
from timeline.group_commit import GroupCommitter

UTC_MICROSECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")


@pytest.fixture(params=["direct", "group-commit-async"])
def client(make_services: MakeServices, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    services = make_services()
    if request.param == "direct":
        with TestClient(create_app(services), headers=bearer("admin")) as c:
            yield c
        return
    with (
        GroupCommitter(services.app) as committer,
        TestClient(create_app(services, append=committer), headers=bearer("admin")) as c,
    ):
        yield c


@pytest.mark.parametrize("microseconds", [0, 123])
def test_recorded_at_reads_back_exactly_as_the_append_answered_it(
    client: TestClient, clock: FixedClock, microseconds: int
) -> None:
    clock.advance(microseconds=microseconds)
    seeker = new_seeker()
    [answer] = client.post("/v1/events", json=envelope("job_search_started", seeker)).json()
    [read] = client.get(f"/v1/seekers/{seeker}/events").json()["events"]
    [fed] = client.get("/v1/feed", params={"after": 0}).json()["events"]
    assert UTC_MICROSECONDS.match(answer["recorded_at"]), answer["recorded_at"]
    assert answer["recorded_at"] == read["recorded_at"] == fed["recorded_at"]
    assert answer["recorded_at"] == clock().isoformat(timespec="microseconds")
    # the text the chain covers: an auditor recomputes the link from the answer as given
    link = chain_hash(
        GENESIS_HASH,
        digest=read["digest"],
        seeker_id=seeker,
        version=1,
        recorded_at=read["recorded_at"],
    )
    assert link == answer["hash"] == read["hash"]
    [logged, *_] = client.get("/v1/access-log", params={"seeker_id": seeker}).json()["entries"]
    assert UTC_MICROSECONDS.match(logged["at"]), logged["at"]
