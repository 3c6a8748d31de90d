"""The web view in a real browser: the system Chromium (Playwright) against ``timeline serve``
on a free port and a temporary SQLite store with a hand-made seeker whose coach was corrected.
A caseworker signs in with a token and a purpose, opens the seeker, moves the as-of field back
before the correction and sees the old coach, opens the office's worklist and filters it by
kind; a reporter then compares a window under another ruleset on the what-if page.

Under ``CI=true`` this runs or fails; elsewhere it skips when no Chromium is installed
(``apt-get install -y chromium``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import TOKENS, tokens_json
from tests.factories import event, new_seeker
from timeline.bootstrap import bootstrap
from timeline.clock import FixedClock
from timeline.settings import Settings


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: the browser test needs chromium (apt-get install -y chromium)")
        pytest.skip("no chromium on PATH: apt-get install -y chromium to run the browser test")
    return found


@dataclass
class Served:
    base: str
    seeker: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _seed(url: str) -> str:
    """A Lahti seeker: started 3 March 2025 with coach-anna; on 1 April the coach corrected to
    coach-ben (recorded then)."""
    clock = FixedClock(datetime(2025, 3, 3, 9, tzinfo=UTC))
    settings = Settings(database_url=url, environment="test", tokens=tokens_json())
    services = bootstrap(settings, clock)
    try:
        seeker = new_seeker()
        start = {"municipality": "398", "labour_market_status": "unemployed"}
        coach = event("coach_assigned", seeker, {"coach_id": "coach-anna"}, on="2025-03-03")
        services.app.append([event("job_search_started", seeker, start, on="2025-03-03"), coach])
        clock.set(datetime(2025, 4, 1, 9, tzinfo=UTC))
        fix = {
            "corrects_event_id": coach.event_id,
            "reason": "wrong coach",
            "replacement": {
                "type": "coach_assigned",
                "occurred_on": "2025-03-03",
                "data": {"coach_id": "coach-ben"},
            },
        }
        services.app.append([event("correction", seeker, fix, on="2025-04-01")])
        services.obligations.catch_up()
        return seeker
    finally:
        services.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    seeker = _seed(url)
    port = _free_port()
    env = {
        **os.environ,
        "TIMELINE_DATABASE_URL": url,
        "TIMELINE_ENVIRONMENT": "test",
        "TIMELINE_TOKENS": tokens_json(),
    }
    env.pop("TIMELINE_TOKENS_FILE", None)
    timeline = Path(sys.executable).with_name("timeline")
    server = subprocess.Popen(
        [str(timeline), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as answer:
                    assert json.load(answer)["status"] == "ok"
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    _, err = server.communicate(timeout=10)
                    pytest.fail(f"timeline serve did not start: {err.decode()[-2000:]}")
                time.sleep(0.3)
        yield Served(base, seeker)
    finally:
        server.terminate()
        server.communicate(timeout=60)


def test_a_caseworker_replays_a_timeline_before_a_correction_and_opens_the_worklist(
    served: Served,
) -> None:
    executable = _chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{served.base}/ui")
            assert "/ui/login" in page.url  # tokens are configured: sign in first
            page.fill("input[name=token]", TOKENS["caseworker-lahti"][0])
            page.fill("input[name=purpose]", "case handling")
            page.click("form.login button[type=submit]")
            page.wait_for_url(f"{served.base}/ui")
            assert "caseworker:caseworker-lahti" in page.inner_text("header")

            page.fill("input[name=seeker_id]", served.seeker)
            page.click("text=Open timeline")
            page.wait_for_url(f"**/ui/seekers/{served.seeker}")
            assert page.inner_text("dd[data-field=coach]") == "coach-ben"
            assert page.locator("svg.timeline .mark:not(.due)").count() == 3  # the events
            assert page.locator("svg.timeline .mark.due").count() >= 1  # what fell due
            assert page.locator("table.events tr.superseded").count() == 1

            page.fill("#as_of", "2025-03-15T12:00")
            page.click("form.asof button[type=submit]")
            page.wait_for_url("**as_of=2025-03-15T12%3A00**")
            coach = page.inner_text("dd[data-field=coach]")
            assert coach.startswith("coach-anna"), coach
            assert "now: coach-ben" in coach
            assert "As known at 2025-03-15 12:00" in page.inner_text(".asof-badge")
            assert page.locator("svg.timeline .mark.changed").count() == 1  # corrected since

            page.click("header nav >> text=Worklist")
            page.wait_for_url("**/ui/worklist")
            page.select_option("select[name=municipality]", "398")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**municipality=398**")
            rows = page.locator(f"table.worklist a[href*='{served.seeker}']")
            assert rows.count() >= 1
            assert "coach-ben" in page.inner_text("table.worklist")

            kind = page.inner_text("table.worklist tbody tr td:nth-child(4)")  # the first row's
            page.select_option("select[name=kind]", kind)
            page.click("form.filters button[type=submit]")
            page.wait_for_url(f"**kind={kind}**")
            kinds = page.locator("table.worklist tbody tr td:nth-child(4)").all_inner_texts()
            assert kinds and set(kinds) == {kind}

            page.click("header form.inline button[type=submit]")  # sign out
            page.wait_for_url("**/ui/login")
            page.fill("input[name=token]", TOKENS["reporter"][0])
            page.click("form.login button[type=submit]")
            page.wait_for_url(f"{served.base}/ui")
            page.click("header nav >> text=What-if")
            page.wait_for_url("**/ui/whatif")
            page.select_option("select[name=ruleset]", "FI-2026-01")
            page.fill("input[name=from]", "2025-03")
            page.fill("input[name=to]", "2025-05")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**ruleset=FI-2026-01**")
            assert page.locator("svg.chart").count() == 3
            assert "2025-03" in page.inner_text("table.whatif")
            assert served.seeker not in page.content()  # aggregates only
        finally:
            browser.close()
