"""``GET /v1/stats/whatif`` for reporters: aggregates only, small cells suppressed, every bad
parameter a 422 naming it. (Who may call it: tests/api/test_roles.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MakeServices, bearer
from tests.factories import event, new_seeker
from timeline.api import create_app
from timeline.clock import FixedClock

QUERY = {"ruleset": "FI-2026-01", "from": "2025-06", "to": "2025-07", "on": "2025-09-30"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 10, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'http.db'}"


@pytest.fixture
def client(make_services: MakeServices) -> tuple[TestClient, list[str]]:
    """Six seekers as the hand-worked one (tests/whatif/test_hand_worked.py): started Wed 18
    Jun 2025, interviewed Mon 30 Jun — late under FI-2025-01, on time under FI-2026-01."""
    services = make_services()
    seekers = [new_seeker() for _ in range(6)]
    for sid in seekers:
        services.app.append(
            [
                event("job_search_started", sid, on="2025-06-18"),
                event("coach_assigned", sid, on="2025-06-18"),
                event("meeting_held", sid, on="2025-06-30"),
            ]
        )
    return TestClient(create_app(services)), seekers


def test_a_reporter_gets_the_figures_side_by_side_without_personal_data(
    client: tuple[TestClient, list[str]],
) -> None:
    http, seekers = client
    r = http.get("/v1/stats/whatif", params=QUERY, headers=bearer("reporter", purpose=None))
    assert r.status_code == 200
    body = r.json()
    assert (body["ruleset"], body["from"], body["to"], body["seekers"]) == (
        "FI-2026-01",
        "2025-06",
        "2025-07",
        6,
    )
    rows = {(x["month"], x["kind"], x["measure"]): x for x in body["rows"]}
    late = rows[("2025-06", "initial_interview", "met_late")]
    assert (late["actual"], late["whatif"], late["change"]) == (6.0, 0.0, -6.0)
    on_time = rows[("2025-07", "initial_interview", "met_on_time")]
    assert (on_time["actual"], on_time["whatif"]) == (0.0, 6.0)
    assert rows[("2025-06", "initial_interview", "median_days_late")]["actual"] == 4.0
    assert not any(sid in r.text for sid in seekers)


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"ruleset": "FI-2099-01"}, "ruleset", "unknown ruleset 'FI-2099-01'"),
        ({"from": "2025-6"}, "from", "is not a month written YYYY-MM"),
        ({"to": "2025-05"}, "to", "2025-05 is before from=2025-06"),
        ({"area": "nowhere"}, "area", "unknown area 'nowhere'"),
        ({"on": "tomorrow"}, "query.on", "valid date"),
        ({"on": "0001-01-01"}, "query.on", "0001-01-01 is outside 1990-01-01 … 2099-12-31"),
        ({"from": "1989-12"}, "from", "1989-12 is outside 1990-01 … 2099-12"),
        ({"from": "2000-01"}, "to", "the window has 307 months; at most 120"),
    ],
)
def test_a_bad_parameter_is_a_422_naming_it(
    client: tuple[TestClient, list[str]], change: dict[str, str], field: str, reason: str
) -> None:
    http, _ = client
    r = http.get("/v1/stats/whatif", params=QUERY | change, headers=bearer("reporter"))
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert field in error["loc"] and reason in error["msg"]
