"""Altering, deleting or reordering stored rows is caught by recomputing the hash chain."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import psycopg
import pytest

from tests import pg
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.verify import verify_all, verify_seeker

Execute = Callable[[str, tuple[object, ...]], list[tuple[object, ...]]]


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[tuple[TimelineApp, Execute, str]]:
    kind = str(request.param)
    url = url_for(kind)
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    if kind == "sqlite":
        path = urlparse(url).path[1:]

        def execute(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
            with sqlite3.connect(path) as conn:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()

        yield app, execute, "stored_events"
    else:
        parsed = urlparse(url)
        schema = parsed.query.split("=", 1)[1]

        def execute(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
            with psycopg.connect(pg.admin_dsn(parsed.path[1:]), autocommit=True) as conn:
                conn.execute(f'SET search_path TO "{schema}"')
                cur = conn.execute(sql, params)  # type: ignore[arg-type]
                return cur.fetchall() if cur.description else []

        yield app, execute, "timeline_events"
    app.close()


def _three_events(app: TimelineApp, clock: FixedClock) -> str:
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    clock.advance(hours=1)
    app.append([event("meeting_held", seeker, {"kind": "initial_interview", "channel": "phone"})])
    clock.advance(hours=1)
    app.append([event("coach_assigned", seeker, {"coach_id": "coach-7"})])
    return seeker


def _id(app: TimelineApp, seeker: str) -> object:
    """The originator id as the store keeps it (hex text on SQLite, uuid on PostgreSQL)."""
    return seeker.replace("-", "") if "sqlite" in app.settings.database_url else seeker


def test_an_untouched_store_verifies_clean(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, _, _ = store
    seekers = [_three_events(app, clock) for _ in range(3)]
    assert all(verify_seeker(app, s) is None for s in seekers)
    assert list(verify_all(app)) == []


def test_altering_one_stored_events_bytes_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, events = store
    seeker = _three_events(app, clock)
    other = _three_events(app, clock)
    [(state,)] = execute(
        f"SELECT state FROM {events} WHERE originator_id=%s AND originator_version=2",
        (_id(app, seeker),),
    )
    altered = bytes(state).replace(b"phone", b"video")  # type: ignore[arg-type]
    assert altered != bytes(state)  # type: ignore[arg-type]
    execute(
        f"UPDATE {events} SET state=%s WHERE originator_id=%s AND originator_version=2",
        (altered, _id(app, seeker)),
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 2
    assert "content" in broken.reason
    assert [b.seeker_id for b in verify_all(app)] == [seeker]
    assert verify_seeker(app, other) is None


def test_deleting_a_stored_event_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, events = store
    seeker = _three_events(app, clock)
    execute(
        f"DELETE FROM {events} WHERE originator_id=%s AND originator_version=2", (_id(app, seeker),)
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 2
    assert "missing" in broken.reason


def test_deleting_the_last_stored_event_is_detected_by_its_orphaned_index_entry(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, events = store
    seeker = _three_events(app, clock)
    execute(
        f"DELETE FROM {events} WHERE originator_id=%s AND originator_version=3", (_id(app, seeker),)
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 3
    assert "deleted" in broken.reason


def test_reordering_stored_events_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, events = store
    seeker = _three_events(app, clock)
    rows = execute(
        f"SELECT originator_version, state FROM {events} WHERE originator_id=%s "
        "ORDER BY originator_version",
        (_id(app, seeker),),
    )
    states = {int(v): bytes(s) for v, s in rows}  # type: ignore[call-overload, arg-type]
    for version, other in ((2, 3), (3, 2)):
        execute(
            f"UPDATE {events} SET state=%s WHERE originator_id=%s AND originator_version=%s",
            (states[other], _id(app, seeker), version),
        )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 2


def test_rewriting_an_index_digest_breaks_the_chain(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, _events = store
    seeker = _three_events(app, clock)
    execute(
        "UPDATE timeline_event_index SET digest=%s WHERE version=1 AND seeker_id=%s",
        ("0" * 64, seeker),
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 1
