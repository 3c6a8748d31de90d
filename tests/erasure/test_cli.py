"""``timeline erase``, ``timeline erasures`` and ``timeline retention`` from the command line
(SQLite and PostgreSQL: the in-memory store does not outlive a command), and the retention
job's selection on every store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import MakeServices
from tests.factories import VALID_CODE, envelope, event, new_seeker
from timeline.application import TimelineApp
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.erasure.retention import Period, cutoff, due, parse_period
from timeline.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, url_for: Any) -> str:
    return str(url_for(request.param))


def _seed(db: str, when: datetime, code: str | None = None) -> str:
    """A seeker whose events were recorded at ``when``."""
    app = TimelineApp(settings=Settings(database_url=db, environment="test"), clock=lambda: when)
    seeker = new_seeker()
    data: dict[str, Any] = {"municipality": "398", "labour_market_status": "unemployed"}
    if code:
        data["personal_identity_code"] = code
    day = when.date().isoformat()
    app.append([event("job_search_started", seeker, data, on=day)])
    app.close()
    return seeker


OLD = datetime(2019, 3, 1, 10, 0, tzinfo=UTC)
RECENT = datetime(2024, 11, 20, 10, 0, tzinfo=UTC)
NOW = "2025-06-10T12:00:00+03:00"


def test_erase_asks_for_confirmation_unless_yes(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeker = _seed(db, RECENT, VALID_CODE)
    args = ["erase", seeker, "--reason", "wrongly registered", "--authority", "DPO 7", "--db", db]
    # not at a terminal, no --yes: refused, nothing erased
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(args) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["erasures", "--db", db]) == 0
    assert capsys.readouterr().out == ""
    assert main([*args, "--yes"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["seeker_id"], done["events"], done["already_erased"]) == (seeker, 1, False)
    assert done["actor"].startswith("cli:")
    assert main(["erasures", "--db", db]) == 0
    [listed] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert listed["seeker_id"] == seeker and listed["authority"] == "DPO 7"
    assert main(["history", seeker, "--db", db, "--json", "--purpose", "check"]) == 0
    [entry] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (entry["erased"], entry["data"]) == (True, None)
    assert main(["verify", "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["erasure_register"] == "ok"
    # an unknown seeker: exit 2, named
    assert main([*args[:1], new_seeker(), *args[2:], "--yes"]) == 2
    assert "no timeline for seeker" in capsys.readouterr().err


def test_an_import_line_for_an_erased_seeker_is_refused(
    db: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    seeker = _seed(db, RECENT)
    assert main(["erase", seeker, "--reason", "r", "--authority", "a", "--db", db, "--yes"]) == 0
    capsys.readouterr()
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(envelope("coach_assigned", seeker)) + "\n")
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    assert "was erased" in capsys.readouterr().err


def test_an_import_line_for_an_erased_seeker_is_refused_by_a_partitioned_import_too(
    url_for: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """The workers do not read the register: the command's process does, and the file goes to
    the one-process pass, which refuses the line with the same message."""
    db = str(url_for("postgres"))
    seeker = _seed(db, RECENT, VALID_CODE)
    assert main(["erase", seeker, "--reason", "r", "--authority", "a", "--db", db, "--yes"]) == 0
    capsys.readouterr()
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(envelope("coach_assigned", seeker)) + "\n")
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    alone = capsys.readouterr().err
    assert main(["import", str(path), "--db", db, "--quiet", "--workers", "2"]) == 2
    assert capsys.readouterr().err == alone
    assert "was erased" in alone


def test_retention_lists_on_a_dry_run_and_erases_on_apply(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old, recent = _seed(db, OLD), _seed(db, RECENT)
    run = ["retention", "--older-than", "5y", "--now", NOW, "--db", db, "--quiet"]
    assert main([*run, "--dry-run"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert (listed["cutoff"], listed["due"]) == ("2020-06-10T09:00:00.000000+00:00", 1)
    assert [s["seeker_id"] for s in listed["seekers"]] == [old]
    assert main(["erasures", "--db", db]) == 0
    assert capsys.readouterr().out == ""  # a dry run erases nothing
    assert main([*run, "--apply"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["erased"] == [old]
    assert main(["erasures", "--db", db]) == 0
    [entry] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (entry["seeker_id"], entry["authority"]) == (old, "retention")
    assert entry["reason"] == "retention period 5y elapsed: last event before 2020-06-10"
    # the next run finds nothing more; a shorter period reaches the recent seeker
    assert main([*run, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["due"] == 0
    assert main([*run[:2], "3m", *run[3:], "--dry-run"]) == 0
    assert [s["seeker_id"] for s in json.loads(capsys.readouterr().out)["seekers"]] == [recent]
    assert main([*run[:2], "5 years", *run[3:], "--dry-run"]) == 2
    assert "--older-than" in capsys.readouterr().err


def test_the_selection_is_the_same_on_every_store(
    make_services: MakeServices, clock: FixedClock
) -> None:
    services = make_services()
    seekers = {}
    for name, when, day in (
        ("old", OLD, "2019-03-01"),
        ("recent", RECENT, "2024-11-20"),
        ("backdated", RECENT, "2019-01-05"),  # recorded recently about an old case: kept
    ):
        clock.set(when)
        seeker = new_seeker()
        data = {"municipality": "398", "labour_market_status": "unemployed"}
        services.app.append([event("job_search_started", seeker, data, on=day)])
        seekers[name] = seeker
    clock.set(datetime(2025, 6, 10, 9, tzinfo=UTC))
    before = cutoff(clock(), parse_period("5y"))
    found = due(services.app, services.erasures, before)
    assert [d.seeker_id for d in found] == [seekers["old"]]
    assert found[0].last_occurred_on == "2019-03-01"


def test_periods_and_cutoffs() -> None:
    assert parse_period("5y") == Period(5, "y")
    assert parse_period(" 60M ") == Period(60, "m")
    for bad in ("0y", "5", "y", "5w", "-1y"):
        with pytest.raises(ValueError, match="not a period"):
            parse_period(bad)
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert cutoff(leap, Period(1, "y")).date().isoformat() == "2027-02-28"
    assert cutoff(leap, Period(13, "m")).date().isoformat() == "2027-01-29"
    assert cutoff(leap, Period(30, "d")).date().isoformat() == "2028-01-30"
