"""`timeline migrate-store --to 2` measured: events/s and the events table's bytes before/after,
on SQLite and PostgreSQL, on a store written by the code of stored form 1.

    python ops/bench/migrate_store.py [--seekers 1000] [--seed 1] [--batch 2000] [--commit 6408a5f]

For a demo of N seekers (`timeline demo --seekers N --seed S --out`), written by
`timeline import` of commit COMMIT (the last commit of form 1, extracted by `git archive` and
run with its sources first on the path) into a fresh SQLite file and a fresh PostgreSQL
database, this runs today's `timeline migrate-store --to 2` in a fresh process and prints:

- the migration's rate: events / seconds of the run as the command reports it (from the first
  read to the last commit), and events / the wall clock of the process (start-up included);
- beside it, the same run's bare read: one process reading every stored state in position
  order (PostgreSQL: a server-side cursor), nothing decoded — what reading alone costs;
- the events table's bytes before and after: on PostgreSQL `pg_total_relation_size` after
  `VACUUM (FULL)` (the migration leaves the old row versions until then); on SQLite the pages of
  `stored_events` (`dbstat`) after `VACUUM`;
- the stored states' own bytes (the payloads) per event, before and after (`VACUUM (FULL)`
  keeps dead rows that an older snapshot of another session may still see; these do not
  depend on it);
- a second run (a no-op: every event already in form 2): how long a resumed or repeated run
  takes to find there is nothing left.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; TIMELINE_TEST_PG_* override) and git."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import admin, db_url, machine, scratch_database

ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()


def env(pythonpath: str | None = None) -> dict[str, str]:
    out = {**os.environ, "TIMELINE_ENVIRONMENT": "test", "TIMELINE_MASTER_KEY": MASTER_KEY}
    out.pop("TIMELINE_DATABASE_URL", None)
    if pythonpath:
        out["PYTHONPATH"] = pythonpath
    return out


def timeline(*argv: str, pythonpath: str | None = None) -> tuple[str, float]:
    """Run `timeline ARGV` in a fresh process: its stdout and wall clock."""
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "timeline.cli", *argv],
        capture_output=True,
        text=True,
        env=env(pythonpath),
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"timeline {' '.join(argv)} failed:\n{done.stderr}")
    return done.stdout, wall


def _events_table(conn: Any) -> str:
    """PostgreSQL's events table: the log once the store is in index layout 3, before it the
    library's ``timeline_events`` (a view over the log after)."""
    [(log,)] = conn.execute("SELECT to_regclass('timeline_log') IS NOT NULL").fetchall()
    return "timeline_log" if log else "timeline_events"


def events_bytes(url: str) -> int:
    """The events table's bytes, its dead rows reclaimed first."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("VACUUM")
            row = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'stored_events'")
            return int(row.fetchone()[0])
    with admin(url.rsplit("/", 1)[1]) as conn:
        table = _events_table(conn)
        conn.execute(f"VACUUM (FULL) {table}")
        conn.execute("CHECKPOINT")
        found = conn.execute("SELECT pg_total_relation_size(%s::regclass)", [table]).fetchone()
        return int(found[0])  # type: ignore[index]


def state_bytes(url: str) -> int:
    """The bytes of the stored states alone (the payloads, without row overhead)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute("SELECT sum(length(state)) FROM stored_events").fetchone()[0])
    with admin(url.rsplit("/", 1)[1]) as conn:
        found = conn.execute(
            f"SELECT sum(octet_length(state)) FROM {_events_table(conn)}"
        ).fetchone()
        return int(found[0])  # type: ignore[index]


def bare_read(url: str) -> tuple[int, float]:
    """Every stored state read in position order, nothing decoded: (events, seconds)."""
    started = time.perf_counter()
    n = 0
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            for (state,) in conn.execute("SELECT state FROM stored_events ORDER BY rowid"):
                n += state is not None
    else:
        dbname = url.rsplit("/", 1)[1]
        with admin(dbname) as conn, conn.transaction(), conn.cursor(name="bare") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT state FROM {_events_table(conn)} ORDER BY notification_id")
            for (state,) in cur:
                n += state is not None
    return n, time.perf_counter() - started


def measure(kind: str, url: str, demo: Path, v1_path: str, batch: int) -> dict[str, Any]:
    _, imported = timeline("import", str(demo), "--db", url, "--quiet", pythonpath=v1_path)
    before = events_bytes(url)
    states_before = state_bytes(url)
    read_n, read_s = bare_read(url)
    out, wall = timeline(
        "migrate-store", "--to", "2", "--batch", str(batch), "--db", url, "--quiet"
    )
    run = json.loads(out)
    after = events_bytes(url)
    states_after = state_bytes(url)
    again_out, _ = timeline("migrate-store", "--to", "2", "--db", url, "--quiet")
    again = json.loads(again_out)
    assert again["rewritten"] == 0, again
    assert again["already"] == run["rewritten"], again
    verified, verify_wall = timeline("verify", "--db", url, "--quiet")
    assert json.loads(verified)["ok"], verified
    n = run["examined"]
    return {
        "store": kind,
        "events": n,
        "rewritten": run["rewritten"],
        "import_v1_s": round(imported, 1),
        "migrate_s": run["seconds"],
        "migrate_ev_s": round(n / run["seconds"]),
        "migrate_wall_s": round(wall, 1),
        "migrate_wall_ev_s": round(n / wall),
        "bare_read_ev_s": round(read_n / read_s),
        "second_run_s": again["seconds"],
        "verify_wall_s": round(verify_wall, 1),
        "bytes_before": before,
        "bytes_after": after,
        "bytes_per_event_before": round(before / n, 1),
        "bytes_per_event_after": round(after / n, 1),
        "state_bytes_per_event_before": round(states_before / n, 1),
        "state_bytes_per_event_after": round(states_after / n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seekers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--commit", default="6408a5f", help="the code that writes form 1")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    print(machine(), file=sys.stderr)
    print(f"load average: {os.getloadavg()}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as tmp:
        work = Path(tmp)
        v1 = work / "v1"
        v1.mkdir()
        git = ["git", "-C", str(ROOT), "archive", args.commit]
        archive = subprocess.run(git, capture_output=True, check=True).stdout  # noqa: S603
        tar = ["tar", "-x", "-C", str(v1)]
        subprocess.run(tar, input=archive, check=True)  # noqa: S603 - fixed arguments
        v1_path = f"{v1 / 'src'}:{v1}"
        demo = work / "demo.jsonl"
        timeline(
            "demo", "--seekers", str(args.seekers), "--seed", str(args.seed), "--out", str(demo),
            pythonpath=v1_path,
        )  # fmt: skip
        if args.only in (None, "sqlite"):
            results.append(
                measure("sqlite", f"sqlite:///{work / 's.db'}", demo, v1_path, args.batch)
            )
        if args.only in (None, "postgres"):
            with scratch_database("bench_migrate") as name:
                results.append(measure("postgres", db_url(name), demo, v1_path, args.batch))
    for r in results:
        print(json.dumps(r))
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
