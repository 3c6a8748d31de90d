"""``timeline whatif`` as a user runs it: the report in each format, a draft ruleset, one
seeker for an auditor (logged), and exit 2 with the field and the reason for every input error."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.cli.main import main
from timeline.rulesets import ruleset_text
from timeline.settings import Settings

YEAR = ["--from", "2025-01", "--to", "2025-12", "--on", "2025-09-30"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def seeker(db: str) -> str:
    """The seeker of test_hand_worked: started Wed 18 Jun 2025, interviewed Mon 30 Jun."""
    app = TimelineApp(settings=Settings(database_url=db, environment="test"))
    sid = new_seeker()
    app.append(
        [
            event("job_search_started", sid, on="2025-06-18"),
            event("coach_assigned", sid, on="2025-06-18"),
            event("meeting_held", sid, on="2025-06-30"),
            event("employment_plan_agreed", sid, {"plan_kind": "employment_plan"}, on="2025-06-30"),
        ]
    )
    app.close()
    return sid


def _access_log(db: str) -> list[tuple[str, str, str]]:
    """The access log's entries (none when no personal read ever made its table)."""
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'timeline_access_log'"
        ).fetchall():
            return []
        return conn.execute(
            "SELECT action, seeker_id, purpose FROM timeline_access_log ORDER BY seq"
        ).fetchall()


def test_the_report_as_json_csv_and_a_table(
    db: str, seeker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["whatif", "--ruleset", "FI-2026-01", *YEAR, "--db", db, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["ruleset"], report["from"], report["to"], report["on"]) == (
        "FI-2026-01",
        "2025-01",
        "2025-12",
        "2025-09-30",
    )
    assert report["seekers"] is None  # one person: suppressed
    late = next(
        r
        for r in report["rows"]
        if (r["month"], r["kind"], r["measure"]) == ("2025-06", "initial_interview", "met_late")
    )
    assert late == {
        "month": "2025-06",
        "kind": "initial_interview",
        "measure": "met_late",
        "actual": None,
        "whatif": 0.0,
        "change": None,
        "suppressed": True,
    }
    assert main(["whatif", "--ruleset", "FI-2026-01", *YEAR, "--db", db, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "month,kind,measure,actual,whatif,change,suppressed"
    assert len(lines) == 1 + 12 * 46
    assert main(["whatif", "--ruleset", "FI-2026-01", *YEAR, "--db", db]) == 0
    table = capsys.readouterr().out
    assert table.startswith("FI-2026-01 in force 2025-01..2025-12 instead of the rulesets in force")
    assert _access_log(db) == []  # aggregates: no personal read


def test_one_seeker_under_both_for_an_auditor_is_logged(
    db: str, seeker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["whatif", "--ruleset", "FI-2026-01", *YEAR, "--db", db, "--seeker", seeker]
    assert main([*args, "--format", "json", "--purpose", "complaint 3/2025"]) == 0
    doc = json.loads(capsys.readouterr().out)
    interview = next(p for p in doc["pairs"] if p["kind"] == "initial_interview")
    assert (interview["actual"]["due_on"], interview["actual"]["status"]) == (
        "2025-06-26",
        "met_late",
    )
    assert (interview["whatif"]["due_on"], interview["whatif"]["status"]) == ("2025-07-03", "met")
    assert main(args) == 0
    table = capsys.readouterr().out
    assert re.search(
        r"initial_interview\s+initial_interview\s+FI-2025-01\s+2025-06-26\s+met_late", table
    )
    assert _access_log(db) == [
        ("whatif", seeker, "complaint 3/2025"),
        ("whatif", seeker, "unstated (command line)"),
    ]


def test_a_draft_ruleset_file(
    db: str, seeker: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "draft.toml"
    draft.write_text(
        ruleset_text("FI-2025-01")
        .replace('id = "FI-2025-01"', 'id = "DRAFT-3-DAYS"')
        .replace(
            'initial_interview_working_days = { value = 5, tag = "C" }',
            'initial_interview_working_days = { value = 3, tag = "P" }',
        ),
        encoding="utf-8",
    )
    args = ["whatif", "--ruleset-file", str(draft), *YEAR, "--db", db, "--seeker", seeker]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    interview = next(p for p in doc["pairs"] if p["kind"] == "initial_interview")
    # three working days from Wed 18 Jun 2025: Thu 19, (Midsummer Eve), Mon 23, Tue 24
    assert interview["whatif"]["due_on"] == "2025-06-24"
    assert interview["whatif"]["rule"] == "DRAFT-3-DAYS/initial_interview"


def test_a_plot(db: str, seeker: str, tmp_path: Path) -> None:
    out = tmp_path / "whatif.png"
    args = ["whatif", "--ruleset", "FI-2026-01", *YEAR, "--db", db, "--plot", str(out)]
    assert main([*args, "--format", "csv"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--ruleset", "FI-2099-01", *YEAR], "argument --ruleset: invalid choice: 'FI-2099-01'"),
        (["--ruleset", "FI-2026-01", "--from", "2025-13", "--to", "2025-12"], "argument --from"),
        (["--from", "2025-01", "--to", "2025-12"], "one of the arguments --ruleset"),
        (
            ["--ruleset", "FI-2026-01", "--ruleset-file", "x.toml", *YEAR],
            "argument --ruleset-file: not allowed with argument --ruleset",
        ),
        (["--ruleset", "FI-2026-01", *YEAR, "--seeker", "nobody"], "argument --seeker"),
        (["--ruleset", "FI-2026-01", *YEAR, "--format", "xml"], "argument --format"),
    ],
)
def test_arguments_the_parser_refuses_exit_2(
    db: str, args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["whatif", *args, "--db", db])
    assert caught.value.code == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["--ruleset", "FI-2026-01", "--from", "2025-12", "--to", "2025-01"],
            "timeline whatif: --to: the window ends (2025-01) before it starts (2025-12)",
        ),
        (
            ["--ruleset", "FI-2026-01", "--from", "0000-01", "--to", "2025-12"],
            "timeline whatif: --from: 0000-01 is outside 1990-01 … 2099-12",
        ),
        (
            ["--ruleset", "FI-2026-01", "--from", "2000-01", "--to", "2025-12"],
            "timeline whatif: --to: the window has 312 months; at most 120",
        ),
        (
            [
                "--ruleset",
                "FI-2026-01",
                "--from",
                "2025-01",
                "--to",
                "2025-12",
                "--on",
                "9999-12-31",
            ],
            "timeline whatif: --on: 9999-12-31 is outside 1990-01-01 … 2099-12-31",
        ),
        (
            ["--ruleset", "FI-2026-01", *YEAR, "--area", "nowhere"],
            "timeline whatif: --area: unknown area 'nowhere'",
        ),
        (
            ["--ruleset-file", "{tmp}/missing.toml", *YEAR],
            "timeline whatif: {tmp}/missing.toml: No such file or directory",
        ),
        (
            ["--ruleset-file", "{tmp}/bad.toml", *YEAR],
            "parameters.initial_interview_working_days.value: must be a whole number of at "
            "least 0, not -1",
        ),
        (
            ["--ruleset", "FI-2026-01", *YEAR, "--seeker", "{seeker}", "--area", "398"],
            "--seeker reads one seeker: --area and --plot do not apply",
        ),
        (
            ["--ruleset", "FI-2026-01", *YEAR, "--seeker", "00000000-0000-4000-8000-000000000000"],
            "timeline whatif: no timeline for seeker 00000000-0000-4000-8000-000000000000",
        ),
    ],
)
def test_input_errors_exit_2_naming_the_field_and_the_reason(
    db: str,
    seeker: str,
    tmp_path: Path,
    args: list[str],
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "bad.toml").write_text(
        ruleset_text("FI-2026-01")
        .replace('id = "FI-2026-01"', 'id = "DRAFT"')
        .replace("value = 10,", "value = -1,"),
        encoding="utf-8",
    )
    filled = [a.format(tmp=tmp_path, seeker=seeker) for a in args]
    assert main(["whatif", *filled, "--db", db]) == 2
    assert reason.format(tmp=tmp_path) in capsys.readouterr().err
    assert _access_log(db) == []  # nothing written on a refused request
