"""How long a what-if takes: load a demo of N seekers into a temporary SQLite store, then time
``timeline whatif --ruleset FI-2026-01 --from 2025-01 --to 2025-12`` (reading the log and
evaluating every active seeker under both) against a same-run baseline: reading the whole log
and evaluating every seeker once under the rules in force (what a rebuild of the obligations
projection costs, without its tables).

    python ops/bench/whatif_timing.py [--seekers 3000] [--rounds 3] [--db URL]

Goal (issue 14 §3): a year of a 3,000-seeker demo in seconds. Prints one JSON line per figure.
Timing lives here, not in the tests: a wall-clock limit fails under load."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from projections.whatif import Scenario, Window, read_log, replay
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.domain.rules import evaluate
from timeline.rulesets import default_rulesets
from timeline.settings import Settings

ON = date(2026, 6, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seekers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", help="a store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'whatif.db'}"
        clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
        app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
        started = time.perf_counter()
        events = load_demo(app, clock, generate(seekers=args.seekers, seed=1))
        print(
            json.dumps(
                {"loaded_events": events, "seconds": round(time.perf_counter() - started, 1)}
            )
        )
        rulesets = default_rulesets()
        scenario = Scenario(
            rulesets.by_id("FI-2026-01"), Window("2025-01", "2025-12"), ON, rulesets
        )
        baseline_s, whatif_s = [], []
        report = None
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            everything = read_log(app)
            for facts in everything.facts.values():
                evaluate(facts, ON, rulesets)
            t1 = time.perf_counter()
            report = replay(read_log(app, scenario.window).facts, scenario)
            t2 = time.perf_counter()
            baseline_s.append(t1 - t0)
            whatif_s.append(t2 - t1)
        app.close()
    assert report is not None
    print(
        json.dumps(
            {
                "seekers": len(everything.facts),
                "active_in_window": report.seekers,
                "events": everything.events,
                "events_of_active_seekers": report.events,
                "window": "2025-01..2025-12",
                "ruleset": "FI-2026-01",
                "baseline_read_all_and_evaluate_once_s": round(statistics.median(baseline_s), 2),
                "whatif_total_s": round(statistics.median(whatif_s), 2),
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
