"""Fixtures shared by every tier: stores (memory, SQLite, PostgreSQL), an injected clock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import pg
from timeline.application import TimelineApp
from timeline.auth import token_hash
from timeline.bootstrap import Services, bootstrap
from timeline.clock import FixedClock
from timeline.settings import Settings

STORES = ("memory", "sqlite", "postgres")

#: The master key every test process (and every CLI the tests start) wraps the seekers' data
#: keys with, as production has one: a store written by one process of a test is read by
#: another. (Without it, development makes a key file; tests/unit/test_keys.py covers that.)
TEST_MASTER_KEY = "dGVzdHMgb25seTogbmV2ZXIgYSByZWFsIG1hc3RlciE="
os.environ.setdefault("TIMELINE_MASTER_KEY", TEST_MASTER_KEY)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--serial",
        choices=("include", "exclude", "only"),
        default="include",
        help="tests marked serial measure a latency bound and must not share the machine with "
        "other tests: `exclude` them (the parallel run of ./run test), run `only` them (its "
        "second run, alone), or `include` them (default)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mode = config.getoption("--serial")
    if mode == "include":
        return
    want = mode == "only"
    keep, drop = [], []
    for item in items:
        (keep if (item.get_closest_marker("serial") is not None) == want else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with pg.temporary_database() as name:
        yield name


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 6, 10, 9, 0, tzinfo=UTC))


def _store_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "memory":
        return "memory:"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'timeline.db'}"
    dbname = request.getfixturevalue("pg_database")
    return pg.url(dbname, pg.fresh_schema(dbname))


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test runs on every store."""
    return _store_url(str(request.param), tmp_path, request)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _store_url("postgres", tmp_path, request)


@pytest.fixture
def url_for(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """A store URL of a named kind, for tests that only make sense on some stores."""
    return lambda kind: _store_url(kind, tmp_path, request)


MakeApp = Callable[..., TimelineApp]


@pytest.fixture
def make_app(store_url: str, clock: FixedClock) -> Iterator[MakeApp]:
    """Build applications on this test's store (each closed afterwards)."""
    apps: list[TimelineApp] = []

    def make(url: str | None = None, **settings: object) -> TimelineApp:
        app = TimelineApp(
            settings=Settings(database_url=url or store_url, environment="test", **settings),  # type: ignore[arg-type]
            clock=clock,
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app: MakeApp) -> TimelineApp:
    return make_app()


#: tokens every API test may use: name → (token, role, scope)
TOKENS = {
    "admin": ("tok-admin", "admin", "*"),
    "writer": ("tok-writer", "writer", "*"),
    "writer-lahti": ("tok-writer-lahti", "writer", ["398"]),
    "writer-helsinki": ("tok-writer-helsinki", "writer", ["091"]),
    "caseworker-lahti": ("tok-cw-lahti", "caseworker", ["398", "016"]),
    "caseworker-tampere": ("tok-cw-tampere", "caseworker", ["837"]),
    "auditor": ("tok-auditor", "auditor", "*"),
    "auditor-lahti": ("tok-auditor-lahti", "auditor", ["398"]),
    "reporter": ("tok-reporter", "reporter", "*"),
}


def tokens_json() -> str:
    return json.dumps(
        [
            {"name": name, "sha256": token_hash(tok), "role": role, "scope": scope}
            for name, (tok, role, scope) in TOKENS.items()
        ]
    )


def bearer(name: str, purpose: str | None = "testing") -> dict[str, str]:
    headers = {"Authorization": f"Bearer {TOKENS[name][0]}"}
    if purpose:
        headers["X-Purpose"] = purpose
    return headers


MakeServices = Callable[..., Services]


@pytest.fixture
def make_services(store_url: str, clock: FixedClock) -> Iterator[MakeServices]:
    built: list[Services] = []

    def make(**settings: object) -> Services:
        services = bootstrap(
            Settings(database_url=store_url, environment="test", tokens=tokens_json(), **settings),  # type: ignore[arg-type]
            clock,
        )
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()
