"""An export folder is covered whole by its manifest and carries the verifier its report tells
the reader to run; the report's obligations follow the rules (lateness stops at a spell's end)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import event, new_seeker
from timeline.audit.export import Exported, export_seeker
from timeline.bootstrap import Services, bootstrap
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPS_VERIFIER = ROOT / "ops" / "verify_export.py"
FILES = {"events.jsonl", "report.html", "verify_export.py"}


@pytest.fixture(params=["sqlite", "postgres"])
def services(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[Services]:
    s = bootstrap(Settings(database_url=url_for(str(request.param)), environment="test"), clock)
    yield s
    s.close()


def _ended_spell(services: Services, clock: FixedClock) -> str:
    """Started Mon 3 Feb 2025 (interview due Mon 10 Feb, never held), ended Fri 28 Feb."""
    seeker = new_seeker()
    clock.set(datetime(2025, 12, 1, 9, tzinfo=UTC))
    services.app.append(
        [
            event("job_search_started", seeker, on="2025-02-03"),
            event("job_search_ended", seeker, {"reason": "employed_open_market"}, on="2025-02-28"),
        ]
    )
    services.obligations.catch_up()
    return seeker


def _verify(folder: Path, verifier: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(verifier), "."],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def exported(services: Services, clock: FixedClock, tmp_path: Path) -> Exported:
    return export_seeker(
        services.app, services.obligations, _ended_spell(services, clock), tmp_path / "x"
    )


def test_the_manifest_covers_every_file_and_the_folder_verifies_itself(
    exported: Exported,
) -> None:
    folder = exported.directory
    assert set(exported.manifest["files"]) == FILES
    assert {p.name for p in folder.iterdir()} == {*FILES, "manifest.json"}
    # the very verifier of the repository, not a variant of it
    source = ROOT / "src" / "timeline" / "audit" / "verify_export.py"
    assert (folder / "verify_export.py").read_bytes() == source.read_bytes()
    inside = _verify(folder, "verify_export.py")
    assert inside.returncode == 0, inside.stdout
    assert f"manifest SHA-256 {exported.manifest_sha256}" in inside.stdout
    assert _verify(folder, OPS_VERIFIER).stdout == inside.stdout


def _edit(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"overdue", b"met", 1))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda f: _edit(f / "report.html"), "report.html does not match"),
        (lambda f: (f / "report.html").unlink(), "report.html is listed"),
        (lambda f: (f / "verify_export.py").write_text("print('OK')\n"), "verify_export.py"),
        (lambda f: (f / "notes.txt").write_text("added\n"), "not covered by manifest.json: notes"),
        (lambda f: (f / "manifest.json").write_text("{}"), "manifest.json lists no files"),
        (lambda f: (f / "manifest.json").unlink(), "no manifest.json"),
    ],
    ids=["report-edited", "report-removed", "verifier-edited", "file-added", "manifest-emptied",
         "manifest-removed"],
)  # fmt: skip
def test_any_file_edited_removed_or_added_is_named(
    exported: Exported, change: Callable[[Path], object], named: str
) -> None:
    change(exported.directory)
    found = _verify(exported.directory, OPS_VERIFIER)
    assert found.returncode == 1, found.stdout
    assert named in found.stdout
    assert "Traceback" not in found.stderr


def test_the_report_says_how_to_verify_the_folder_and_shows_lateness_stopped_at_the_end(
    exported: Exported,
) -> None:
    html = (exported.directory / "report.html").read_text(encoding="utf-8")
    assert "<code>python verify_export.py\n.</code>" in html
    assert "verify_export.py DIR" not in html
    # the interview was due 10 Feb and never held; the spell ended 28 Feb: 18 days, not 294
    assert "<td>initial_interview</td><td>2025-02-10</td>" in html
    assert ">overdue</td><td></td><td>18</td><td>FI-2025-01/initial_interview" in html


def test_an_export_on_a_day_no_ruleset_covers_says_so(
    services: Services, clock: FixedClock, tmp_path: Path
) -> None:
    seeker = new_seeker()
    clock.set(datetime(2022, 3, 1, 9, tzinfo=UTC))
    services.app.append([event("job_search_started", seeker, on="2022-02-01")])
    done = export_seeker(services.app, services.obligations, seeker, tmp_path / "old")
    html = (done.directory / "report.html").read_text(encoding="utf-8")
    assert "no ruleset covers 2022-03-01" in html
    assert _verify(done.directory, OPS_VERIFIER).returncode == 0


def test_the_cli_records_the_manifests_sha256_in_the_access_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "t.db"
    services = bootstrap(Settings(database_url=f"sqlite:///{db}", environment="test"))
    seeker = new_seeker()
    services.app.append([event("job_search_started", seeker, on="2025-06-02")])
    services.close()
    out = tmp_path / "x"
    assert main(["export", seeker, "--out", str(out), "--db", f"sqlite:///{db}"]) == 0
    printed = json.loads(capsys.readouterr().out)
    with sqlite3.connect(db) as conn:
        [(detail,)] = conn.execute(
            "SELECT detail FROM timeline_access_log WHERE action = 'export'"
        ).fetchall()
    assert json.loads(detail)["manifest_sha256"] == printed["manifest_sha256"]
    assert f"manifest SHA-256 {printed['manifest_sha256']}" in _verify(out, OPS_VERIFIER).stdout
