"""The demo dataset goes through the real store: every event accepted, and the README's file
flow (demo --out, import, import again) works."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.settings import Settings


def test_the_store_accepts_every_demo_event_and_the_chains_verify(
    url_for: Callable[[str], str],
) -> None:
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(
        settings=Settings(database_url=url_for("sqlite"), environment="test"), clock=clock
    )
    expected = sum(1 for _ in generate(seekers=25, seed=3))
    assert load_demo(app, clock, generate(seekers=25, seed=3)) == expected
    assert len(app.feed(0, 100_000)) == expected
    assert list(verify_all(app)) == []
    app.close()


def test_demo_file_imports_once_and_then_only_as_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo.jsonl"
    db = f"sqlite:///{tmp_path / 'flow.db'}"
    assert main(["demo", "--seekers", "10", "--seed", "5", "--out", str(out)]) == 0
    lines = out.read_text().count("\n")
    capsys.readouterr()
    assert main(["import", str(out), "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": lines, "duplicates": 0}
    assert main(["import", str(out), "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": 0, "duplicates": lines}


def test_a_demo_file_made_without_a_seed_imports_beside_the_served_demo_as_new_seekers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'served.db'}"
    assert main(["demo", "--seekers", "3", "--seed", "1", "--db", db, "--quiet"]) == 0  # as served
    capsys.readouterr()
    fresh = tmp_path / "fresh.jsonl"
    assert main(["demo", "--seekers", "3", "--out", str(fresh)]) == 0
    said = capsys.readouterr().err
    found = re.search(r"demo seed (\d+) \(--seed \1 makes the same data again\)", said)
    assert found, said
    seed = int(found.group(1))
    assert json.loads(said.splitlines()[-1])["seed"] == seed
    lines = fresh.read_text().count("\n")
    assert main(["import", str(fresh), "--db", db, "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": lines, "duplicates": 0}
    again = tmp_path / "again.jsonl"
    assert main(["demo", "--seekers", "3", "--seed", str(seed), "--out", str(again)]) == 0
    assert again.read_bytes() == fresh.read_bytes()
