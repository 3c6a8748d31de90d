"""Rebuilds with the fast fact decoder (issue 12, "per-event Python objects on the hot paths"):
the online rebuild of obligations and of outcomes, process CPU and wall clock, with the
projections of a base git ref (``integ`` as is: every event through the library's mapper and
``fact_from_event``) and of this tree (``projections/runtime/decode.py``), alternately, in one
session, on one demo store.

    python ops/bench/decode_rebuild.py [--seekers 300] [--rounds 3] [--base integ] [--json]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; TIMELINE_TEST_PG_* override) and
git. Loads a demo of ``--seekers`` (``timeline.demo.generate``, seed ``--seed``) into a
throwaway database (dropped at the end); exports ``projections/`` of ``--base`` into a temporary
directory; then per round, in a fresh process each (base first, then this tree, then with
``--json`` this tree with the standard library's ``json.loads`` for ``orjson.loads``): rebuild
obligations, then outcomes (``view.rebuild()``, online: shadow build, then swap), timing each with
``time.process_time`` (the process's CPU: the database server's work is not in it) and
``time.perf_counter``. Prints one line per run, then the median of each figure per variant
and the ratio to the base, and the decode cost per event over the whole log (the mapper path
and the fast path, best of five)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import db_url, machine, scratch_database

from projections.runtime.decode import FactDecoder
from timeline.application import TimelineApp
from timeline.clock import FixedClock
from timeline.demo import generate, load_demo
from timeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys, time
if sys.argv[2] == "json":
    import projections.runtime.decode as decode
    decode.loads = lambda state: json.loads(state.decode("utf8"))
import projections
from projections.obligations import ObligationsView
from projections.outcomes import OutcomesView
from timeline.application import TimelineApp
from timeline.settings import Settings
app = TimelineApp(settings=Settings(database_url=sys.argv[1]))
out = {"projections": projections.__file__}
for name, view in (("obligations", ObligationsView(app)), ("outcomes", OutcomesView(app))):
    cpu, wall = time.process_time(), time.perf_counter()
    out["events"] = view.rebuild()
    out[name + "_cpu"] = time.process_time() - cpu
    out[name + "_wall"] = time.perf_counter() - wall
    view.close()
app.close()
print(json.dumps(out))
"""


def load(url: str, seekers: int, seed: int) -> int:
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url), clock=clock)
    try:
        return load_demo(app, clock, generate(seekers=seekers, seed=seed))
    finally:
        app.close()


def export(ref: str, into: Path) -> None:
    """``projections/`` as it is at git ``ref``, under ``into``."""
    archive = subprocess.run(  # noqa: S603 - fixed git arguments
        ["git", "-C", str(ROOT), "archive", ref, "projections"],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603,S607


def run(url: str, variant: str, base_dir: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if variant == "base":  # the base's projections first on the path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(base_dir), env.get("PYTHONPATH")]))
    done = subprocess.run(  # noqa: S603 - our own child script
        [sys.executable, "-c", CHILD, url, variant],
        env=env,
        cwd=str(base_dir if variant == "base" else ROOT),
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    expected = base_dir if variant == "base" else ROOT
    if not str(result["projections"]).startswith(str(expected)):
        raise SystemExit(f"{variant}: ran {result['projections']}, not {expected}")
    return result


def decode_costs(url: str) -> tuple[float, float, int]:
    """Microseconds per event over the whole log: the mapper path and the fast path."""
    app = TimelineApp(settings=Settings(database_url=url))
    try:
        log = list(app.recorder.select_notifications(1, 10_000_000))
        decoder = FactDecoder(app.mapper)
        costs = []
        for decode in (decoder.slow, decoder.fact):
            best = float("inf")
            for _ in range(5):
                start = time.process_time()
                for n in log:
                    decode(n, n.id)
                best = min(best, time.process_time() - start)
            costs.append(best / len(log) * 1e6)
        return costs[0], costs[1], len(log)
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seekers", type=int, default=300, help="demo seekers (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="demo seed (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument("--base", default="integ", help="git ref of the baseline (default integ)")
    parser.add_argument(
        "--json", action="store_true", help="also this tree with json.loads for orjson.loads"
    )
    args = parser.parse_args()
    variants = ["base", "decoder", *(["json"] if args.json else [])]
    print(machine())
    with scratch_database("decode_bench") as dbname, tempfile.TemporaryDirectory() as tmp:
        url = db_url(dbname)
        export(args.base, Path(tmp))
        start = time.perf_counter()
        events = load(url, args.seekers, args.seed)
        print(f"demo: {args.seekers} seekers, {events} events, {time.perf_counter() - start:.0f} s")
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for i in range(args.rounds):
            for variant in variants:
                result = run(url, variant, Path(tmp))
                runs[variant].append(result)
                print(
                    f"round {i + 1} {variant:8} "
                    + " ".join(
                        f"{k} {result[k]:.2f}" for k in result if k.endswith(("_cpu", "_wall"))
                    )
                )
        keys = [f"{p}_{m}" for p in ("obligations", "outcomes") for m in ("cpu", "wall")]
        base = {k: statistics.median(r[k] for r in runs["base"]) for k in keys}
        for variant in variants:
            med = {k: statistics.median(r[k] for r in runs[variant]) for k in keys}
            print(
                f"median {variant:8} "
                + "  ".join(f"{k} {med[k]:.2f} s ({med[k] / base[k]:.2f}×)" for k in keys)
            )
        mapper, fast, n = decode_costs(url)
        print(
            f"decode per event over {n} events (CPU, best of 5): mapper path {mapper:.1f} µs, "
            f"fast path {fast:.1f} µs ({fast / mapper:.2f}×)"
        )


if __name__ == "__main__":
    main()
