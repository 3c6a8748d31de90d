"""Altering, deleting or reordering stored rows is caught by recomputing the hash chain and
every index field from the stored events; the access log's head, sealed in the daily digests,
catches a shortened, emptied, recomputed or forged access log. Each attack is what a database
administrator could do (triggers disabled where they are in the way)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import psycopg
import pytest

from tests import pg
from tests.factories import VALID_CODE, event, new_seeker
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.store.index import INDEX_COLUMNS
from timeline.verify import all_seekers, verify_all, verify_seeker

Execute = Callable[[str, tuple[object, ...]], list[tuple[object, ...]]]


def _executor(kind: str, url: str, *, as_dba: bool = False) -> Execute:
    """Run one statement on the store's database outside the application. ``as_dba``: as an
    administrator would, with the access log's triggers out of the way (on PostgreSQL by
    ``session_replication_role``; SQLite has no such switch, so its triggers are dropped)."""
    parsed = urlparse(url)
    if kind == "sqlite":
        path = parsed.path[1:]

        def execute(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
            with sqlite3.connect(path) as conn:
                if as_dba:
                    for name in ("no_update", "no_delete"):
                        conn.execute(f"DROP TRIGGER IF EXISTS timeline_access_log_{name}")
                return conn.execute(sql.replace("%s", "?"), params).fetchall()

        return execute
    schema = parsed.query.split("=", 1)[1]

    def execute_pg(sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(pg.admin_dsn(parsed.path[1:]), autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            if as_dba:
                conn.execute("SET session_replication_role = replica")
            cur = conn.execute(sql, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    return execute_pg


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[tuple[TimelineApp, Execute, str]]:
    kind = str(request.param)
    url = url_for(kind)
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    yield app, _executor(kind, url), "stored_events" if kind == "sqlite" else "timeline_events"
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


# -- the index against the stored events, field by field (issue 10 §5) ----------------------------


def _swap_positions(execute: Execute, events: str, kind: str, a: object, c: object) -> None:
    """Swap the positions of A's version 2 and C's version 3 in the events table only (as a
    DBA could)."""
    column = "rowid" if kind == "sqlite" else "notification_id"
    where = "originator_id=%s AND originator_version=%s"
    [(pa,)] = execute(f"SELECT {column} FROM {events} WHERE {where}", (a, 2))
    [(pc,)] = execute(f"SELECT {column} FROM {events} WHERE {where}", (c, 3))
    execute(f"UPDATE {events} SET {column}=%s WHERE {where}", (-1, a, 2))
    execute(f"UPDATE {events} SET {column}=%s WHERE {where}", (pa, c, 3))
    execute(f"UPDATE {events} SET {column}=%s WHERE {where}", (pc, a, 2))


def test_swapping_two_events_positions_in_the_events_table_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, events = store
    kind = "sqlite" if "sqlite" in app.settings.database_url else "postgres"
    a, c = _three_events(app, clock), _three_events(app, clock)
    [row_a] = app.index.index_for_seeker(a, after_version=1, to_version=2)
    _swap_positions(execute, events, kind, _id(app, a), _id(app, c))
    # the attack works: the feed now pairs A's index entry with C's payload
    [served] = app.feed(after=row_a.position - 1, limit=1)  # type: ignore[operator]
    assert served["seeker_id"] == a and served["data"] == {"coach_id": "coach-7"}
    broken = {b.seeker_id: b for b in verify_all(app)}
    assert set(broken) == {a, c}
    assert broken[a].version == 2 and broken[a].fields == ("position",)
    assert broken[c].version == 3 and broken[c].fields == ("position",)
    assert "position" in broken[a].reason


def test_positions_out_of_version_order_are_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    """Versions 2 and 3 swap places in the global order, in the events table and the index
    alike (so each index entry still agrees with its stored event)."""
    app, execute, events = store
    kind = "sqlite" if "sqlite" in app.settings.database_url else "postgres"
    seeker = _three_events(app, clock)
    column = "rowid" if kind == "sqlite" else "notification_id"
    rows = {r.version: r.position for r in app.index.index_for_seeker(seeker)}
    for version, position in ((2, -2), (3, rows[2]), (2, rows[3])):
        execute(
            f"UPDATE {events} SET {column}=%s WHERE originator_id=%s AND originator_version=%s",
            (position, _id(app, seeker), version),
        )
        execute(
            "UPDATE timeline_event_index SET position=%s WHERE seeker_id=%s AND version=%s",
            (position, seeker, version),
        )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 3
    assert "position" in broken.fields


#: For each index column, a value other than the one version 2 (a meeting_held recorded on
#: 2025-06-02 without a time or a person reference) has.
ALTERED: dict[str, object] = {
    "event_id": "00000000-0000-4000-8000-000000000001",
    "seeker_id": "00000000-0000-4000-8000-000000000002",
    "version": 7,
    "position": 9_999,
    "type": "contact_made",
    "occurred_at": "2025-06-02T10:00:00+03:00",
    "occurred_on": "2025-05-01",
    "recorded_at": "2025-06-01T00:00:00.000000+00:00",
    "digest": "0" * 64,
    "hash": "f" * 64,
    "person_ref": "a" * 64,
}


def test_every_index_column_is_covered() -> None:
    assert set(ALTERED) == set(INDEX_COLUMNS)


@pytest.mark.parametrize("column", INDEX_COLUMNS)
def test_altering_any_index_column_is_detected_and_named(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock, column: str
) -> None:
    app, execute, _events = store
    seeker = _three_events(app, clock)
    other = _three_events(app, clock)
    execute(
        f"UPDATE timeline_event_index SET {column}=%s WHERE seeker_id=%s AND version=2",
        (ALTERED[column], seeker),
    )
    broken = [b for b in verify_all(app) if b.seeker_id == seeker]
    assert len(broken) == 1, list(verify_all(app))
    assert broken[0].version == 2
    assert column in broken[0].fields
    assert column in broken[0].reason
    assert verify_seeker(app, other) is None


def test_editing_the_index_type_changes_the_history_and_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, _events = store
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    app.append([event("contact_made", seeker, {"channel": "phone", "direction": "outbound"})])
    execute(
        "UPDATE timeline_event_index SET type='meeting_held', occurred_on='2025-05-30' "
        "WHERE seeker_id=%s AND version=2",
        (seeker,),
    )
    # the attack works: the history shows what the index says
    shown = app.history(seeker)[1].to_dict()
    assert (shown["type"], shown["occurred_on"]) == ("meeting_held", "2025-05-30")
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.fields == ("type", "occurred_on")
    assert "'meeting_held' in the index but 'contact_made'" in broken.reason


def test_redirecting_an_identity_look_up_through_the_index_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, _events = store
    victim = _three_events(app, clock)
    intruder = new_seeker()
    app.append(
        [
            event(
                "job_search_started",
                intruder,
                {"municipality": "091", "labour_market_status": "unemployed"},
            )
        ]
    )
    [(victims_ref,)] = execute(
        "SELECT person_ref FROM timeline_event_index WHERE seeker_id=%s AND version=1",
        (victim,),
    )
    execute(
        "UPDATE timeline_event_index SET person_ref=%s WHERE seeker_id=%s AND version=1",
        (victims_ref, intruder),
    )
    assert intruder in app.lookup_person(VALID_CODE)  # the attack works
    broken = verify_seeker(app, intruder)
    assert broken is not None
    assert broken.fields == ("person_ref",)
    assert verify_seeker(app, victim) is None


def test_a_seeker_whose_index_entries_are_all_removed_is_still_verified(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, _events = store
    seeker = _three_events(app, clock)
    _three_events(app, clock)
    execute("DELETE FROM timeline_event_index WHERE seeker_id=%s", (seeker,))
    [broken] = list(verify_all(app))
    assert (broken.seeker_id, broken.version) == (seeker, 1)
    assert "no index entry" in broken.reason


def test_verify_reads_every_seeker_with_its_stored_positions(
    app: TimelineApp, clock: FixedClock
) -> None:
    """On every store: the read verify compares the index with gives each stored event with
    the position the feed serves it at, and the seekers are paged completely."""
    seekers = sorted(_three_events(app, clock) for _ in range(5))
    for s in seekers:
        stored = app.index.seeker_notifications(s)
        rows = app.index.index_for_seeker(s)
        assert [(n.originator_version, n.id) for n in stored] == [
            (r.version, r.position) for r in rows
        ]
        served = {e["position"]: e["event_id"] for e in app.feed(after=0, limit=100)}
        assert [served[n.id] for n in stored] == [r.event_id for r in rows]
    assert list(all_seekers(app, page=2)) == seekers
    assert list(verify_all(app)) == []


def test_values_no_append_writes_are_reported_not_a_crash(
    url_for: Callable[[str], str], clock: FixedClock
) -> None:
    """SQLite keeps whatever is written into a column: verify names the seeker."""
    url = url_for("sqlite")
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    execute = _executor("sqlite", url)
    a, b = _three_events(app, clock), _three_events(app, clock)
    execute(
        "UPDATE stored_events SET state=NULL WHERE originator_id=%s AND originator_version=3",
        (_id(app, a),),
    )
    execute("UPDATE timeline_event_index SET recorded_at='yesterday' WHERE seeker_id=%s", (b,))
    broken = {x.seeker_id: x for x in verify_all(app)}
    assert "unreadable" in broken[a].reason and broken[a].version == 3
    assert "index entries unreadable" in broken[b].reason
    app.close()
