"""Group commit: concurrent requests share one transaction, yet each keeps the append contract
of its own (all or nothing, duplicates, expected_version) and fails alone. Run on the
in-memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import MakeApp
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.audit.verify import verify_seeker
from timeline.domain.errors import Conflict, InvalidEvent, OutOfScope
from timeline.domain.timeline import Timeline
from timeline.group_commit import GroupCommitter
from timeline.results import Appended
from timeline.store.index import IndexRow
from timeline.vocabulary import ParsedEvent


@pytest.fixture
def app(make_app: MakeApp) -> TimelineApp:
    return make_app(postgres_pool_size=8)


@pytest.fixture
def committer(app: TimelineApp) -> Iterator[GroupCommitter]:
    # A long gathering wait so that requests submitted together land in one group.
    with GroupCommitter(app, max_batch=1000, max_wait_ms=300) as c:
        yield c


def _together(
    committer: GroupCommitter, requests: Sequence[Sequence[ParsedEvent]]
) -> list[list[Appended] | Exception]:
    """Submit every request at once from its own thread; each one's result or error."""
    gate = threading.Barrier(len(requests))

    def one(events: Sequence[ParsedEvent]) -> list[Appended] | Exception:
        gate.wait()
        try:
            return committer.submit(events)
        except (InvalidEvent, Conflict) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(one, requests))


def _scoped_together(
    committer: GroupCommitter,
    requests: Sequence[tuple[Sequence[ParsedEvent], frozenset[str] | None]],
) -> list[list[Appended] | Exception]:
    """As :func:`_together`, each request with its caller's scope."""
    gate = threading.Barrier(len(requests))

    def one(
        request: tuple[Sequence[ParsedEvent], frozenset[str] | None],
    ) -> list[Appended] | Exception:
        gate.wait()
        try:
            return committer.submit(request[0], scope=request[1])
        except (InvalidEvent, Conflict, OutOfScope) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(one, requests))


def _start(seeker: str, municipality: str) -> ParsedEvent:
    data = {"municipality": municipality, "labour_market_status": "unemployed"}
    return event("job_search_started", seeker, data)


def test_concurrent_callers_each_get_exactly_their_own_results(
    app: TimelineApp, committer: GroupCommitter
) -> None:
    seekers = [new_seeker() for _ in range(12)]
    requests = [[event("job_search_started", s), event("coach_assigned", s)] for s in seekers]
    outcomes = _together(committer, requests)
    for request, outcome in zip(requests, outcomes, strict=True):
        assert isinstance(outcome, list)
        assert [a.event_id for a in outcome] == [e.event_id for e in request]
        assert [a.seeker_id for a in outcome] == [e.seeker_id for e in request]
        assert [a.version for a in outcome] == [1, 2]
        assert not any(a.duplicate for a in outcome)
    assert committer.stats.groups < len(requests)  # they were gathered
    positions = sorted(a.position for o in outcomes if isinstance(o, list) for a in o)
    assert positions == sorted(f["position"] for f in app.feed(0, 100))
    assert all(verify_seeker(app, s) is None for s in seekers)


def test_a_refused_request_fails_alone_and_its_batch_mates_land(
    app: TimelineApp, committer: GroupCommitter
) -> None:
    s, t = new_seeker(), new_seeker()
    [opened] = committer.submit([event("job_search_started", s)])
    requests: list[list[ParsedEvent]] = [
        [event("coach_assigned", s, {"coach_id": "c-1"})],  # lands
        [event("service_started", s, {"service_id": "x"})],  # breaks a timeline rule
        [event("coach_assigned", s, {"coach_id": "c-2"}, expected_version=0)],  # stale
        [event("job_search_started", t, event_id=opened.event_id)],  # reused id, other content
        [event("job_search_started", t)],  # lands
    ]
    outcomes = _together(committer, requests)
    by_id = {r[0].event_id: o for r, o in zip(requests, outcomes, strict=True)}
    assert isinstance(by_id[requests[1][0].event_id], InvalidEvent)
    stale = by_id[requests[2][0].event_id]
    assert isinstance(stale, Conflict)
    assert isinstance(by_id[requests[3][0].event_id], Conflict)
    landed = [o for o in outcomes if isinstance(o, list)]
    assert len(landed) == 2
    assert {a[0].event_id for a in landed} == {requests[0][0].event_id, requests[4][0].event_id}
    assert [e.fact.type for e in app.history(s)] == ["job_search_started", "coach_assigned"]
    assert [e.fact.type for e in app.history(t)] == ["job_search_started"]
    assert verify_seeker(app, s) is None


def test_a_batch_refused_halfway_leaves_no_trace_for_the_next_request(
    app: TimelineApp, committer: GroupCommitter
) -> None:
    s = new_seeker()
    committer.submit([event("job_search_started", s)])
    half_bad = [
        event("coach_assigned", s, {"coach_id": "c-1"}),
        event("service_started", s, {"service_id": "x"}),
    ]
    after = [event("coach_assigned", s, {"coach_id": "c-2"}, expected_version=1)]
    outcomes = _together(committer, [half_bad, after])
    assert isinstance(outcomes[0], InvalidEvent)
    assert outcomes[0].index == 1
    assert isinstance(outcomes[1], list)
    assert outcomes[1][0].version == 2
    assert [e.fact.event_id for e in app.history(s)][1:] == [after[0].event_id]
    assert verify_seeker(app, s) is None


def test_the_same_event_sent_twice_at_once_is_written_once(
    app: TimelineApp, committer: GroupCommitter
) -> None:
    e = event("job_search_started", new_seeker())
    outcomes = _together(committer, [[e], [e]])
    answers = [o[0] for o in outcomes if isinstance(o, list)]
    assert len(answers) == 2
    assert sorted(a.duplicate for a in answers) == [False, True]
    assert answers[0].position == answers[1].position
    assert len(app.feed(0, 10)) == 1


def test_each_callers_requests_keep_their_order_per_seeker(
    app: TimelineApp, make_app: MakeApp
) -> None:
    seekers = [new_seeker() for _ in range(6)]
    with GroupCommitter(app, max_batch=50, max_wait_ms=1) as committer:

        def caller(seeker: str) -> list[int]:
            versions = [committer.submit([event("job_search_started", seeker)])[0].version]
            for i in range(15):
                [a] = committer.submit([event("coach_assigned", seeker, {"coach_id": f"c{i}"})])
                versions.append(a.version)
            return versions

        with ThreadPoolExecutor(max_workers=len(seekers)) as pool:
            results = list(pool.map(caller, seekers))
    assert all(v == list(range(1, 17)) for v in results)
    for s in seekers:
        coaches = [e.fact.data.get("coach_id") for e in app.history(s)][1:]
        assert coaches == [f"c{i}" for i in range(15)]
        assert verify_seeker(app, s) is None
    feed = app.feed(0, 1000)
    assert [f["position"] for f in feed] == sorted(f["position"] for f in feed)


def test_a_race_lost_at_the_database_falls_back_to_one_request_at_a_time(
    app: TimelineApp, committer: GroupCommitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an event_id already stored, and the group's duplicate check misses it once
    first = new_seeker()
    [taken] = committer.submit([event("job_search_started", first)])
    real = app.look_up
    calls = {"n": 0}

    def racing(ids: list[str], seekers: list[str]) -> object:
        calls["n"] += 1
        known, erased, timelines = real(ids, seekers)
        return ({} if calls["n"] == 1 else known), erased, timelines

    monkeypatch.setattr(app, "look_up", racing)
    clash = [event("job_search_started", new_seeker(), event_id=taken.event_id)]
    fine = [event("job_search_started", new_seeker())]
    outcomes = _together(committer, [clash, fine])
    # Then the combined save was refused, and each request was decided again on its own
    assert committer.stats.fallbacks == 1
    assert isinstance(outcomes[0], Conflict)
    assert isinstance(outcomes[1], list)
    assert outcomes[1][0].version == 1
    assert len(app.feed(0, 10)) == 2


def test_an_empty_request_is_answered_at_once_and_a_closed_committer_refuses(
    app: TimelineApp,
) -> None:
    committer = GroupCommitter(app)
    assert committer.submit([]) == []
    committer.close()
    with pytest.raises(RuntimeError):
        committer.submit([event("job_search_started", new_seeker())])


def test_coroutines_share_transactions_and_each_gets_its_own_answer_or_refusal(
    app: TimelineApp, committer: GroupCommitter
) -> None:
    seekers = [new_seeker() for _ in range(8)]
    bad = event("coach_assigned", new_seeker())  # no timeline yet: refused alone

    async def main() -> list[list[Appended] | BaseException]:
        requests = [[event("job_search_started", s)] for s in seekers] + [[bad]]
        return await asyncio.gather(
            *(committer.submit_async(r) for r in requests), return_exceptions=True
        )

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[-1], InvalidEvent)
    for seeker, outcome in zip(seekers, outcomes, strict=False):
        assert isinstance(outcome, list)
        assert [(a.seeker_id, a.version) for a in outcome] == [(seeker, 1)]
    assert committer.stats.groups < len(seekers)  # they were gathered, not one by one
    assert asyncio.run(committer.submit_async([])) == []


LAHTI, HELSINKI = frozenset({"398"}), frozenset({"091"})


def test_a_request_outside_its_callers_scope_fails_alone(
    app: TimelineApp, committer: GroupCommitter
) -> None:
    lahti, helsinki = new_seeker(), new_seeker()
    committer.submit([_start(lahti, "398"), _start(helsinki, "091")])
    requests = [
        ([event("coach_assigned", helsinki, {"coach_id": "c-1"})], LAHTI),  # not Lahti's
        ([event("coach_assigned", lahti, {"coach_id": "c-2"})], LAHTI),
        ([event("coach_assigned", helsinki, {"coach_id": "c-3"})], HELSINKI),
        ([event("coach_assigned", helsinki, {"coach_id": "c-4"})], None),  # an operator
    ]
    outcomes = _scoped_together(committer, requests)
    refused = outcomes[0]
    assert isinstance(refused, OutOfScope)
    assert (refused.index, refused.seeker_id) == (0, helsinki)
    assert all(isinstance(o, list) for o in outcomes[1:])
    assert committer.stats.groups < 1 + len(requests)  # they were gathered
    coaches = [str(f.data["coach_id"]) for f in app.facts(helsinki)[1:]]
    assert sorted(coaches) == ["c-3", "c-4"]
    assert [f.type for f in app.facts(lahti)] == ["job_search_started", "coach_assigned"]


def test_a_group_decided_again_after_a_lost_race_keeps_each_callers_scope(
    app: TimelineApp, committer: GroupCommitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a seeker of Lahti, transferred to Helsinki by another writer right after the
    # committer loaded it (so the group decides on the old timeline and loses the race)
    seeker = new_seeker()
    committer.submit([_start(seeker, "398")])
    real = app.look_up
    raced: list[bool] = []

    def load_then_race(
        event_ids: Sequence[str], seeker_ids: Sequence[str]
    ) -> tuple[dict[str, IndexRow], set[str], dict[str, Timeline | None]]:
        loaded = real(event_ids, seeker_ids)
        if not raced:
            raced.append(True)
            app.append([event("seeker_transferred", seeker, {"to_municipality": "091"})])
        return loaded

    monkeypatch.setattr(app, "look_up", load_then_race)
    # When Lahti's writer appends to it
    with pytest.raises(OutOfScope):
        committer.submit([event("coach_assigned", seeker)], scope=LAHTI)
    # Then the decision made again, one request at a time, judged Lahti's scope on the store
    assert committer.stats.fallbacks == 1
    assert [f.type for f in app.facts(seeker)] == ["job_search_started", "seeker_transferred"]
