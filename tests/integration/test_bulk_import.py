"""The bulk import (`timeline import`, :mod:`timeline.bulk`) stores exactly what the normal
append path stores, and refuses exactly what the aggregate refuses.

- The same file through the bulk path and through ``TimelineApp.append`` into two stores: the
  same stored events (positions, ids, versions, topics, the library's state bytes) and the
  same index rows (digests, chain hashes, person refs, recorded times); ``verify`` passes.
- A file with every kind of refusal: the bulk pass names the same lines and reasons as the
  aggregate deciding every event on its own (``Appender.decide_each``, the former import)."""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.factories import envelope, new_seeker
from tests.stored import split
from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.bulk import engine, import_file, parallel
from timeline.bulk.parts import Parts
from timeline.bulk.validate import refusal_lines
from timeline.clock import FixedClock
from timeline.demo import generate
from timeline.domain.errors import Conflict, InvalidEvent
from timeline.settings import Settings
from timeline.vocabulary import parse_event

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def urls(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], tmp_path: Path
) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bulk.db'}", f"sqlite:///{tmp_path / 'append.db'}"
    return url_for("postgres"), url_for("postgres")


@pytest.fixture
def apps(urls: tuple[str, str]) -> Iterator[tuple[TimelineApp, TimelineApp]]:
    made = [
        TimelineApp(settings=Settings(database_url=u, environment="test"), clock=FixedClock(NOW))
        for u in urls
    ]
    yield made[0], made[1]
    for app in made:
        app.close()


def _write(path: Path, envelopes: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in envelopes), encoding="utf-8"
    )
    return path


def _demo(seekers: int) -> list[dict[str, Any]]:
    return [e.envelope for e in generate(seekers, seed=5)]


def test_the_bulk_path_stores_what_the_append_path_stores(
    apps: tuple[TimelineApp, TimelineApp], tmp_path: Path
) -> None:
    bulk, append = apps
    lines = _demo(12)
    lines.insert(40, lines[3])  # a repeat in the file: a duplicate
    path = _write(tmp_path / "demo.jsonl", lines)

    result = import_file(bulk, str(path), quiet=True)
    events = [parse_event(e, allow_test_identity_codes=True) for e in lines]
    appended = [r for i in range(0, len(events), 7) for r in append.append(events[i : i + 7])]

    assert result.problems == []
    assert result.accepted == sum(not r.duplicate for r in appended) == len(lines) - 1
    assert result.duplicates == 1
    stored = bulk.recorder.select_notifications(1, 10_000)
    expected = append.recorder.select_notifications(1, 10_000)
    assert len(stored) == len(lines) - 1
    # positions, seeker ids, versions, topics; the clear part byte for byte, the personal
    # part sealed (with each store's own key, a nonce of its own) over the same content
    same = [(n.id, n.originator_id, n.originator_version, n.topic) for n in expected]
    assert [(n.id, n.originator_id, n.originator_version, n.topic) for n in stored] == same
    assert [split(n.state)[0] for n in stored] == [split(n.state)[0] for n in expected]
    assert [len(split(n.state)[1]) for n in stored] == [len(split(n.state)[1]) for n in expected]
    assert any(split(n.state)[1] for n in stored)
    assert [bulk.mapper.to_domain_event(n) for n in stored] == [
        append.mapper.to_domain_event(n) for n in expected
    ]
    assert bulk.index.index_after_position(0, 10_000) == append.index.index_after_position(
        0, 10_000
    )
    assert list(verify_all(bulk)) == []


def test_a_second_import_of_the_rest_continues_each_seekers_chain(
    apps: tuple[TimelineApp, TimelineApp], tmp_path: Path
) -> None:
    bulk, append = apps
    lines = _demo(8)
    half = len(lines) // 2
    first = import_file(bulk, str(_write(tmp_path / "a.jsonl", lines[:half])), quiet=True)
    again = import_file(bulk, str(_write(tmp_path / "all.jsonl", lines)), quiet=True)
    append.append([parse_event(e, allow_test_identity_codes=True) for e in lines])

    assert (first.accepted, again.accepted, again.duplicates) == (half, len(lines) - half, half)
    assert bulk.index.index_after_position(0, 10_000) == append.index.index_after_position(
        0, 10_000
    )
    assert list(verify_all(bulk)) == []


def _crafted(s: str, t: str) -> list[dict[str, Any]]:
    """Lines after a demo: each refused by a different rule (or accepted), for seekers ``s``
    (with a timeline) and ``t`` (a second one)."""
    started = envelope("job_search_started", s, on="2025-03-03")
    other = envelope("job_search_started", t, on="2025-03-03")
    held = envelope("meeting_held", s, on="2025-03-05")
    referred = envelope(
        "service_referred", s, {"service_id": "svc-9", "service_type": "coaching"}, on="2025-03-06"
    )
    retract = {"retracts_event_id": held["event_id"], "reason": "entered twice"}
    return [
        started,
        other,
        held,
        referred,
        envelope("service_started", s, {"service_id": "svc-1"}, on="2025-03-07"),  # unreferred
        envelope("service_started", s, {"service_id": "svc-9"}, on="2025-03-07"),  # fine
        envelope("service_ended", s, {"service_id": "svc-9"}, on="2025-03-08"),  # fine
        envelope("meeting_held", new_seeker()),  # no timeline
        envelope("retraction", s, {"retracts_event_id": new_seeker(), "reason": "x"}),  # unknown
        envelope("retraction", s, retract),  # fine
        envelope("retraction", s, retract),  # already retracted
        envelope(
            "decision_recorded",
            s,
            {"decision_type": "x", "basis_event_ids": [other["event_id"]]},  # another seeker's
        ),
        envelope(
            "decision_recorded",
            s,
            {"decision_type": "x", "basis_event_ids": [referred["event_id"]]},  # fine
        ),
        envelope("meeting_held", s, on="2025-03-01"),  # before every spell
        envelope(
            "correction",
            s,
            {
                "corrects_event_id": started["event_id"],
                "reason": "wrong type",
                "replacement": {
                    "type": "meeting_held",
                    "occurred_on": "2025-03-03",
                    "data": {"kind": "initial_interview", "channel": "phone"},
                },
            },
        ),  # a spell bound corrected into another type
        envelope("job_search_started", s, on="2025-04-01"),  # a spell is open
        {**held, "source": "changed"},  # the same id, other content
        held,  # the same id and content: a duplicate
        envelope("coach_assigned", s, on="2025-03-09", expected_version=2),  # stale
        envelope("job_search_ended", s, on="2025-03-10"),  # fine
        envelope("job_search_ended", s, on="2025-03-11"),  # no spell open that day
        envelope("meeting_held", s, on="2099-01-01"),  # in the future
        {**other, "seeker_id": s},  # another seeker's event id
    ]


def _old_problems(app: TimelineApp, envelopes: list[dict[str, Any]]) -> list[str]:
    """The former import's judgement: the aggregate decides every event on its own."""
    events = [parse_event(e, allow_test_identity_codes=True) for e in envelopes]
    refused, _ = app.appender.decide_each(events)
    out: list[str] = []
    for i, exc in refused:
        assert isinstance(exc, InvalidEvent | Conflict)
        out += refusal_lines(i + 1, exc)
    return out


def test_refusals_are_the_aggregates_line_for_line(
    apps: tuple[TimelineApp, TimelineApp], tmp_path: Path
) -> None:
    bulk, judge = apps
    demo = _demo(6)
    s, t = new_seeker(), new_seeker()
    lines = demo + _crafted(s, t)
    # the demo's own corrections, retractions and decisions, aimed at another seeker's events
    lines += [{**e, "event_id": new_seeker(), "seeker_id": s} for e in demo[-30:]]

    result = import_file(bulk, str(_write(tmp_path / "bad.jsonl", lines)), quiet=True)

    expected = _old_problems(judge, lines)
    assert len(expected) >= 12
    assert result.problems == expected
    assert bulk.recorder.select_notifications(1, 10) == []


def test_a_chunk_that_loses_a_race_is_appended_again_as_live_appends(
    apps: tuple[TimelineApp, TimelineApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk, _ = apps
    lines = _demo(5)
    seeker = lines[0]["seeker_id"]
    rival = envelope("coach_assigned", seeker, on=lines[0]["occurred_on"])

    real = engine.sink_for

    def racing(recorder: Any, form: Any) -> Any:
        # Another writer appends to a seeker of the file between the two passes: the file's
        # first event, then one of its own.
        bulk.append([parse_event(e, allow_test_identity_codes=True) for e in (lines[0], rival)])
        return real(recorder, form)

    monkeypatch.setattr(engine, "sink_for", racing)
    result = import_file(bulk, str(_write(tmp_path / "demo.jsonl", lines)), quiet=True)

    assert result.problems == []
    assert (result.accepted, result.duplicates) == (len(lines) - 1, 1)
    stored = bulk.index.index_after_position(0, 10_000)
    assert sorted(r.event_id for r in stored) == sorted(
        [e["event_id"] for e in lines] + [rival["event_id"]]
    )
    assert list(verify_all(bulk)) == []


def _import_with_fixed_randomness(
    app: TimelineApp, path: Path, monkeypatch: pytest.MonkeyPatch, *, fast: bool
) -> engine.ImportResult:
    """``import_file`` with every random byte drawn from one seeded generator (the seekers'
    data keys, the seals' nonces): two imports of one file draw the same bytes in the same
    order, so their stored states can be compared whole, sealed parts included."""
    monkeypatch.setattr(secrets, "token_bytes", random.Random(7).randbytes)
    return import_file(app, str(path), quiet=True, fast=fast)


def test_the_fast_paths_store_the_same_bytes_as_the_slow_paths(
    apps: tuple[TimelineApp, TimelineApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import's fast paths (msgspec reading, the state encoded without the domain event and
    the mapper) on and off: the same answer and byte for byte the same rows."""
    fast, slow = apps
    lines = _demo(12)
    lines.insert(40, lines[3])  # a duplicate
    path = _write(tmp_path / "demo.jsonl", lines)

    on = _import_with_fixed_randomness(fast, path, monkeypatch, fast=True)
    off = _import_with_fixed_randomness(slow, path, monkeypatch, fast=False)

    assert on == off
    assert on.accepted == len(lines) - 1
    stored = fast.recorder.select_notifications(1, 10_000)
    expected = slow.recorder.select_notifications(1, 10_000)
    assert len(stored) == len(lines) - 1
    assert any(split(n.state)[1] for n in stored)  # sealed personal parts among them
    assert [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in stored] == [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in expected
    ]
    assert fast.index.index_after_position(0, 10_000) == slow.index.index_after_position(0, 10_000)


@pytest.fixture
def pg_apps(url_for: Callable[[str], str]) -> Iterator[tuple[TimelineApp, TimelineApp]]:
    made = [
        TimelineApp(
            settings=Settings(database_url=url_for("postgres"), environment="test"),
            clock=FixedClock(NOW),
        )
        for _ in range(2)
    ]
    yield made[0], made[1]
    for app in made:
        app.close()


def _seekers_in_two_partitions(lines: list[dict[str, Any]], n: int = 2) -> tuple[str, str]:
    """A seeker of partition 0 and one of partition 1 of ``n``."""
    parts = Parts(n)
    by_part: dict[int, str] = {}
    for e in lines:
        by_part.setdefault(parts.of(e["seeker_id"]), e["seeker_id"])
    return by_part[0], by_part[1]


#: (workers, partitions): two processes at once, and three partitions taking turns in one
#: process after another (``--partitions``: the memory of one partition at a time)
SPLITS = [(2, None), (1, 3)]


@pytest.mark.parametrize("parting", SPLITS)
def test_a_partitioned_validation_stores_what_one_process_stores(
    pg_apps: tuple[TimelineApp, TimelineApp], tmp_path: Path, parting: tuple[int, int | None]
) -> None:
    split_app, one = pg_apps
    lines = _demo(12)
    lines.insert(40, lines[3])  # a duplicate
    _seekers_in_two_partitions(lines)  # (both partitions have seekers)
    path = _write(tmp_path / "demo.jsonl", lines)

    parted = import_file(
        split_app, str(path), quiet=True, workers=parting[0], partitions=parting[1]
    )
    whole = import_file(one, str(path), quiet=True)

    assert parted == whole
    assert parted.accepted == len(lines) - 1
    stored = split_app.recorder.select_notifications(1, 10_000)
    expected = one.recorder.select_notifications(1, 10_000)
    same = [(n.id, n.originator_id, n.originator_version, n.topic) for n in expected]
    assert [(n.id, n.originator_id, n.originator_version, n.topic) for n in stored] == same
    assert [split(n.state)[0] for n in stored] == [split(n.state)[0] for n in expected]
    assert [split_app.mapper.to_domain_event(n) for n in stored] == [
        one.mapper.to_domain_event(n) for n in expected
    ]
    assert split_app.index.index_after_position(0, 10_000) == one.index.index_after_position(
        0, 10_000
    )
    assert list(verify_all(split_app)) == []


def test_a_partitioned_validation_refuses_what_one_process_refuses(
    pg_apps: tuple[TimelineApp, TimelineApp], tmp_path: Path
) -> None:
    split_app, one = pg_apps
    demo = _demo(12)
    a, b = _seekers_in_two_partitions(demo)
    s, t = new_seeker(), new_seeker()
    lines = demo + _crafted(s, t)
    lines += [{**e, "event_id": new_seeker(), "seeker_id": s} for e in demo[-30:]]
    # refusals in both partitions, interleaved (in the future)
    lines += [envelope("meeting_held", x, on="2099-01-01") for x in (b, a, b, a)]
    path = _write(tmp_path / "bad.jsonl", lines)

    parted = import_file(split_app, str(path), quiet=True, workers=2)
    whole = import_file(one, str(path), quiet=True)

    assert len(whole.problems) >= 12
    assert parted == whole
    assert split_app.recorder.select_notifications(1, 10) == []


def test_a_partitioned_validation_lists_unreadable_lines_as_one_process(
    pg_apps: tuple[TimelineApp, TimelineApp], tmp_path: Path
) -> None:
    split_app, one = pg_apps
    lines = _demo(12)
    a, b = _seekers_in_two_partitions(lines)
    path = _write(tmp_path / "demo.jsonl", lines)
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text.insert(5, '{"seeker_id": "' + a + '", "event_id": 1}\n')  # bad fields, partition 0
    text.insert(9, '{"seeker_id": "' + b + '", "type": "nope"}\n')  # bad fields, partition 1
    text.insert(12, "not json\n")
    text.insert(20, '{"seeker_id": "' + b.upper() + '", "x": [}\n')
    path.write_text("".join(text), encoding="utf-8")

    parted = import_file(split_app, str(path), quiet=True, workers=2)
    whole = import_file(one, str(path), quiet=True)

    assert [p.split(":")[0] for p in whole.problems][:1] == ["line 6"]
    assert {"line 10", "line 13", "line 21"} <= {p.split(":")[0] for p in whole.problems}
    assert parted == whole
    assert split_app.recorder.select_notifications(1, 10) == []


@pytest.mark.parametrize("parting", SPLITS)
def test_an_event_id_under_seekers_of_two_partitions_is_refused_before_anything_is_written(
    pg_apps: tuple[TimelineApp, TimelineApp],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parting: tuple[int, int | None],
) -> None:
    """No partition sees the other's lines: the repeated id is found across them, and the file
    validated again in one process for the messages."""
    split_app, one = pg_apps
    lines = _demo(12)
    a, b = _seekers_in_two_partitions(lines, parting[1] or parting[0])
    of_a = next(e for e in lines if e["seeker_id"] == a and e["type"] == "contact_made")
    of_b = next(e for e in lines if e["seeker_id"] == b and e["type"] == "contact_made")
    lines[lines.index(of_b)] = {**of_b, "event_id": of_a["event_id"]}
    path = _write(tmp_path / "repeat.jsonl", lines)
    repeated: list[bool] = []
    real = parallel._repeated_across
    monkeypatch.setattr(
        parallel, "_repeated_across", lambda parts: repeated.append(real(parts)) or repeated[-1]
    )

    parted = import_file(
        split_app, str(path), quiet=True, workers=parting[0], partitions=parting[1]
    )
    whole = import_file(one, str(path), quiet=True)

    assert repeated == [True]
    assert whole.problems and all("event_id" in p for p in whole.problems)
    assert parted == whole
    assert split_app.recorder.select_notifications(1, 10) == []


def test_a_line_routed_to_another_partition_sends_the_file_to_one_process(
    pg_apps: tuple[TimelineApp, TimelineApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seeker id the raw search cannot read (an escape) goes to partition 0; the worker that
    parses it sees another partition's seeker, and the partitions' answer is not used."""
    split_app, one = pg_apps
    lines = _demo(12)
    _, b = _seekers_in_two_partitions(lines)
    path = _write(tmp_path / "demo.jsonl", lines)
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(
        i for i, e in enumerate(lines) if e["seeker_id"] == b and e["type"] != "job_search_started"
    )
    escaped = f"\\u{ord(b[0]):04x}" + b[1:]
    text[at] = text[at].replace(f'"seeker_id": "{b}"', f'"seeker_id": "{escaped}"')
    assert escaped in text[at]
    path.write_text("".join(text), encoding="utf-8")
    answers: list[object] = []
    real = parallel.validate
    monkeypatch.setattr(
        parallel, "validate", lambda *a, **k: answers.append(real(*a, **k)) or answers[-1]
    )

    parted = import_file(split_app, str(path), quiet=True, workers=2)
    whole = import_file(one, str(path), quiet=True)

    assert answers == [None]
    assert parted == whole
    assert parted.accepted == len(lines)
    assert split_app.index.index_after_position(0, 10_000) == one.index.index_after_position(
        0, 10_000
    )
