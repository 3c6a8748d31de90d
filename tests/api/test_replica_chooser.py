"""The reader chooser (timeline.api.replica): which database serves a read. Its clock and sleep
are fakes: the bounded wait is counted, not timed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
import pytest
from fastapi.testclient import TestClient

from timeline.api.app import create_app
from timeline.api.replica import ReaderChooser, ReadSide, Source
from timeline.bootstrap import bootstrap
from timeline.settings import Settings


@dataclass
class Side:
    """A side whose positions are set by the test (or which is down)."""

    name: str
    positions: dict[str, int] = field(default_factory=dict)
    down: bool = False
    asked: int = 0


@dataclass
class FakeTime:
    now: float = 100.0
    slept: list[float] = field(default_factory=list)
    #: (after this many sleeps, side, source, position): the replica replays meanwhile
    replays: list[tuple[int, Side, str, int]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        for after, side, source, position in self.replays:
            if len(self.slept) == after:
                side.positions[source] = position


def _position(side: ReadSide, source: Source) -> int:
    fake = cast(Side, side)
    fake.asked += 1
    if fake.down:
        raise psycopg.OperationalError("connection refused")
    return fake.positions.get(source, 0)


def chooser(primary: Side, replica: Side | None, clock: FakeTime, wait: float = 0.2) -> Any:
    return ReaderChooser(
        cast(ReadSide, primary),
        cast(ReadSide, replica) if replica is not None else None,
        wait_seconds=wait,
        poll_seconds=0.01,
        position=_position,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )


@pytest.fixture
def sides() -> tuple[Side, Side, FakeTime]:
    return Side("primary", {"log": 50, "obligations": 50}), Side("replica"), FakeTime()


def test_without_a_replica_the_primary_serves_every_read_without_asking_anything(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    primary, _, clock = sides
    choice = chooser(primary, None, clock).choose("log", 10**9)
    assert (choice.side, choice.by) == (primary, "primary")
    assert primary.asked == 0 and clock.slept == []


def test_a_read_without_min_position_goes_to_the_replica_at_once(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    primary, replica, clock = sides
    choice = chooser(primary, replica, clock).choose("log", None)
    assert (choice.side, choice.by) == (replica, "replica")
    assert replica.asked == 0 and clock.slept == []


def test_a_replica_that_has_replayed_that_far_serves_at_once(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    primary, replica, clock = sides
    replica.positions["log"] = 42
    assert chooser(primary, replica, clock).choose("log", 42).by == "replica"
    assert clock.slept == []


def test_a_replica_that_catches_up_within_the_wait_serves(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    primary, replica, clock = sides
    replica.positions["log"] = 40
    clock.replays.append((3, replica, "log", 42))
    assert chooser(primary, replica, clock).choose("log", 42).by == "replica"
    assert len(clock.slept) == 3


def test_a_replica_still_behind_after_the_wait_is_passed_over_for_the_primary(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    primary, replica, clock = sides
    replica.positions["log"] = 41
    choice = chooser(primary, replica, clock, wait=0.2).choose("log", 42)
    assert (choice.side, choice.by) == (primary, "primary")
    assert sum(clock.slept) == pytest.approx(0.2)  # waited the bound, not longer


def test_each_read_compares_the_position_of_what_it_reads(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    """A projection's read waits for the projection's tracking position on the replica, not
    for the log's (the log may be replayed further than a projection has been kept)."""
    primary, replica, clock = sides
    replica.positions.update(log=42, obligations=30, outcomes=42)
    assert chooser(primary, replica, clock, wait=0).choose("log", 42).by == "replica"
    assert chooser(primary, replica, clock, wait=0).choose("outcomes", 42).by == "replica"
    assert chooser(primary, replica, clock, wait=0).choose("obligations", 42).by == "primary"


def test_a_replica_that_cannot_be_asked_is_passed_over_at_once(
    sides: tuple[Side, Side, FakeTime],
) -> None:
    primary, replica, clock = sides
    replica.down = True
    assert chooser(primary, replica, clock).choose("log", 1).by == "primary"
    assert clock.slept == []


READS = [
    "/v1/seekers/{seeker_id}/events",
    "/v1/seekers/{seeker_id}/obligations",
    "/v1/worklists",
    "/v1/stats/monthly",
    "/v1/feed",
]


def test_the_openapi_documents_min_position_both_ways_and_who_served() -> None:
    services = bootstrap(Settings(database_url="memory:", environment="development"))
    try:
        spec = create_app(services).openapi()
    finally:
        services.close()
    for path in READS:
        op = spec["paths"][path]["get"]
        where = {(p["in"], p["name"]) for p in op["parameters"]}
        assert {("query", "min_position"), ("header", "x-min-position")} <= where, path
        assert "X-Served-By" in op["responses"]["200"]["headers"], path
    # writes and the primary's own reads take no position
    assert "parameters" not in spec["paths"]["/v1/events"]["post"]


def test_without_a_replica_the_store_serves_as_before_and_says_so() -> None:
    services = bootstrap(Settings(database_url="memory:", environment="development"))
    try:
        client = TestClient(create_app(services))
        answer = client.get("/v1/feed", params={"min_position": 5}, headers={"X-Purpose": "t"})
        assert answer.status_code == 200
        assert answer.headers["X-Served-By"] == "primary"
        refused = client.get("/v1/feed", headers={"X-Purpose": "t", "X-Min-Position": "-1"})
        assert refused.status_code == 422
        assert "x-min-position" in refused.text
    finally:
        services.close()
