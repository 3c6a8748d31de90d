"""How long a what-if takes: ``timeline whatif --ruleset FI-2026-01 --from 2025-01 --to 2025-12``
on a demo store, this tree beside a baseline tree (main, say), alternating, on the same store.

    git -C /work/main archive HEAD | tar -x -C /tmp/wi-main
    python ops/bench/whatif_timing.py --db sqlite:////tmp/d3000.db --baseline /tmp/wi-main
    python ops/bench/whatif_timing.py --seekers 300              # load a demo into a temp file

Per round and per tree (the order of the trees swapped every round):

- ``cli``: the command's wall clock and CPU time as a fresh process (``python -c
  'timeline.cli.main'`` with the tree first on ``PYTHONPATH``, run in it), its JSON report kept;
- ``http``: a fresh process that builds the services and the API (``timeline.api.create_app``)
  and asks ``GET /v1/stats/whatif`` twice: the first request, and the second (warm: what a
  server answers the next analyst) in the same process, each with its wall clock and the
  process's CPU time.

Every report of both trees must be the same (same figures from the same store): the script
fails otherwise. It prints one JSON line per measurement, then the medians, ranges and the
load average (``/proc/loadavg``) over the run. On a shared machine the CPU times are the
steadier figure: the wall clock grows with the load average. Timing lives here, not in the tests: a
wall-clock limit fails under load. Goal (issue 14 §3): a year of a 3,000-seeker demo in
seconds."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2]
QUERY = {"ruleset": "FI-2026-01", "from": "2025-01", "to": "2025-12", "on": "2026-06-30"}
TOKEN = "bench-reporter-token"  # noqa: S105 - a throwaway token of a throwaway in-process API


def _pythonpath(tree: Path) -> str:
    return os.pathsep.join([str(tree / "src"), str(tree)])


def _load() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def _digest(report: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()[:16]


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_cli(tree: Path, url: str) -> tuple[float, float, dict[str, Any]]:
    """The command's wall clock as a fresh process, its CPU time, and its report."""
    args = [
        sys.executable,
        "-c",
        "import sys; from timeline.cli.main import main; sys.exit(main())",
        "whatif",
        "--db",
        url,
        "--ruleset",
        QUERY["ruleset"],
        "--from",
        QUERY["from"],
        "--to",
        QUERY["to"],
        "--on",
        QUERY["on"],
        "--format",
        "json",
    ]
    env = {**os.environ, "PYTHONPATH": _pythonpath(tree)}
    cpu, started = _children_cpu(), time.perf_counter()
    # (run in the tree: the current directory comes first on the child's path)
    done = subprocess.run(args, env=env, cwd=tree, capture_output=True, check=False)  # noqa: S603
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: whatif exited {done.returncode}: {done.stderr.decode()}")
    return seconds, cpu, json.loads(done.stdout)


def run_http(tree: Path, url: str) -> dict[str, Any]:
    """A fresh process answering the route twice (see :func:`http_child`)."""
    args = [sys.executable, str(Path(__file__).resolve()), "--child-http", "--db", url]
    env = {**os.environ, "PYTHONPATH": _pythonpath(tree)}
    done = subprocess.run(args, env=env, cwd=tree, capture_output=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: the HTTP child exited {done.returncode}: {done.stderr!r}")
    found: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return found


def http_child(url: str) -> None:
    """Build the API on ``url`` and time two requests of the route in this process; prints
    ``{"first_s", "second_s", "digest", "module"}``."""
    from fastapi.testclient import TestClient  # noqa: PLC0415 (only in the child)

    import projections.whatif  # noqa: PLC0415
    from timeline.api import create_app  # noqa: PLC0415
    from timeline.auth import token_hash  # noqa: PLC0415
    from timeline.bootstrap import bootstrap  # noqa: PLC0415
    from timeline.settings import Settings  # noqa: PLC0415

    tokens = json.dumps(
        [{"name": "bench", "sha256": token_hash(TOKEN), "role": "reporter", "scope": "*"}]
    )
    services = bootstrap(Settings(database_url=url, environment="test", tokens=tokens))
    try:
        client = TestClient(create_app(services))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        times, cpus, bodies = [], [], []
        for _ in range(2):
            cpu, started = time.process_time(), time.perf_counter()
            r = client.get("/v1/stats/whatif", params=QUERY, headers=headers)
            times.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code}: {r.text}")
            bodies.append(r.json())
        if bodies[0] != bodies[1]:
            raise RuntimeError("the warm request answered other figures than the first")
    finally:
        services.close()
    print(
        json.dumps(
            {
                "first_s": round(times[0], 3),
                "second_s": round(times[1], 3),
                "first_cpu_s": round(cpus[0], 3),
                "second_cpu_s": round(cpus[1], 3),
                "digest": _digest(bodies[0]),
                "module": projections.whatif.__file__,
            }
        )
    )


def load_demo_store(url: str, seekers: int) -> None:
    from timeline.application import TimelineApp  # noqa: PLC0415
    from timeline.clock import FixedClock  # noqa: PLC0415
    from timeline.demo import generate, load_demo  # noqa: PLC0415
    from timeline.settings import Settings  # noqa: PLC0415

    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = TimelineApp(settings=Settings(database_url=url, environment="test"), clock=clock)
    started = time.perf_counter()
    events = load_demo(app, clock, generate(seekers=seekers, seed=1))
    app.close()
    print(json.dumps({"loaded_events": events, "seconds": round(time.perf_counter() - started, 1)}))


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def bench(url: str, baseline: Path | None, rounds: int) -> None:
    trees = {"this": HERE, **({"baseline": baseline} if baseline else {})}
    times: dict[str, dict[str, list[float]]] = {
        name: {
            k: []
            for k in (
                "cli_s",
                "cli_cpu_s",
                "http_first_s",
                "http_second_s",
                "http_first_cpu_s",
                "http_second_cpu_s",
            )
        }
        for name in trees
    }
    digests: set[str] = set()
    loads = [_load()]
    summary: dict[str, Any] = {}
    for i in range(rounds):
        order = list(trees) if i % 2 == 0 else list(reversed(trees))
        for name in order:
            seconds, cpu, report = run_cli(trees[name], url)
            digests.add(_digest(report))
            http = run_http(trees[name], url)
            digests.add(http["digest"])
            loads.append(_load())
            found = times[name]
            found["cli_s"].append(seconds)
            found["cli_cpu_s"].append(cpu)
            for key in ("first_s", "second_s", "first_cpu_s", "second_cpu_s"):
                found[f"http_{key}"].append(http[key])
            line = {
                "round": i + 1,
                "tree": name,
                "cli_s": round(seconds, 2),
                "cli_cpu_s": round(cpu, 2),
                **{
                    f"http_{k}": http[k]
                    for k in ("first_s", "second_s", "first_cpu_s", "second_cpu_s")
                },
                "load_1m": loads[-1][0],
                "seekers": report["seekers"],
                "events_of_active_seekers": report["events"],
                "module": http["module"],
            }
            print(json.dumps(line), flush=True)
    if len(digests) != 1:
        raise SystemExit(f"the trees' reports differ: {sorted(digests)}")
    for name, found in times.items():
        summary[name] = {k: _summary(v) for k, v in found.items()}
    if baseline:
        summary["ratio_cli"] = round(
            statistics.median(times["baseline"]["cli_s"])
            / statistics.median(times["this"]["cli_s"]),
            1,
        )
        summary["ratio_cli_cpu"] = round(
            statistics.median(times["baseline"]["cli_cpu_s"])
            / statistics.median(times["this"]["cli_cpu_s"]),
            1,
        )
        summary["ratio_http_second"] = round(
            statistics.median(times["baseline"]["http_second_s"])
            / statistics.median(times["this"]["http_second_s"]),
            1,
        )
    summary["load_1m"] = _summary([x[0] for x in loads])
    summary["rounds"] = rounds
    summary["reports_identical"] = True
    summary["query"] = QUERY
    summary["cores"] = os.cpu_count() or 0
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a store URL with a demo loaded (default: load one)")
    parser.add_argument("--seekers", type=int, default=3000, help="the demo to load, without --db")
    parser.add_argument("--baseline", type=Path, help="a source tree to compare with (main)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child-http", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_http:
        http_child(args.db)
        return
    if args.db:
        bench(args.db, args.baseline, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'whatif.db'}"
        load_demo_store(url, args.seekers)
        bench(url, args.baseline, args.rounds)


if __name__ == "__main__":
    main()
