"""Altering, deleting or reordering stored rows is caught by recomputing the hash chain and
every index field from the stored events; the access log's head, sealed in the daily digests,
catches a shortened, emptied, recomputed or forged access log. Each attack is what a database
administrator could do (triggers disabled where they are in the way)."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from tests import pg
from tests.factories import VALID_CODE, event, new_seeker
from tests.stored import clear_changed, index_value
from timeline.application import TimelineApp
from timeline.audit.checks import Report, verify_store
from timeline.audit.digests import day_bounds, merkle_root
from timeline.audit.verify import all_seekers, verify_all, verify_seeker
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.domain.canonical import canonical_bytes
from timeline.domain.event_types import EventType
from timeline.settings import Settings
from timeline.store.index import INDEX_COLUMNS

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
    altered = clear_changed(bytes(state), EventType.MEETING_HELD, channel="video")  # type: ignore[arg-type]
    assert altered != bytes(state)  # type: ignore[arg-type]
    assert len(altered) == len(bytes(state))  # type: ignore[arg-type]  # one code, in place
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
    if _kind(app) == "postgres":
        # On PostgreSQL the event and its index entry are one row of the log (docs/storage.md):
        # a seeker's last event deleted leaves no orphaned entry to compare with. The daily
        # digests catch it (test_moving_an_event_…_is_caught_by_the_kept_digests's kind).
        assert broken is None
        return
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
        (index_value(_kind(app), "digest", "0" * 64), seeker),
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None
    assert broken.version == 1


# -- the index against the stored events, field by field (issue 10 §5) ----------------------------


def _kind(app: TimelineApp) -> str:
    return "sqlite" if "sqlite" in app.settings.database_url else "postgres"


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
    if kind == "postgres":
        # one row of the log per event: the index entries move with their events, so the feed
        # still pairs each entry with its own payload; the seekers' orders are what break
        broken = {b.seeker_id: b for b in verify_all(app)}
        assert set(broken) == {a, c}
        assert all(b.fields == ("position",) for b in broken.values())
        return
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
        (index_value(_kind(app), column, ALTERED[column]), seeker),
    )
    broken = [b for b in verify_all(app) if b.seeker_id == seeker]
    assert len(broken) == 1, list(verify_all(app))
    caught = LOG_CAUGHT_BY.get(column) if _kind(app) == "postgres" else None
    if caught is None:
        assert broken[0].version == 2
        assert column in broken[0].fields
        assert column in broken[0].reason
    else:
        assert broken[0].version == (3 if column == "position" else 2)
        assert caught in broken[0].reason
    assert verify_seeker(app, other) is None


#: On PostgreSQL an index entry and its stored event are one row of the log (docs/storage.md):
#: altering one of these columns alters the event too, so verify cannot name the column; it
#: is caught by what the value is sealed in (the digest covers the event id, type and day, the
#: chain hash the recorded time), by the version left missing, or by the seeker's order.
LOG_CAUGHT_BY = {
    "event_id": "digest",
    "type": "digest",
    "occurred_on": "digest",
    "recorded_at": "hash",
    "seeker_id": "missing",
    "version": "missing",
    "position": "position",
}


def test_editing_the_index_type_changes_the_history_and_is_detected(
    store: tuple[TimelineApp, Execute, str], clock: FixedClock
) -> None:
    app, execute, _events = store
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    app.append([event("contact_made", seeker, {"channel": "phone", "direction": "outbound"})])
    execute(
        "UPDATE timeline_event_index SET type=%s, occurred_on='2025-05-30' "
        "WHERE seeker_id=%s AND version=2",
        (index_value(_kind(app), "type", "meeting_held"), seeker),
    )
    # the attack works: the history shows what the index says
    shown = app.history(seeker)[1].to_dict()
    assert (shown["type"], shown["occurred_on"]) == ("meeting_held", "2025-05-30")
    broken = verify_seeker(app, seeker)
    assert broken is not None
    if _kind(app) == "postgres":  # (the event changed with its entry: LOG_CAUGHT_BY)
        assert broken.fields == ("digest",)
        return
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
    if _kind(app) == "postgres":
        # the view's rows are the log's: the seeker's events went with their entries, and
        # verify has nothing left of it to compare (the daily digests catch the deletion)
        assert list(verify_all(app)) == []
        assert app.index.seeker_notifications(seeker) == []
        return
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


# -- the access log and the event positions, sealed by the daily digests --------------------------


@dataclass
class Sealed:
    """Two days (2 and 3 June 2025) of events and access-log entries, both days sealed, the
    digests exported (``kept``) as an auditor keeps them outside the system."""

    services: Services
    kind: str
    execute: Execute
    dba: Execute
    kept: list[dict[str, Any]]
    seeker: str


@pytest.fixture(params=["sqlite", "postgres"])
def sealed(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[Sealed]:
    kind = str(request.param)
    url = url_for(kind)
    services = bootstrap(Settings(database_url=url, environment="test"), clock)
    seeker = new_seeker()
    for day, types in ((2, ["job_search_started"]), (3, ["meeting_held", "coach_assigned"])):
        clock.set(datetime(2025, 6, day, 7, tzinfo=UTC))
        services.app.append([event(t, seeker, on=f"2025-06-0{day}") for t in types])
        for actor in ("cw-1", "cw-2"):
            clock.advance(hours=1)
            services.access_log.record(
                actor=actor, role="caseworker", action="history", seeker_id=seeker, purpose="case"
            )
    clock.set(datetime(2025, 6, 4, 7, tzinfo=UTC))
    for day in (2, 3):
        services.digests.seal(date(2025, 6, day))
    kept = [d.to_dict() for d in services.digests.kept()]
    assert verify_store(services.app, services.access_log, services.digests, kept_digests=kept).ok
    yield Sealed(
        services, kind, _executor(kind, url), _executor(kind, url, as_dba=True), kept, seeker
    )
    services.close()


def _verify(sealed: Sealed) -> Report:
    s = sealed.services
    return verify_store(s.app, s.access_log, s.digests, kept_digests=sealed.kept)


def _problems(sealed: Sealed) -> dict[str, str]:
    """The digest problems by day; the access log's own chain must still verify (so only the
    sealed head can tell)."""
    report = _verify(sealed)
    assert report.access_log is None
    return {p[:10]: p for p in report.digest_problems}


def test_deleting_the_last_access_log_entry_is_caught_by_the_kept_digests(sealed: Sealed) -> None:
    sealed.dba(
        "DELETE FROM timeline_access_log WHERE seq = (SELECT max(seq) FROM timeline_access_log)"
    )
    problems = _problems(sealed)
    assert set(problems) == {"2025-06-03"}
    assert "access log" in problems["2025-06-03"]
    assert "entry 4 then; now at entry 3" in problems["2025-06-03"]


def test_emptying_the_access_log_is_caught_by_the_kept_digests(sealed: Sealed) -> None:
    if sealed.kind == "postgres":
        sealed.dba("TRUNCATE timeline_access_log")
    else:  # SQLite has no TRUNCATE: an unqualified DELETE is its equivalent
        sealed.dba("DELETE FROM timeline_access_log")
    problems = _problems(sealed)
    assert set(problems) == {"2025-06-02", "2025-06-03"}
    assert all("access log" in p and "now at entry 0" in p for p in problems.values())


def test_an_access_log_edited_and_its_chain_recomputed_is_caught_by_the_kept_digests(
    sealed: Sealed,
) -> None:
    rows = sealed.execute(
        "SELECT seq, at, actor, role, action, seeker_id, purpose, detail "
        "FROM timeline_access_log ORDER BY seq"
    )
    # The attacker rewrites entry 2's purpose and every hash after it, as the chain is
    # documented: SHA-256(prev | canonical JSON of the entry's fields).
    prev = "0" * 64
    rewritten = []
    for seq, at, actor, role, action, seeker_id, purpose, detail in rows:
        fields = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "role": role,
            "action": action,
            "seeker_id": seeker_id,
            "purpose": "curiosity" if seq == 2 else purpose,
            "detail": detail,
        }
        digest = hashlib.sha256(prev.encode() + b"|" + canonical_bytes(fields)).hexdigest()
        rewritten.append((fields["purpose"], prev, digest, seq))
        prev = digest
    for row in rewritten:
        sealed.dba(
            "UPDATE timeline_access_log SET purpose=%s, prev_hash=%s, hash=%s WHERE seq=%s", row
        )
    assert sealed.services.access_log.query(seeker_id=sealed.seeker)[1].purpose == "curiosity"
    problems = _problems(sealed)
    assert set(problems) == {"2025-06-02", "2025-06-03"}
    assert "entry 2 then; now at entry 2, whose hash differs" in problems["2025-06-02"]


def test_a_forged_access_log_entry_in_a_sealed_day_is_caught_by_the_kept_digests(
    sealed: Sealed,
) -> None:
    [(seq, prev)] = sealed.execute(
        "SELECT seq, hash FROM timeline_access_log ORDER BY seq DESC LIMIT 1"
    )
    fields = {
        "seq": int(seq) + 1,  # type: ignore[call-overload]
        "at": "2025-06-03T12:00:00.000000+00:00",
        "actor": "cw-9",
        "role": "caseworker",
        "action": "history",
        "seeker_id": sealed.seeker,
        "purpose": "case",
        "detail": "{}",
    }
    digest = hashlib.sha256(str(prev).encode() + b"|" + canonical_bytes(fields)).hexdigest()
    sealed.execute(
        "INSERT INTO timeline_access_log (seq, at, actor, role, action, seeker_id, purpose, "
        "detail, prev_hash, hash) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (*fields.values(), prev, digest),
    )
    problems = _problems(sealed)
    assert set(problems) == {"2025-06-03"}
    assert "entry 4 then; now at entry 5" in problems["2025-06-03"]


def test_access_log_entries_after_the_last_sealed_day_leave_the_kept_digests_valid(
    sealed: Sealed, clock: FixedClock
) -> None:
    clock.set(datetime(2025, 6, 3, 23, 59, tzinfo=UTC))  # 4 June in Helsinki
    sealed.services.access_log.record(
        actor="cw-3", role="caseworker", action="history", seeker_id=sealed.seeker, purpose="case"
    )
    assert _verify(sealed).ok


def test_an_access_log_entry_is_never_dated_before_the_one_before_it(
    sealed: Sealed, clock: FixedClock
) -> None:
    """What a day's seal rests on: the entries dated up to a day are a prefix of the log."""
    [(last_at,)] = sealed.execute("SELECT at FROM timeline_access_log WHERE seq = 4")
    clock.set(datetime(2025, 6, 1, tzinfo=UTC))  # a clock stepped back
    entry = sealed.services.access_log.record(
        actor="cw-3", role="caseworker", action="history", seeker_id=sealed.seeker, purpose="case"
    )
    assert entry.at == last_at


def test_moving_an_event_to_another_position_everywhere_is_caught_by_the_kept_digests(
    sealed: Sealed,
) -> None:
    """Positions changed consistently in the events table and the index: each index entry
    agrees with its stored event and the seeker's order holds, but the sealed day does not."""
    app = sealed.services.app
    last = app.index.index_for_seeker(sealed.seeker)[-1]
    column, events = (
        ("rowid", "stored_events")
        if sealed.kind == "sqlite"
        else ("notification_id", "timeline_events")
    )
    sealed.execute(f"UPDATE {events} SET {column}=%s WHERE {column}=%s", (1_000, last.position))
    sealed.execute(
        "UPDATE timeline_event_index SET position=%s WHERE position=%s", (1_000, last.position)
    )
    assert verify_seeker(app, sealed.seeker) is None
    report = _verify(sealed)
    assert [p[:10] for p in report.digest_problems] == ["2025-06-03"]
    assert "event log" in report.digest_problems[0]


def test_the_access_log_refuses_truncate_on_postgres(postgres_url: str, clock: FixedClock) -> None:
    services = bootstrap(Settings(database_url=postgres_url, environment="test"), clock)
    services.access_log.record(
        actor="a", role="auditor", action="history", seeker_id="s", purpose="p"
    )
    with pytest.raises(Exception, match="append-only"), services.db.transaction() as tx:
        tx.execute("TRUNCATE timeline_access_log")
    assert len(services.access_log.query()) == 1
    services.close()


def _format_1(services: Services, day: date) -> dict[str, Any]:
    """A day's digest exactly as `timeline digest --export` wrote it before format 2."""
    rows = services.app.index.index_recorded_between(*day_bounds(day))
    root = merkle_root([r.hash for r in rows])
    first = rows[0].position if rows else None
    last = rows[-1].position if rows else None
    message = f"{day}|{len(rows)}|{first}|{last}|{root}".encode("ascii")
    return {
        "day": day.isoformat(),
        "events": len(rows),
        "first_position": first,
        "last_position": last,
        "merkle_root": root,
        "signature": hmac.new(
            services.settings.digest_key_bytes, message, hashlib.sha256
        ).hexdigest(),
    }


def test_digests_exported_before_format_2_still_verify_what_they_covered(sealed: Sealed) -> None:
    services = sealed.services
    old = [_format_1(services, date(2025, 6, d)) for d in (2, 3)]
    assert services.digests.check(old) == []
    # the event log of day 3 altered, in the index
    sealed.execute(
        "UPDATE timeline_event_index SET hash=%s WHERE seeker_id=%s AND version=3",
        (index_value(sealed.kind, "hash", "f" * 64), sealed.seeker),
    )
    [problem] = services.digests.check(old)
    assert problem.startswith("2025-06-03: the event log no longer matches")


def test_digests_kept_in_the_table_before_format_2_keep_their_format(
    url_for: Callable[[str], str], clock: FixedClock
) -> None:
    for kind in ("sqlite", "postgres"):
        url = url_for(kind)
        settings = Settings(database_url=url, environment="test")
        execute = _executor(kind, url)
        clock.set(datetime(2025, 6, 1, 7, tzinfo=UTC))
        services = bootstrap(settings, clock)
        services.app.append([event("job_search_started", new_seeker(), on="2025-06-01")])
        old = _format_1(services, date(2025, 6, 1))
        services.close()
        # the digests table as it was before format 2, with that day sealed then
        execute("DROP TABLE timeline_digests")
        execute(
            "CREATE TABLE timeline_digests (day TEXT PRIMARY KEY, events INTEGER NOT NULL, "
            "first_position BIGINT, last_position BIGINT, merkle_root TEXT NOT NULL, "
            "signature TEXT NOT NULL, computed_at TEXT NOT NULL)"
        )
        execute(
            "INSERT INTO timeline_digests VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (*old.values(), "2025-06-02T00:00:00+00:00"),
        )
        clock.set(datetime(2025, 6, 3, 7, tzinfo=UTC))
        services = bootstrap(settings, clock)
        services.digests.seal(date(2025, 6, 2))
        kept = [d.to_dict() for d in services.digests.kept()]
        assert kept[0] == old  # exported as it always was
        assert kept[1]["format"] == 3 and kept[1]["access_log_seq"] == 0
        assert kept[1]["erasure_seq"] == 0  # (the erasure register is sealed since format 3)
        assert services.digests.check(kept) == []
        services.close()


def test_an_unreadable_kept_digest_is_named_not_a_crash(sealed: Sealed) -> None:
    broken = dict(sealed.kept[0])
    del broken["merkle_root"]
    assert sealed.services.digests.check([broken, {"format": 9}]) == [
        "kept digest 1: unreadable: field merkle_root is missing",
        "kept digest 2: unreadable: unsupported digest format 9",
    ]


def test_an_index_value_no_append_writes_is_named_by_the_digests_not_a_crash(
    sealed: Sealed,
) -> None:
    old = [_format_1(sealed.services, date(2025, 6, 3))]
    # (PostgreSQL holds bytes there: one byte is as far from what an append writes)
    sealed.execute(
        "UPDATE timeline_event_index SET hash=%s WHERE seeker_id=%s AND version=3",
        ("f" if sealed.kind == "sqlite" else b"\x0f", sealed.seeker),
    )
    for kept in (sealed.kept, old):
        problems = sealed.services.digests.check(kept)
        assert [p[:10] for p in problems] == ["2025-06-03"]
        assert "event log" in problems[0]
