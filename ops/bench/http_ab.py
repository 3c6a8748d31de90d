"""HTTP append of two (or more) source trees, alternating in one run, with wrk.

    python ops/bench/http_ab.py --tree main=/tmp/main --tree work=. [--rounds 3] [--seconds 8]
        [--connections 16] [--batch 100] [--pool 2000] [--profile DIR]

Each ``--tree LABEL=DIR`` is a checkout of the repository (``git archive REV | tar -x -C DIR``);
its grouped server (``python -m timeline.api.grouped --bench-noop-route``) runs with
``PYTHONPATH=DIR/src:DIR``, on a database of its own (made here, seeded through its own
``POST /v1/events`` with ``--pool`` job seekers, dropped at the end), so a tree whose stored form
differs is measured on what it wrote itself.

A round starts each tree's server in turn (the order alternates between rounds: the machine is
shared, and its load drifts), warms it up, then runs wrk against it: the no-op POST route of the
same server, one event per request, ``--batch`` events per request (``ops/bench/wrk_append.lua``
makes fresh envelopes per request). It prints every run's figure and the load average, then per
tree the median and range over the rounds: requests/s (events/s for batches), append ÷ no-op,
p50/p99 latency. ``--profile DIR`` also records, for the last round, a py-spy flame graph of each
server's thread holding the GIL under the 1-event and the batched load
(``DIR/LABEL-single.svg``, ``DIR/LABEL-batch.svg``; py-spy must be installed).

Needs PostgreSQL (``TIMELINE_TEST_PG_*``, as the tests) and ``wrk`` (Debian package ``wrk``)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import admin, db_url, free_port, group_stats, stop_server
from scale import WRK_SCRIPT, WrkResult, run_wrk


@dataclass
class Tree:
    label: str
    root: Path
    db: str = ""
    pool: Path = Path()
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)
    ratios: list[float] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # server CPU ms per request


def parse_tree(text: str) -> Tree:
    label, sep, root = text.partition("=")
    if not sep or not label or not Path(root, "src", "timeline").is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: want LABEL=DIR, DIR holding src/timeline")
    return Tree(label, Path(root).resolve())


def start(tree: Tree, port: int) -> subprocess.Popen[bytes]:
    """The tree's grouped server with the no-op route; returns once /health answers."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{tree.root / 'src'}{os.pathsep}{tree.root}",
        "TIMELINE_ENVIRONMENT": "development",
        "TIMELINE_DATABASE_URL": db_url(tree.db),
    }
    env.pop("TIMELINE_TOKENS", None)
    env.pop("TIMELINE_TOKENS_FILE", None)
    proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "timeline.api.grouped",
            "--db",
            db_url(tree.db),
            "--port",
            str(port),
            "--bench-noop-route",
        ],
        env=env,
        cwd=tree.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            sys.exit(f"{tree.label}: the server exited: {err[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"{tree.label}: the server did not start within 60 s")


def post(port: int, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/events",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        sys.exit(f"seeding refused: {refused.code} {refused.read()[:500]!r}")


def seed(tree: Tree, port: int, size: int, workdir: Path) -> None:
    """``size`` seekers whose job search started 60 days ago, through the tree's own route."""
    started = (date.today() - timedelta(days=60)).isoformat()
    ids = [str(uuid.uuid4()) for _ in range(size)]
    for i in range(0, size, 100):
        batch = [
            {
                "event_id": str(uuid.uuid4()),
                "seeker_id": s,
                "type": "job_search_started",
                "occurred_on": started,
                "actor": {"id": "caseworker:bench", "role": "coach", "organisation": "398"},
                "source": "bench",
                "data": {"municipality": "398", "labour_market_status": "unemployed"},
            }
            for s in ids[i : i + 100]
        ]
        post(port, json.dumps(batch).encode())
    tree.pool = workdir / f"pool-{tree.label}.txt"
    tree.pool.write_text("\n".join(ids) + "\n", encoding="utf-8")


def cpu_seconds(pid: int, task: int | None = None) -> float:
    """User + system CPU time so far of a process (every thread), or of one of its threads."""
    path = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm(tree: Tree, port: int) -> None:
    """One event for every seeker of the pool, so each server's timeline cache holds them all
    before the measured runs (the steady state of a running service, not its first minute)."""
    on = (date.today() - timedelta(days=30)).isoformat()
    ids = tree.pool.read_text(encoding="utf-8").split()
    for i in range(0, len(ids), 100):
        batch = [
            {
                "event_id": str(uuid.uuid4()),
                "seeker_id": s,
                "type": "contact_made",
                "occurred_on": on,
                "actor": {"id": "caseworker:bench", "role": "coach", "organisation": "398"},
                "source": "bench",
                "data": {"channel": "phone", "direction": "outbound", "purpose": "warm-up"},
            }
            for s in ids[i : i + 100]
        ]
        post(port, json.dumps(batch).encode())


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def profiler(
    pid: int, tree: Tree, args: argparse.Namespace, profile: Path | None, run: str
) -> subprocess.Popen[bytes] | None:
    """py-spy recording the server's thread holding the GIL during a measured run (where its
    CPU goes), into ``profile/LABEL-RUN.FORMAT``; None when not profiling."""
    if profile is None:
        return None
    return subprocess.Popen(  # noqa: S603 - py-spy on our own server
        [
            args.py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, args.seconds - 1)),
            "--rate",
            "200",
            "--nonblocking",
            "--gil",
            "--format",
            args.profile_format,
            "-o",
            str(profile / f"{tree.label}-{run}.{args.profile_format}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def measure(tree: Tree, args: argparse.Namespace, profile: Path | None) -> None:
    port = free_port()
    server = start(tree, port)
    cpu: dict[str, float] = {}

    def timed(name: str, path: str, batch: int) -> WrkResult:
        before = cpu_seconds(server.pid), cpu_seconds(server.pid, server.pid)
        result = run_wrk(port, path, tree.pool, batch, args.seconds, args)
        ok = max(result.ok, 1)
        cpu[name] = (cpu_seconds(server.pid) - before[0]) / ok * 1000
        # the main thread runs the event loop (HTTP, routing, parsing, answering); the rest is
        # the group committer's writer and the connection pools' threads
        cpu[f"{name}-loop"] = (cpu_seconds(server.pid, server.pid) - before[1]) / ok * 1000
        return result

    try:
        if not args.cold:
            warm(tree, port)
        run_wrk(port, "/bench/noop", tree.pool, 1, 2, args)  # warm-up
        run_wrk(port, "/v1/events", tree.pool, 1, 2, args)
        noop = timed("noop", "/bench/noop", 1)
        spy = profiler(server.pid, tree, args, profile, "single")
        single = timed("single", "/v1/events", 1)
        if spy is not None:
            spy.wait(60)
        spy = profiler(server.pid, tree, args, profile, "batch")
        batched = timed("batch", "/v1/events", args.batch)
        if spy is not None:
            spy.wait(60)
    finally:
        stats = group_stats(stop_server(server))
    for name, r in (("noop", noop), ("single", single), ("batch", batched)):
        tree.runs.setdefault(name, []).append(r)
        tree.cpu.setdefault(name, []).append(cpu[name])
        tree.cpu.setdefault(f"{name}-loop", []).append(cpu[f"{name}-loop"])
        if r.failed:
            print(f"    warning: {tree.label} {name}: {r.failed} failed requests")
    tree.ratios.append(single.rate / noop.rate)
    group = ""
    if stats and stats.get("groups"):
        group = f", {stats['requests'] / stats['groups']:.1f} req/commit"
    print(
        f"  {tree.label:>8}: no-op {noop.rate:7,.0f} req/s | 1 ev {single.rate:7,.0f} req/s "
        f"(p50 {single.p50_ms:5.1f}, p99 {single.p99_ms:5.1f} ms) = {single.rate / noop.rate:.2f}× "
        f"| {args.batch} ev {batched.rate * args.batch:7,.0f} ev/s (p99 {batched.p99_ms:5.0f} ms)"
        f"{group} | server CPU ms/req (event loop's): no-op {cpu['noop']:.2f} "
        f"({cpu['noop-loop']:.2f}), 1 ev {cpu['single']:.2f} ({cpu['single-loop']:.2f}), "
        f"{args.batch} ev {cpu['batch']:.1f} ({cpu['batch-loop']:.1f}) | load {loadavg()}",
        flush=True,
    )


def span(values: list[float], fmt: str = ",.0f") -> str:
    return (
        f"{statistics.median(values):{fmt}} [{min(values):{fmt}}–{max(values):{fmt}}]"
        if values
        else "-"
    )


def summary(trees: list[Tree], args: argparse.Namespace) -> None:
    print("\n== medians [min–max] over the rounds ==")
    for tree in trees:
        noop = [x.rate for x in tree.runs["noop"]]
        single = [x.rate for x in tree.runs["single"]]
        batch = [x.rate * args.batch for x in tree.runs["batch"]]
        print(
            f"  {tree.label:>8}: no-op {span(noop)} req/s | 1 ev {span(single)} req/s, "
            f"p50 {span([x.p50_ms for x in tree.runs['single']], '.1f')} ms, "
            f"p99 {span([x.p99_ms for x in tree.runs['single']], '.1f')} ms | "
            f"append/no-op {span(tree.ratios, '.2f')} | {args.batch} ev/req "
            f"{span(batch)} ev/s, p99 {span([x.p99_ms for x in tree.runs['batch']], '.0f')} ms"
        )
        print(
            f"  {'':>8}  server CPU ms/request: no-op {span(tree.cpu['noop'], '.2f')}, "
            f"1 ev {span(tree.cpu['single'], '.2f')}, "
            f"{args.batch} ev {span(tree.cpu['batch'], '.1f')}; of which the event loop's: "
            f"no-op {span(tree.cpu['noop-loop'], '.2f')}, "
            f"1 ev {span(tree.cpu['single-loop'], '.2f')}, "
            f"{args.batch} ev {span(tree.cpu['batch-loop'], '.1f')}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tree", type=parse_tree, action="append", required=True, metavar="LABEL=DIR"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="each measured wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="events a batched request")
    parser.add_argument("--pool", type=int, default=2000, help="seekers the appends go to")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the last round")
    parser.add_argument("--profile-format", default="flamegraph", help="py-spy's --format")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="skip the warm-up that appends one event to every pool seeker (the timelines are "
        "then loaded from the store during the measured runs, as after a restart)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian/Ubuntu package wrk)")
    args.py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    trees: list[Tree] = args.tree
    workdir = Path(tempfile.mkdtemp(prefix="http_ab_"))
    print(
        f"== HTTP append, alternating: {args.connections} connections, {args.wrk_threads} wrk "
        f"threads, {args.seconds} s a run, {args.rounds} rounds, {os.cpu_count()} CPUs, "
        f"load {loadavg()}; wrk script {WRK_SCRIPT.name} =="
    )
    try:
        for tree in trees:
            tree.db = f"http_ab_{tree.label}_{uuid.uuid4().hex[:8]}".lower()
            with admin() as conn:
                conn.execute(f'CREATE DATABASE "{tree.db}"')
            port = free_port()
            server = start(tree, port)
            try:
                seed(tree, port, args.pool, workdir)
            finally:
                stop_server(server)
        for r in range(args.rounds):
            print(f"round {r + 1}")
            order = trees if r % 2 == 0 else trees[::-1]
            for tree in order:
                last = r == args.rounds - 1
                measure(tree, args, args.profile if last and args.profile else None)
        summary(trees, args)
        print(f"  load at the end: {loadavg()}")
    finally:
        if not args.keep:
            for tree in trees:
                if tree.db:
                    with admin() as conn:
                        conn.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s",
                            [tree.db],
                        )
                        conn.execute(f'DROP DATABASE IF EXISTS "{tree.db}"')
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
