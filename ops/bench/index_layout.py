"""The PostgreSQL index table's layout 2 against the code before it, in the same run: bytes per
event of the event tables (and of each index), the bulk import's time, the reads that go
through the index (as-of reads, the feed's pages, ``verify``), and the conversion of a
layout-1 table by ``timeline migrate-store``. Runs of the two trees alternate.

    python ops/bench/index_layout.py [--base DIR] [--seekers 1000] [--rounds 2] [--reads 300]

``--base``: a checkout of the code before layout 2 (default: ``git archive`` of ``3eb4794^``,
the commit before layout 2). Both trees run with this checkout's interpreter, each on its own
``PYTHONPATH``. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth;
TIMELINE_TEST_PG_* override); every database is made here and dropped at the end. Prints
the machine and its load average before each run; wall-clock figures are only comparable
within a run (alternating trees), bytes are exact."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import admin, db_url, export_tree, machine, scratch_database

HERE = Path(__file__).resolve().parents[2]
#: a fixed master key, for the benchmark's throwaway databases only
BENCH_MASTER_KEY = "YmVuY2htYXJrIG9ubHk6IG5ldmVyIGEgcmVhbCBrISE="

#: Run in each tree: the reads that go through the index, timed (wall and this process's CPU).
READS = r"""
import json, random, sys, time
import timeline
from timeline.application import TimelineApp
from timeline.audit.verify import verify_all
from timeline.settings import Settings

url, n = sys.argv[1], int(sys.argv[2])
app = TimelineApp(settings=Settings(database_url=url))
out = {"code": timeline.__file__}


def timed(name, work):
    w, c = time.perf_counter(), time.process_time()
    result = work()
    out[name] = [time.perf_counter() - w, time.process_time() - c]
    return result


rows = []
def feed():
    after = 0
    while True:
        page = app.index.index_after_position(after, 1000)
        if not page:
            return
        rows.extend(page)
        after = page[-1].position
timed("feed pages of 1,000 (whole store)", feed)
seekers = sorted({r.seeker_id for r in rows})
picks = random.Random(1).sample(seekers, min(n, len(seekers)))
until = max(r.recorded_at for r in rows)
timed("index_as_of", lambda: [app.index.index_as_of(s, until) for s in picks])
timed(
    "events_with_index (as-of)",
    lambda: [app.index.events_with_index(s, recorded_until=until) for s in picks],
)
timed("history as of (decoded)", lambda: [app.history(s, as_of=until) for s in picks])
broken = timed("verify (every seeker)", lambda: list(verify_all(app)))
assert not broken, broken[:3]
out["events"] = len(rows)
out["picks"] = len(picks)
app.close()
print(json.dumps(out))
"""


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree}"
    env["TIMELINE_MASTER_KEY"] = BENCH_MASTER_KEY
    return env


def _run(tree: Path, *args: str) -> tuple[str, float, float]:
    """(stdout, wall seconds, the child's CPU seconds) of ``python args`` in ``tree``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, *args],
        env=_env(tree),
        cwd=tempfile.gettempdir(),
        check=False,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({tree}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


#: the default before tree: the commit before layout 2
BEFORE_REF = "3eb4794^"


def _base_tree(tmp: Path) -> Path:
    return export_tree(BEFORE_REF, tmp / "base")


def _load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def sizes(
    dbname: str, tables: tuple[str, ...] = ("timeline_events", "timeline_event_index")
) -> dict[str, Any]:
    """Bytes of the event tables and of each of their indexes (after VACUUM ANALYZE); the
    events counted in the first."""
    with admin(dbname) as conn:
        conn.execute("VACUUM ANALYZE")
        [(events,)] = conn.execute(f"SELECT count(*) FROM {tables[0]}").fetchall()
        out: dict[str, Any] = {"events": int(events)}  # type: ignore[call-overload]
        for table in tables:
            total, heap, indexes = conn.execute(
                "SELECT pg_total_relation_size(%s::regclass), pg_table_size(%s::regclass), "
                "pg_indexes_size(%s::regclass)",
                [table, table, table],
            ).fetchone()  # type: ignore[misc]
            each = conn.execute(
                "SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
                "ORDER BY i.relname",
                [table],
            ).fetchall()
            out[table] = {
                "total": int(total),
                "heap": int(heap),
                "indexes": int(indexes),
                "each": {str(k): int(v) for k, v in each},  # type: ignore[call-overload]
            }
    return out


def _per_event(found: dict[str, Any], table: str) -> str:
    n, t = found["events"], found[table]
    each = ", ".join(f"{k} {v / n:.0f}" for k, v in t["each"].items())
    return (
        f"{t['total'] / n:6.0f} B  (heap {t['heap'] / n:.0f}, indexes {t['indexes'] / n:.0f}: "
        f"{each})"
    )


#: The code before layout 2's column list (its SELECT_COLUMNS) and insert casts (INDEX_TYPES)
BEFORE_COLUMNS = (
    "event_id::text, seeker_id::text, version, position, type, occurred_at, occurred_on::text, "
    "recorded_at, digest, hash, person_ref"
)
BEFORE_TYPES = (
    "uuid", "uuid", "bigint", "bigint", "text", "text", "date", "timestamptz", "text", "text",
    "text",
)  # fmt: skip


#: (a cursor, its SELECT column list, its insert values, its rows → the index rows' values)
Side = tuple[Any, str, list[str], Any]
FEED = "SELECT {cols} FROM timeline_event_index WHERE position > %s ORDER BY position LIMIT 1000"
PER_SEEKER = {
    "as-of read of a seeker (index_as_of)": (
        "SELECT {cols} FROM timeline_event_index WHERE seeker_id = %s AND version <= "
        "(SELECT max(version) FROM timeline_event_index WHERE seeker_id = %s AND "
        "recorded_at <= now()) ORDER BY version",
        2,
    ),
    "events with index of a seeker (events_with_index)": (
        "SELECT e.topic, e.state, {cols} FROM timeline_event_index JOIN timeline_events e "
        "ON e.originator_id = seeker_id AND e.originator_version = version "
        "WHERE seeker_id = %s ORDER BY version",
        1,
    ),
}


def _per_seeker(side: Side, sql: str, n: int, picks: list[str]) -> float:
    curs, cols, _, rows = side
    statement = sql.replace("{cols}", cols)
    skip = 2 if "e.state" in sql else 0
    t0 = time.perf_counter()
    for s in picks:
        rows([r[skip:] for r in curs.execute(statement, (s,) * n).fetchall()])
    return (time.perf_counter() - t0) / len(picks) * 1000


def _feed(side: Side) -> float:
    curs, cols, _, rows = side
    statement = FEED.replace("{cols}", cols)
    t0 = time.perf_counter()
    after = 0
    while page := rows(curs.execute(statement, (after,)).fetchall()):
        after = int(page[-1].position)
    return (time.perf_counter() - t0) * 1000


def _server(side: Side, picks: list[str]) -> tuple[float, float]:
    """The server's execution time alone (``EXPLAIN (ANALYZE, TIMING OFF)``, which computes
    every selected value but sends none): the as-of read per seeker, the whole feed; ms."""
    curs, cols, _, _ = side
    conn = curs.connection

    def run(sql: str, params: tuple[Any, ...]) -> float:
        plan = conn.execute("EXPLAIN (ANALYZE, TIMING OFF) " + sql, params).fetchall()
        return float(next(str(r[0]) for r in plan if "Execution Time" in str(r[0])).split()[2])

    sql, _ = PER_SEEKER["as-of read of a seeker (index_as_of)"]
    as_of = sum(run(sql.replace("{cols}", cols), (s, s)) for s in picks) / len(picks)
    [(last,)] = conn.execute("SELECT max(position) FROM timeline_event_index").fetchall()
    feed = sum(run(FEED.replace("{cols}", cols), (p,)) for p in range(0, int(last), 1000))
    return as_of, feed


def _insert(side: Side) -> float:
    """µs per row of one 1,000-row JSON insert (rolled back), of rows like the stored ones."""
    from timeline.store.index import INDEX_COLUMNS  # noqa: PLC0415 - this tree

    curs, cols, values, convert = side
    conn = curs.connection
    page = convert(curs.execute(FEED.replace("{cols}", cols), (0,)).fetchall())  # (as the API)
    rows = []
    for r in page:
        row = list(r.as_params())
        row[0], row[2], row[3] = str(uuid.uuid4()), row[2] + 10**6, row[3] + 10**9
        rows.append(row)
    insert = (
        f"INSERT INTO timeline_event_index ({','.join(INDEX_COLUMNS)}) SELECT "
        f"{','.join(values)} FROM jsonb_array_elements(%s::jsonb) r"
    )
    t0 = time.perf_counter()
    with conn.transaction(force_rollback=True):
        conn.execute(insert, (json.dumps(rows),))
    return (time.perf_counter() - t0) * 1e6 / len(rows)


def interleaved(before_db: str, after_db: str, rounds: int, seekers: int) -> None:
    """The index's own statements, the code before's SQL on its layout-1 table against this
    code's on layout 2, in this process, alternating: wall time of the server's work, the
    driver's and the making of the index rows (each tree's ``_row``: the code before's made
    here as it was, this code's imported)."""
    from timeline.store.index import IndexRow  # noqa: PLC0415 - this tree
    from timeline.store.postgres import INDEX_VALUES, SELECT_COLUMNS, _row  # noqa: PLC0415

    def before_rows(rows: list[Any]) -> list[IndexRow]:
        return [IndexRow(*r[:7], r[7].astimezone(UTC), *r[8:]) for r in rows]

    def after_rows(rows: list[Any]) -> list[IndexRow]:
        return [_row(r) for r in rows]

    with admin(before_db) as b, admin(after_db) as a:
        sides: dict[str, Side] = {
            "before": (
                b.cursor(),
                BEFORE_COLUMNS,
                [f"(r->>{i})::{t}" for i, t in enumerate(BEFORE_TYPES)],
                before_rows,
            ),
            "after": (
                a.cursor(binary=True),
                SELECT_COLUMNS.as_string(None),
                list(INDEX_VALUES),
                after_rows,
            ),
        }
        ids = sorted(
            str(r[0]) for r in a.execute("SELECT DISTINCT seeker_id FROM timeline_event_index")
        )
        picks = ids[:: max(1, len(ids) // seekers)][:seekers]
        times: dict[str, dict[str, list[float]]] = {}
        for n in range(rounds):
            for label in ("before", "after") if n % 2 == 0 else ("after", "before"):
                side = sides[label]
                found = {
                    name: _per_seeker(side, sql, k, picks) for name, (sql, k) in PER_SEEKER.items()
                }
                found["feed: the whole index in pages of 1,000 (index_after_position)"] = _feed(
                    side
                )
                found["insert of 1,000 rows as one JSON array, µs per row"] = _insert(side)
                (
                    found["server only: as-of read of a seeker"],
                    found["server only: the whole feed"],
                ) = _server(side, picks)
                for name, value in found.items():
                    times.setdefault(name, {}).setdefault(label, []).append(value)
    print(
        f"\nthe index's statements, alternating, {rounds} rounds, {len(picks)} seekers "
        f"(load average {_load()}); medians, ms unless said:"
    )
    for name, by in times.items():
        old, new = statistics.median(by["before"]), statistics.median(by["after"])
        print(f"  {name}: before {old:.3f}, after {new:.3f} (ratio {new / old:.2f})")


def _round(
    round_: int,
    label: str,
    tree: Path,
    demo: Path,
    line: float,
    args: argparse.Namespace,
    fig: dict[str, list[float]],
) -> None:
    """One import of the demo by ``tree`` into a new database: its bytes, the import's time
    and the reads through the index; for the code before, then its table converted."""
    with scratch_database("timeline_layout") as dbname:
        url = db_url(dbname)
        print(f"\nround {round_ + 1}, {label}: load average {_load()}")
        _, wall, cpu = _run(
            tree, "-m", "timeline.cli.main", "import", str(demo), "--db", url, "--quiet"
        )
        found = sizes(dbname)
        n = found["events"]
        both = found["timeline_events"]["total"] + found["timeline_event_index"]["total"]
        print(f"  import: {wall:.1f} s wall, {cpu / n * 1e6:.0f} µs CPU/event (client)")
        print(f"  timeline_events      {_per_event(found, 'timeline_events')}")
        print(f"  timeline_event_index {_per_event(found, 'timeline_event_index')}")
        print(f"  both: {both / n:.0f} B/event = {both / n / line:.2f} × the JSON line")
        fig.setdefault("import s", []).append(wall)
        fig.setdefault("import client CPU µs/event", []).append(cpu / n * 1e6)
        out, _, _ = _run(tree, "-c", READS, url, str(args.reads))
        reads = json.loads(out)
        assert reads["code"].startswith(str(tree)), reads["code"]
        for name, value in reads.items():
            if isinstance(value, list):
                per = reads["picks"] if "verify" not in name and "feed" not in name else 1
                ms = value[0] / per * 1000
                fig.setdefault(f"{name} ms", []).append(ms)
                print(f"  {name}: {ms:.2f} ms wall" + (" per seeker" if per > 1 else ""))
        if label == "before":
            # the table the code before wrote, converted by this code
            out, wall, _ = _run(
                HERE,
                "-m",
                "timeline.cli.main",
                "migrate-store",
                "--to",
                "2",
                "--db",
                url,
                "--quiet",
            )
            index = json.loads(out)["index_table"]
            converted = sizes(dbname)
            print(
                f"  migrate-store: index layout {index['layout_before']} → "
                f"{index['layout_after']}, {index['converted']:,} rows in "
                f"{index['seconds']:.1f} s (run {wall:.1f} s); then:"
            )
            print(f"  timeline_event_index {_per_event(converted, 'timeline_event_index')}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, help="a checkout of the code before layout 2")
    parser.add_argument("--seekers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reads", type=int, default=300, help="seekers read as of a moment")
    parser.add_argument(
        "--sql-rounds",
        type=int,
        default=0,
        help="then this many rounds of the index's statements alone, interleaved (0: none)",
    )
    parser.add_argument(
        "--sql-only", action="store_true", help="only the interleaved statements' phase"
    )
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = args.base or _base_tree(tmp)
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
        if args.sql_rounds:
            with (
                scratch_database("timeline_layout") as before_db,
                scratch_database("timeline_layout") as after_db,
            ):
                for db, tree in ((before_db, base), (after_db, HERE)):
                    _run(
                        tree,
                        "-m",
                        "timeline.cli.main",
                        "import",
                        str(demo),
                        "--db",
                        db_url(db),
                        "--quiet",
                    )
                    sizes(db)  # (VACUUM ANALYZE)
                interleaved(before_db, after_db, args.sql_rounds, args.reads)
            if args.sql_only:
                return
        figures: dict[str, dict[str, list[float]]] = {k: {} for k in trees}
        for round_ in range(args.rounds):
            order = list(trees.items()) if round_ % 2 == 0 else list(reversed(trees.items()))
            for label, tree in order:
                _round(round_, label, tree, demo, line, args, figures[label])
        print("\nmedians (before → after, ratio):")
        for name in figures["after"]:
            b, a = (
                statistics.median(figures["before"][name]),
                statistics.median(figures["after"][name]),
            )
            print(f"  {name}: {b:.2f} → {a:.2f} ({a / b:.2f})")


if __name__ == "__main__":
    main()
