"""Digests kept outside prove the log unchanged; exports verify offline; the access log is
append-only; the nightly job seals and verifies."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.factories import event, new_seeker
from tests.stored import index_value
from timeline.audit.checks import verify_store
from timeline.audit.digests import EMPTY_ROOT, merkle_root
from timeline.audit.export import export_seeker
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.jobs import Jobs, NightlyAudit
from timeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def services(
    request: pytest.FixtureRequest, url_for: Callable[[str], str], clock: FixedClock
) -> Iterator[Services]:
    s = bootstrap(Settings(database_url=url_for(str(request.param)), environment="test"), clock)
    yield s
    s.close()


def _two_days(services: Services, clock: FixedClock) -> str:
    seeker = new_seeker()
    clock.set(datetime(2025, 6, 2, 7, tzinfo=UTC))
    services.app.append([event("job_search_started", seeker, on="2025-06-02")])
    clock.set(datetime(2025, 6, 3, 7, tzinfo=UTC))
    services.app.append(
        [
            event("meeting_held", seeker, on="2025-06-03"),
            event("coach_assigned", seeker, on="2025-06-03"),
        ]
    )
    clock.set(datetime(2025, 6, 4, 7, tzinfo=UTC))
    return seeker


def test_merkle_roots_change_with_any_leaf_and_its_order() -> None:
    a, b, c = ("a" * 64, "b" * 64, "c" * 64)
    assert merkle_root([]) == EMPTY_ROOT
    roots = {merkle_root(x) for x in ([a], [a, b], [b, a], [a, b, c], [a, c, b], [a, b, b])}
    assert len(roots) == 6


def test_kept_digests_prove_an_unchanged_log_and_name_the_altered_day(
    services: Services, clock: FixedClock
) -> None:
    seeker = _two_days(services, clock)
    sealed = [services.digests.seal(date(2025, 6, d)) for d in (2, 3)]
    assert [d.events for d in sealed] == [1, 2]
    kept = [d.to_dict() for d in services.digests.kept()]
    assert verify_store(services.app, services.access_log, services.digests, kept_digests=kept).ok
    # an insider rewrites day 3's events consistently (index too), so per-seeker chains alone
    # would not notice if the whole chain were recomputed; the kept digest still does
    with services.db.transaction() as tx:
        tx.execute(
            f"UPDATE timeline_event_index SET hash = {tx.sql.P} WHERE seeker_id = {tx.sql.P} "
            "AND version = 3",
            [index_value(services.db.dialect, "hash", "f" * 64), seeker],
        )
    report = verify_store(services.app, services.access_log, services.digests, kept_digests=kept)
    assert any(p.startswith("2025-06-03") for p in report.digest_problems)
    assert not any(p.startswith("2025-06-02") for p in report.digest_problems)


def test_an_edited_kept_digest_does_not_verify(services: Services, clock: FixedClock) -> None:
    _two_days(services, clock)
    services.digests.seal(date(2025, 6, 2))
    [kept] = [d.to_dict() for d in services.digests.kept()]
    kept["events"] = 5
    assert "signature" in services.digests.check([kept])[0]


def test_a_day_is_sealed_only_when_it_is_over(services: Services, clock: FixedClock) -> None:
    _two_days(services, clock)
    with pytest.raises(ValueError, match="not over"):
        services.digests.seal(date(2025, 6, 4))


def test_an_export_verifies_offline_and_tampering_is_named(
    services: Services, clock: FixedClock, tmp_path: Path
) -> None:
    seeker = _two_days(services, clock)
    services.obligations.catch_up()
    exported = export_seeker(services.app, services.obligations, seeker, tmp_path / "x")
    assert exported.manifest["events"] == 3
    html = (tmp_path / "x" / "report.html").read_text()
    assert "<svg" in html and "initial_interview" in html
    script = [sys.executable, str(ROOT / "ops" / "verify_export.py"), str(tmp_path / "x")]
    ok = subprocess.run(script, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout
    lines = (tmp_path / "x" / "events.jsonl").read_text().splitlines()
    altered = json.loads(lines[1])
    altered["data"]["channel"] = "video"
    lines[1] = json.dumps(altered)
    body = ("\n".join(lines) + "\n").encode()
    (tmp_path / "x" / "events.jsonl").write_bytes(body)
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    import hashlib

    manifest["files"]["events.jsonl"] = hashlib.sha256(body).hexdigest()
    (tmp_path / "x" / "manifest.json").write_text(json.dumps(manifest))
    bad = subprocess.run(script, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "line 2" in bad.stdout


def test_an_export_as_of_a_moment_holds_only_what_was_known(
    services: Services, clock: FixedClock, tmp_path: Path
) -> None:
    seeker = _two_days(services, clock)
    exported = export_seeker(
        services.app,
        services.obligations,
        seeker,
        tmp_path / "then",
        as_of=datetime(2025, 6, 2, 12, tzinfo=UTC),
    )
    assert exported.manifest["events"] == 1


def test_the_access_log_refuses_updates_and_deletes(services: Services) -> None:
    services.access_log.record(
        actor="a", role="auditor", action="history", seeker_id="s", purpose="p"
    )
    for sql in ("UPDATE timeline_access_log SET purpose = 'x'", "DELETE FROM timeline_access_log"):
        with pytest.raises(Exception, match="append-only"), services.db.transaction() as tx:
            tx.execute(sql)
    assert services.access_log.verify() is None


def test_an_altered_access_log_entry_breaks_its_chain(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "al.db"
    services = bootstrap(Settings(database_url=f"sqlite:///{path}", environment="test"), clock)
    for purpose in ("one", "two", "three"):
        services.access_log.record(
            actor="a", role="auditor", action="history", seeker_id="s", purpose=purpose
        )
    with sqlite3.connect(path) as conn:  # an insider drops the trigger first
        conn.execute("DROP TRIGGER timeline_access_log_no_update")
        conn.execute("UPDATE timeline_access_log SET purpose = 'curiosity' WHERE seq = 2")
    assert services.access_log.verify() == "access log entry 2 was altered (hash chain broken)"
    services.close()


def test_the_nightly_job_seals_finished_days_and_verifies(
    services: Services, clock: FixedClock
) -> None:
    _two_days(services, clock)
    jobs = Jobs(services.app, services.obligations, clock)
    nightly = NightlyAudit(jobs, services.app, services.access_log, services.digests)
    assert nightly() == "ok"
    assert [d.day for d in services.digests.kept()] == ["2025-06-03"]
    clock.advance(days=2)
    assert nightly() == "ok"
    assert [d.day for d in services.digests.kept()] == ["2025-06-03", "2025-06-04", "2025-06-05"]
    with services.db.transaction() as tx:
        tx.execute(
            f"UPDATE timeline_event_index SET digest = {tx.sql.P} WHERE version = 1",
            [index_value(services.db.dialect, "digest", "0" * 64)],
        )
    clock.advance(days=1)
    assert nightly() == "failed"
    with services.db.transaction() as tx:
        [(outcome, detail)] = tx.execute(
            "SELECT outcome, detail FROM timeline_job_runs WHERE job = 'nightly_audit' "
            "ORDER BY started_at DESC LIMIT 1"
        )
    assert outcome == "failed"
    assert "verification failed" in detail
