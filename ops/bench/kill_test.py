"""Durability under faults: SIGKILL the server mid-load, then check that every event a client
saw acknowledged is stored exactly once (event index and events table), that the others are
absent or stored once, and that every seeker's hash chain verifies after a restart.

    python ops/bench/kill_test.py [--clients 16] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import db_url, free_port, scratch_database, start_server, stop_server
from common import envelope as common_envelope
from loadgen import LoadResult, run_load

from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.settings import Settings
from timeline.vocabulary import parse_event


@dataclass
class Outcome:
    acknowledged: int
    unacknowledged: int
    unacknowledged_stored: int
    lost: list[str]
    doubled: list[str]
    broken_chains: list[str]
    errors: dict[str, int]

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.broken_chains)


def _envelope(seeker: str, type_: str, on: str, data: dict[str, Any]) -> dict[str, Any]:
    return common_envelope(seeker, type_, on, data, source="killtest")


def kill_round(  # noqa: PLR0915 - one scenario, read top to bottom
    url: str, *, clients: int, seconds: float, seekers: int = 200
) -> Outcome:
    app = TimelineApp(settings=Settings(database_url=url))
    ids = [str(uuid.uuid4()) for _ in range(seekers)]
    app.append(
        [
            parse_event(
                _envelope(
                    s,
                    "job_search_started",
                    "2026-01-05",
                    {"municipality": "398", "labour_market_status": "unemployed"},
                )
            )
            for s in ids
        ]
    )
    app.close()
    port = free_port()
    server = start_server(url, port)
    counter = iter(range(10**9))
    lock = threading.Lock()

    def make(i: int) -> dict[str, Any]:
        with lock:
            n = next(counter)
        return _envelope(ids[n % len(ids)], "coach_assigned", "2026-02-02", {"coach_id": f"c{n}"})

    result = LoadResult()

    def load() -> None:
        nonlocal result
        result = run_load(port, make, clients=clients, requests=10**7, seconds=seconds * 4)

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(seconds)
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    loader.join(60)
    # Restart: a new process reads the store.
    server = start_server(url, port)
    stop_server(server)
    app = TimelineApp(settings=Settings(database_url=url))
    try:
        in_index: Counter[str] = Counter()
        in_events: Counter[str] = Counter()
        after = 0
        while True:
            rows = app.index.index_after_position(after, 5000)
            if not rows:
                break
            in_index.update(r.event_id for r in rows)
            after = rows[-1].position or after
        after = 0
        while True:
            batch = app.recorder.select_notifications(after, 5000, inclusive_of_start=False)
            if not batch:
                break
            for n in batch:
                in_events[app.mapper.to_domain_event(n).event_id] += 1  # type: ignore[attr-defined]
            after = batch[-1].id
        acked = set(result.acknowledged)
        unacked = set(result.sent) - acked
        lost = sorted(e for e in acked if in_index[e] != 1 or in_events[e] != 1)
        doubled = sorted(e for e, c in (in_index + in_events).items() if c > 2)
        doubled += sorted(e for e in unacked if in_index[e] > 1 or in_events[e] > 1)
        stored_unacked = sum(1 for e in unacked if in_index[e] == 1 and in_events[e] == 1)
        broken = [str(b) for b in verify_all(app)]
    finally:
        app.close()
    return Outcome(
        acknowledged=len(acked),
        unacknowledged=len(unacked),
        unacknowledged_stored=stored_unacked,
        lost=lost,
        doubled=doubled,
        broken_chains=broken,
        errors=result.errors,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5, help="load before the SIGKILL")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ok = True
    with scratch_database("timeline_kill") as dbname:
        for i in range(args.rounds):
            outcome = kill_round(db_url(dbname), clients=args.clients, seconds=args.seconds)
            print(json.dumps({"round": i + 1, "ok": outcome.ok, **outcome.__dict__}))
            ok = ok and outcome.ok
    print("kill test:", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
