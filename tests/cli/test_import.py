"""`timeline import`: validate every line first, write nothing on any error, idempotent reruns."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.factories import envelope, new_seeker
from timeline.application import TimelineApp
from timeline.cli.main import main
from timeline.settings import Settings


def _write(path: Path, envelopes: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in envelopes), encoding="utf-8")
    return path


def _count(url: str) -> int:
    app = TimelineApp(settings=Settings(database_url=url, environment="test"))
    try:
        return len(app.feed(0, 10_000))
    finally:
        app.close()


def _valid_file(tmp_path: Path) -> tuple[Path, int]:
    seekers = [new_seeker() for _ in range(3)]
    lines = []
    for s in seekers:
        lines += [
            envelope("job_search_started", s, on="2025-03-03"),
            envelope("coach_assigned", s, on="2025-03-04"),
            envelope("meeting_held", s, on="2025-03-05"),
        ]
    return _write(tmp_path / "events.jsonl", lines), len(lines)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> str:
    return url_for(str(request.param))


def test_a_bad_identity_code_on_line_3_exits_2_names_the_line_and_field_and_writes_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, _ = _valid_file(tmp_path)
    assert main(["import", str(good), "--db", db, "--quiet"]) == 0
    before = _count(db)
    capsys.readouterr()
    s = new_seeker()
    bad = envelope(
        "job_search_started",
        s,
        data={
            "municipality": "398",
            "labour_market_status": "unemployed",
            "personal_identity_code": "010190-999K",
        },
    )
    path = _write(
        tmp_path / "bad.jsonl",
        [
            envelope("job_search_started", new_seeker()),
            envelope("job_search_started", new_seeker()),
            bad,
        ],
    )
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "line 3: data.personal_identity_code:" in err
    assert "check character" in err
    assert "nothing was written" in err
    assert _count(db) == before


def test_every_bad_line_is_listed_with_its_field_and_reason(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = new_seeker()
    lines = [
        envelope("job_search_started", s),
        {**envelope("meeting_held", s), "data": {"kind": "coffee", "channel": "phone"}},
        {**envelope("coach_assigned", s), "surprise": 1},
    ]
    path = _write(tmp_path / "bad.jsonl", lines)
    with path.open("a") as f:
        f.write("{not json\n")
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "line 2: data.kind:" in err
    assert "line 3: surprise: Extra inputs are not permitted" in err
    assert "line 4: (line): not valid JSON" in err
    assert _count(db) == 0


def test_a_timeline_rule_broken_on_a_later_line_writes_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = new_seeker()
    path = _write(
        tmp_path / "orphan.jsonl",
        [
            envelope("job_search_started", s),
            envelope("service_started", s, data={"service_id": "svc-1"}),
        ],
    )
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    assert "line 2: data.service_id: no earlier service_referred" in capsys.readouterr().err
    assert _count(db) == 0


def test_importing_a_valid_file_twice_keeps_one_copy_and_reports_duplicates(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, n = _valid_file(tmp_path)
    assert main(["import", str(path), "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": n, "duplicates": 0}
    assert main(["import", str(path), "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": 0, "duplicates": n}
    assert _count(db) == n


def test_a_utf8_byte_order_mark_at_the_start_is_accepted(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, n = _valid_file(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert main(["import", str(path), "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": n, "duplicates": 0}
    assert _count(db) == n


def test_standard_input_is_read_as_bytes_too(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, n = _valid_file(tmp_path)
    stdin = io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbf" + path.read_bytes()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["import", "-", "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": n, "duplicates": 0}


def test_unreadable_lines_are_each_named_and_nothing_is_written(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, n = _valid_file(tmp_path)
    good = path.read_bytes()
    path.write_bytes(
        good
        + b'{"source": "K\xe4rk\xf6l\xe4"}\n'  # Latin-1, not UTF-8
        + b"[" * 100_000
        + b"\n"
        + good.splitlines(keepends=True)[0][:40]  # the file ends mid-line
    )
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"line {n + 1}: (line): not valid UTF-8 at byte 14: invalid continuation byte" in err
    assert f"line {n + 2}: (line): nested too deeply to read" in err
    assert f"line {n + 3}: (line): not valid JSON" in err
    assert "(the file ends in the middle of this line)" in err
    assert "refused, 3 problem(s)" in err
    assert "Traceback" not in err
    assert _count(db) == 0


def test_an_event_id_repeated_in_standard_input_is_a_duplicate_or_a_conflict(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The import reads its input twice (standard input is kept in a temporary file): a repeat
    # is judged by its earlier line, read again, while the first reading goes on.
    lines = []
    for _ in range(40):
        s = new_seeker()
        lines += [
            envelope("job_search_started", s, on="2025-03-03"),
            envelope("coach_assigned", s, on="2025-03-04"),
            envelope("meeting_held", s, on="2025-03-05"),
        ]
    same = [*lines[:60], lines[1], *lines[60:]]
    other = [*lines[:60], {**lines[1], "source": "elsewhere"}, *lines[60:]]

    def run(envelopes: list[dict[str, Any]]) -> int:
        body = "".join(json.dumps(e) + "\n" for e in envelopes).encode()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body), encoding="utf-8"))
        return main(["import", "-", "--db", db, "--quiet"])

    assert run(other) == 2
    err = capsys.readouterr().err
    assert "line 61: event_id: event_id was already used for an event with other content" in err
    assert "refused, 1 problem(s)" in err
    assert run(same) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": len(lines), "duplicates": 1}
    assert _count(db) == len(lines)


def test_workers_validate_in_partitions_with_the_same_answers(
    url_for: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = url_for("postgres")
    path, n = _valid_file(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert main(["import", str(path), "--db", db, "--quiet", "--workers", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": n, "duplicates": 0}
    assert main(["import", str(path), "--db", db, "--quiet", "--workers", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": 0, "duplicates": n}
    assert _count(db) == n


@pytest.mark.parametrize("option", ["--workers", "--partitions"])
def test_workers_need_postgresql(
    url_for: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
) -> None:
    db = url_for("sqlite")
    path, _ = _valid_file(tmp_path)
    assert main(["import", str(path), "--db", db, "--quiet", option, "2"]) == 2
    assert f"{option}: a partitioned import needs PostgreSQL" in capsys.readouterr().err
    assert _count(db) == 0
