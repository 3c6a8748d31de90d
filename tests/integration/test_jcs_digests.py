"""Digest algorithms on one store (issue 14 §2): events stored before RFC 8785 (algorithm 1,
bare hex digests, no ``digest_algorithm`` in the stored event) and new ones (algorithm 2,
``jcs:`` digests) on the same seeker's chain; ``verify`` passes and still catches tampering
with either kind; a retry of an old event is still a duplicate; the bulk import continues such
a chain as the append does; an export verifies offline, and with an independent JCS package
and no project code."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import jcs  # an independent RFC 8785 implementation (not the one the service uses)
import pytest
from eventsourcing.persistence import StoredEvent

from tests.factories import default_data, envelope, event, new_seeker
from tests.integration.test_tamper_evidence import Execute, _executor, _id, _kind
from tests.stored import as_form1, clear_changed, index_value
from timeline.application import TimelineApp
from timeline.audit.export import export_seeker
from timeline.audit.verify import verify_all, verify_seeker
from timeline.bootstrap import bootstrap
from timeline.bulk import import_file
from timeline.clock import FixedClock
from timeline.domain.event_types import EventType
from timeline.settings import Settings

Store = tuple[Callable[..., TimelineApp], Execute, str, str]
OLD_KEY = b',"digest_algorithm":1}'


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[Store]:
    kind = str(request.param)
    url = url_for(kind)
    apps: list[TimelineApp] = []

    def make(**settings: object) -> TimelineApp:
        app = TimelineApp(
            settings=Settings(database_url=url, environment="test", **settings),  # type: ignore[arg-type]
            clock=clock,
        )
        apps.append(app)
        return app

    yield (
        make,
        _executor(kind, url),
        "stored_events" if kind == "sqlite" else "timeline_events",
        url,
    )
    for app in apps:
        app.close()


def _as_the_previous_code_stored(app: TimelineApp, execute: Execute, events: str) -> None:
    """Every algorithm-1 stored event as the code before JCS wrote it: the library's JSON
    (form 1) without ``digest_algorithm`` (its events had no such field)."""
    rows = execute(f"SELECT originator_id, originator_version, topic, state FROM {events}", ())
    for originator, version, topic, state in rows:
        uuid = originator if isinstance(originator, UUID) else UUID(str(originator))
        raw = as_form1(app, StoredEvent(uuid, int(version), str(topic), bytes(state)))  # type: ignore[call-overload, arg-type]
        if raw.endswith(OLD_KEY):
            execute(
                f"UPDATE {events} SET state=%s WHERE originator_id=%s AND originator_version=%s",
                (raw[: -len(OLD_KEY)] + b"}", originator, version),
            )


def _mixed(store: Store, clock: FixedClock) -> tuple[TimelineApp, str]:
    """A seeker with versions 1-2 stored by the previous code and 3-4 by the JCS code."""
    make, execute, events, _ = store
    seeker = new_seeker()
    old = make(digest_algorithm=1)
    old.append([event("job_search_started", seeker)])
    clock.advance(hours=1)
    old.append([event("meeting_held", seeker, {"kind": "initial_interview", "channel": "phone"})])
    _as_the_previous_code_stored(old, execute, events)
    old.close()
    new = make()
    clock.advance(hours=1)
    new.append([event("coach_assigned", seeker, {"coach_id": "coach-7"})])
    clock.advance(hours=1)
    new.append([event("contact_made", seeker, {"channel": "phone", "direction": "outbound"})])
    return new, seeker


def test_old_and_new_digests_chain_on_one_seeker_and_verify(
    store: Store, clock: FixedClock
) -> None:
    app, seeker = _mixed(store, clock)
    _, execute, events, _ = store
    states = execute(
        f"SELECT state FROM {events} WHERE originator_id=%s ORDER BY originator_version",
        (_id(app, seeker),),
    )
    raw = [bytes(s) for (s,) in states]  # type: ignore[call-overload]
    # the previous code's JSON without the field; form 2 with the algorithm in its second byte
    assert [s[:1] for s in raw] == [b"{", b"{", b"\x02", b"\x02"]
    assert [b"digest_algorithm" in s for s in raw[:2]] == [False, False]
    assert [s[1] for s in raw[2:]] == [2, 2]
    digests = [r.digest for r in app.index.index_for_seeker(seeker)]
    assert [len(d) for d in digests[:2]] == [64, 64]
    assert all(d.startswith("jcs:") and len(d) == 68 for d in digests[2:])
    assert verify_seeker(app, seeker) is None
    assert list(verify_all(app)) == []


@pytest.mark.parametrize("version", [2, 4], ids=["algorithm-1-event", "algorithm-2-event"])
def test_altered_content_is_caught_under_either_algorithm(
    store: Store, clock: FixedClock, version: int
) -> None:
    app, seeker = _mixed(store, clock)
    _, execute, events, _ = store
    [(state,)] = execute(
        f"SELECT state FROM {events} WHERE originator_id=%s AND originator_version=%s",
        (_id(app, seeker), version),
    )
    raw = bytes(state)  # type: ignore[arg-type]
    if version == 2:  # the previous code's JSON
        altered = raw.replace(b"phone", b"video")
    else:  # form 2: the channel's code in the clear part
        altered = clear_changed(raw, EventType.CONTACT_MADE, channel="video")
    assert altered != raw
    execute(
        f"UPDATE {events} SET state=%s WHERE originator_id=%s AND originator_version=%s",
        (altered, _id(app, seeker), version),
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None and broken.version == version and broken.fields == ("digest",)


def test_a_digest_relabelled_to_the_other_algorithm_is_caught(
    store: Store, clock: FixedClock
) -> None:
    app, seeker = _mixed(store, clock)
    _, execute, events, _ = store
    # the index says algorithm 1 for a JCS event (the same hex without its prefix) ...
    digest = app.index.index_for_seeker(seeker, after_version=2, limit=1)[0].digest
    assert digest.startswith("jcs:")
    execute(
        "UPDATE timeline_event_index SET digest=%s WHERE seeker_id=%s AND version=3",
        (index_value(_kind(app), "digest", digest.removeprefix("jcs:")), seeker),
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None and broken.version == 3 and "digest" in broken.fields
    # ... or the stored event claims algorithm 1 while its index entry says JCS
    execute(
        "UPDATE timeline_event_index SET digest=%s WHERE seeker_id=%s AND version=3",
        (index_value(_kind(app), "digest", digest), seeker),
    )
    assert verify_seeker(app, seeker) is None
    [(state,)] = execute(
        f"SELECT state FROM {events} WHERE originator_id=%s AND originator_version=4",
        (_id(app, seeker),),
    )
    raw = bytes(state)  # type: ignore[arg-type]
    assert raw[:2] == b"\x02\x02"  # form 2, algorithm 2
    flipped = b"\x02\x01" + raw[2:]
    execute(
        f"UPDATE {events} SET state=%s WHERE originator_id=%s AND originator_version=4",
        (flipped, _id(app, seeker)),
    )
    broken = verify_seeker(app, seeker)
    assert broken is not None and broken.version == 4 and broken.fields == ("digest",)


def test_a_retry_of_an_event_stored_under_algorithm_1_is_a_duplicate(
    store: Store, clock: FixedClock
) -> None:
    make, execute, events, _ = store
    seeker = new_seeker()
    first = event("job_search_started", seeker)
    old = make(digest_algorithm=1)
    old.append([first])
    _as_the_previous_code_stored(old, execute, events)
    old.close()
    [answer] = make().append([first])
    assert answer.duplicate and answer.version == 1


def test_the_bulk_import_continues_a_chain_of_old_events_as_the_append_does(
    store: Store, clock: FixedClock, tmp_path: Path
) -> None:
    app, seeker = _mixed(store, clock)
    more = [
        envelope("coach_assigned", seeker, {"coach_id": "coach-8"}),
        envelope("job_search_ended", seeker, {"reason": "employed_open_market"}),
    ]
    path = tmp_path / "more.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in more), encoding="utf-8")
    clock.advance(hours=1)
    result = import_file(app, str(path), quiet=True)
    assert result.problems == [] and result.accepted == 2
    rows = app.index.index_for_seeker(seeker)
    assert [r.digest.startswith("jcs:") for r in rows] == [False, False, True, True, True, True]
    assert list(verify_all(app)) == []


def _verify_offline(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "verify_export.py", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_an_export_of_old_and_new_events_verifies_offline(
    store: Store, clock: FixedClock, tmp_path: Path
) -> None:
    app, seeker = _mixed(store, clock)
    app.close()
    services = bootstrap(Settings(database_url=store[3], environment="test"), clock)
    try:
        folder = export_seeker(services.app, services.obligations, seeker, tmp_path / "x").directory
    finally:
        services.close()
    done = _verify_offline(folder)
    assert done.returncode == 0, done.stdout
    assert "OK: 4 events" in done.stdout
    lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
    edited = json.loads(lines[3])
    edited["data"]["direction"] = "inbound"
    lines[3] = json.dumps(edited)
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    body = (folder / "events.jsonl").read_bytes()
    manifest["files"]["events.jsonl"] = hashlib.sha256(body).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = _verify_offline(folder)
    assert done.returncode == 1
    assert "line 4 (version 4): content does not match its digest" in done.stdout


def test_an_export_verifies_with_an_independent_jcs_implementation(
    store: Store, clock: FixedClock, tmp_path: Path
) -> None:
    """What an outside auditor does with a standard JCS tool: no project code below the
    export, only ``hashlib`` and the ``jcs`` package."""
    make, _, _, url = store
    seeker = new_seeker()
    app = make()
    started = {**default_data("job_search_started"), "channel": "Äänekoski ☃ 𝄞"}
    app.append([event("job_search_started", seeker, started)])
    clock.advance(hours=1)
    app.append([event("meeting_held", seeker, {"kind": "initial_interview", "channel": "phone"})])
    app.close()
    services = bootstrap(Settings(database_url=url, environment="test"), clock)
    try:
        folder = export_seeker(services.app, services.obligations, seeker, tmp_path / "x").directory
    finally:
        services.close()

    content = (
        "event_id",
        "seeker_id",
        "type",
        "occurred_at",
        "occurred_on",
        "actor",
        "source",
        "data",
    )
    prev = "0" * 64
    lines = (folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        e = json.loads(line)
        canonical = jcs.canonicalize({k: e[k] for k in content})
        assert e["digest"] == "jcs:" + hashlib.sha256(canonical).hexdigest()
        link = f"{prev}|{e['seeker_id']}|{e['version']}|{e['recorded_at']}|{e['digest']}"
        prev = hashlib.sha256(link.encode("ascii")).hexdigest()
        assert e["hash"] == prev
    assert len(lines) == 2
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["chain_head"] == prev
