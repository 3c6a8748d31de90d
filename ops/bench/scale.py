"""The scale figures of issue 12, each with a baseline measured the same way in the same run.

    python ops/bench/scale.py [--seekers 1000] [--factor 4] [--http-seconds 15] [--no-http]
    python ops/bench/scale.py --only import [--workdir DIR]   # the import rows alone

For a demo of N seekers (`timeline demo --seekers N --out`, ~85 events a seeker) and of
FACTOR × N, each in a fresh throwaway database on the same PostgreSQL server:

- `timeline import` (ev/s, wall clock of the command) vs a raw `COPY` of the same JSON lines
  file into one table `(doc jsonb)` with a unique index on `doc->>'event_id'` (wall clock of a
  fresh process: create the table and its index, COPY, commit);
- peak RSS of `timeline import`, and its growth FACTOR × the events / 1×;
- `timeline rebuild obligations` + `timeline rebuild outcomes` (events / seconds of both) vs
  one process reading every stored event through a server-side cursor, `json.loads` of each
  (stored form 2: `msgspec` of its two msgpack parts in clear);
- bytes per event of the event tables (PostgreSQL's log, `timeline_log`; before index layout 3
  the library's events table + the event index: `--events-table timeline_events --index-table
  timeline_event_index`), with indexes and TOAST, and of every table of the database, vs the
  JSON line;

then, on the larger store, HTTP appends with `wrk` (16 connections, a fresh envelope per
request) vs a no-op POST route of the same server (`python -m timeline.api.grouped
--bench-noop-route`), and batched appends (100 events a request) vs the import rate; last, an
extrapolation of time, disk and memory to 150 M events.

Everything is driven through the public commands (`timeline demo|import|rebuild`, the grouped
server), so it keeps working while their insides change. Needs PostgreSQL on 127.0.0.1:5432
(user postgres, trust; TIMELINE_TEST_PG_* override) and `wrk` (Debian: apt-get install -y wrk)
unless --no-http. Every timed command and baseline starts after a CHECKPOINT. The default run
(1,000 and 4,000 seekers, ~85k and ~340k events) takes about 5–10 minutes on 2 cores."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROWS,
    admin,
    db_url,
    free_port,
    group_stats,
    machine,
    report,
    scratch_database,
    start_server,
    stop_server,
)

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_append.lua"
BASELINE_TABLE = "scale_baseline_copy"
MIB = 1024 * 1024

# The goals of the table.
GOAL_IMPORT = 0.5  # ≥ × the raw COPY
GOAL_RSS_GROWTH = 1.3  # ≤ peak RSS at FACTOR × the events / at 1×
GOAL_REBUILD = 1.0  # ≥ × the bare cursor read
GOAL_EVENT_BYTES = 1.2  # ≤ × the JSON line
GOAL_ALL_BYTES = 3.0  # ≤ × the JSON line
GOAL_HTTP = 0.5  # ≥ × the no-op POST route


# -- running commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One finished command: its wall clock, its own peak resident set, what it printed."""

    seconds: float
    peak_rss_mib: float
    stdout: str
    cpu_seconds: float = 0.0  # the process's own user + system time


def _env() -> dict[str, str]:
    env = {**os.environ, "TIMELINE_ENVIRONMENT": "development"}
    for name in ("TIMELINE_DATABASE_URL", "TIMELINE_TOKENS", "TIMELINE_TOKENS_FILE"):
        env.pop(name, None)
    return env


def run_measured(cmd: Sequence[str]) -> Measured:
    """Run ``cmd`` as a fresh child; wall clock from start to exit, and the child's own peak
    RSS (``wait4``'s resource usage of that one process, not the maximum over every child this
    script has had)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=_env())  # noqa: S603
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(seconds, usage.ru_maxrss / 1024, stdout, cpu)  # ru_maxrss: KiB on Linux


def timeline(*args: str) -> list[str]:
    """The `timeline` command of this Python (the installed entry point runs the same main)."""
    return [sys.executable, "-m", "timeline.cli", *args]


def checkpoint() -> None:
    """Flush what earlier steps left dirty, so no step pays for its predecessor's writes."""
    with admin() as conn:
        conn.execute("CHECKPOINT")


# -- the baselines, each run as a fresh process of this script (timed like our commands) ---------


def baseline_copy(url: str, path: str) -> int:
    """COPY the JSON lines into ``(doc jsonb)`` with a unique index on ``doc->>'event_id'``
    (created with the table, so it is maintained during the load as the store's indexes are);
    one transaction. CSV with quote and delimiter bytes that never occur unescaped in JSON, so
    every line arrives verbatim."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {BASELINE_TABLE} (doc jsonb NOT NULL)")
        cur.execute(f"CREATE UNIQUE INDEX ON {BASELINE_TABLE} ((doc->>'event_id'))")
        with (
            cur.copy(
                f"COPY {BASELINE_TABLE} (doc) FROM STDIN "
                "(FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
            ) as copy,
            open(path, "rb") as source,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        return cur.rowcount


def baseline_read(url: str, table: str) -> int:
    """Every stored event in log order through a server-side cursor, ``json.loads`` of each
    state."""
    n = 0
    with psycopg.connect(url) as conn, conn.cursor(name="scale_bare_read") as cur:
        cur.itersize = 10_000
        cur.execute(
            sql.SQL("SELECT * FROM {} ORDER BY notification_id").format(sql.Identifier(table))
        )
        state = next(i for i, c in enumerate(cur.description or []) if c.name == "state")
        for row in cur:
            value = row[state]
            if not isinstance(value, bytes | str):
                raise SystemExit(f"{table}.state is {type(value).__name__}, not JSON text")
            _bare_decode(bytes(value) if isinstance(value, memoryview) else value)
            n += 1
    return n


def _bare_decode(value: bytes | str) -> None:
    """The cheapest generic decode of a stored state: ``json.loads`` of stored form 1 (the
    library's JSON); of stored form 2 (first byte 2, then the digest algorithm's byte), its
    two length-prefixed msgpack parts in clear — the envelope and the clear fields — by
    ``msgspec`` (the sealed personal part after them is not opened: no projection reads it);
    of form 2 as PostgreSQL's log keeps it without the envelope (first byte 3,
    timeline.store.log), its one part in clear."""
    if isinstance(value, bytes) and value[:1] in (b"\x02", b"\x03"):
        i = 2
        for _ in range(2 if value[0] == 2 else 1):
            n = shift = 0
            while True:  # (a length as an unsigned LEB128 varint)
                byte = value[i]
                i += 1
                n |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            msgspec.msgpack.decode(value[i : i + n])
            i += n
        return
    json.loads(value)


def run_baseline(args: argparse.Namespace) -> None:
    """``--baseline copy|read``: one baseline in this process; prints ``{"rows": n}``."""
    if args.baseline == "copy":
        rows = baseline_copy(args.url, args.file)
    else:
        rows = baseline_read(args.url, args.events_table)
    print(json.dumps({"rows": rows}))


def baseline(kind: str, *options: str) -> tuple[Measured, int]:
    done = run_measured(
        [sys.executable, str(Path(__file__).resolve()), "--baseline", kind, *options]
    )
    return done, int(json.loads(done.stdout)["rows"])


# -- sizes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    name: str  # schema.table
    total: int  # pg_total_relation_size: heap, TOAST, indexes
    table: int  # pg_table_size: heap and TOAST
    indexes: int  # pg_indexes_size


def relations(dbname: str) -> list[Relation]:
    """Every table of every schema of the database but the system's, largest first."""
    with admin(dbname) as conn:
        rows: list[tuple[Any, ...]] = conn.execute(
            "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid), "
            "pg_table_size(c.oid), pg_indexes_size(c.oid) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'm') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_toast%' "
            "ORDER BY 2 DESC, 1"
        ).fetchall()
    return [Relation(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]


# -- one size -------------------------------------------------------------------------------------


@dataclass
class SizeFigures:
    label: str
    seekers: int
    events: int
    line_bytes: float
    import_rate: float
    copy_rate: float
    import_rss_mib: float
    rebuild_rate: float
    read_rate: float
    rebuild_rss_mib: float
    event_bytes: float
    all_bytes: float


def _lines(path: Path) -> tuple[int, int]:
    """(lines, bytes without their newlines) of a JSON lines file."""
    n = size = 0
    with path.open("rb") as f:
        for line in f:
            n += 1
            size += len(line.rstrip(b"\n"))
    return n, size


def demo_file(seekers: int, workdir: Path, args: argparse.Namespace) -> tuple[Path, Measured]:
    """The demo of ``seekers`` seekers: written by `timeline demo`, or kept from an earlier run
    in ``--workdir`` (then its time is 0)."""
    path = workdir / f"demo-{seekers}-seed{args.seed}.jsonl"
    if path.exists():
        return path, Measured(0.0, 0.0, "")
    cmd = ["demo", "--seekers", str(seekers), "--seed", str(args.seed), "--out", str(path)]
    return path, run_measured(timeline(*cmd))


def _print_import_costs(ours: Measured, copied: Measured, copy_size: int, events: int) -> None:
    print(
        f"    peak RSS: `timeline import` {ours.peak_rss_mib:,.0f} MiB, the COPY process "
        f"{copied.peak_rss_mib:,.0f} MiB; the COPY table with its index: "
        f"{copy_size / events:,.0f} B/event"
    )
    print(
        f"    CPU of `timeline import` itself: {ours.cpu_seconds:,.1f} s "
        f"({ours.cpu_seconds / events * 1e6:,.0f} µs/event; its wall clock on a busy machine "
        "waits for a core too)"
    )


def measure_size(
    label: str, seekers: int, dbname: str, workdir: Path, args: argparse.Namespace
) -> SizeFigures:
    url = db_url(dbname)
    path, demo = demo_file(seekers, workdir, args)
    events, payload = _lines(path)
    line = payload / events
    print(
        f"\n== {label}: {seekers:,} seekers, {events:,} events, JSON line {line:,.0f} B "
        f"(`timeline demo` {demo.seconds:.0f} s) =="
    )

    checkpoint()
    ours = run_measured(timeline("import", str(path), "--db", url, "--quiet"))
    answer = json.loads(ours.stdout.strip().splitlines()[-1])
    if answer.get("accepted") != events:
        print(f"    warning: `timeline import` answered {answer}, the file has {events} events")
    checkpoint()
    copied, rows = baseline("copy", "--url", url, "--file", str(path))
    if rows != events:
        print(f"    warning: the COPY baseline loaded {rows} rows of {events}")
    import_rate, copy_rate = events / ours.seconds, events / copied.seconds
    report(
        f"import {label}, {events:,} ev (ev/s)",
        f"{import_rate:,.0f} ({ours.seconds:.1f} s)",
        f"{copy_rate:,.0f} raw COPY ({copied.seconds:.1f} s)",
        import_rate / copy_rate,
        f"goal ≥ {GOAL_IMPORT}×",
        import_rate / copy_rate >= GOAL_IMPORT,
    )
    with admin(dbname) as conn:
        size: tuple[Any, ...] | None = conn.execute(
            f"SELECT pg_total_relation_size('{BASELINE_TABLE}')"
        ).fetchone()
        assert size is not None
        copy_size = int(size[0])
        conn.execute(f"DROP TABLE {BASELINE_TABLE}")
    _print_import_costs(ours, copied, copy_size, events)
    if args.only == "import":
        return SizeFigures(
            label, seekers, events, line, import_rate, copy_rate, ours.peak_rss_mib, *[0.0] * 5
        )

    seconds = 0.0
    rebuilt = 0
    rss = 0.0
    for projection in ("obligations", "outcomes"):
        checkpoint()
        done = run_measured(timeline("rebuild", projection, "--db", url, "--quiet"))
        n = int(json.loads(done.stdout.strip().splitlines()[-1])["events"])
        print(
            f"    `timeline rebuild {projection}`: {n:,} events in {done.seconds:.1f} s "
            f"({n / done.seconds:,.0f} ev/s), peak RSS {done.peak_rss_mib:,.0f} MiB"
        )
        seconds += done.seconds
        rebuilt = max(rebuilt, n)
        rss = max(rss, done.peak_rss_mib)
    checkpoint()
    read, read_rows = baseline("read", "--url", url, "--events-table", args.events_table)
    rebuild_rate, read_rate = rebuilt / seconds, read_rows / read.seconds
    report(
        f"rebuild obligations+outcomes {label} (ev/s)",
        f"{rebuild_rate:,.0f} ({seconds:.1f} s)",
        f"{read_rate:,.0f} cursor+bare decode ({read.seconds:.1f} s)",
        rebuild_rate / read_rate,
        f"goal ≥ {GOAL_REBUILD}×",
        rebuild_rate / read_rate >= GOAL_REBUILD,
    )

    tables = relations(dbname)
    wanted = {f"public.{t}" for t in (args.events_table, args.index_table) if t}
    found = [r for r in tables if r.name in wanted]
    if len(found) != len(wanted):
        missing = wanted - {r.name for r in found}
        sys.exit(f"event tables not found: {sorted(missing)} (see --events-table/--index-table)")
    event_bytes = sum(r.total for r in found) / events
    all_bytes = sum(r.total for r in tables) / events
    report(
        f"bytes/event, event tables {label}",
        f"{event_bytes:,.0f} B",
        f"{line:,.0f} B JSON line",
        event_bytes / line,
        f"goal ≤ {GOAL_EVENT_BYTES}×",
        event_bytes / line <= GOAL_EVENT_BYTES,
    )
    report(
        f"bytes/event, every table {label}",
        f"{all_bytes:,.0f} B",
        f"{line:,.0f} B JSON line",
        all_bytes / line,
        f"goal ≤ {GOAL_ALL_BYTES}×",
        all_bytes / line <= GOAL_ALL_BYTES,
    )
    print("    per table, B/event: total (table incl. TOAST + indexes)")
    for r in tables:
        mark = "  [event table]" if r in found else ""
        print(
            f"      {r.name:<44} {r.total / events:8,.0f} "
            f"({r.table / events:,.0f} + {r.indexes / events:,.0f}){mark}"
        )
    return SizeFigures(
        label=label,
        seekers=seekers,
        events=events,
        line_bytes=line,
        import_rate=import_rate,
        copy_rate=copy_rate,
        import_rss_mib=ours.peak_rss_mib,
        rebuild_rate=rebuild_rate,
        read_rate=read_rate,
        rebuild_rss_mib=rss,
        event_bytes=event_bytes,
        all_bytes=all_bytes,
    )


# -- HTTP -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    ok: int  # 2xx/3xx answers
    seconds: float
    failed: int  # 4xx/5xx answers and socket errors
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


def run_wrk(
    port: int, path: str, pool: Path, batch: int, seconds: int, args: argparse.Namespace
) -> WrkResult:
    on = date.today() - timedelta(days=30)
    cmd = [
        "wrk",
        "-t",
        str(args.wrk_threads),
        "-c",
        str(args.connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{port}{path}",
        "--",
        str(pool),
        str(batch),
        uuid.uuid4().hex[:8],  # this run's event ids never repeat an earlier run's
        on.isoformat(),
        f"{on.isoformat()}T10:00:00+02:00",
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout  # noqa: S603
    line = next((x for x in out.splitlines() if x.startswith("wrk-result ")), None)
    if line is None:
        sys.exit(f"wrk printed no result:\n{out}")
    r = json.loads(line.split(" ", 1)[1])
    failed = int(r["status_errors"]) + int(r["socket_errors"])
    return WrkResult(
        ok=int(r["requests"]) - int(r["status_errors"]),
        seconds=int(r["duration_us"]) / 1e6,
        failed=failed,
        p50_ms=int(r["p50_us"]) / 1000,
        p99_ms=int(r["p99_us"]) / 1000,
    )


def _position(port: int) -> int:
    """The log's position, from /ready's checks (given in its 503 problem document too)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as answer:
            body = answer.read()
    except urllib.error.HTTPError as not_ready:
        body = not_ready.read()
    return int(json.loads(body)["checks"]["log_position"])


def seeker_pool(dbname: str, workdir: Path, size: int) -> Path:
    """``size`` new seekers, their job search started 60 days ago (through `timeline import`);
    returns the file of their ids for the wrk script."""
    started = (date.today() - timedelta(days=60)).isoformat()
    ids = [str(uuid.uuid4()) for _ in range(size)]
    starts = workdir / "pool.jsonl"
    with starts.open("w", encoding="utf-8") as out:
        for seeker in ids:
            envelope: dict[str, Any] = {
                "event_id": str(uuid.uuid4()),
                "seeker_id": seeker,
                "type": "job_search_started",
                "occurred_on": started,
                "actor": {"id": "caseworker:bench", "role": "coach", "organisation": "398"},
                "source": "bench",
                "data": {"municipality": "398", "labour_market_status": "unemployed"},
            }
            out.write(json.dumps(envelope, separators=(",", ":")) + "\n")
    run_measured(timeline("import", str(starts), "--db", db_url(dbname), "--quiet"))
    pool = workdir / "pool.txt"
    pool.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return pool


def bench_http(dbname: str, workdir: Path, imported: SizeFigures, args: argparse.Namespace) -> None:
    pool = seeker_pool(dbname, workdir, args.pool)
    print(
        f"\n== HTTP on the {imported.label} store: {args.connections} connections, "
        f"{args.wrk_threads} wrk threads, {args.http_seconds} s a run, {args.pool:,} seekers =="
    )
    port = free_port()
    server = start_server(db_url(dbname), port, "--bench-noop-route")
    try:
        warm = min(3, args.http_seconds)
        run_wrk(port, "/bench/noop", pool, 1, warm, args)
        noop = run_wrk(port, "/bench/noop", pool, 1, args.http_seconds, args)
        run_wrk(port, "/v1/events", pool, 1, warm, args)
        before = _position(port)
        single = run_wrk(port, "/v1/events", pool, 1, args.http_seconds, args)
        single_written = _position(port) - before
        before = _position(port)
        batched = run_wrk(port, "/v1/events", pool, args.batch, args.http_seconds, args)
        batch_written = _position(port) - before
    finally:
        stats = group_stats(stop_server(server))
    report(
        f"HTTP append, {args.connections} conns, 1 ev/req (req/s)",
        f"{single.rate:,.0f} (p50 {single.p50_ms:.1f}, p99 {single.p99_ms:.0f} ms)",
        f"{noop.rate:,.0f} no-op POST (p99 {noop.p99_ms:.0f} ms)",
        single.rate / noop.rate,
        f"goal ≥ {GOAL_HTTP}×",
        single.rate / noop.rate >= GOAL_HTTP,
    )
    events_rate = batched.rate * args.batch
    report(
        f"HTTP append, {args.batch} ev/req (ev/s)",
        f"{events_rate:,.0f} (p99 {batched.p99_ms:.0f} ms)",
        f"{imported.import_rate:,.0f} import {imported.label}",
        events_rate / imported.import_rate,
        "no goal",
        None,
    )
    print(
        f"    events the store gained: {single_written:,} in the 1-event run "
        f"({single.ok:,} answered 2xx), {batch_written:,} in the batched run "
        f"({batched.ok * args.batch:,} answered 2xx)"
    )
    for name, r in (("no-op", noop), ("1 event", single), ("batched", batched)):
        if r.failed:
            print(f"    warning: {r.failed:,} failed requests in the {name} run")
    if stats and stats["groups"]:
        print(
            f"    group commit (warm-up included): {stats['requests'] / stats['groups']:.1f} "
            f"requests per transaction, writer busy {stats['busy_seconds']:.1f} s"
        )


# -- extrapolation --------------------------------------------------------------------------------


def _hours(events: float, rate: float) -> str:
    return f"{events / rate / 3600:,.1f} h"


def extrapolate(small: SizeFigures, large: SizeFigures, target: int) -> None:
    def at_target(low: float, high: float) -> float:
        """Linear through (small.events, low) and (large.events, high), never below high."""
        slope = (high - low) / (large.events - small.events)
        return max(high, high + slope * (target - large.events))

    import_gib = at_target(small.import_rss_mib, large.import_rss_mib) / 1024
    rebuild_gib = at_target(small.rebuild_rss_mib, large.rebuild_rss_mib) / 1024
    print(
        f"\n== EXTRAPOLATION to {target:,} events — not measured: the {large.label} run's rates "
        f"and sizes ({large.events:,} events), memory linear through the 1× and {large.label} "
        "peaks =="
    )
    print(
        f"    import:  {_hours(target, large.import_rate)}"
        f"   (raw COPY: {_hours(target, large.copy_rate)})"
    )
    print(
        f"    rebuild obligations + outcomes:  {_hours(target, large.rebuild_rate)}"
        f"   (bare cursor read: {_hours(target, large.read_rate)})"
    )
    print(
        f"    disk:  {target * large.all_bytes / 1e9:,.0f} GB every table, of which "
        f"{target * large.event_bytes / 1e9:,.0f} GB event tables   "
        f"(the JSON lines: {target * large.line_bytes / 1e9:,.0f} GB)"
    )
    print(
        f"    memory:  `timeline import` of it all at once {import_gib:,.1f} GiB peak RSS; "
        f"a rebuild {rebuild_gib:,.1f} GiB"
    )


# -- main -----------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seekers", type=int, default=1000, help="demo seekers at 1× (≥ 1000)")
    parser.add_argument("--factor", type=int, default=4, help="the larger size, × --seekers")
    parser.add_argument("--seed", type=int, default=12, help="`timeline demo --seed`")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP figures (no wrk)")
    parser.add_argument("--http-seconds", type=int, default=15, help="each measured wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="events a batched request")
    parser.add_argument("--pool", type=int, default=2000, help="seekers the HTTP appends go to")
    parser.add_argument("--extrapolate-to", type=int, default=150_000_000, metavar="EVENTS")
    parser.add_argument(
        "--only",
        choices=["import"],
        help="import: only the import rows (rate vs raw COPY at 1× and FACTOR×, peak RSS); "
        "no rebuild, sizes, HTTP or extrapolation",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the demo files here and reuse them in later runs (default: a temporary "
        "directory, removed at the end)",
    )
    parser.add_argument(
        "--events-table",
        default="timeline_log",
        help="the table of the events (PostgreSQL's log since index layout 3; timeline_events "
        "for a store written before)",
    )
    parser.add_argument(
        "--index-table",
        default="",
        help="the index table, if not in the events table (timeline_event_index for a store "
        "written before index layout 3; none since: the log holds the index)",
    )
    # A baseline in a fresh process of this script: --baseline copy|read --url URL [--file F].
    parser.add_argument("--baseline", choices=["copy", "read"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    return parser


def report_rss(small: SizeFigures, large: SizeFigures) -> None:
    growth = large.import_rss_mib / small.import_rss_mib
    print()
    report(
        f"import peak RSS, 1× → {large.label} events",
        f"{small.import_rss_mib:,.0f} → {large.import_rss_mib:,.0f} MiB",
        "— (flat is the goal)",
        growth,
        f"goal ≤ {GOAL_RSS_GROWTH}×",
        growth <= GOAL_RSS_GROWTH,
    )


def print_table() -> None:
    print("\n| figure | ours | same-run baseline | ratio | goal |\n|---|---|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    args = _parser().parse_args()
    if args.baseline:
        run_baseline(args)
        return
    if args.factor < 2 or args.seekers < 1:
        sys.exit("--seekers must be ≥ 1 and --factor ≥ 2")
    if args.only == "import":
        args.no_http = True
    if not args.no_http and shutil.which("wrk") is None:
        print(
            "scale.py: the HTTP figures need wrk, a C HTTP load generator: install it with "
            "`apt-get install -y wrk` (Debian/Ubuntu package wrk), or run with --no-http.",
            file=sys.stderr,
        )
        sys.exit(2)
    print(f"machine: {machine()}")
    print(f"started {datetime.now(UTC).isoformat(timespec='seconds')}")
    if args.seekers < 1000:
        print("(a smoke-test size: the issue's figures are taken with --seekers ≥ 1000)")
    t0 = time.perf_counter()
    sizes = [("1×", args.seekers), (f"{args.factor}×", args.seekers * args.factor)]
    figures: list[SizeFigures] = []
    with tempfile.TemporaryDirectory(prefix="timeline-scale-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for label, seekers in sizes:
            with scratch_database("timeline_scale") as dbname:
                figures.append(measure_size(label, seekers, dbname, workdir, args))
                if len(figures) == len(sizes):
                    report_rss(figures[0], figures[-1])
                    if not args.no_http:
                        bench_http(dbname, Path(tmp), figures[-1], args)
    small, large = figures
    if args.only != "import":
        extrapolate(small, large, args.extrapolate_to)
    print_table()
    print(f"\nscale bench took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
