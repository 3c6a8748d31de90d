"""No command prints a traceback for bad input: every subcommand, given bad arguments, a bad
file, an unusable database or a request the data cannot answer, exits 2 with
``timeline COMMAND: …`` naming what is wrong and why. Tracebacks are for bugs (the last tests)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.cli import events as cli_events
from timeline.cli.input import user_error
from timeline.cli.main import build_parser, main
from timeline.clock import system_clock
from timeline.domain.zone import HELSINKI
from timeline.settings import Settings

UNREACHABLE = "postgresql://postgres:secret@127.0.0.1:1/nowhere"


def subcommands() -> set[str]:
    parser = build_parser()
    return set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


@dataclass
class World:
    db: str
    tmp: Path
    seeker: str

    def fill(self, argv: list[str]) -> list[str]:
        today = system_clock().astimezone(HELSINKI).date()
        values = {
            "db": self.db,
            "tmp": str(self.tmp),
            "seeker": self.seeker,
            "unknown": new_seeker(),
            "today": today.isoformat(),
            "tomorrow": (today + timedelta(days=1)).isoformat(),
            # a path under a regular file: unwritable whoever runs the tests (root too)
            "unwritable": str(self.tmp / "a-file" / "sub"),
        }
        return [a.format(**values) for a in argv]


def _files(tmp: Path, seeker: str) -> None:
    good = {
        "event_id": new_seeker(),
        "seeker_id": seeker,
        "type": "contact_made",
        "occurred_on": "2025-06-03",
        "actor": {"id": "cw:1", "role": "coach", "organisation": "398"},
        "data": {"channel": "phone", "direction": "outbound"},
    }
    line = json.dumps(good).encode()
    (tmp / "a-file").write_text("not a directory\n")
    (tmp / "bad-utf8.jsonl").write_bytes(line + b"\n" + b'{"type": "caf\xe9"}\n')
    (tmp / "deep.jsonl").write_bytes(b"[" * 100_000 + b"\n")
    (tmp / "cut.jsonl").write_bytes(line + b"\n" + line[: len(line) // 2])
    (tmp / "not-an-object.jsonl").write_bytes(b"[1, 2]\n")
    (tmp / "digests-garbage.jsonl").write_text('{"day": "2025-06-01"\n')
    (tmp / "digests-fields.jsonl").write_text('{"day": "2025-06-01", "events": 1}\n')


@pytest.fixture(params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest, tmp_path: Path, url_for: Callable[[str], str]) -> World:
    db = url_for(str(request.param))
    app = TimelineApp(settings=Settings(database_url=db, environment="test"))
    seeker = new_seeker()
    app.append([event("job_search_started", seeker, on="2025-06-02")])
    app.close()
    _files(tmp_path, seeker)
    return World(db, tmp_path, seeker)


YEAR = ["--from", "2025-01", "--to", "2025-12"]
ERASE = ["--reason", "wrongly registered", "--authority", "DPO 7"]
# (command, arguments, what the message must say); --db {db} is added to each
CASES: list[tuple[str, list[str], str]] = [
    ("import", ["{tmp}/missing.jsonl"], "missing.jsonl: No such file or directory"),
    ("import", ["{tmp}"], "Is a directory"),
    ("import", ["{tmp}/bad-utf8.jsonl"], "line 2: (line): not valid UTF-8 at byte 14"),
    ("import", ["{tmp}/deep.jsonl"], "line 1: (line): nested too deeply to read"),
    ("import", ["{tmp}/cut.jsonl"], "line 2: (line): not valid JSON"),
    ("import", ["{tmp}/cut.jsonl"], "the file ends in the middle of this line"),
    ("import", ["{tmp}/not-an-object.jsonl"], "line 1: "),
    ("history", ["not-a-uuid"], "argument SEEKER_ID: 'not-a-uuid' is not a seeker id"),
    ("history", ["{seeker}", "--as-of", "2025-06-01T12:00:00"], "no UTC offset"),
    ("history", ["{seeker}", "--as-of", "yesterday"], "argument --as-of"),
    ("obligations", ["not-a-uuid"], "argument SEEKER_ID: 'not-a-uuid' is not a seeker id"),
    ("obligations", ["{seeker}", "--on", "2025-02-30"], "'2025-02-30' is not a date"),
    ("obligations", ["{seeker}", "--on", "2022-05-01"], "no ruleset covers 2022-05-01"),
    ("obligations", ["--on", "2021-12-31"], "no ruleset covers 2021-12-31"),
    ("obligations", ["{unknown}"], "no obligations for seeker"),
    ("obligations", ["--limit", "0"], "argument --limit: '0' is not a whole number"),
    ("obligations", ["--municipality", "Lahti"], "argument --municipality"),
    ("obligations", ["--status", "late"], "argument --status: invalid choice"),
    ("verify", ["--seeker", "not-a-uuid"], "argument --seeker: 'not-a-uuid' is not a seeker id"),
    ("verify", ["--since", "June"], "argument --since: 'June' is not a date"),
    ("verify", ["--digests", "{tmp}/missing.jsonl"], "missing.jsonl: No such file"),
    ("verify", ["--digests", "{tmp}/digests-garbage.jsonl"], "line 1: (line): not valid JSON"),
    ("verify", ["--digests", "{tmp}/digests-fields.jsonl"], "line 1: signature: Field required"),
    ("export", ["not-a-uuid"], "argument SEEKER_ID: 'not-a-uuid' is not a seeker id"),
    ("export", ["{unknown}", "--out", "{tmp}/x"], "no timeline for seeker"),
    ("export", ["{seeker}", "--out", "{unwritable}"], "a-file/sub: Not a directory"),
    ("export", ["{seeker}", "--as-of", "2025-06-01"], "no UTC offset"),
    ("digest", ["--day", "{today}"], "not over yet"),
    ("digest", ["--day", "{tomorrow}"], "not over yet"),
    ("digest", ["--day", "01.06.2025"], "'01.06.2025' is not a date"),
    ("digest", ["--export", "{unwritable}"], "a-file/sub: Not a directory"),
    ("rebuild", ["everything"], "argument projection: invalid choice"),
    ("quarantine", ["--projection", "everything"], "argument --projection: invalid choice"),
    ("quarantine", ["--limit", "0"], "argument --limit: '0' is not a whole number"),
    ("worker", ["--db", "sqlite:////no/such/directory/t.db"], "no directory /no/such/directory"),
    ("worker", ["--db", "sqlite:///{tmp}"], "is not a file"),
    ("worker", ["--metrics-port", "70000"], "argument --metrics-port: '70000' is not a port"),
    ("status", ["--db", "sqlite:////no/such/directory/t.db"], "no directory /no/such/directory"),
    ("keys", ["rotate-all"], "argument ACTION: invalid choice"),
    ("keys", ["status", "--db", "sqlite:////no/such/directory/t.db"], "no directory /no/such"),
    ("serve", ["--port", "http"], "argument --port: invalid int value"),
    ("token", ["--name", "x", "--role", "king"], "argument --role: invalid choice"),
    ("token", ["--name", "x", "--role", "writer", "--scope", "lahti"], "not a municipality code"),
    ("token", ["--name", " ", "--role", "writer"], "argument --name: must not be empty"),
    ("demo", ["--seekers", "-3"], "argument --seekers: '-3' is not a whole number"),
    ("demo", ["--seekers", "1", "--seed", "2", "--out", "{unwritable}"], "Not a directory"),
    ("stats", ["--from", "2025-13", "--to", "2025-12"], "argument --from"),
    ("stats", ["--from", "2025-01", "--to", "2025-02", "--out", "{unwritable}"], "Not a dir"),
    ("stats", ["--from", "2025-01", "--to", "2025-02", "--plot", "{unwritable}"], "Not a dir"),
    (
        "stats",
        ["--from", "2025-01", "--to", "2025-02", "--format", "parquet", "--out", "{unwritable}"],
        "Not a dir",
    ),
    ("whatif", ["--ruleset", "FI-2099-01", *YEAR], "argument --ruleset: invalid choice"),
    ("whatif", ["--ruleset-file", "{tmp}/missing.toml", *YEAR], "missing.toml: No such file"),
    ("whatif", ["--ruleset-file", "{tmp}/a-file", *YEAR], "(file): not TOML"),
    ("whatif", ["--ruleset", "FI-2026-01", *YEAR, "--seeker", "{unknown}"], "no timeline for"),
    ("whatif", ["--ruleset", "FI-2026-01", *YEAR, "--plot", "{unwritable}"], "Not a dir"),
    ("erase", ["not-a-uuid", *ERASE, "--yes"], "argument SEEKER_ID: 'not-a-uuid' is not a seeker"),
    ("erase", ["{unknown}", *ERASE, "--yes"], "no timeline for seeker"),
    ("erase", ["{seeker}", "--reason", " ", "--authority", "a", "--yes"], "--reason: must not be"),
    ("erase", ["{seeker}", *ERASE], "pass --yes to confirm when not at a terminal"),
    ("erasures", ["--db", "sqlite:////no/such/directory/t.db"], "no directory /no/such/directory"),
    ("retention", ["--older-than", "5 years", "--dry-run"], "--older-than: '5 years' is not a"),
    ("retention", ["--dry-run", "--apply"], "argument --apply: not allowed with argument"),
    ("retention", ["--now", "2025-06-01T12:00:00", "--dry-run"], "no UTC offset"),
    ("retention", [], "one of the arguments --dry-run --apply is required"),
    ("migrate-store", ["--to", "4"], "argument --to: invalid choice"),
    ("migrate-store", ["--to", "1"], "--to 1: this build writes stored form 2"),
    ("migrate-store", ["--to", "2", "--batch", "0"], "argument --batch: '0' is not a whole number"),
    ("migrate-store", ["--to", "2", "--db", "memory:"], "not a SQLite or PostgreSQL database"),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int | str | None, str]:
    """Exit code and stderr. Any exception escaping ``main`` fails the test with its
    traceback: that is the bug this file looks for."""
    try:
        code: int | str | None = main(argv)
    except SystemExit as exited:
        code = exited.code
    return code, capsys.readouterr().err


def test_every_command_has_bad_input_cases() -> None:
    assert {command for command, _, _ in CASES} == subcommands()


@pytest.mark.parametrize(
    ("command", "arguments", "says"),
    CASES,
    ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(CASES)],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(
    world: World,
    capsys: pytest.CaptureFixture[str],
    command: str,
    arguments: list[str],
    says: str,
) -> None:
    db = [] if "--db" in arguments else ["--db", world.db]
    code, err = run(world.fill([command, *arguments, *db]), capsys)
    assert code == 2, err
    assert f"timeline {command}: " in err
    assert world.fill([says])[0] in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_refuses_an_unsupported_database_url(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run([command, "--db", "mysql://localhost/timeline"], capsys)
    assert code == 2
    assert "argument --db: unsupported database URL 'mysql://localhost/timeline'" in err


# the least each command needs to reach the database (token never does)
RUNS = {
    "serve": [],
    "worker": [],
    "import": ["{tmp}/a-file"],
    "history": ["{seeker}"],
    "obligations": [],
    "verify": [],
    "export": ["{seeker}", "--out", "{tmp}/x"],
    "digest": [],
    "rebuild": ["obligations"],
    "quarantine": [],
    "status": [],
    "keys": ["status"],
    "demo": ["--seekers", "1", "--seed", "2"],
    "stats": ["--from", "2025-01", "--to", "2025-02"],
    "whatif": ["--ruleset", "FI-2026-01", *YEAR],
    "erase": ["{seeker}", *ERASE, "--yes"],
    "erasures": [],
    "retention": ["--dry-run"],
    "migrate-store": ["--to", "3"],
}


def test_every_command_but_token_is_listed_with_its_least_arguments() -> None:
    assert set(RUNS) | {"token"} == subcommands()


@pytest.mark.parametrize("command", sorted(RUNS))
def test_an_unreachable_postgresql_is_named_at_once_without_its_password(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    here = World(UNREACHABLE, tmp_path, new_seeker())
    code, err = run(here.fill([command, *RUNS[command], "--db", UNREACHABLE]), capsys)
    assert code == 2, err
    assert (
        f"timeline {command}: cannot connect to PostgreSQL at "
        "postgresql://postgres:***@127.0.0.1:1/nowhere: " in err
    )
    assert "secret" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", sorted(RUNS))
def test_an_unusable_database_setting_is_named(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIMELINE_DATABASE_URL", "mysql://localhost/timeline")
    code, err = run(World("", tmp_path, new_seeker()).fill([command, *RUNS[command]]), capsys)
    assert code == 2, err
    assert f"timeline {command}: TIMELINE_DATABASE_URL: unsupported database URL" in err
    monkeypatch.setenv("TIMELINE_DATABASE_URL", f"sqlite:///{tmp_path}/t.db")
    monkeypatch.setenv("TIMELINE_MAX_BATCH", "many")
    code, err = run(World("", tmp_path, new_seeker()).fill([command, *RUNS[command]]), capsys)
    assert code == 2, err
    assert f"timeline {command}: configuration: TIMELINE_MAX_BATCH: " in err


@pytest.mark.parametrize(
    "arguments",
    [
        ["import", "{tmp}/deep.jsonl"],
        ["import", "{tmp}/bad-utf8.jsonl"],
        ["history", "not-a-uuid"],
        ["digest", "--day", "{today}"],
        ["verify", "--digests", "{tmp}/digests-garbage.jsonl"],
    ],
    ids=lambda a: "-".join(a[:1] + [Path(x).name for x in a[1:]]),
)
def test_as_a_process_bad_input_exits_2_without_a_traceback(
    tmp_path: Path, arguments: list[str]
) -> None:
    """The installed entry point, in its own process (its own recursion limit, its own
    stdout/stderr), behaves as ``main`` does in the tests above."""
    db = f"sqlite:///{tmp_path / 'p.db'}"
    _files(tmp_path, new_seeker())
    argv = World(db, tmp_path, "").fill([*arguments, "--db", db])
    done = subprocess.run(
        [sys.executable, "-m", "timeline.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"timeline {arguments[0]}: " in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "bug",
    [KeyError("missing"), ValueError("bad arithmetic"), OSError("no file named"), TypeError()],
    ids=repr,
)
def test_a_bug_keeps_its_traceback(
    bug: Exception, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(_: object) -> int:
        raise bug

    monkeypatch.setattr(cli_events, "cmd_history", broken)
    with pytest.raises(type(bug)):
        main(["history", new_seeker(), "--db", f"sqlite:///{tmp_path / 'b.db'}"])


def test_the_user_error_table_names_environment_failures_and_leaves_bugs_alone() -> None:
    try:
        try:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        except psycopg.OperationalError as lost:
            raise OperationalError(str(lost)) from lost
    except OperationalError as wrapped:
        said = user_error(wrapped)
    assert said == "the database connection failed: server closed the connection unexpectedly"
    assert user_error(FileNotFoundError(2, "No such file or directory", "x.jsonl")) == (
        "x.jsonl: No such file or directory"
    )
    for bug in (
        sqlite3.OperationalError("no such column: x"),
        psycopg.ProgrammingError("syntax error"),
        OSError("no file named"),
        KeyError("k"),
    ):
        assert user_error(bug) is None, bug
