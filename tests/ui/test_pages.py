"""The web view behind the API's tokens, roles, scopes and purposes: a login form that keeps
the token and the purpose in HttpOnly, SameSite=Strict cookies; every read of a personal
timeline through a page is checked and written to the access log as the API does."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TOKENS, MakeServices
from tests.factories import VALID_CODE, event, new_seeker
from timeline.api import create_app
from timeline.bootstrap import Services
from timeline.clock import FixedClock

LAHTI, TAMPERE = "398", "837"


@dataclass
class World:
    services: Services
    client: TestClient
    lahti: str  # started 2 June 2025 with VALID_CODE, coach corrected on 10 June
    tampere: str
    corrected_at: datetime

    def login(self, name: str, purpose: str = "case handling") -> Any:
        return self.client.post(
            "/ui/login",
            data={"token": TOKENS[name][0], "purpose": purpose, "next": "/ui"},
            follow_redirects=False,
        )

    def log(self, **query: Any) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.services.access_log.query(limit=1000, **query)]


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, url_for: Any) -> str:
    return str(url_for(request.param))


@pytest.fixture
def world(make_services: MakeServices, clock: FixedClock) -> Iterator[World]:
    services = make_services()
    lahti, tampere = new_seeker(), new_seeker()
    clock.set(datetime(2025, 6, 2, 9, tzinfo=UTC))
    start = {"municipality": LAHTI, "labour_market_status": "unemployed"}
    start["personal_identity_code"] = VALID_CODE
    coach = event("coach_assigned", lahti, {"coach_id": "coach-anna"})
    services.app.append([event("job_search_started", lahti, start), coach])
    services.app.append(
        [
            event(
                "job_search_started",
                tampere,
                {"municipality": TAMPERE, "labour_market_status": "unemployed"},
            )
        ]
    )
    clock.set(datetime(2025, 6, 10, 9, tzinfo=UTC))
    fix = {
        "corrects_event_id": coach.event_id,
        "reason": "wrong coach",
        "replacement": {
            "type": "coach_assigned",
            "occurred_on": "2025-06-02",
            "data": {"coach_id": "coach-ben"},
        },
    }
    services.app.append([event("correction", lahti, fix, on="2025-06-10")])
    services.obligations.catch_up()
    clock.set(datetime(2025, 6, 12, 9, tzinfo=UTC))
    with TestClient(create_app(services)) as client:
        yield World(services, client, lahti, tampere, datetime(2025, 6, 10, 9, tzinfo=UTC))


def test_login_keeps_token_and_purpose_in_httponly_strict_cookies(world: World) -> None:
    answer = world.login("caseworker-lahti")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui"
    cookies = answer.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/ui" in cookie
    page = world.client.get("/ui")
    assert "caseworker:caseworker-lahti" in page.text
    assert "case handling" in page.text
    out = world.client.post("/ui/logout", follow_redirects=False)
    assert out.status_code == 303
    again = world.client.get("/ui", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/ui/login?next=%2Fui")


def test_an_unknown_token_or_a_missing_purpose_does_not_sign_in(world: World) -> None:
    bad = world.client.post(
        "/ui/login", data={"token": "nope", "purpose": "x"}, follow_redirects=False
    )
    assert bad.status_code == 401
    assert "unknown or revoked token" in bad.text
    assert "set-cookie" not in bad.headers
    silent = world.login("caseworker-lahti", purpose="")
    assert silent.status_code == 422
    assert "state a purpose" in silent.text
    assert "set-cookie" not in silent.headers


def test_a_page_without_login_sends_to_the_login_form(world: World) -> None:
    answer = world.client.get(f"/ui/seekers/{world.lahti}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/ui/login?next=%2Fui%2Fseekers%2F{world.lahti}")
    assert world.log(seeker_id=world.lahti) == []


def test_reading_a_timeline_is_logged_as_the_api_logs_it(world: World) -> None:
    world.login("caseworker-lahti", purpose="case 42")
    page = world.client.get(f"/ui/seekers/{world.lahti}?on=2025-06-12")
    assert page.status_code == 200
    assert "coach-ben" in page.text
    assert "verified" in page.text
    entries = world.log(seeker_id=world.lahti)
    assert [e["action"] for e in entries] == ["history", "obligations"]
    for e in entries:
        assert e["actor"] == "caseworker:caseworker-lahti"
        assert e["purpose"] == "case 42"
        assert e["detail"]["view"] == "ui"
    assert entries[1]["detail"]["on"] == "2025-06-12"


def test_as_of_before_a_correction_shows_the_old_value_and_what_changed(world: World) -> None:
    world.login("caseworker-lahti")
    page = world.client.get(f"/ui/seekers/{world.lahti}?as_of=2025-06-05T12:00")
    assert page.status_code == 200
    assert 'data-field="coach">coach-anna' in page.text
    assert "now: coach-ben" in page.text
    assert "Changed since 2025-06-05 12:00" in page.text
    history = world.log(seeker_id=world.lahti, actor="caseworker:caseworker-lahti")[0]
    assert history["detail"]["as_of"] == "2025-06-05T12:00:00+03:00"


def test_a_seeker_outside_the_scope_is_refused_and_the_refusal_logged(world: World) -> None:
    world.login("caseworker-lahti")
    page = world.client.get(f"/ui/seekers/{world.tampere}")
    assert page.status_code == 403
    assert "outside your organisation scope" in page.text
    assert "job_search_started" not in page.text
    assert [e["action"] for e in world.log(seeker_id=world.tampere)] == ["history:denied"]


@pytest.mark.parametrize(
    ("name", "path", "status"),
    [
        ("reporter", "/ui/seekers/{lahti}", 403),
        ("reporter", "/ui/worklist", 403),
        ("reporter", "/ui/statistics", 200),
        ("caseworker-lahti", "/ui/statistics", 403),
        ("caseworker-lahti", "/ui/operations", 403),
        ("auditor", "/ui/operations", 403),
        ("admin", "/ui/operations", 200),
        ("auditor", "/ui/seekers/{lahti}", 200),
        ("caseworker-lahti", "/ui/rules/FI-2025-01/initial_interview", 200),
    ],
)
def test_each_page_is_for_the_roles_the_api_allows(
    world: World, name: str, path: str, status: int
) -> None:
    world.login(name, purpose="testing")
    page = world.client.get(path.format(lahti=world.lahti), follow_redirects=False)
    assert page.status_code == status, page.text


def test_the_worklist_is_the_offices_own(world: World) -> None:
    world.login("caseworker-lahti")
    first = world.client.get("/ui/worklist?on=2025-06-12")  # the scope's first: 016
    assert first.status_code == 200
    assert "<option selected>016</option><option >398</option>" in first.text
    assert world.lahti not in first.text
    own = world.client.get(f"/ui/worklist?on=2025-06-12&municipality={LAHTI}")
    assert f"/ui/seekers/{world.lahti}" in own.text
    assert "initial_interview" in own.text
    assert world.tampere not in own.text
    other = world.client.get(f"/ui/worklist?municipality={TAMPERE}")
    assert other.status_code == 403
    actions = [e["action"] for e in world.log()]
    assert actions[-3:] == ["worklist", "worklist", "worklist:denied"]


def test_a_look_up_answers_only_seekers_of_the_scope(world: World) -> None:
    world.login("caseworker-lahti")
    found = world.client.post("/ui/lookup", data={"personal_identity_code": VALID_CODE})
    assert found.status_code == 200
    assert f"/ui/seekers/{world.lahti}" in found.text
    world.login("caseworker-tampere")
    hidden = world.client.post("/ui/lookup", data={"personal_identity_code": VALID_CODE})
    assert world.lahti not in hidden.text
    assert "No seeker of your scope" in hidden.text
    actions = [e["action"] for e in world.log(seeker_id=world.lahti)]
    assert actions == ["lookup", "lookup:denied"]
    bad = world.client.post("/ui/lookup", data={"personal_identity_code": "131052-308X"})
    assert bad.status_code == 422
    assert "personal_identity_code" in bad.text


def test_an_as_of_before_the_first_event_shows_nothing_yet(world: World) -> None:
    world.login("caseworker-lahti")
    page = world.client.get(f"/ui/seekers/{world.lahti}?as_of=2025-01-01T00:00")
    assert page.status_code == 200
    assert "0 events were recorded by then; 3 recorded since" in " ".join(page.text.split())
    bad = world.client.get(f"/ui/seekers/{world.lahti}?as_of=yesterday")
    assert bad.status_code == 422
    assert "as_of: 'yesterday' is not a date and time" in html.unescape(bad.text)


def test_operations_shows_projections_and_logs_the_quarantine_read(world: World) -> None:
    world.login("admin", purpose="operations")
    page = world.client.get("/ui/operations")
    text = " ".join(page.text.split())
    assert "<td>obligations</td>" in text
    assert "None: every event was applied." in text
    assert "No day sealed yet" in text
    quarantine = [e for e in world.log() if e["action"] == "quarantine"]
    assert quarantine
    assert quarantine[-1]["purpose"] == "operations"


def test_statistics_are_a_months_by_measures_table_and_charts(world: World) -> None:
    world.login("reporter", purpose="")
    page = world.client.get(
        "/ui/statistics?area=398&from=2025-05&to=2025-07&measure=stock_total&measure=inflow"
    )
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "<th>month</th><th>stock_total</th><th>inflow</th>" in text
    for month in ("2025-05", "2025-06", "2025-07"):
        assert f"<tr><th>{month}</th>" in text
    assert text.count('<svg class="chart"') == 2  # persons and spells
    bad = world.client.get("/ui/statistics?measure=nonsense")
    assert bad.status_code == 422
    assert "unknown measure" in html.unescape(bad.text)
