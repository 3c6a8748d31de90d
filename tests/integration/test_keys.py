"""The key ring (src/timeline/store/keys.py) on every store: data keys kept apart from the data
(their own SQLite file, their own PostgreSQL schema), made once per seeker, destroyed for good;
the master key required in production, made as a 0600 file in development; `timeline keys
rotate` re-wraps every key so that only the new master key is needed; a wrong master key is a
clear error, not a traceback."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse
from uuid import uuid4

import psycopg
import pytest

from tests import pg
from tests.factories import event, new_seeker
from timeline.application import TimelineApp
from timeline.cli.main import main
from timeline.clock import FixedClock
from timeline.settings import Settings
from timeline.store.keys import KeyRing, MasterKeyError, SeekerErased, new_master_key

AT = datetime(2026, 11, 30, tzinfo=UTC)


def _ring(url: str, master: str, previous: str | None = None) -> KeyRing:
    return KeyRing.from_settings(
        Settings(database_url=url, master_key=master, master_key_previous=previous)  # type: ignore[arg-type]
    )


def test_a_seekers_key_is_made_once_kept_and_destroyed_for_good(store_url: str) -> None:
    master = new_master_key()
    ring = _ring(store_url, master)
    a, b, c = uuid4(), uuid4(), uuid4()
    assert ring.data_key(a) is None and ring.data_keys([a, b]) == {}
    made = ring.data_keys([a, b], create=True)
    assert set(made) == {a, b} and all(v == 1 and len(k) == 32 for v, k in made.values())
    assert made[a] != made[b]
    assert ring.data_key(a, create=True) == made[a]  # made once
    if not store_url.startswith("memory"):
        again = _ring(store_url, master)  # another process: the same keys, from the table
        assert again.data_keys([a, b, c]) == made
        again.close()
    assert ring.destroy([a, c], AT) == [a]  # c had no key
    assert ring.erased([a, b, c]) == {a, c}
    for seeker in (a, c):
        with pytest.raises(SeekerErased) as caught:
            ring.data_key(seeker, create=True)  # never a new key for an erased seeker
        assert caught.value.seeker_id == str(seeker)
    assert ring.data_key(b) == made[b]
    status = ring.status()
    assert (status["keys"], status["erased"], status["by_key_version"]) == (1, 2, {"1": 1})
    ring.close()


def test_keys_live_apart_from_the_data(url_for: Callable[[str], str]) -> None:
    url = url_for("sqlite")
    ring = _ring(url, new_master_key())
    ring.data_key(uuid4(), create=True)
    ring.close()
    path = Path(urlparse(url).path[1:])
    keys = path.with_name("timeline.keys.db")
    assert keys.exists() and stat.S_IMODE(keys.stat().st_mode) == 0o600
    with sqlite3.connect(keys) as conn:
        assert conn.execute("SELECT count(*) FROM timeline_seeker_keys").fetchone() == (1,)

    url = url_for("postgres")
    ring = _ring(url, new_master_key())
    ring.data_key(uuid4(), create=True)
    ring.close()
    parsed = urlparse(url)
    schema = parsed.query.split("=", 1)[1]
    with psycopg.connect(pg.admin_dsn(parsed.path[1:])) as conn:
        found = conn.execute(
            "SELECT table_schema FROM information_schema.tables "
            "WHERE table_name = 'timeline_seeker_keys'"
        ).fetchall()
    assert (f"{schema}_keys",) in found and (schema,) not in found


def test_development_makes_a_private_master_key_file_beside_the_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TIMELINE_MASTER_KEY")
    url = f"sqlite:///{tmp_path / 'timeline.db'}"
    settings = Settings(database_url=url, environment="development")
    app = TimelineApp(settings=settings, clock=clock)
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    app.close()
    key_file = tmp_path / "timeline.master-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "TIMELINE_MASTER_KEY is not set" in capsys.readouterr().err
    again = TimelineApp(settings=settings, clock=clock)  # the same file, no new warning
    assert again.facts(seeker)[0].data["person_ref"]
    again.close()
    assert capsys.readouterr().err == ""
    assert "*.master-key" in Path(__file__).parents[2].joinpath(".gitignore").read_text()


def _story(url: str, clock: FixedClock) -> str:
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    seeker = new_seeker()
    app.append([event("job_search_started", seeker)])
    app.append(
        [
            event(
                "application_reported",
                seeker,
                {"applied_on": "2025-06-02", "kind": "vacancy", "employer_name": "Acme Oy"},
            )
        ]
    )
    app.close()
    return seeker


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_rotation_leaves_only_the_new_master_key_needed(
    kind: str,
    url_for: Callable[[str], str],
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = url_for(kind)
    old, new = new_master_key(), new_master_key()
    monkeypatch.setenv("TIMELINE_MASTER_KEY", old)
    seekers = [_story(url, clock) for _ in range(3)]

    monkeypatch.setenv("TIMELINE_MASTER_KEY", new)
    monkeypatch.setenv("TIMELINE_MASTER_KEY_PREVIOUS", old)
    assert main(["keys", "status", "--db", url, "--json"]) == 0
    assert '"previous": 3' in capsys.readouterr().out
    assert main(["keys", "rotate", "--db", url]) == 0
    assert "re-wrapped 3 data keys" in capsys.readouterr().out
    assert main(["keys", "rotate", "--db", url]) == 0  # nothing left to do
    assert "re-wrapped 0 data keys" in capsys.readouterr().out

    monkeypatch.delenv("TIMELINE_MASTER_KEY_PREVIOUS")
    assert main(["keys", "status", "--db", url]) == 0
    assert "current 3, previous 0, neither 0" in capsys.readouterr().out
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    assert [app.facts(s)[1].data["employer_name"] for s in seekers] == ["Acme Oy"] * 3
    app.close()

    # the old key alone opens nothing any more: a clear error naming both key ids
    monkeypatch.setenv("TIMELINE_MASTER_KEY", old)
    stale = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    with pytest.raises(MasterKeyError, match="wrong master key"):
        stale.facts(seekers[0])
    stale.close()
    assert main(["history", seekers[0], "--db", url, "--purpose", "test"]) == 2
    err = capsys.readouterr().err
    assert "timeline history:" in err and "wrong master key" in err and "Traceback" not in err
    assert main(["verify", "--db", url]) == 2  # not "every seeker broken": the key is wrong
    err = capsys.readouterr().err
    assert "wrong master key" in err and "BROKEN" not in err
    assert main(["keys", "rotate", "--db", url]) == 2  # neither key opens them: nothing written
    assert "wrong master key" in capsys.readouterr().err


def test_a_stored_key_moved_to_another_seeker_does_not_open(url_for: Callable[[str], str]) -> None:
    url = url_for("sqlite")
    master = new_master_key()
    ring = _ring(url, master)
    a, b = uuid4(), uuid4()
    ring.data_keys([a, b], create=True)
    ring.close()
    keys = Path(urlparse(url).path[1:]).with_name("timeline.keys.db")
    with sqlite3.connect(keys) as conn:
        [(wrapped,)] = conn.execute(
            "SELECT wrapped FROM timeline_seeker_keys WHERE seeker_id=?", [str(a)]
        ).fetchall()
        conn.execute(
            "UPDATE timeline_seeker_keys SET wrapped=? WHERE seeker_id=?", [wrapped, str(b)]
        )
    with pytest.raises(MasterKeyError, match="altered or moved"):
        _ring(url, master).data_key(b)
