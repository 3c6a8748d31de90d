"""How long erasing one seeker takes (docs/erasure.md), on SQLite and PostgreSQL: a demo is
loaded, then seekers are erased one at a time through the same code as `timeline erase`
(register entry and person_ref cleared in one transaction, the key destroyed, caches dropped);
each erasure is timed. The same-run baseline is one single-event append to the same store
(a fresh seeker's first event), timed the same way.

    python ops/bench/erasure_timing.py [--seekers 200] [--erase 50] [--stores sqlite,postgres]

Prints, per store: events loaded, erasures timed, median / p90 / max milliseconds per seeker,
the append baseline's median, and their ratio."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import db_url, machine, percentile, scratch_database

from timeline.bootstrap import bootstrap
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.erasure import Eraser
from timeline.settings import Settings
from timeline.store.keys import new_master_key
from timeline.vocabulary import parse_event


@contextmanager
def _store(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    with scratch_database("timeline_bench_erasure") as name:
        yield db_url(name)


def _append_one(services: object, now: datetime) -> float:
    seeker = str(uuid.uuid4())
    envelope = {
        "event_id": str(uuid.uuid4()),
        "seeker_id": seeker,
        "type": "job_search_started",
        "occurred_on": now.date().isoformat(),
        "actor": {"id": "caseworker:bench", "role": "coach", "organisation": "398"},
        "source": "bench",
        "data": {"municipality": "398", "labour_market_status": "unemployed"},
    }
    event = parse_event(envelope, allow_test_identity_codes=True)
    started = time.perf_counter()
    services.app.append([event])  # type: ignore[attr-defined]
    return time.perf_counter() - started


def run(kind: str, seekers: int, erase: int) -> None:
    with _store(kind) as url:
        settings = Settings(database_url=url, environment="test", master_key=new_master_key())
        clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
        services = bootstrap(settings, clock)
        try:
            events = load_demo(services.app, clock, generate(seekers=seekers, seed=1))
            clock.set(datetime(2026, 6, 1, tzinfo=UTC))
            ids = services.app.index.seeker_ids(limit=erase)
            eraser = Eraser(services.app, services.erasures, clock)
            erasing, appending = [], []
            for seeker in ids:  # alternating, so both see the same state of the machine
                appending.append(_append_one(services, clock()))
                started = time.perf_counter()
                eraser.erase(seeker, reason="bench", authority="bench", actor="bench")
                erasing.append(time.perf_counter() - started)
            covered = [e.events for e in services.erasures.entries()]
        finally:
            services.close()
    ms = [x * 1000 for x in erasing]
    base = statistics.median(appending) * 1000
    median = statistics.median(ms)
    print(
        f"{kind:<9} {events} events of {seekers} seekers loaded; {len(ms)} erasures of "
        f"{statistics.mean(covered):.0f} events each on average: median {median:.1f} "
        f"ms, p90 {percentile(ms, 90):.1f} ms, max {max(ms):.1f} ms per seeker; baseline one "
        f"append median {base:.1f} ms; ratio {median / base:.2f}"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seekers", type=int, default=200)
    parser.add_argument("--erase", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    print(machine())
    for kind in args.stores.split(","):
        run(kind, args.seekers, args.erase)


if __name__ == "__main__":
    main()
