"""`timeline rebuild obligations` and `timeline rebuild outcomes` of a before tree and of this
tree, alternating in one session on one PostgreSQL demo store, with the rows each leaves
compared (issue 12's rebuild goal: faster, and the same tables).

    python ops/bench/rebuild_rows.py [--seekers 1000] [--rounds 2] [--base REF] [--corrupt 3]

Loads a demo of ``--seekers`` (``timeline demo --seed --out``, then ``timeline import``) into a
throwaway database (dropped at the end) and, unless ``--corrupt 0``, overwrites the stored state
of ``--corrupt`` events (spread over the log) with bytes no decoder reads, so the rebuilds also
quarantine (``decode`` entries, stale seekers, seekers left out of the statistics). Exports
``--base`` (default: the merge base with ``main``) with ``git archive``; then per round, in the
order before, after, after, before, each in a fresh process on its tree's ``PYTHONPATH``:
``timeline rebuild obligations`` then ``timeline rebuild outcomes`` (online: shadow, swap),
timing each (wall clock, and the child's CPU from ``wait4``) with the load average beside it.
After each run it reads every ``obligations_*`` and ``outcomes_*`` table (every column, rows
sorted by their text) and prints the SHA-256 of that dump; it exits 1 if any run's tables
differ from the first run's (naming the table). Last, the median of each figure per tree and the
ratio. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; TIMELINE_TEST_PG_* override)
and git."""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import admin, db_url, export_tree, machine, scratch_database

ROOT = Path(__file__).resolve().parents[2]
BENCH_MASTER_KEY = "YmVuY2htYXJrIG9ubHk6IG5ldmVyIGEgcmVhbCBrISE="
PROJECTIONS = ("obligations", "outcomes")
#: the rebuild's progress rows (a wall clock each): not the projection's rows
SKIP_TABLES = ("timeline_rebuild_progress",)


@dataclass(frozen=True)
class Run:
    tree: str
    projection: str
    events: int
    seconds: float
    cpu: float
    load: float


def _env(tree: Path) -> dict[str, str]:
    env = {**os.environ, "TIMELINE_MASTER_KEY": BENCH_MASTER_KEY}
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree}"
    env.pop("TIMELINE_DATABASE_URL", None)
    return env


def _timeline(tree: Path, cwd: Path, *args: str) -> tuple[str, float, float]:
    """Run ``timeline ARGS`` of ``tree``; its stdout, wall clock and CPU (its own, wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(  # noqa: S603 - this Python, fixed arguments
            [sys.executable, "-m", "timeline.cli", *args],
            stdout=out,
            stderr=err,
            env=_env(tree),
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"failed: timeline {' '.join(args)} ({tree})\n{err.read().decode()[-3000:]}")
        return out.read().decode(), seconds, usage.ru_utime + usage.ru_stime


def corrupt(dbname: str, count: int) -> list[int]:
    """Overwrite the state of ``count`` events spread over the log with unreadable bytes."""
    if count <= 0:
        return []
    with admin(dbname) as conn:
        row = conn.execute("SELECT max(notification_id) FROM timeline_events").fetchone()
        assert row is not None
        last = int(row[0])
        positions = [max(1, last * (i + 1) // (count + 1)) for i in range(count)]
        conn.execute(
            "UPDATE timeline_events SET state = %s WHERE notification_id = ANY(%s)",
            [b"\x02\xff\xfe not a stored event", positions],
        )
    return positions


def table_digests(dbname: str) -> dict[str, str]:
    """Each projection table's SHA-256: every row as text, rows sorted."""
    out: dict[str, str] = {}
    with admin(dbname) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
                "(tablename LIKE 'obligations\\_%' OR tablename LIKE 'outcomes\\_%') "
                "ORDER BY tablename"
            )
        ]
        for name in names:
            if name in SKIP_TABLES:
                continue
            rows = sorted(str(r[0]) for r in conn.execute(f'SELECT t::text FROM "{name}" t'))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
            out[name] = f"{len(rows)}:{digest}"
    return out


def summarize(runs: list[Run]) -> None:
    """The median of each figure per tree, and after / before."""
    print("\nmedians (both rebuilds: events / the sum of their wall clocks)")
    figures: dict[str, tuple[float, float]] = {}
    for label in ("before", "after"):
        mine = [x for x in runs if x.tree == label]
        walls, cpus = [], []
        for i in range(0, len(mine), len(PROJECTIONS)):
            pair = mine[i : i + len(PROJECTIONS)]
            walls.append(sum(x.seconds for x in pair))
            cpus.append(sum(x.cpu for x in pair))
        events = max(x.events for x in mine)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        figures[label] = (wall, cpu)
        for projection in PROJECTIONS:
            each = statistics.median(x.seconds for x in mine if x.projection == projection)
            print(f"  {label:6} {projection:11} {each:6.2f} s ({events / each:,.0f} ev/s)")
        print(
            f"  {label:6} both        {wall:6.2f} s wall ({events / wall:,.0f} ev/s), "
            f"{cpu:6.2f} s CPU (load {statistics.median(x.load for x in mine):.2f})"
        )
    (bw, bc), (aw, ac) = figures["before"], figures["after"]
    print(f"  after / before: wall {aw / bw:.2f}, CPU {ac / bc:.2f}; rate × {bw / aw:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seekers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, help="each: before, after, after, before")
    parser.add_argument(
        "--base", default=None, help="the before tree (default: merge base with main)"
    )
    parser.add_argument("--corrupt", type=int, default=3, help="events made unreadable")
    args = parser.parse_args()

    base = (
        args.base
        or subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    print(machine())
    with tempfile.TemporaryDirectory() as tmp, scratch_database("rebuild_rows") as dbname:
        work = Path(tmp)
        trees = {"before": export_tree(base, work / "before"), "after": ROOT}
        print(f"before: {base}; after: {ROOT} (working tree)")
        url = db_url(dbname)
        demo = work / "demo.jsonl"
        _timeline(ROOT, work, "demo", "--seekers", str(args.seekers), "--seed", str(args.seed),
                  "--out", str(demo), "--quiet")  # fmt: skip
        _timeline(ROOT, work, "import", str(demo), "--db", url, "--quiet")
        print(f"demo: {args.seekers:,} seekers, seed {args.seed}; unreadable events at "
              f"{corrupt(dbname, args.corrupt)}")  # fmt: skip

        runs: list[Run] = []
        first: dict[str, str] | None = None
        differs = False
        for r in range(args.rounds):
            for label in ("before", "after", "after", "before"):
                for projection in PROJECTIONS:
                    load = os.getloadavg()[0]
                    stdout, seconds, cpu = _timeline(
                        trees[label], work, "rebuild", projection, "--db", url, "--quiet"
                    )
                    events = int(
                        stdout.strip().splitlines()[-1].split('"events": ')[1].split(",")[0]
                    )
                    runs.append(Run(label, projection, events, seconds, cpu, load))
                    print(
                        f"round {r + 1} {label:6} {projection:11} {events:,} ev "
                        f"{seconds:6.2f} s wall ({events / seconds:,.0f} ev/s), "
                        f"{cpu:6.2f} s CPU, load {load:.2f}"
                    )
                digests = table_digests(dbname)
                if first is None:
                    first = digests
                    print("  tables: " + ", ".join(f"{k} {v}" for k, v in digests.items()))
                elif digests != first:
                    differs = True
                    for name in sorted(set(digests) | set(first)):
                        if digests.get(name) != first.get(name):
                            print(f"  DIFFERS: {name}: {first.get(name)} then {digests.get(name)}")
                else:
                    print("  tables: identical to the first run's")

        summarize(runs)
        if differs:
            sys.exit("the tables differ between runs")


if __name__ == "__main__":
    main()
