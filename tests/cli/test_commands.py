"""Every CLI command a user runs: help, history, obligations, verify, rebuild, token."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import event, new_seeker
from tests.stored import clear_changed
from timeline.application import TimelineApp
from timeline.auth import TokenRegistry
from timeline.cli.main import build_parser, main
from timeline.clock import FixedClock
from timeline.domain.event_types import EventType
from timeline.settings import Settings


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def _seed(db: str) -> str:
    app = TimelineApp(settings=Settings(database_url=db, environment="test"))
    seeker = new_seeker()
    app.append(
        [
            event("job_search_started", seeker, on="2025-06-02"),
            event("meeting_held", seeker, on="2025-06-04"),
        ]
    )
    app.close()
    return seeker


def test_every_command_has_help_that_explains_it() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == {
        "serve",
        "import",
        "history",
        "verify",
        "obligations",
        "rebuild",
        "worker",
        "token",
        "demo",
        "export",
        "digest",
        "stats",
        "quarantine",
        "whatif",
        "status",
        "erase",
        "erasures",
        "retention",
        "keys",
        "migrate-store",
    }
    for name, sub in commands.items():
        assert sub.description, name
        assert "--db" in sub.format_help(), name


def test_history_prints_both_times_and_is_logged(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeker = _seed(db)
    assert main(["history", seeker, "--db", db, "--purpose", "complaint 12/2025"]) == 0
    out = capsys.readouterr().out
    assert "job_search_started" in out and "meeting_held" in out
    assert main(["history", seeker, "--db", db, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["version"] for x in lines] == [1, 2]
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT action, seeker_id, purpose FROM timeline_access_log ORDER BY seq"
        ).fetchall()
    assert rows[0] == ("history", seeker, "complaint 12/2025")
    assert rows[1][2].startswith("unstated")


def test_obligations_for_a_seeker_and_the_worklist_export(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeker = _seed(db)
    assert main(["obligations", seeker, "--on", "2025-06-10", "--db", db, "--json"]) == 0
    items = {i["kind"]: i for i in map(json.loads, capsys.readouterr().out.splitlines())}
    assert items["initial_interview"]["status"] == "met"
    assert items["initial_interview"]["met_on"] == "2025-06-04"
    other = _seed_second(db)
    assert main(["obligations", "--on", "2025-06-10", "--status", "overdue", "--db", db]) == 0
    overdue = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {o["seeker_id"] for o in overdue if o["kind"] == "initial_interview"} == {other}


def _seed_second(db: str) -> str:
    app = TimelineApp(settings=Settings(database_url=db, environment="test"))
    seeker = new_seeker()
    app.append([event("job_search_started", seeker, on="2025-06-02")])
    app.close()
    return seeker


def test_verify_is_clean_then_names_a_tampered_seeker(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seeker = _seed(db)
    assert main(["verify", "--db", db, "--quiet"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert (clean["ok"], clean["seekers_checked"], clean["broken"]) == (True, 1, 0)
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        [(state,)] = conn.execute("SELECT state FROM stored_events WHERE originator_version = 2")
        altered = clear_changed(bytes(state), EventType.MEETING_HELD, channel="video")
        conn.execute("UPDATE stored_events SET state = ? WHERE originator_version = 2", [altered])
    assert main(["verify", "--db", db, "--quiet"]) == 1
    captured = capsys.readouterr()
    assert f"seeker {seeker} version 2" in captured.err


def test_rebuild_reports_the_events_it_applied(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(db)
    assert main(["rebuild", "obligations", "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 2


def test_a_new_token_works_and_only_its_hash_is_printed_for_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["token", "--name", "lahti", "--role", "caseworker", "--scope", "398,016"]) == 0
    captured = capsys.readouterr()
    entries = json.loads(captured.out)
    token = captured.err.strip().rsplit(" ", 1)[-1]
    assert token not in captured.out
    principal = TokenRegistry(entries, development=False).authenticate(f"Bearer {token}")
    assert (principal.role, principal.scope) == ("caseworker", frozenset({"398", "016"}))


def test_bad_arguments_are_explained(
    capsys: pytest.CaptureFixture[str], url_for: Callable[[str], str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["history", new_seeker(), "--as-of", "2025-06-01"])
    assert exited.value.code == 2
    assert "no UTC offset" in capsys.readouterr().err


def test_digests_sealed_exported_and_checked_from_the_command_line(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeker = _seed(db)  # recorded today (system clock): seal yesterday, an empty day
    assert main(["digest", "--db", db]) == 0
    sealed = json.loads(capsys.readouterr().out)
    assert sealed["events"] == 0
    kept = tmp_path / "digests.jsonl"
    assert main(["digest", "--db", db, "--export", str(kept)]) == 0
    assert json.loads(kept.read_text())["merkle_root"] == sealed["merkle_root"]
    assert main(["verify", "--db", db, "--digests", str(kept), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["export", seeker, "--db", db, "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "report.html").exists()


def test_history_shows_both_times_in_helsinki_time_and_says_so(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # occurred given in UTC ("Z"), recorded at 09:00 UTC: both 12:00 in Helsinki (EEST)
    clock = FixedClock(datetime(2025, 6, 10, 9, 0, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=db, environment="test"), clock=clock)
    seeker = new_seeker()
    app.append(
        [
            event("job_search_started", seeker, on="2025-06-02"),
            event(
                "contact_made",
                seeker,
                {"channel": "phone", "direction": "outbound"},
                at="2025-06-04T09:30:00Z",
            ),
        ]
    )
    app.close()
    assert main(["history", seeker, "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "occurred (Helsinki)" in out[1] and "recorded (Helsinki)" in out[1]
    started, contact = out[3], out[4]
    assert started.split()[1:4] == ["2025-06-02", "2025-06-10", "12:00"]
    assert contact.split()[1:5] == ["2025-06-04", "12:30", "2025-06-10", "12:00"]
    assert main(["history", seeker, "--db", db, "--json"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["recorded_at"] == "2025-06-10T09:00:00.000000+00:00"
