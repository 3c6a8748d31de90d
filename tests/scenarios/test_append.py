"""The append contract of EVENTS.md, run unchanged on the in-memory, SQLite and PostgreSQL
stores (the ``store_url`` fixture is parametrised over all three)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.domain.errors import Conflict, InvalidEvent, NotFound
from timeline.settings import Settings


def _positions(app: TimelineApp) -> list[int]:
    return [row["position"] for row in app.feed(0, 1000)]


def test_appended_events_get_versions_positions_recorded_time_and_a_chain(
    app: TimelineApp, clock: FixedClock
) -> None:
    seeker = new_seeker()
    results = app.append(
        [event("job_search_started", seeker), event("meeting_held", seeker, on="2025-06-03")]
    )
    assert [r.version for r in results] == [1, 2]
    assert results[0].position < results[1].position
    assert all(r.recorded_at == clock() for r in results)
    assert all(not r.duplicate for r in results)
    assert results[0].hash != results[1].hash
    assert len(results[0].hash) == 64


def test_a_retry_with_the_same_content_is_a_duplicate_with_the_original_position(
    app: TimelineApp, clock: FixedClock
) -> None:
    seeker = new_seeker()
    first = event("job_search_started", seeker)
    [original] = app.append([first])
    clock.advance(minutes=5)
    [retry] = app.append([first])
    assert retry.duplicate
    assert (retry.position, retry.version, retry.hash, retry.recorded_at) == (
        original.position,
        original.version,
        original.hash,
        original.recorded_at,
    )
    assert _positions(app) == [original.position]


def test_the_same_event_id_with_other_content_is_a_conflict_and_writes_nothing(
    app: TimelineApp,
) -> None:
    seeker = new_seeker()
    first = event("job_search_started", seeker)
    app.append([first])
    changed = event(
        "job_search_started",
        seeker,
        event_id=first.event_id,
        data={"municipality": "091", "labour_market_status": "unemployed"},
    )
    with pytest.raises(Conflict) as refused:
        app.append([changed])
    assert refused.value.event_id == first.event_id
    assert len(_positions(app)) == 1


def test_a_stale_expected_version_is_a_conflict_carrying_the_current_version(
    app: TimelineApp,
) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker), event("coach_assigned", seeker)])
    with pytest.raises(Conflict) as refused:
        app.append([event("meeting_held", seeker, expected_version=1)])
    assert refused.value.current_version == 2
    [ok] = app.append([event("meeting_held", seeker, expected_version=2)])
    assert ok.version == 3


def test_a_batch_is_atomic_one_bad_event_writes_none(app: TimelineApp) -> None:
    a, b = new_seeker(), new_seeker()
    good = [event("job_search_started", a), event("job_search_started", b)]
    orphan = event("service_started", b, {"service_id": "svc-1"})
    with pytest.raises(InvalidEvent) as refused:
        app.append([*good, orphan])
    assert refused.value.index == 2
    assert refused.value.errors[0].loc == "data.service_id"
    assert _positions(app) == []
    with pytest.raises(NotFound):
        app.history(a)


def test_only_job_search_started_opens_a_timeline(app: TimelineApp) -> None:
    with pytest.raises(InvalidEvent) as refused:
        app.append([event("meeting_held", new_seeker())])
    assert refused.value.errors[0].loc == "type"


def test_nothing_but_a_new_start_after_the_spell_ended(app: TimelineApp) -> None:
    seeker = new_seeker()
    app.append(
        [
            event("job_search_started", seeker, on="2025-01-07"),
            event("job_search_ended", seeker, on="2025-03-03"),
        ]
    )
    with pytest.raises(InvalidEvent, match="no job-search spell is open"):
        app.append([event("meeting_held", seeker, on="2025-04-01")])
    [restart] = app.append([event("job_search_started", seeker, on="2025-04-01")])
    assert restart.version == 3


def test_a_second_start_while_a_spell_is_open_is_refused(app: TimelineApp) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker, on="2025-01-07")])
    with pytest.raises(InvalidEvent, match="already open"):
        app.append([event("job_search_started", seeker, on="2025-02-01")])


def test_a_service_needs_an_earlier_referral_of_that_service(app: TimelineApp) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    referral = event(
        "service_referred", seeker, {"service_id": "svc-9", "service_type": "coaching"}
    )
    start = event("service_started", seeker, {"service_id": "svc-9"})
    end = event("service_ended", seeker, {"service_id": "svc-9", "end_reason": "completed"})
    with pytest.raises(InvalidEvent):
        app.append([end])
    assert [r.version for r in app.append([referral, start, end])] == [2, 3, 4]


def test_corrections_and_retractions_must_name_an_event_of_the_same_seeker(
    app: TimelineApp,
) -> None:
    mine, other = new_seeker(), new_seeker()
    [theirs] = app.append([event("job_search_started", other)])
    app.append([event("job_search_started", mine)])
    with pytest.raises(InvalidEvent) as refused:
        app.append(
            [
                event(
                    "retraction",
                    mine,
                    {"retracts_event_id": theirs.event_id, "reason": "wrong seeker"},
                )
            ]
        )
    assert refused.value.errors[0].loc == "data.retracts_event_id"


def test_an_event_too_far_in_the_future_is_refused(app: TimelineApp, clock: FixedClock) -> None:
    seeker = new_seeker()
    soon = (clock() + timedelta(minutes=4)).isoformat()
    later = (clock() + timedelta(hours=2)).isoformat()
    app.append([event("job_search_started", seeker, at=soon)])
    with pytest.raises(InvalidEvent) as refused:
        app.append([event("coach_assigned", seeker, at=later)])
    assert refused.value.errors[0].loc == "occurred_at"


def test_the_identity_code_is_stored_only_as_a_keyed_hash_and_finds_the_seeker(
    app: TimelineApp,
) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    [entry] = app.history(seeker)
    assert "personal_identity_code" not in entry.fact.data
    assert len(str(entry.fact.data["person_ref"])) == 64
    assert "131052" not in repr(app.feed(0, 10))
    assert app.lookup_person("131052-308T") == [seeker]
    assert app.lookup_person("010594Y9032") == []


def test_history_as_known_at_a_moment_excludes_later_recordings(
    app: TimelineApp, clock: FixedClock
) -> None:
    seeker = new_seeker()
    [start] = app.append([event("job_search_started", seeker, on="2025-06-02")])
    before_backdating = clock()
    clock.advance(days=20)
    # Given an interview held on 4 June but recorded 20 days later
    app.append([event("meeting_held", seeker, on="2025-06-04")])
    then = app.history(seeker, as_of=before_backdating)
    now = app.history(seeker)
    assert [e.fact.type for e in then] == ["job_search_started"]
    assert [e.fact.type for e in now] == ["job_search_started", "meeting_held"]
    assert now[1].to_dict()["recorded_late_days"] >= 19
    with pytest.raises(NotFound):
        app.history(seeker, as_of=start.recorded_at - timedelta(seconds=1))


def test_a_correction_marks_the_original_superseded_and_both_stay(
    app: TimelineApp, clock: FixedClock
) -> None:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    [held] = app.append(
        [event("meeting_held", seeker, {"kind": "job_search_conversation", "channel": "phone"})]
    )
    clock.advance(days=1)
    [fix] = app.append(
        [
            event(
                "correction",
                seeker,
                {
                    "corrects_event_id": held.event_id,
                    "reason": "it was the initial interview",
                    "replacement": {
                        "type": "meeting_held",
                        "occurred_on": "2025-06-02",
                        "data": {"kind": "initial_interview", "channel": "phone"},
                    },
                },
            )
        ]
    )
    history = {e.fact.event_id: e for e in app.history(seeker)}
    assert history[held.event_id].status == "superseded"
    assert history[held.event_id].superseded_by == [fix.event_id]
    assert history[fix.event_id].status == "valid"
    before = {
        e.fact.event_id: e
        for e in app.history(seeker, as_of=fix.recorded_at - timedelta(seconds=1))
    }
    assert before[held.event_id].status == "valid"


def test_history_pages_by_version(app: TimelineApp) -> None:
    seeker = new_seeker()
    app.append(
        [event("job_search_started", seeker)]
        + [event("coach_assigned", seeker, {"coach_id": f"c{i}"}) for i in range(5)]
    )
    first = app.history(seeker, limit=4)
    rest = app.history(seeker, after_version=first[-1].index.version)
    assert [e.index.version for e in first + rest] == [1, 2, 3, 4, 5, 6]


def test_the_feed_follows_the_global_order_across_seekers(app: TimelineApp) -> None:
    a, b = new_seeker(), new_seeker()
    app.append([event("job_search_started", a)])
    app.append([event("job_search_started", b)])
    app.append([event("coach_assigned", a)])
    feed = app.feed(0, 10)
    assert [(f["seeker_id"], f["version"]) for f in feed] == [(a, 1), (b, 1), (a, 2)]
    assert app.feed(feed[0]["position"], 10)[0]["seeker_id"] == b


def test_a_repeat_inside_one_batch_is_answered_once(app: TimelineApp) -> None:
    seeker = new_seeker()
    start = event("job_search_started", seeker)
    results = app.append([start, start])
    assert results[0].position == results[1].position
    assert len(_positions(app)) == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_reopened_persistent_store_keeps_everything(
    kind: str, url_for: Callable[[str], str], clock: FixedClock
) -> None:
    url = url_for(kind)
    settings = Settings(database_url=url, environment="test")
    first = TimelineApp(settings=settings, clock=clock)
    seeker = new_seeker()
    first.append([event("job_search_started", seeker)])
    first.close()
    again = TimelineApp(settings=settings, clock=clock)
    try:
        assert [e.fact.type for e in again.history(seeker)] == ["job_search_started"]
    finally:
        again.close()


def test_an_event_id_race_lost_at_the_database_rolls_back_and_is_decided_again(
    app: TimelineApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another seeker's event already holds an event_id, and our pre-check misses it once
    # (as when two writers race between the check and the insert)
    first, second = new_seeker(), new_seeker()
    [taken] = app.append([event("job_search_started", first)])
    real = app.look_up
    calls = {"n": 0}

    def racing(ids: list[str], seekers: list[str]) -> object:
        calls["n"] += 1
        known, erased, timelines = real(ids, seekers)
        return ({} if calls["n"] == 1 else known), erased, timelines

    monkeypatch.setattr(app, "look_up", racing)
    # When the same event_id is appended for another seeker with other content
    with pytest.raises(Conflict):
        app.append([event("job_search_started", second, event_id=taken.event_id)])
    # Then the unique index refused the insert, nothing of it was written, and the retry
    # decided it as a conflict
    assert calls["n"] == 2
    assert [f["seeker_id"] for f in app.feed(0, 10)] == [first]
    with pytest.raises(NotFound):
        app.history(second)
