#!/usr/bin/env python3
"""Screenshots of every page of the web view at 1280 px wide, for docs/screenshots/.

    python ops/docs/screenshots.py [--out docs/screenshots] [--seekers 200]

Starts ``timeline serve --demo-if-empty N`` on a temporary SQLite store (the demo of N
seekers, seed 1; no tokens: the development admin), picks a seeker with a correction, and has
the system Chromium (Playwright; ``apt-get install chromium``) open each page: the login form,
find a seeker, the seeker's timeline now and as known before its first correction, a rule,
the worklist, the statistics, the what-if (FI-2026-01 in force for 2025) and operations.
Needs the dev extras (``pip install -e '.[dev]'``)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        sys.exit("screenshots: no chromium on PATH (apt-get install -y chromium)")
    return found


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310  (our own server)
        return json.load(answer)


def wait_until_up(base: str, server: subprocess.Popen[bytes], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"screenshots: the server ended (exit {server.returncode})")
        try:
            get_json(f"{base}/health")
            return
        except OSError:
            time.sleep(0.5)
    sys.exit("screenshots: the server did not answer in time")


def corrected_seeker(base: str, since: str = "2025-01-01") -> tuple[str, str]:
    """A seeker with a correction recorded after ``since`` (so that rulesets cover the days
    around it), and the correction's recorded time."""
    after = 0
    while True:
        page = get_json(f"{base}/v1/feed?after={after}&limit=1000")
        for e in page["events"]:
            if e["type"] == "correction" and e["recorded_at"] >= since:
                return e["seeker_id"], e["recorded_at"]
        if not page["events"]:
            sys.exit("screenshots: the demo holds no correction")
        after = page["next_after"]


def shoot(page: Page, url: str, out: Path, tallest: int = 2000) -> None:
    """The page at 1280 px wide, at most ``tallest`` px of it (long tables run on)."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), tallest)
    clip = {"x": 0, "y": 0, "width": WIDTH, "height": height}
    page.screenshot(path=str(out), full_page=True, clip=clip)  # type: ignore[arg-type]
    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--seekers", type=int, default=200, help="demo seekers (default 200)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TIMELINE_DATABASE_URL": f"sqlite:///{tmp}/t.db"}
        env.pop("TIMELINE_TOKENS", None)
        env.pop("TIMELINE_TOKENS_FILE", None)
        timeline = Path(sys.executable).with_name("timeline")
        command = [str(timeline), "serve", "--demo-if-empty", str(args.seekers), "--port"]
        server = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [*command, str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_up(base, server)
            seeker, corrected_at = corrected_seeker(base)
            before = datetime.fromisoformat(corrected_at) - timedelta(minutes=1)
            as_of = before.astimezone(ZoneInfo("Europe/Helsinki")).strftime("%Y-%m-%dT%H:%M")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium())
                page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
                shoot(page, f"{base}/ui/login", args.out / "login.png")
                page.fill("input[name=purpose]", "documentation")
                page.click("button[type=submit]")
                shoot(page, f"{base}/ui", args.out / "find.png")
                shoot(page, f"{base}/ui/seekers/{seeker}", args.out / "seeker.png")
                rule = page.locator("table.obligations a").first.get_attribute("href")
                url = f"{base}/ui/seekers/{seeker}?as_of={urllib.request.quote(as_of)}"
                shoot(page, url, args.out / "seeker-as-of.png")
                if rule:
                    shoot(page, f"{base}{rule}", args.out / "rule.png")
                shoot(page, f"{base}/ui/worklist?municipality=398", args.out / "worklist.png")
                shoot(page, f"{base}/ui/statistics", args.out / "statistics.png")
                whatif = f"{base}/ui/whatif?ruleset=FI-2026-01&from=2025-01&to=2025-12"
                shoot(page, whatif, args.out / "whatif.png")
                shoot(page, f"{base}/ui/operations", args.out / "operations.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
