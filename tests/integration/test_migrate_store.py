"""`timeline migrate-store --to 2` on a store written by the code of stored form 1
(tests/fixtures/store_v1: a demo imported at commit 6408a5f, on SQLite and PostgreSQL): every
event sealed in form 2 in place, and everything the store answers unchanged — positions, index,
chain heads, counts, the HTTP history, the look-up by identity code, `verify` and the digests
sealed before, the projections rebuilt. A second run and a dry run write nothing; a migration
killed mid-way and run again completes. And `--to 3` on a store written by the code just before
the single log table (tests/fixtures/store_v2, main at 34d41bd): moved into the log, it answers
as that code did."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests import pg
from timeline.api import create_app
from timeline.application import TimelineApp
from timeline.auth import token_hash
from timeline.bootstrap import bootstrap
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.store.migrate import convert_index, convert_log
from timeline.store.postgres import IndexLayoutOutdated

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store_v1"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
DIGESTS = str(FIXTURE / "digests.jsonl")
#: the same demo stored by the code just before the single log table (tests/fixtures/store_v2)
FIXTURE_V2 = Path(__file__).parents[1] / "fixtures" / "store_v2"
EXPECTED_V2: dict[str, Any] = json.loads((FIXTURE_V2 / "expected.json").read_text(encoding="utf-8"))
MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
TOKEN = "migrate-admin"
#: after the fixture's sealed days; the moment the tests read at
LATER = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def v1_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The fixture's store, restored fresh: its URL."""
    if request.param == "sqlite":
        db = tmp_path / "timeline.db"
        with gzip.open(FIXTURE / "store_v1.sqlite.gz", "rb") as src, db.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        yield f"sqlite:///{db}"
        return
    with pg.temporary_database() as name:
        restored = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.admin_dsn(name)],
            input=gzip.decompress((FIXTURE / "store_v1.sql.gz").read_bytes()),
            capture_output=True,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr.decode()
        yield pg.url(name)


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMELINE_ENVIRONMENT", "test")  # the fixture's development keys
    monkeypatch.setenv("TIMELINE_MASTER_KEY", MASTER_KEY)
    monkeypatch.delenv("TIMELINE_DATABASE_URL", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def migrate(capsys: pytest.CaptureFixture[str], url: str, *more: str) -> dict[str, Any]:
    code, out, err = run(capsys, "migrate-store", "--to", "2", "--db", url, "--quiet", *more)
    assert code == 0, err
    answer: dict[str, Any] = json.loads(out)
    return answer


def raw_rows(url: str) -> list[tuple[int, str, int, str, bytes]]:
    """Every stored event as the database holds it: position, seeker, version, topic, state."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(
                "SELECT rowid, originator_id, originator_version, topic, state "
                "FROM stored_events ORDER BY rowid"
            ).fetchall()
        return [(p, str(s), v, t, bytes(b)) for p, s, v, t, b in rows]
    dsn = pg.admin_dsn(url.rsplit("/", 1)[1])
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            "FROM timeline_events ORDER BY notification_id"
        ).fetchall()
    return [(p, s.replace("-", ""), v, t, bytes(b)) for p, s, v, t, b in found]


def index_rows(url: str) -> list[tuple[Any, ...]]:
    sql = "SELECT * FROM timeline_event_index ORDER BY position"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(pg.admin_dsn(url.rsplit("/", 1)[1])) as conn:
        return conn.execute(sql).fetchall()


def answers(url: str, expected: dict[str, Any] = EXPECTED) -> dict[str, Any]:
    """What the store answers, as ``expected`` (a fixture's expected.json) records it."""
    tokens = json.dumps([{"name": "a", "sha256": token_hash(TOKEN), "role": "admin", "scope": "*"}])
    settings = Settings(database_url=url, environment="test", tokens=tokens)  # type: ignore[arg-type]
    services = bootstrap(settings, FixedClock(LATER))
    try:
        rows = services.app.index.index_after_position(0, 1_000_000)
        heads = {
            r.seeker_id: {"version": r.version, "hash": r.hash, "position": r.position}
            for r in rows
        }
        seeker = expected["seeker"]
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Purpose": "testing"}
        with TestClient(create_app(services), headers=headers) as client:
            history = client.get(f"/v1/seekers/{seeker}/events", params={"limit": 1000})
            code = expected["personal_identity_code"]
            lookup = client.post("/v1/seekers/lookup", json={"personal_identity_code": code})
        assert history.status_code == 200, history.text
        assert lookup.status_code == 200, lookup.text
        answered = history.json()
        # (history entries gained ``erased`` with erasure, after the fixture was written: none
        # of these seekers is erased, so the entries are the fixture's plus ``erased: false``)
        assert all(e.pop("erased") is False for e in answered["events"])
        return {
            "events": len(rows),
            "last_position": rows[-1].position,
            "per_type": dict(sorted(Counter(r.type for r in rows).items())),
            "heads": heads,
            "history": answered,
            "lookup": lookup.json(),
        }
    finally:
        services.close()


def projections(capsys: pytest.CaptureFixture[str], url: str) -> tuple[str, str]:
    """The obligations on a day and the monthly statistics, each projection rebuilt first."""
    for name in ("obligations", "outcomes"):
        code, _, err = run(capsys, "rebuild", name, "--db", url, "--quiet")
        assert code == 0, err
    code, obligations, err = run(
        capsys, "obligations", "--on", "2026-10-31", "--json", "--db", url, "--purpose", "test"
    )
    assert code == 0, err
    code, stats, err = run(
        capsys, "stats", "--from", "2022-01", "--to", "2026-10", "--format", "json", "--db", url
    )
    assert code == 0, err
    assert obligations.count("\n") > 10 and len(stats) > 1000  # (something to compare)
    return obligations, stats


def verify(capsys: pytest.CaptureFixture[str], url: str, digests: str = DIGESTS) -> dict[str, Any]:
    code, out, err = run(capsys, "verify", "--db", url, "--digests", digests, "--quiet")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def test_a_v1_store_migrated_to_form_2_answers_as_before(
    v1_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = v1_store
    # PostgreSQL: the index table converted to layout 2 and both tables moved into the log
    # first (what the migration's first steps do; tests/integration/test_index_layout.py), so
    # this build can read the store before its events are rewritten
    convert_index(Settings(database_url=url, environment="test"))
    convert_log(Settings(database_url=url, environment="test"))
    before = raw_rows(url)
    n = EXPECTED["events"]
    assert len(before) == n and all(state[:1] == b"{" for *_, state in before)
    clear = b"".join(state for *_, state in before)
    personal = [v.encode() for v in EXPECTED["personal_values"]]
    assert all(v in clear for v in personal)  # (in clear before: the check below can fail)
    index_before = index_rows(url)
    projected_before = projections(capsys, url)

    dry = migrate(capsys, url, "--dry-run")
    assert (dry["rewritten"], dry["already"], dry["dry_run"]) == (n, 0, True)
    assert raw_rows(url) == before

    done = migrate(capsys, url, "--batch", "400")
    assert (done["examined"], done["rewritten"], done["already"]) == (n, n, 0)
    assert done["found"] == {"1": n}
    assert done["size_before"] > 0 and done["size_after"] > 0

    after = raw_rows(url)
    # every row kept: position, seeker, version, topic; only the state is new, in form 2
    assert [r[:4] for r in after] == [r[:4] for r in before]
    assert all(state[:1] == b"\x02" for *_, state in after)
    sealed = b"".join(state for *_, state in after)
    assert [v for v in personal if v in sealed] == []
    assert index_rows(url) == index_before

    assert verify(capsys, url) == {
        "ok": True,
        "seekers_checked": len(EXPECTED["heads"]),
        "broken": 0,
        "access_log": "ok",
        "erasure_register": "ok",
        "digest_problems": [],
    }
    found = answers(url)
    for key in ("events", "last_position", "per_type", "heads", "history", "lookup"):
        assert found[key] == EXPECTED[key], key
    assert found["lookup"] == {"seeker_ids": [EXPECTED["seeker"]]}
    assert projections(capsys, url) == projected_before

    again = migrate(capsys, url)
    assert (again["rewritten"], again["already"], again["found"]) == (0, n, {"2": n})
    assert raw_rows(url) == after  # a second run writes nothing


def test_migrate_store_refuses_a_form_this_build_does_not_write(
    v1_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = raw_rows(v1_store)
    code, out, err = run(capsys, "migrate-store", "--to", "1", "--db", v1_store)
    assert code == 2 and out == ""
    assert "--to 1: this build writes stored form 2" in err
    assert raw_rows(v1_store) == before


def test_migrate_store_refuses_the_memory_store(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "migrate-store", "--to", "2", "--db", "memory:")
    assert code == 2
    assert "not a SQLite or PostgreSQL database" in err


BATCH = 100

# The migration in a child process, small chunks, telling its parent after each one.
CHILD = f"""
import sys, time
from timeline.store import migrate

for writer in (migrate._SQLiteWriter, migrate._PostgresWriter):
    def rewrite(self, rows, _rewrite=writer.rewrite):
        _rewrite(self, rows)
        print("chunk", flush=True)
        time.sleep(0.05)
    writer.rewrite = rewrite
from timeline.cli.main import main
sys.exit(main(["migrate-store", "--to", "2", "--batch", "{BATCH}", "--db", sys.argv[1], "--quiet"]))
"""


def test_a_killed_migration_run_again_completes(
    v1_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = v1_store
    before = raw_rows(url)
    n = len(before)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    assert child.stdout is not None
    for _ in range(3):
        line = child.stdout.readline()
        assert line == b"chunk\n", child.stderr.read() if child.stderr else ""
    time.sleep(0.03)  # between chunks or in the middle of one
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    midway = raw_rows(url)
    sealed = [r for r in midway if r[4][:1] == b"\x02"]
    assert 3 * BATCH <= len(sealed) < n
    assert len(sealed) % BATCH == 0  # whole chunks only
    assert [r[0] for r in sealed] == [r[0] for r in midway[: len(sealed)]]  # in position order
    assert verify(capsys, url)["ok"]  # half migrated, still whole

    done = migrate(capsys, url)
    assert (done["rewritten"], done["already"]) == (n - len(sealed), len(sealed))
    after = raw_rows(url)
    assert [r[:4] for r in after] == [r[:4] for r in before]
    assert all(state[:1] == b"\x02" for *_, state in after)
    assert [r for r in after if r[0] <= sealed[-1][0]] == sealed  # the done part untouched
    assert verify(capsys, url)["seekers_checked"] == len(EXPECTED["heads"])
    assert answers(url)["heads"] == EXPECTED["heads"]


def test_a_state_in_no_known_form_stops_the_migration_before_its_chunk(
    v1_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = v1_store
    position = 250  # in the third chunk of 100
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE stored_events SET state = x'00ff' WHERE rowid = ?", [position])
    else:
        with psycopg.connect(pg.admin_dsn(url.rsplit("/", 1)[1])) as conn:
            conn.execute(
                "UPDATE timeline_events SET state = '\\x00ff' WHERE notification_id = %s",
                [position],
            )
    code, out, err = run(capsys, "migrate-store", "--to", "2", "--batch", "100", "--db", url)
    assert code == 2 and out == ""
    assert f"position {position} " in err and "no known stored form (first byte 00)" in err
    forms = [state[:1] for _, _, _, _, state in raw_rows(url)]
    assert forms[:200] == [b"\x02"] * 200  # the chunks before it were migrated and committed
    assert set(forms[200:]) == {b"{", b"\x00"}  # its own chunk and the rest were not


def _log_states(url: str) -> list[tuple[int, bytes]]:
    with psycopg.connect(pg.admin_dsn(url.rsplit("/", 1)[1])) as conn:
        rows = conn.execute(
            "SELECT notification_id, state FROM timeline_log ORDER BY notification_id"
        ).fetchall()
    return [(p, bytes(s)) for p, s in rows]


def test_a_store_written_before_the_log_is_moved_into_it_and_answers_as_before(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """tests/fixtures/store_v2: a store written by main at 34d41bd, the last code before the
    single log table (stored form 2, the library's events table beside the index in layout 2).
    The service refuses it and names the command; ``migrate-store --to 3`` moves it into the
    log; then the store answers exactly what that code answered (positions, chain heads,
    counts, the HTTP history, the look-up), ``verify`` passes with the digests it sealed,
    personal values stay sealed, the projections rebuild, and a second run changes nothing."""
    with pg.temporary_database() as name:
        restored = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", pg.admin_dsn(name)],
            input=gzip.decompress((FIXTURE_V2 / "store_v2.sql.gz").read_bytes()),
            capture_output=True,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr.decode()
        url = pg.url(name)
        with pytest.raises(IndexLayoutOutdated, match="migrate-store --to 3"):
            TimelineApp(settings=Settings(database_url=url, environment="test"))

        code, out, err = run(capsys, "migrate-store", "--to", "3", "--db", url, "--quiet")
        assert code == 0, err
        n = EXPECTED_V2["events"]
        assert json.loads(out)["log_table"]["converted"] == n

        states = _log_states(url)
        assert len(states) == n
        sealed = b"".join(s for _, s in states)
        assert [v for v in EXPECTED_V2["personal_values"] if v.encode() in sealed] == []
        assert verify(capsys, url, str(FIXTURE_V2 / "digests.jsonl")) == {
            "ok": True,
            "seekers_checked": len(EXPECTED_V2["heads"]),
            "broken": 0,
            "access_log": "ok",
            "erasure_register": "ok",
            "digest_problems": [],
        }
        found = answers(url, EXPECTED_V2)
        for key in ("events", "last_position", "per_type", "heads", "lookup"):
            assert found[key] == EXPECTED_V2[key], key
        # (that code answered ``erased`` too, which answers() takes off each entry: none is)
        history = json.loads(json.dumps(EXPECTED_V2["history"]))
        assert all(e.pop("erased") is False for e in history["events"])
        assert found["history"] == history
        assert found["lookup"] == {"seeker_ids": [EXPECTED_V2["seeker"]]}
        projections(capsys, url)

        code, _, err = run(capsys, "migrate-store", "--to", "3", "--db", url, "--quiet")
        assert code == 0, err
        assert _log_states(url) == states  # a second run moves and rewrites nothing
