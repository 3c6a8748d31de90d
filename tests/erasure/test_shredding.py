"""Crypto-shredding (docs/erasure.md): after erasure the personal fields are unreadable even to
someone with the database — the stored bytes hold none in clear and the key that sealed them
is gone — and a backup of the data taken before the erasure, restored after it, stays
unreadable, because the keys are not in the data backup."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import Mapper

from tests import pg
from tests.conftest import MakeServices
from tests.factories import VALID_CODE, event, new_seeker
from timeline.application import TimelineApp
from timeline.audit.checks import verify_store
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.domain.identity import person_ref
from timeline.erasure import Eraser
from timeline.erasure.service import NotErasable
from timeline.settings import Settings
from timeline.store.form2 import is_erased
from timeline.store.keys import SeekerErased, new_master_key
from timeline.store.mapper import TimelineMapper

SECRET = "Anna asked about her sick leave"
EMPLOYER = "Oy Salainen Ab"


def _seeker(app: TimelineApp) -> str:
    seeker = new_seeker()
    app.append(
        [
            event("job_search_started", seeker, on="2025-06-02"),
            event(
                "contact_made",
                seeker,
                {"channel": "phone", "direction": "outbound", "purpose": SECRET},
                on="2025-06-03",
            ),
            event(
                "application_reported",
                seeker,
                {"applied_on": "2025-06-04", "kind": "vacancy", "employer_name": EMPLOYER},
                on="2025-06-04",
            ),
        ]
    )
    return seeker


def _personal_values(services: Services) -> list[bytes]:
    ref = person_ref(VALID_CODE, services.settings.person_key.get_secret_value().encode())
    return [SECRET.encode(), EMPLOYER.encode(), VALID_CODE.encode(), ref.encode()]


def _erase(services: Services, seeker: str) -> Any:
    return Eraser(services.app, services.erasures, services.clock).erase(
        seeker, reason="wrongly registered", authority="DPO decision 7", actor="test"
    )


def test_an_erased_payload_is_unreadable_even_with_database_access(
    make_services: MakeServices,
) -> None:
    services = make_services()
    app = services.app
    seeker = _seeker(app)
    stored = [n.state for n in app.index.seeker_notifications(seeker)]
    # sealed from the start: no personal value is ever in the stored bytes in clear
    for value in _personal_values(services):
        assert not any(value in state for state in stored), value
    before = [app.mapper.to_domain_event(n) for n in app.index.seeker_notifications(seeker)]
    assert before[1].data["purpose"] == SECRET  # readable with the key

    outcome = _erase(services, seeker)
    assert outcome.key_destroyed is True

    raw = app.index.seeker_notifications(seeker)
    assert [n.state for n in raw] == stored  # erasure rewrites no event
    [row] = app.keys.table.select([UUID(seeker)]).values()
    assert (row.wrapped, row.erased_at is not None) == (None, True)  # the key row is gone
    with pytest.raises(SeekerErased):
        app.keys.data_key(UUID(seeker))
    if not services.db.in_memory:  # (the memory store's keys live in this process only)
        # a fresh process (nothing cached) decodes only the clear fields
        fresh = TimelineApp(settings=services.settings, clock=services.clock)
        try:
            after = [fresh.mapper.to_domain_event(n) for n in raw]
        finally:
            fresh.close()
        assert all(is_erased(e) for e in after)
        assert "purpose" not in after[1].data and "employer_name" not in after[2].data
        assert after[1].data["channel"] == "phone"  # the clear fields are kept
    after_here = [app.mapper.to_domain_event(n) for n in raw]
    assert all(is_erased(e) for e in after_here)
    assert "purpose" not in after_here[1].data
    assert after_here[0].data["municipality"] == "398"


def test_a_rerun_after_a_crash_before_the_key_was_destroyed_completes_the_erasure(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services()
    seeker = _seeker(services.app)

    def crash(*_: Any) -> Any:
        raise RuntimeError("killed between the register and the key ring")

    monkeypatch.setattr(services.app.keys, "destroy", crash)
    with pytest.raises(RuntimeError):
        _erase(services, seeker)
    monkeypatch.undo()
    assert services.erasures.erased([seeker]) == {seeker}  # step 1 committed
    assert services.app.keys.erased([UUID(seeker)]) == set()  # step 2 not done
    # already refused and hidden: the register is what appends and reads ask
    assert services.app.lookup_person(VALID_CODE) == []
    rerun = _erase(services, seeker)
    assert (rerun.already, rerun.key_destroyed) == (True, True)
    assert services.app.keys.erased([UUID(seeker)]) == {UUID(seeker)}
    assert len(services.erasures.entries()) == 1


def _sqlite_backup(path: Path, to: Path) -> None:
    """A backup of the data file only (sqlite3's online backup: a consistent copy)."""
    src, dst = sqlite3.connect(path), sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _restored_history(settings: Settings, clock: FixedClock, seeker: str) -> list[Any]:
    app = TimelineApp(settings=settings, clock=clock)
    try:
        return [app.mapper.to_domain_event(n) for n in app.index.seeker_notifications(seeker)]
    finally:
        app.close()


def test_a_sqlite_backup_taken_before_erasure_stays_unreadable_after_it(
    tmp_path: Path, clock: FixedClock
) -> None:
    live = tmp_path / "timeline.db"
    master = new_master_key()  # (with TIMELINE_KEYS_URL the master key must be given)
    settings = Settings(database_url=f"sqlite:///{live}", environment="test", master_key=master)
    services = bootstrap(settings, clock)
    try:
        seeker = _seeker(services.app)
        backup = tmp_path / "backup.db"
        _sqlite_backup(live, backup)
        assert (tmp_path / "timeline.keys.db").exists()  # the keys: a file of their own
        _erase(services, seeker)
    finally:
        services.close()
    restored = tmp_path / "restored.db"
    shutil.copy(backup, restored)
    # the restored data with the key ring as it is now (kept and backed up on its own)
    on_restore = Settings(
        database_url=f"sqlite:///{restored}",
        keys_url=f"sqlite:///{tmp_path / 'timeline.keys.db'}",
        environment="test",
        master_key=master,
    )
    events = _restored_history(on_restore, clock, seeker)
    assert all(is_erased(e) for e in events)
    assert "purpose" not in events[1].data
    for value in (SECRET.encode(), EMPLOYER.encode(), VALID_CODE.encode()):
        assert value not in restored.read_bytes()
    # the restored register predates the erasure: --reapply brings it (and the index) level
    services = bootstrap(on_restore, clock)
    try:
        assert services.app.lookup_person(VALID_CODE) == [seeker]  # (the backup's person_ref)
        [again] = Eraser(services.app, services.erasures, clock).reapply("test")
        assert (again.entry.seeker_id, again.entry.authority) == (seeker, "key ring")
        assert again.entry.reason.startswith("re-applied after a restore")
        assert services.app.lookup_person(VALID_CODE) == []
        assert Eraser(services.app, services.erasures, clock).reapply("test") == []
        assert verify_store(services.app, services.access_log, services.digests).ok
    finally:
        services.close()


def test_a_postgres_backup_of_the_data_schema_stays_unreadable_after_erasure(
    postgres_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("psql") is None:
        pytest.fail("pg_dump and psql are needed for the PostgreSQL backup test")
    master = new_master_key()
    settings = Settings(database_url=postgres_url, environment="test", master_key=master)
    services = bootstrap(settings, clock)
    schema = services.db.schema
    dbname = services.db.location.libpq()["dbname"]
    try:
        seeker = _seeker(services.app)
        dump = tmp_path / "data.sql"
        # the data backup: the store's schema only (the keys are in <schema>_keys)
        subprocess.run(
            ["pg_dump", "--no-owner", "-n", schema, "-f", str(dump), pg.admin_dsn(dbname)],
            check=True,
        )
        text = dump.read_text()
        assert f"{schema}_keys" not in text
        assert SECRET not in text and EMPLOYER not in text
        _erase(services, seeker)
    finally:
        services.close()
    target = f"timeline_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target}"')
    try:
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), pg.admin_dsn(target)],
            check=True,
            capture_output=True,
        )
        on_restore = Settings(
            database_url=pg.url(target, schema),
            keys_url=pg.url(dbname, f"{schema}_keys"),
            environment="test",
            master_key=master,
        )
        events = _restored_history(on_restore, clock, seeker)
        assert all(is_erased(e) for e in events)
        assert "purpose" not in events[1].data
    finally:
        with psycopg.connect(pg.admin_dsn(), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [target],
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{target}"')


def test_a_seeker_with_events_stored_before_form_2_is_not_erased(
    make_services: MakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = make_services()
    # events written the library's way (JSON, personal fields in clear), as before form 2
    monkeypatch.setattr(TimelineMapper, "to_stored_event", Mapper.to_stored_event)
    seeker = _seeker(services.app)
    monkeypatch.undo()
    assert any(SECRET.encode() in n.state for n in services.app.index.seeker_notifications(seeker))
    with pytest.raises(NotErasable, match="stored before form 2"):
        _erase(services, seeker)
    assert services.erasures.entries() == []  # nothing done
    assert services.app.lookup_person(VALID_CODE) == [seeker]
