"""The demo is loaded through the bulk path (decided request by request, written in a few large
transactions) and stores exactly what appending it request by request at its simulated
recording times stored: the same events, versions, positions, recorded times and chain hashes
(issue 10 §8: the PostgreSQL demo load ran at ~180 events/s)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.clock import FixedClock
from timeline.decisions import Decisions
from timeline.demo import generate
from timeline.demo.load import DEMO_WINDOW, REQUEST_LIMIT, WRITE_CHUNK, load_demo
from timeline.settings import Settings
from timeline.vocabulary import parse_event


def _append_request_by_request(app: TimelineApp, clock: FixedClock, events: Any) -> None:
    """The reference: every request appended at its own moment (how the demo was loaded
    before), the clock at the request's last simulated recording time."""
    batch: list[Any] = []
    first = at = datetime.min.replace(tzinfo=UTC)
    for demo in events:
        if batch and (demo.recorded_at - first > DEMO_WINDOW or len(batch) >= REQUEST_LIMIT):
            clock.set(at)
            app.append(batch)
            batch = []
        if not batch:
            first = demo.recorded_at
        at = demo.recorded_at
        batch.append(parse_event(demo.envelope, allow_test_identity_codes=True))
    clock.set(at)
    app.append(batch)


def _stored(app: TimelineApp) -> list[tuple[Any, ...]]:
    """Every index row: position, event, seeker, version, recorded time, chain hash."""
    return [
        (r.position, r.event_id, r.seeker_id, r.version, r.recorded_at, r.hash)
        for r in app.index.index_after_position(0, 1_000_000)
    ]


@pytest.fixture
def two_apps(store_url: str, tmp_path: Any, url_for: Any) -> Iterator[tuple[TimelineApp, ...]]:
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    reference_url = "memory:" if store_url == "memory:" else f"sqlite:///{tmp_path / 'ref.db'}"
    apps = tuple(
        TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
        for url in (store_url, reference_url)
    )
    yield apps
    for app in apps:
        app.close()


def test_the_bulk_demo_load_stores_what_appending_it_request_by_request_stored(
    two_apps: tuple[TimelineApp, TimelineApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk, reference = two_apps
    saves: list[int] = []
    real_save = Decisions.save

    def counting_save(self: Decisions, planned: Any = None) -> Any:
        saves.append(len(planned if planned is not None else self.planned))
        return real_save(self, planned)

    monkeypatch.setattr(Decisions, "save", counting_save)
    clock = bulk.clock
    assert isinstance(clock, FixedClock)
    total = load_demo(bulk, clock, generate(seekers=12, seed=4))
    n = sum(1 for _ in generate(seekers=12, seed=4))
    assert total == n
    # written in chunks, one transaction per WRITE_CHUNK events (was: one per request)
    assert len(saves) == -(-n // WRITE_CHUNK)
    monkeypatch.setattr(Decisions, "save", real_save)
    _append_request_by_request(reference, clock, generate(seekers=12, seed=4))
    stored = _stored(bulk)
    assert len(stored) == n
    assert stored == _stored(reference)
    # the simulated recording times are kept: spread over the demo's years
    assert len({row[4] for row in stored}) > n // 10
    assert list(verify_all(bulk)) == []


def test_loading_the_demo_again_writes_nothing(store_url: str) -> None:
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=store_url, environment="test"), clock=clock)
    n = load_demo(app, clock, generate(seekers=4, seed=9))
    before = app.recorder.max_notification_id()
    assert load_demo(app, clock, generate(seekers=4, seed=9)) == n
    assert app.recorder.max_notification_id() == before
    app.close()
