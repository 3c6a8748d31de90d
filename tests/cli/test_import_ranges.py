"""`timeline import` holds every line to the vocabulary's ranges: the poison events of issue 10
(a requirement valid until 9999, a start in year 1, a NUL in a coach id) exit 2 naming the line
and the field, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.factories import envelope, new_seeker
from timeline.application import TimelineApp
from timeline.cli.main import main
from timeline.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> str:
    return url_for(str(request.param))


def _count(url: str) -> int:
    app = TimelineApp(settings=Settings(database_url=url, environment="test"))
    try:
        return len(app.feed(0, 10_000))
    finally:
        app.close()


def test_the_poison_events_are_refused_by_line_and_field(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s, t = new_seeker(), new_seeker()
    lines = [
        envelope("job_search_started", s, on="2025-03-03"),
        envelope(
            "employment_plan_agreed", s, on="2025-03-04", data={"plan_kind": "employment_plan"}
        ),
        envelope(
            "job_search_requirement_set",
            s,
            on="2025-03-04",
            data={
                "applications_per_period": 4,
                "period": "month",
                "valid_from": "2025-03-04",
                "valid_until": "9999-12-31",
            },
        ),
        envelope("job_search_started", t, on="0001-01-01"),
        envelope("coach_assigned", s, on="2025-03-05", data={"coach_id": "c\u0000x"}),
        envelope(
            "meeting_scheduled",
            s,
            on="2025-03-05",
            data={
                "meeting_id": "m1",
                "kind": "initial_interview",
                "planned_at": "2025-03-10T10:00:00",
            },
        ),
    ]
    path = tmp_path / "poison.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    assert main(["import", str(path), "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "line 3: data.valid_until: '9999-12-31' is out of range" in err
    assert "line 4: occurred_on: '0001-01-01' is out of range" in err
    assert "line 5: data.coach_id: must not contain control characters" in err
    assert "line 6: data.planned_at: '2025-03-10T10:00:00' has no UTC offset" in err
    assert "nothing was written" in err
    assert _count(db) == 0
