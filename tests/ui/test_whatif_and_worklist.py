"""The what-if page (aggregates for the roles that read statistics, bad input named, not
logged) and the worklist paged in SQL (a page reads its rows and one more; the kind filter in
the statement), on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TOKENS, MakeServices
from tests.factories import event, new_seeker
from timeline.api import create_app
from timeline.api.ui import office
from timeline.bootstrap import Services
from timeline.clock import FixedClock

TAMPERE = "837"
WHATIF = "/ui/whatif?ruleset=FI-2026-01&from=2025-06&to=2025-07&on=2025-09-30"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, url_for: Any) -> str:
    return str(url_for(request.param))


@pytest.fixture
def served(make_services: MakeServices, clock: FixedClock) -> Iterator[tuple[TestClient, Services]]:
    """Six seekers in Lahti as the hand-worked one (tests/whatif/test_hand_worked.py): started
    Wed 18 Jun 2025, interviewed Mon 30 Jun — late under FI-2025-01, on time under FI-2026-01;
    and three in Tampere started on 2 June with nothing held."""
    services = make_services()
    clock.set(datetime(2025, 7, 1, 9, tzinfo=UTC))
    for _ in range(6):
        sid = new_seeker()
        services.app.append(
            [
                event("job_search_started", sid, on="2025-06-18"),
                event("coach_assigned", sid, on="2025-06-18"),
                event("meeting_held", sid, on="2025-06-30"),
            ]
        )
    for _ in range(3):
        started = {"municipality": TAMPERE, "labour_market_status": "unemployed"}
        services.app.append([event("job_search_started", new_seeker(), started, on="2025-06-02")])
    services.obligations.catch_up()
    clock.set(datetime(2025, 10, 1, 9, tzinfo=UTC))
    with TestClient(create_app(services)) as client:
        yield client, services


def _login(client: TestClient, name: str) -> None:
    form = {"token": TOKENS[name][0], "purpose": "testing", "next": "/ui"}
    assert client.post("/ui/login", data=form, follow_redirects=False).status_code == 303


def _rows(page: str) -> dict[tuple[str, str, str], list[str]]:
    """The what-if table: (month, kind, measure) -> [actual, what-if, change] as shown."""
    found, month = {}, ""
    body = page.split("<tbody>")[1].split("</tbody>", maxsplit=1)[0]
    for tr in re.findall(r"<tr[^>]*><th>(.*?)</th>(.*?)</tr>", body, re.S):
        month = tr[0] or month
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", tr[1], re.S)
        ]
        found[(month, cells[0], cells[1])] = cells[2:]
    return found


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("reporter", 200),
        ("auditor", 200),
        ("admin", 200),
        ("writer", 403),
        ("caseworker-lahti", 403),
    ],
)
def test_the_whatif_page_is_for_the_roles_that_read_statistics(
    served: tuple[TestClient, Services], name: str, status: int
) -> None:
    client, _ = served
    _login(client, name)
    page = client.get(WHATIF)
    assert page.status_code == status
    if status == 403:
        assert "Not allowed" in page.text
        assert "What-if" not in page.text.split("<main>")[0]  # not in the navigation either
    else:
        assert '<a href="/ui/whatif">What-if</a>' in page.text


def test_a_comparison_shows_its_table_and_charts_without_personal_data(
    served: tuple[TestClient, Services],
) -> None:
    client, services = served
    _login(client, "reporter")
    before = len(services.access_log.query(limit=1000))
    page = client.get(WHATIF + "&area=398")
    assert page.status_code == 200, page.text
    rows = _rows(page.text)
    assert rows[("2025-06", "initial_interview", "met_late")] == ["6", "0", "-6"]
    assert rows[("2025-07", "initial_interview", "met_on_time")] == ["0", "6", "+6"]
    assert "6 seekers" in page.text
    assert page.text.count('<svg class="chart"') == 3
    assert "Obligations due" in page.text and "what-if FI-2026-01" in page.text
    everywhere = _rows(client.get(WHATIF).text)
    # the three in Tampere are too few for a cell of their own
    assert everywhere[("2025-06", "initial_interview", "overdue")] == ["·", "·", "·"]
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", page.text)  # no seeker id
    assert len(services.access_log.query(limit=1000)) == before  # aggregates: not logged
    form = client.get("/ui/whatif")  # the form alone
    assert form.status_code == 200 and "<table" not in form.text
    assert "What if another ruleset" in client.get("/ui/statistics").text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("&from=2025-13", "from: '2025-13' is not a month written YYYY-MM"),
        ("&to=2025-05", "to: 2025-05 is before from=2025-06"),
        ("&ruleset=FI-2099-01", "ruleset: unknown ruleset 'FI-2099-01'"),
        ("&area=nowhere", "area: unknown area 'nowhere'"),
        ("&on=tomorrow", "on: 'tomorrow' is not a day"),
    ],
)
def test_a_bad_field_is_named_and_nothing_computed(
    served: tuple[TestClient, Services], change: str, message: str
) -> None:
    client, _ = served
    _login(client, "reporter")
    page = client.get(WHATIF + change)
    assert page.status_code == 422
    assert message in html.unescape(page.text)
    assert "<table" not in page.text
    assert '<form method="get" class="filters">' in page.text  # the form stays to correct it


def _seekers(page: str) -> list[str]:
    return re.findall(r'href="/ui/seekers/([0-9a-f-]{36})', page)


def test_the_worklist_filters_by_kind_and_pages_in_sql(
    served: tuple[TestClient, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, services = served
    _login(client, "caseworker-tampere")
    asked: list[dict[str, Any]] = []
    read = services.obligations.worklist

    def spy(on: Any, **kw: Any) -> list[dict[str, Any]]:
        asked.append(kw)
        return read(on, **kw)

    monkeypatch.setattr(services.obligations, "worklist", spy)
    monkeypatch.setattr(office, "PAGE_SIZE", 2)
    query = "/ui/worklist?on=2025-07-01&municipality=837&kind=initial_interview"
    first = client.get(query)
    assert first.status_code == 200, first.text
    assert (asked[-1]["kind"], asked[-1]["limit"], asked[-1]["offset"]) == (
        "initial_interview",
        3,
        0,
    )
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = client.get(query + "&page=2")
    assert asked[-1]["offset"] == 2
    assert 'rel="next"' not in second.text and 'rel="prev"' in second.text
    kinds = re.findall(
        r"</td><td>([a-z_]+)</td>\s*<td><a href=\"/ui/seekers/", first.text + second.text
    )
    assert kinds == ["initial_interview"] * 3  # the three started 2 June, overdue by 1 July
    assert len(set(_seekers(first.text) + _seekers(second.text))) == 3
    every = client.get("/ui/worklist?on=2025-07-01&municipality=837&page=1")
    others = re.findall(r"</td><td>([a-z_]+)</td>\s*<td><a href=\"/ui/seekers/", every.text)
    assert set(others) - {"initial_interview"}  # other kinds are there without the filter
    # the coach filter offers the coaches of open spells, not only those on the page
    view = services.obligations
    assert (view.coaches("398"), view.coaches(TAMPERE), view.coaches(None)) == (
        ["coach-1"],
        [],
        ["coach-1"],
    )
    bad = client.get("/ui/worklist?kind=lunch")
    assert bad.status_code == 422
    assert "kind: unknown kind 'lunch'" in html.unescape(bad.text)
