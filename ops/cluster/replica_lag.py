"""Replica lag under load, and what it means for read-your-writes: a primary and one streaming
hot standby (asynchronous, as a read replica is), the service (``python -m
timeline.api.grouped``) on ``TIMELINE_DATABASE_URL`` = the primary and
``TIMELINE_READ_DATABASE_URL`` = the standby. Writers append at a steady rate through the HTTP
API; after each append the same client reads the seeker's history with ``min_position`` = the
answered position (``X-Served-By`` says who served it). Meanwhile the standby's lag is sampled
every ``--sample-ms``:

- bytes: ``pg_wal_lsn_diff(pg_current_wal_lsn())`` on the primary against the standby's
  ``pg_last_wal_replay_lsn()``;
- positions: the primary's largest notification id minus the standby's (the replicated
  position read-your-writes compares);
- ``replay_lag`` of ``pg_stat_replication`` (the primary's own measure, in ms).

The same run first samples the idle pair for the baseline.

    python ops/cluster/replica_lag.py                      # 50 appends/s for 20 s
    python ops/cluster/replica_lag.py --rate 200 --seconds 30 --clients 8

Prints one JSON line per phase. The clusters live under /tmp/timeline-replica-lag-* and are
removed at the end. By hand: ops/cluster/README.md, "Read replicas".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))

from common import envelope, free_port, percentile, start_server, stop_server  # noqa: E402
from pgcluster import Cluster, Clusters, missing_binaries  # noqa: E402

from timeline.bootstrap import bootstrap  # noqa: E402
from timeline.settings import Settings  # noqa: E402

DBNAME = "timeline"
EVENTS = "timeline_event_index"


@dataclass
class Reads:
    """What the writers saw: per append, who served the read that followed and how long it
    took."""

    served: dict[str, list[float]] = field(default_factory=lambda: {"replica": [], "primary": []})
    appends: list[float] = field(default_factory=list)
    failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(port: int, client: int, rate: float, stop: threading.Event, reads: Reads) -> None:
    """Append at ``rate`` per second (on a schedule, not as fast as possible); after each append
    read the history with min_position."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seeker = str(uuid.uuid4())
    on = (date.today() - timedelta(days=10)).isoformat()
    first = envelope(
        seeker,
        "job_search_started",
        on,
        {"municipality": "398", "labour_market_status": "unemployed"},
        source="replica-lag",
    )
    n, start = 0, time.monotonic()
    while not stop.is_set():
        body = first if n == 0 else envelope(
            seeker, "coach_assigned", on, {"coach_id": f"c{client}-{n}"}, source="replica-lag"
        )  # fmt: skip
        sent = time.monotonic()
        conn.request("POST", "/v1/events", json.dumps(body), {"Content-Type": "application/json"})
        answer = conn.getresponse()
        payload = answer.read()
        appended = time.monotonic()
        if answer.status not in (200, 201):
            with reads.lock:
                reads.failures += 1
        else:
            position = json.loads(payload)[0]["position"]
            conn.request(
                "GET",
                f"/v1/seekers/{seeker}/events?limit=1&after_version={n}",
                headers={"X-Purpose": "replica lag drill", "X-Min-Position": str(position)},
            )
            read = conn.getresponse()
            read.read()
            done = time.monotonic()
            with reads.lock:
                reads.appends.append(appended - sent)
                if read.status == 200:
                    reads.served[read.headers["X-Served-By"]].append(done - appended)
                else:
                    reads.failures += 1
        n += 1
        wait = start + n / rate - time.monotonic()
        if wait > 0:
            stop.wait(wait)
    conn.close()


def _sample(primary: Cluster, standby: Cluster, seconds: float, every: float) -> dict[str, Any]:
    """Sample the standby's lag for ``seconds``: bytes, positions, replay_lag (ms)."""
    lag_bytes: list[float] = []
    lag_positions: list[float] = []
    replay_ms: list[float] = []
    with primary.connect(DBNAME) as p, standby.connect(DBNAME) as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            lsn, top = p.execute(
                f"SELECT pg_current_wal_lsn()::text, (SELECT max(position) FROM {EVENTS})"
            ).fetchone() or ("0/0", 0)
            replayed, at = s.execute(
                f"SELECT pg_last_wal_replay_lsn()::text, (SELECT max(position) FROM {EVENTS})"
            ).fetchone() or ("0/0", 0)
            diff, lag = p.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn), "
                "(SELECT extract(epoch FROM replay_lag) * 1000 FROM pg_stat_replication LIMIT 1)",
                [lsn, replayed],
            ).fetchone() or (0, None)
            lag_bytes.append(max(float(diff), 0.0))
            lag_positions.append(max(float((top or 0) - (at or 0)), 0.0))
            replay_ms.append(float(lag or 0.0))
            time.sleep(every)
    return {
        "samples": len(lag_bytes),
        "lag_bytes": _summary(lag_bytes),
        "lag_positions": _summary(lag_positions),
        "replay_lag_ms": _summary(replay_ms),
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "max": round(max(values), 2) if values else float("nan"),
    }


def _replayed_schema(standby: Cluster) -> bool:
    """Whether the standby has the database and its events' index (not yet: False)."""
    try:
        return bool(standby.sql(f"SELECT to_regclass('{EVENTS}') IS NOT NULL", (), DBNAME))
    except psycopg.OperationalError:  # the database itself is not there yet
        return False


def run(rate: float, seconds: float, clients: int, every: float, wait_ms: float) -> int:
    with Clusters.temporary("timeline-replica-lag-") as clusters:
        primary = clusters.primary()
        standby = clusters.standby(primary)
        primary.sql(f"CREATE DATABASE {DBNAME}")
        bootstrap(Settings(database_url=primary.url(DBNAME), environment="test")).close()
        deadline = time.monotonic() + 30
        while not _replayed_schema(standby):
            if time.monotonic() > deadline:
                raise RuntimeError("the schema did not reach the standby within 30 s")
            time.sleep(0.1)
        os.environ["TIMELINE_READ_DATABASE_URL"] = standby.url(DBNAME)
        os.environ["TIMELINE_READ_WAIT_MS"] = str(wait_ms)
        port = free_port()
        server = start_server(primary.url(DBNAME), port)
        try:
            idle = _sample(primary, standby, min(3.0, seconds), every)
            print(json.dumps({"phase": "idle (baseline)", **idle}), flush=True)
            stop, reads = threading.Event(), Reads()
            threads = [
                threading.Thread(target=_client, args=(port, i, rate / clients, stop, reads))
                for i in range(clients)
            ]
            began = time.monotonic()
            for t in threads:
                t.start()
            time.sleep(1.0)  # warm-up
            loaded = _sample(primary, standby, seconds, every)
            stop.set()
            for t in threads:
                t.join(60)
            elapsed = time.monotonic() - began
        finally:
            stop_server(server)
        total = len(reads.appends)
        print(
            json.dumps(
                {
                    "phase": f"appends at {rate:g}/s from {clients} clients",
                    "appends": total,
                    "appends_per_s": round(total / elapsed, 1),
                    "append_ms_p50": round(percentile(reads.appends, 50) * 1000, 2),
                    **loaded,
                    "read_wait_ms": wait_ms,
                    "min_position_reads": {
                        by: {
                            "count": len(times),
                            "share": round(len(times) / total, 3) if total else 0,
                            "ms_p50": round(percentile(times, 50) * 1000, 2),
                            "ms_p95": round(percentile(times, 95) * 1000, 2),
                        }
                        for by, times in reads.served.items()
                    },
                    "failures": reads.failures,
                }
            ),
            flush=True,
        )
    return 1 if reads.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50.0, help="appends per second in all")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the load lasts")
    parser.add_argument("--clients", type=int, default=4, help="client threads sharing the rate")
    parser.add_argument("--sample-ms", type=float, default=50.0, help="sampling interval")
    parser.add_argument(
        "--wait-ms", type=float, default=200.0, help="TIMELINE_READ_WAIT_MS of the service"
    )
    args = parser.parse_args(argv)
    problem = missing_binaries()
    if problem:
        print(f"replica_lag: {problem}", file=sys.stderr)
        return 2
    return run(args.rate, args.seconds, args.clients, args.sample_ms / 1000, args.wait_ms)


if __name__ == "__main__":
    sys.exit(main())
