"""Stored form 2 against the code before it, in the same run: the events table's bytes per
event on a demo imported into PostgreSQL, and the HTTP append rate (bench.py's figure (a)),
runs of the two trees alternating.

    python ops/bench/stored_form.py [--base DIR] [--seekers 1000] [--rounds 2]
        [--http-requests 6000] [--http-seconds 20] [--codec-only [--codec-rounds 3]]
        [--reads]

``--base``: a checkout of the code to compare with (default: ``git archive`` of ``d9d5e41^``,
the commit before the codec's fast paths, into a temporary directory; for the sizes and HTTP
figures of form 2 against form 1, the code before form 2: ``--base`` of a ``git archive
6408a5f``). Both trees run with this checkout's interpreter and packages, each on its own
``PYTHONPATH``. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth;
TIMELINE_TEST_PG_* override); every database is made here and dropped at the end.
Prints, per tree: events, the events table's total bytes (heap with TOAST and indexes) per
event and the ``state`` column's average; the index table's; the key table's (form 2); then
each HTTP round and the medians, with the ratio form 2 / before.

``--codec-only``: the codec's CPU per event (µs, ``time.process_time``) in each tree, in a
process of its own, the trees alternating ``--codec-rounds`` times: the mapper's encode and
decode and the projections' ``FactDecoder``, each on the library's JSON (form 1) and on form 2,
on a 100-seeker demo in the memory store. No PostgreSQL needed.

``--reads``: a demo of ``--seekers`` imported once into PostgreSQL, then in each tree, in a
process of its own, the trees alternating ``--rounds`` times: CPU µs per event (this process,
not the server) and wall-clock events/s of every stored event read through the mapper (bench.py
(c)'s bare read loop), the online rebuilds of obligations and statistics, and cold history
reads (no timeline cache) of 100 seekers with and without ``as_of``."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import admin, db_url, export_tree, machine, scratch_database

HERE = Path(__file__).resolve().parents[2]
#: a fixed master key, for the benchmark's throwaway databases only
BENCH_MASTER_KEY = "YmVuY2htYXJrIG9ubHk6IG5ldmVyIGEgcmVhbCBrISE="


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree}"
    env["TIMELINE_MASTER_KEY"] = BENCH_MASTER_KEY
    return env


def _run(tree: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, *args],
        env=_env(tree),
        cwd=cwd or tree,
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({tree}):\n{done.stderr[-3000:]}")
    return done


#: the default before tree: the commit before the codec's fast paths
BEFORE_REF = "d9d5e41^"


def _base_tree(tmp: Path) -> Path:
    return export_tree(BEFORE_REF, tmp / "base")


def _sizes(tree: Path, label: str, demo: Path) -> None:
    with scratch_database("timeline_form") as dbname:
        url = db_url(dbname)
        t0 = time.perf_counter()
        _run(tree, "-m", "timeline.cli.main", "import", str(demo), "--db", url, "--quiet")
        seconds = time.perf_counter() - t0
        with admin(dbname) as conn:
            conn.execute("VACUUM ANALYZE")
            events, state, topic = conn.execute(
                "SELECT count(*), avg(octet_length(state)), avg(octet_length(topic)) "
                "FROM timeline_events"
            ).fetchone()  # type: ignore[misc]
            n = int(events)  # type: ignore[call-overload]

            def per_event(table: str) -> str:
                found = conn.execute(
                    "SELECT pg_total_relation_size(c.oid), pg_table_size(c.oid), "
                    "pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace s "
                    "ON s.oid = c.relnamespace WHERE s.nspname || '.' || c.relname = %s",
                    [table],
                ).fetchone()
                if found is None:
                    return "-"
                total, heap, indexes = (int(x) for x in found)  # type: ignore[call-overload]
                return f"{total / n:,.0f} B ({heap / n:,.0f} + indexes {indexes / n:,.0f})"

            print(f"{label}: {n:,} events imported in {seconds:.1f} s")
            print(f"    timeline_events          {per_event('public.timeline_events')}")
            avg = f"{float(state):,.1f} B; topic {float(topic):,.1f} B"  # type: ignore[arg-type]
            print(f"      state column avg       {avg}")
            print(f"    timeline_event_index     {per_event('public.timeline_event_index')}")
            print(f"    timeline_seeker_keys     {per_event('timeline_keys.timeline_seeker_keys')}")
        if tree == HERE:
            _codec(url)


def _codec_figures(url: str, rounds: int) -> tuple[dict[str, float], int, int]:
    """CPU µs per event (the best of ``rounds``, work alternating) of this process's tree on
    the store at ``url`` (``memory:``: a 100-seeker demo made here): the mapper's encode and
    decode in the library's JSON (form 1) and form 2 (sealing included), and the projections'
    ``FactDecoder`` on both forms; with the number of events and of sealed ones."""
    from eventsourcing.persistence import Mapper  # noqa: PLC0415 - this tree's code, here only

    from projections.runtime.decode import FactDecoder  # noqa: PLC0415
    from timeline.application import TimelineApp  # noqa: PLC0415
    from timeline.settings import Settings  # noqa: PLC0415

    os.environ["TIMELINE_MASTER_KEY"] = BENCH_MASTER_KEY
    app = TimelineApp(settings=Settings(database_url=url))
    if url == "memory:":
        from timeline.demo import generate, load_demo  # noqa: PLC0415

        load_demo(app, None, generate(seekers=100, seed=1))
    try:
        stored = list(app.recorder.select_notifications(1, 1_000_000))
        events = [app.mapper.to_domain_event(n) for n in stored]
        mapper = app.mapper
        form1 = [Mapper.to_stored_event(mapper, e) for e in events]
        facts = FactDecoder(mapper)
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, work in (
                ("encode form 1", lambda: [Mapper.to_stored_event(mapper, e) for e in events]),
                ("encode form 2", lambda: [mapper.to_stored_event(e) for e in events]),
                ("decode form 1", lambda: [mapper.to_domain_event(s) for s in form1]),
                ("decode form 2", lambda: [mapper.to_domain_event(s) for s in stored]),
                ("facts form 1", lambda: [facts(s, 1) for s in form1]),
                ("facts form 2", lambda: [facts(s, 1) for s in stored]),
            ):
                t0 = time.process_time()
                work()
                per = (time.process_time() - t0) / len(events) * 1e6
                best[name] = min(best.get(name, per), per)
    finally:
        app.close()
    sealed = sum(1 for n in stored if _has_personal(n.state))
    return best, len(events), sealed


def _codec(url: str, rounds: int = 3) -> None:
    """The figures of :func:`_codec_figures` for this tree, printed."""
    best, n, sealed = _codec_figures(url, rounds)
    print(
        f"    CPU µs/event (best of {rounds}, {n:,} demo events, {sealed / n:.0%} with a "
        "sealed part):"
    )
    for what in ("encode", "decode", "facts"):
        one, two = best[f"{what} form 1"], best[f"{what} form 2"]
        print(f"      {what}: form 1 {one:.1f}, form 2 {two:.1f} (ratio {two / one:.2f})")


def _codec_trees(base: Path, rounds: int) -> None:
    """The figures of :func:`_codec_figures` of ``base`` (before) and this tree (after), each
    in its own process, the trees alternating ``rounds`` times; the medians and the ratios."""
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for i in range(rounds):
        for label, tree in (("before", base), ("after", HERE)):
            out = _run(tree, str(Path(__file__).resolve()), "--codec-json").stdout
            figures = json.loads(out.strip().splitlines()[-1])
            runs[label].append(figures)
            shown = ", ".join(f"{k} {v:.1f}" for k, v in figures.items())
            print(f"round {i + 1} {label:<6} (load {os.getloadavg()[0]:.1f}): {shown}")
    print("medians, CPU µs/event (best of 3 within each run):")
    print(f"    {'':<14} {'before':>7} {'after':>7} {'after/before':>13}")
    for name in runs["after"][0]:
        b = statistics.median(r[name] for r in runs["before"])
        a = statistics.median(r[name] for r in runs["after"])
        print(f"    {name:<14} {b:>7.1f} {a:>7.1f} {a / b:>13.2f}")


def _reads_figures(url: str) -> dict[str, float]:
    """This process's tree on the store at ``url``: CPU µs per event (``time.process_time``:
    this process only, not PostgreSQL's) and wall-clock events/s of bench.py's (c) reads —
    every stored event through the mapper (its bare read loop), the online rebuild of
    obligations and of statistics (outcomes) — and of cold history reads (no timeline cache),
    with and without ``as_of``, of 100 of the demo's seekers."""
    from projections.obligations import ObligationsView  # noqa: PLC0415 - this tree's code
    from projections.outcomes import OutcomesView  # noqa: PLC0415
    from timeline.application import TimelineApp  # noqa: PLC0415
    from timeline.settings import Settings  # noqa: PLC0415

    os.environ["TIMELINE_MASTER_KEY"] = BENCH_MASTER_KEY
    app = TimelineApp(settings=Settings(database_url=url))
    cold = TimelineApp(settings=Settings(database_url=url, aggregate_cache_size=0))
    out: dict[str, float] = {}

    def timed(name: str, work: Callable[[], int]) -> None:
        c0, w0 = time.process_time(), time.perf_counter()
        n = work()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        out[f"{name}, CPU µs/ev"] = cpu / n * 1e6
        out[f"{name}, wall ev/s"] = n / wall

    def bare() -> int:
        total = after = 0
        while batch := app.recorder.select_notifications(after, 5000, inclusive_of_start=False):
            for n in batch:
                app.mapper.to_domain_event(n)
            total += len(batch)
            after = batch[-1].id
        return total

    try:
        seekers = sorted(
            {str(n.originator_id) for n in app.recorder.select_notifications(1, 20_000)}
        )
        seekers = seekers[:100]
        at = datetime.now(UTC)
        timed("read + mapper decode", bare)
        timed("rebuild obligations", ObligationsView(app).rebuild)
        timed("rebuild statistics", OutcomesView(app).rebuild)
        timed("cold history", lambda: sum(len(cold.history(s)) for s in seekers))
        timed("cold as-of history", lambda: sum(len(cold.history(s, as_of=at)) for s in seekers))
    finally:
        app.close()
        cold.close()
    return out


def _demo(tmp: Path, seekers: int) -> Path:
    """``timeline demo --seekers N --seed 1`` of this tree, written to ``tmp/demo.jsonl``."""
    demo = tmp / "demo.jsonl"
    _run(
        HERE,
        "-m",
        "timeline.cli.main",
        "demo",
        "--seekers",
        str(seekers),
        "--seed",
        "1",
        "--out",
        str(demo),
        "--quiet",
    )
    return demo


def _reads_trees(base: Path, tmp: Path, seekers: int, rounds: int) -> None:
    """A demo imported once (this tree; both trees store the same form), then
    :func:`_reads_figures` of ``base`` (before) and this tree (after), each in its own
    process, alternating ``rounds`` times; the medians and the ratios."""
    demo = _demo(tmp, seekers)
    with scratch_database("timeline_form") as dbname:
        url = db_url(dbname)
        _run(HERE, "-m", "timeline.cli.main", "import", str(demo), "--db", url, "--quiet")
        with admin(dbname) as conn:
            conn.execute("VACUUM ANALYZE")
        print(f"demo: {seekers:,} seekers, seed 1, imported into PostgreSQL")
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for i in range(rounds):
            for label, tree in (("before", base), ("after", HERE)):
                load = os.getloadavg()[0]
                out = _run(tree, str(Path(__file__).resolve()), "--reads-json", url).stdout
                figures = json.loads(out.strip().splitlines()[-1])
                runs[label].append(figures)
                shown = ", ".join(f"{k} {v:,.1f}" for k, v in figures.items())
                print(f"round {i + 1} {label:<6} (load {load:.1f}): {shown}")
    print("medians:")
    print(f"    {'':<40} {'before':>9} {'after':>9} {'after/before':>13}")
    for name in runs["after"][0]:
        b = statistics.median(r[name] for r in runs["before"])
        a = statistics.median(r[name] for r in runs["after"])
        print(f"    {name:<40} {b:>9,.1f} {a:>9,.1f} {a / b:>13.2f}")


def _has_personal(state: bytes) -> bool:
    from timeline.store import form2  # noqa: PLC0415

    return bool(form2.parse(state).personal)


_APPEND = re.compile(
    r"\(a\) HTTP append.*? ours ([\d,]+) \(p99 (\d+) ms\)\s+baseline ([\d,]+) pgbench"
)


def _http(tree: Path, args: argparse.Namespace) -> tuple[float, float, int]:
    """(our ev/s, pgbench 1-row INSERT tps, p99 ms) of one bench.py (a) run of ``tree``."""
    out = _run(
        tree,
        str(tree / "ops" / "bench" / "bench.py"),
        "--only",
        "a",
        "--events",
        "2000",
        "--http-requests",
        str(args.http_requests),
        "--http-seconds",
        str(args.http_seconds),
        "--pgbench-seconds",
        "5",
        cwd=Path(tempfile.gettempdir()),
    ).stdout
    found = _APPEND.search(out)
    if found is None:
        sys.exit(f"bench.py printed no append figure:\n{out}")
    return (
        float(found[1].replace(",", "")),
        float(found[3].replace(",", "")),
        int(found[2]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, help="a checkout of the code before form 2")
    parser.add_argument("--seekers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="HTTP rounds of each tree")
    parser.add_argument("--http-requests", type=int, default=6000)
    parser.add_argument("--http-seconds", type=float, default=20)
    parser.add_argument("--skip-http", action="store_true", help="the sizes only")
    parser.add_argument("--http-only", action="store_true", help="the HTTP rounds only")
    parser.add_argument(
        "--codec-only",
        action="store_true",
        help="the codec's CPU per event only (mapper and FactDecoder, both forms), on a "
        "100-seeker demo in memory, before (--base) and this tree alternating",
    )
    parser.add_argument("--codec-rounds", type=int, default=3, help="with --codec-only")
    parser.add_argument("--codec-json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--reads",
        action="store_true",
        help="CPU per event of the mapper's read loop, the rebuilds and cold history reads "
        "on a demo in PostgreSQL (--seekers; --rounds), before (--base) and this tree "
        "alternating",
    )
    parser.add_argument("--reads-json", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.codec_json:  # one run of --codec-only, in the tree on PYTHONPATH
        print(json.dumps(_codec_figures("memory:", 3)[0]))
        return
    if args.reads_json:  # one run of --reads, in the tree on PYTHONPATH
        print(json.dumps(_reads_figures(args.reads_json)))
        return
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base or _base_tree(Path(tmp))
        if args.codec_only:
            print("codec on a 100-seeker demo (seed 1) in the memory store")
            _codec_trees(base, args.codec_rounds)
            return
        if args.reads:
            _reads_trees(base, Path(tmp), args.seekers, args.rounds)
            return
        if not args.http_only:
            _demo_sizes(base, Path(tmp), args.seekers)
        if args.skip_http:
            return
        _http_rounds(base, args)


def _demo_sizes(base: Path, tmp: Path, seekers: int) -> None:
    demo = _demo(tmp, seekers)
    lines = demo.read_bytes().count(b"\n")
    print(f"demo: {seekers:,} seekers, seed 1, {lines:,} lines")
    _sizes(base, "before (--base)", demo)
    _sizes(HERE, "form 2", demo)


def _http_rounds(base: Path, args: argparse.Namespace) -> None:
    results: dict[str, list[tuple[float, float, int]]] = {"before": [], "form 2": []}
    for i in range(args.rounds):
        for label, tree in (("before", base), ("form 2", HERE)):
            found = _http(tree, args)
            results[label].append(found)
            print(
                f"HTTP append round {i + 1} {label:<7} {found[0]:,.0f} ev/s "
                f"(p99 {found[2]} ms; pgbench 1-row INSERT {found[1]:,.0f} tps)"
            )
    med = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    print(
        f"HTTP append median: before {med['before']:,.0f} ev/s, form 2 "
        f"{med['form 2']:,.0f} ev/s, ratio {med['form 2'] / med['before']:.2f}"
    )


if __name__ == "__main__":
    main()
