"""Rebuild time of the obligations with 1 worker vs N worker processes (partitions), on a demo
of N seekers in a throwaway PostgreSQL database, alternately in the same run.

    python ops/bench/partitions.py [--seekers 1000] [--workers 2] [--rounds 2]

Each round runs `timeline rebuild obligations` (one worker, the baseline) then
`timeline rebuild obligations --workers N`, as fresh processes (wall clock of the command),
and checks that both leave the same tables. Every partition worker reads the whole log
(decoding only its own seekers' events) and evaluates only its own seekers: the read is the
shared cost, the decoding and evaluation the part that spreads over cores."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import admin, db_url, scratch_database

TIMELINE = [sys.executable, "-m", "timeline.cli"]


def _run(args: list[str], url: str) -> tuple[float, dict[str, object]]:
    """The wall clock of the command, and its JSON summary."""
    env = {**os.environ, "TIMELINE_DATABASE_URL": url, "TIMELINE_ENVIRONMENT": "test"}
    t0 = time.perf_counter()
    out = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [*TIMELINE, *args], check=False, env=env, capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"timeline {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return time.perf_counter() - t0, json.loads(out.stdout.strip().splitlines()[-1])


def _demo_args(seekers: int, seed: int, out: Path) -> list[str]:
    return ["--seekers", str(seekers), "--seed", str(seed), "--quiet", "--out", str(out)]


def _digest(dbname: str) -> str:
    """A digest of the obligations tables' rows."""
    h = hashlib.sha256()
    with admin(dbname) as conn:
        for table in ("obligations_seekers", "obligations_items"):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2"):
                h.update(repr(row).encode())
    return h.hexdigest()[:16]


def _in_process(url: str, workers: int) -> None:
    """The same work in this process, one after another: every seeker at once, then each
    partition alone (CPU seconds of this process: the database server's work is not in it).
    The largest partition against the whole is what N free cores could at best give."""
    from projections.obligations import ObligationsProjection, ObligationsView  # noqa: PLC0415
    from projections.runtime import Partition  # noqa: PLC0415
    from timeline.bootstrap import bootstrap  # noqa: PLC0415
    from timeline.settings import Settings  # noqa: PLC0415

    built = bootstrap(Settings(database_url=url, environment="test"), for_jobs=True)
    try:

        def run(part: Partition) -> tuple[float, float]:
            view = ObligationsView(built.app, built.db, ObligationsProjection(partition=part))
            view.runner.drop_tables()
            view.runner.create_tables()
            t0, c0 = time.perf_counter(), time.process_time()
            view.catch_up(limit=5000)
            return time.perf_counter() - t0, time.process_time() - c0

        whole = run(Partition(0, 1))
        parts = [run(Partition(k, workers)) for k in range(workers)]
    finally:
        built.close()
    print(
        f"in one process: every seeker {whole[0]:.1f} s ({whole[1]:.1f} s CPU); "
        + ", ".join(
            f"partition {k}/{workers} {w:.1f} s ({c:.1f} s CPU)" for k, (w, c) in enumerate(parts)
        )
        + f"; partitions' CPU in all / every seeker's: {sum(c for _, c in parts) / whole[1]:.2f}; "
        + f"best case with {workers} free cores: {whole[1] / max(c for _, c in parts):.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seekers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    with scratch_database("bench_partitions") as dbname, tempfile.TemporaryDirectory() as tmp:
        url = db_url(dbname)
        demo = Path(tmp) / "demo.jsonl"
        subprocess.run(  # noqa: S603 - our own module, fixed arguments
            [*TIMELINE, "demo", *_demo_args(args.seekers, args.seed, demo)],
            check=True,
            capture_output=True,
        )
        _run(["import", "--quiet", str(demo)], url)
        figures: dict[int, list[float]] = {1: [], args.workers: []}
        digests = set()
        events = 0
        for _ in range(args.rounds):
            for n in (1, args.workers):
                seconds, summary = _run(
                    ["rebuild", "obligations", "--quiet", "--workers", str(n)], url
                )
                events = int(str(summary["events"]))
                figures[n].append(seconds)
                digests.add(_digest(dbname))
        print(
            f"demo: {args.seekers} seekers, {events} events; same tables every run: "
            f"{len(digests) == 1}"
        )
        for n, times in figures.items():
            best, median = min(times), statistics.median(times)
            print(
                f"rebuild obligations, {n} worker(s): "
                + ", ".join(f"{t:.1f} s" for t in times)
                + f"; best {best:.1f} s = {events / best:,.0f} ev/s, median {median:.1f} s"
            )
        one, many = statistics.median(figures[1]), statistics.median(figures[args.workers])
        print(f"speed-up of {args.workers} workers over 1 (medians): {one / many:.2f}x")
        _in_process(url, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
