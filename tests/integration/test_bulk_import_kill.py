"""SIGKILL `timeline import` while it writes, run it again: every event of the file is stored
exactly once (the rerun reports the written ones as duplicates) and every chain verifies."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.cli.main import main
from timeline.demo import generate
from timeline.settings import Settings

CHUNK = 300

# The import in a child process, with small chunks, telling its parent after each one.
CHILD = f"""
import sys, time
from timeline.bulk import engine, rows

engine.CHUNK = {CHUNK}
for sink in (rows.CopySink, rows.RecorderSink):
    def write(self, records, _write=sink.write):
        _write(self, records)
        print("chunk", flush=True)
        time.sleep(0.05)
    sink.write = write
from timeline.cli.main import main
sys.exit(main(["import", sys.argv[1], "--db", sys.argv[2], "--quiet"]))
"""


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, url_for: Callable[[str], str]) -> str:
    return url_for(str(request.param))


def _stored(url: str) -> list[str]:
    app = TimelineApp(settings=Settings(database_url=url, environment="test"))
    try:
        return [r.event_id for r in app.index.index_after_position(0, 100_000)]
    finally:
        app.close()


def test_a_killed_import_rerun_stores_every_event_exactly_once(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.jsonl"
    envelopes = [e.envelope for e in generate(40, seed=3, end=datetime.now(UTC).date())]
    path.write_text("".join(json.dumps(e) + "\n" for e in envelopes), encoding="utf-8")
    ids = {e["event_id"] for e in envelopes}
    assert len(envelopes) > 4 * CHUNK

    env = {**os.environ, "TIMELINE_ENVIRONMENT": "test"}
    env.pop("TIMELINE_DATABASE_URL", None)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    for _ in range(2):
        assert child.stdout.readline() == b"chunk\n", child.stderr.read() if child.stderr else ""
    time.sleep(random.uniform(0, 0.08))  # between chunks or in the middle of one
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    written = _stored(db)
    assert 2 * CHUNK <= len(written) < len(envelopes)
    assert len(written) % CHUNK == 0  # whole chunks only

    capsys.readouterr()
    assert main(["import", str(path), "--db", db, "--quiet"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == {"accepted": len(envelopes) - len(written), "duplicates": len(written)}

    stored = _stored(db)
    assert len(stored) == len(envelopes)
    assert set(stored) == ids
    app = TimelineApp(settings=Settings(database_url=db, environment="test"))
    try:
        assert len(app.recorder.select_notifications(1, 100_000)) == len(envelopes)
        assert list(verify_all(app)) == []
    finally:
        app.close()
