"""PostgreSQL's single log table (index layout 3) against the two tables before it, in the same
run: bytes per event of the event tables (heap + TOAST + each index, after ``VACUUM
ANALYZE``), the bulk import's time, the reads that go through the index (as-of reads, the
feed's pages, ``verify``: ops/bench/index_layout.py's READS), and ``timeline migrate-store
--to 3`` of the store the code before wrote. Rounds alternate before, after, after, before.

    python ops/bench/log_table.py [--base DIR] [--seekers 1000] [--rounds 2] [--reads 300]

``--base``: a checkout of the code before the log (default: ``git archive`` of BEFORE_REF).
Both trees run with this checkout's interpreter, each on its own ``PYTHONPATH``. Needs
PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; TIMELINE_TEST_PG_* override); every
database is made here and dropped at the end. Prints the load average before each round;
wall-clock figures compare only within a run, bytes are exact."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import db_url, export_tree, machine, scratch_database
from index_layout import HERE, READS, _load, _run, sizes

#: the default before tree: main before the log (index layout 2)
BEFORE_REF = "34d41bd"
#: the event tables of each layout
TABLES = {"before": ("timeline_events", "timeline_event_index"), "after": ("timeline_log",)}


def _print_sizes(found: dict[str, Any], tables: tuple[str, ...], line: float) -> float:
    n = found["events"]
    for table in tables:
        t = found[table]
        each = ", ".join(f"{k} {v / n:.0f}" for k, v in t["each"].items())
        print(
            f"  {table:<21} {t['total'] / n:4.0f} B/event (heap+TOAST {t['heap'] / n:.0f}, "
            f"indexes {t['indexes'] / n:.0f}: {each})"
        )
    both = sum(found[t]["total"] for t in tables) / n
    print(f"  event tables: {both:.0f} B/event = {both / line:.2f} × the JSON line")
    return both


def _round(
    round_: int, label: str, tree: Path, demo: Path, line: float, args: argparse.Namespace
) -> dict[str, float]:
    fig: dict[str, float] = {}
    with scratch_database("timeline_log") as dbname:
        url = db_url(dbname)
        print(f"\nround {round_ + 1}, {label}: load average {_load()}")
        _, wall, cpu = _run(
            tree, "-m", "timeline.cli.main", "import", str(demo), "--db", url, "--quiet"
        )
        found = sizes(dbname, TABLES[label])
        n = found["events"]
        print(f"  import: {wall:.1f} s wall, {cpu / n * 1e6:.0f} µs CPU/event (client)")
        fig["import s"] = wall
        fig["B/event"] = _print_sizes(found, TABLES[label], line)
        out, _, _ = _run(tree, "-c", READS, url, str(args.reads))
        reads = json.loads(out)
        assert reads["code"].startswith(str(tree)), reads["code"]
        for name, value in reads.items():
            if isinstance(value, list):
                per = reads["picks"] if "verify" not in name and "feed" not in name else 1
                ms = value[0] / per * 1000
                fig[f"{name} ms"] = ms
                print(f"  {name}: {ms:.2f} ms wall" + (" per seeker" if per > 1 else ""))
        if label == "before":
            out, wall, _ = _run(
                HERE,
                "-m",
                "timeline.cli.main",
                "migrate-store",
                "--to",
                "3",
                "--db",
                url,
                "--quiet",
            )
            log = json.loads(out)["log_table"]
            print(
                f"  migrate-store --to 3: layout {log['layout_before']} → {log['layout_after']}, "
                f"{log['converted']:,} events ({log['stripped']:,} without E) in "
                f"{log['seconds']:.1f} s (run {wall:.1f} s); then:"
            )
            _print_sizes(sizes(dbname, TABLES["after"]), TABLES["after"], line)
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, help="a checkout of the code before the log")
    parser.add_argument("--seekers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of rounds (each tree)")
    parser.add_argument("--reads", type=int, default=300, help="seekers read as of a moment")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = args.base or export_tree(BEFORE_REF, tmp / "base")
        demo = tmp / "demo.jsonl"
        _run(
            HERE,
            "-m",
            "timeline.cli.main",
            "demo",
            "--seekers",
            str(args.seekers),
            "--seed",
            "1",
            "--out",
            str(demo),
        )
        lines = demo.read_bytes().count(b"\n")
        line = demo.stat().st_size / lines
        print(f"demo: {lines:,} events, JSON line {line:.0f} B (--seekers {args.seekers} --seed 1)")
        trees = {"before": base, "after": HERE}
        figures: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        order = [("before", "after"), ("after", "before")]
        for r in range(args.rounds):
            for label in order[r % 2]:
                fig = _round(r, label, trees[label], demo, line, args)
                for k, v in fig.items():
                    figures[label].setdefault(k, []).append(v)
        print("\nmedians (before → after):")
        for key in figures["after"]:
            b, a = figures["before"].get(key), figures["after"][key]
            if b:
                mb, ma = statistics.median(b), statistics.median(a)
                print(f"  {key:<42} {mb:10.2f} → {ma:10.2f}  ({ma / mb:.2f}×)")


if __name__ == "__main__":
    main()
