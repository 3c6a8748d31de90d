"""Start-up with a backlog (issue 10 §6): how soon a started server answers personal reads while
its jobs catch the projections up, and whether anything waits for a database connection.

    python ops/bench/startup_backlog.py [--seekers 300] [--template DB] [--runs 3]
                                        [--reads 400] [--threads 8]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; TIMELINE_TEST_PG_* override).
Loads a demo of ``--seekers`` into a throwaway template database (or clones ``--template``, an
existing database holding a loaded, unprojected demo), then per run: clones it, starts a real
``timeline serve`` on the clone (with its jobs: the follower, catch-up, statistics, day change),
and, as soon as the port answers,

- sends the first personal reads (a history, then obligations) and times them;
- sends ``--reads`` history/obligations reads from ``--threads`` threads while the statistics
  projection is still catching up (its position is sampled before and after), and reports
  p50/p99/max and errors;
- waits until both projections have caught up, and counts pool timeouts and failed jobs in the
  server's log.

Prints one JSON line per run and a summary line."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import admin, db_url, free_port, percentile, scratch_database

POOL_TIMEOUT_MARKERS = ("PoolTimeout", "couldn't get a connection")


def _get(url: str, timeout: float = 120.0) -> tuple[int, float]:
    """(status, seconds) of one GET."""
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own server
            r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - t0


def _positions(dbname: str) -> dict[str, int | None]:
    """The log's last position and each projection's (None: its table does not exist yet)."""
    out: dict[str, int | None] = {}
    with admin(dbname) as conn:
        row = conn.execute("SELECT max(position) FROM timeline_event_index").fetchone()
        out["log"] = int(row[0]) if row and row[0] is not None else 0
        for name in ("obligations", "outcomes"):
            exists = conn.execute("SELECT to_regclass(%s)", [f"{name}_tracking"]).fetchone()
            if exists and exists[0] is not None:
                got = conn.execute(f"SELECT position FROM {name}_tracking").fetchone()
                out[name] = int(got[0]) if got else 0
            else:
                out[name] = None
    return out


def _load_template(seekers: int, dbname: str) -> int:
    t0 = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own command
        [
            sys.executable,
            "-m",
            "timeline.cli",
            "demo",
            "--seekers",
            str(seekers),
            "--quiet",
            "--db",
            db_url(dbname),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    events = _positions(dbname)["log"] or 0
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "demo_load": {
                    "events": events,
                    "seconds": round(seconds, 1),
                    "ev_per_s": round(events / seconds),
                }
            }
        ),
        flush=True,
    )
    return events


def _serve(url: str, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = Path(f"/tmp/startup_backlog_{port}.log")  # noqa: S108 - a scratch log, printed on failure
    env = {**os.environ, "TIMELINE_ENVIRONMENT": "development", "TIMELINE_DATABASE_URL": url}
    env.pop("TIMELINE_TOKENS", None)
    env.pop("TIMELINE_TOKENS_FILE", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "timeline.cli", "serve", "--port", str(port), "--db", url],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def _wait_listening(base: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=60):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # it answers (a 503 from a readiness-aware /health still means listening)
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen in time")


def _burst(base: str, seekers: list[str], reads: int, threads: int) -> dict[str, Any]:
    """``reads`` history/obligations reads of random seekers from ``threads`` threads."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    rng = random.Random(7)  # noqa: S311 - a reproducible read plan
    plan = [
        (rng.choice(seekers), rng.choice(["events?limit=100", "obligations"])) for _ in range(reads)
    ]

    def reader(part: list[tuple[str, str]]) -> None:
        for s, what in part:
            status, took = _get(f"{base}/v1/seekers/{s}/{what}")
            with lock:
                latencies.append(took)
                if status >= 500:
                    errors.append(status)

    t0 = time.monotonic()
    workers = [threading.Thread(target=reader, args=(plan[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {
        "n": len(latencies),
        "threads": threads,
        "seconds": round(time.monotonic() - t0, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "5xx": len(errors),
    }


def one_run(template: str, reads: int, threads: int, seekers: list[str]) -> dict[str, Any]:
    with scratch_database("startup") as dbname:
        with admin() as conn:
            conn.execute(f'DROP DATABASE "{dbname}"')
            conn.execute(f'CREATE DATABASE "{dbname}" TEMPLATE "{template}"')
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        spawned = time.monotonic()
        proc, log = _serve(db_url(dbname), port)
        try:
            _wait_listening(base, proc, spawned + 120)
            listening = time.monotonic() - spawned
            seeker = seekers[0]
            h_status, h_first = _get(f"{base}/v1/seekers/{seeker}/events?limit=100")
            o_status, o_first = _get(f"{base}/v1/seekers/{seeker}/obligations")
            before = _positions(dbname)
            during = _burst(base, seekers, reads, threads)
            after = _positions(dbname)
            caught_up = None
            while time.monotonic() - spawned < 600:
                p = _positions(dbname)
                if p["obligations"] == p["log"] and p["outcomes"] == p["log"]:
                    caught_up = time.monotonic() - spawned
                    break
                time.sleep(0.5)
            steady = _burst(base, seekers, reads, threads)  # the same reads, nothing to catch up
            ready = _get(f"{base}/ready", timeout=30)[0]
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        text = log.read_text(errors="replace")
        if " failed in " in text or any(m in text for m in POOL_TIMEOUT_MARKERS):
            log.rename(log.with_suffix(".failed.log"))  # kept for a look
        else:
            log.unlink()
        return {
            "listening_s": round(listening, 2),
            "first_history": {"status": h_status, "ms": round(h_first * 1000)},
            "first_obligations": {"status": o_status, "ms": round(o_first * 1000)},
            "reads": {
                **during,
                "statistics_position": [before["outcomes"], after["outcomes"], after["log"]],
                "during_statistics_backlog": (before["outcomes"] or 0) < (before["log"] or 0),
            },
            "reads_caught_up": steady,
            "caught_up_s": round(caught_up, 1) if caught_up is not None else None,
            "ready_status_after": ready,
            "pool_timeouts_in_log": sum(
                1 for line in text.splitlines() if any(m in line for m in POOL_TIMEOUT_MARKERS)
            ),
            "failed_jobs_in_log": text.count(" failed in "),
            "failures": [
                line[:400]
                for line in text.splitlines()
                if " failed in " in line or any(m in line for m in POOL_TIMEOUT_MARKERS)
            ][:5],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seekers", type=int, default=300)
    parser.add_argument("--template", help="an existing database with a loaded demo to clone")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    def run_all(template: str) -> None:
        with admin(template) as conn:
            seekers = [
                str(r[0])
                for r in conn.execute(
                    "SELECT DISTINCT seeker_id FROM timeline_event_index ORDER BY seeker_id"
                )
            ]
        results = []
        for i in range(args.runs):
            result = one_run(template, args.reads, args.threads, seekers)
            results.append(result)
            print(json.dumps({"run": i + 1, **result}), flush=True)
        firsts = [r["first_history"]["ms"] for r in results]
        p99s = [r["reads"]["p99_ms"] for r in results]
        steady = [r["reads_caught_up"]["p99_ms"] for r in results]
        print(
            json.dumps(
                {
                    "summary": {
                        "runs": len(results),
                        "first_history_ms_max": max(firsts),
                        "first_obligations_ms_max": max(
                            r["first_obligations"]["ms"] for r in results
                        ),
                        "reads_p99_ms": p99s,
                        "reads_caught_up_p99_ms": steady,
                        "pool_timeouts": sum(r["pool_timeouts_in_log"] for r in results),
                        "failed_jobs": sum(r["failed_jobs_in_log"] for r in results),
                    }
                }
            ),
            flush=True,
        )

    if args.template:
        run_all(args.template)
        return
    with scratch_database("startup_template") as template:
        _load_template(args.seekers, template)
        run_all(template)


if __name__ == "__main__":
    main()
