"""Failover without losing an acknowledged event: a primary with one synchronous standby
(``synchronous_standby_names``, ``synchronous_commit`` = ``remote_apply`` or ``on``), the HTTP
append path (``python -m timeline.api.grouped``, group commit) on the multi-host URL
``postgresql://postgres@127.0.0.1:P,127.0.0.1:S/timeline?target_session_attrs=read-write``,
appends from several client threads recording every acknowledged event and its position, the
primary's postmaster and all its processes killed with SIGKILL mid-load, the standby promoted
(``pg_ctl promote``), the load carried on against the same service; then every acknowledged
event must be on the new primary exactly once at the position it was acknowledged with, and
``timeline verify`` must pass.

    python ops/cluster/failover.py     # append rates, then one failover per commit mode
    python ops/cluster/failover.py --modes on --seconds 10 --clients 16 --rounds 3

Prints one JSON line per measurement and per failover; exit 1 if an acknowledged event was lost
or doubled or verify failed. The clusters live under /tmp/timeline-failover-* and are removed
at the end, whatever happens. Step by step by hand: ops/cluster/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))

from common import start_server, stop_server  # noqa: E402
from pgcluster import Cluster, Clusters, free_port, synchronous  # noqa: E402

from timeline.application import TimelineApp  # noqa: E402
from timeline.bootstrap import bootstrap  # noqa: E402
from timeline.settings import Settings  # noqa: E402
from timeline.vocabulary import parse_event  # noqa: E402

DBNAME = "timeline"


def service_url(*clusters: Cluster) -> str:
    """The service's URL naming every cluster; libpq connects to the one that takes writes."""
    hosts = ",".join(f"127.0.0.1:{c.port}" for c in clusters)
    return f"postgresql://postgres@{hosts}/{DBNAME}?target_session_attrs=read-write"


def _envelope(seeker: str, type_: str, on: date, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "seeker_id": seeker,
        "type": type_,
        "occurred_on": on.isoformat(),
        "actor": {"id": "caseworker:failover", "role": "coach", "organisation": "398"},
        "source": "failover-drill",
        "data": data,
    }


def seed_seekers(url: str, count: int) -> list[str]:
    """``count`` seekers with an open spell (written directly, before the service starts)."""
    started = date.today() - timedelta(days=60)
    seekers = [str(uuid.uuid4()) for _ in range(count)]
    app = TimelineApp(settings=Settings(database_url=url))
    try:
        app.append(
            [
                parse_event(
                    _envelope(
                        s,
                        "job_search_started",
                        started,
                        {"municipality": "398", "labour_market_status": "unemployed"},
                    )
                )
                for s in seekers
            ]
        )
    finally:
        app.close()
    return seekers


@dataclass(frozen=True)
class Ack:
    """An acknowledged append as the client saw it."""

    event_id: str
    position: int
    duplicate: bool
    sent: float  # time.monotonic() of the attempt that was answered
    answered: float


@dataclass
class Writers:
    """``clients`` threads, each appending one event per request to the service on ``port``
    and, when a request fails (a 503 while the database is away, a dropped connection),
    retrying the same event (same event_id) until it is acknowledged or the writers stop."""

    port: int
    seekers: list[str]
    clients: int = 8
    acks: list[Ack] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    #: the first answer of each kind of failure
    samples: dict[str, str] = field(default_factory=dict)
    #: event ids sent at least once and never acknowledged (the retry loop was stopped)
    pending: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for i in range(self.clients):
            thread = threading.Thread(target=self._run, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def acked_since(self, since: float) -> int:
        with self._lock:
            return sum(1 for a in self.acks if a.answered >= since)

    def _run(self, client: int) -> None:
        on = date.today() - timedelta(days=1)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        n = 0
        while not self._stop.is_set():
            seeker = self.seekers[(client + n * self.clients) % len(self.seekers)]
            body = _envelope(seeker, "coach_assigned", on, {"coach_id": f"c{client}-{n}"})
            n += 1
            payload = json.dumps(body).encode()
            while True:
                sent = time.monotonic()
                try:
                    conn.request(
                        "POST", "/v1/events", payload, {"Content-Type": "application/json"}
                    )
                    response = conn.getresponse()
                    answer = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    status, answer = 0, type(exc).__name__.encode()
                if status in (200, 201):
                    [item] = json.loads(answer)
                    ack = Ack(
                        item["event_id"], int(item["position"]), bool(item["duplicate"]),
                        sent, time.monotonic(),
                    )  # fmt: skip
                    with self._lock:
                        self.acks.append(ack)
                    break
                with self._lock:
                    key = f"HTTP {status}" if status else answer.decode()
                    self.failures[key] += 1
                    self.samples.setdefault(key, answer.decode(errors="replace")[:500])
                if self._stop.is_set():
                    with self._lock:
                        self.pending.append(body["event_id"])
                    break
                time.sleep(0.02)
        conn.close()


def measure_rate(port: int, seekers: list[str], *, clients: int, seconds: float) -> float:
    """Acknowledged appends per second over ``seconds`` (after a short warm-up)."""
    writers = Writers(port, seekers, clients)
    writers.start()
    try:
        time.sleep(min(1.0, seconds / 4))
        start = time.monotonic()
        time.sleep(seconds)
        return writers.acked_since(start) / (time.monotonic() - start)
    finally:
        writers.stop()


@dataclass
class StoredEvents:
    """What the store holds: per event_id, its positions in the index and in the events table."""

    index: dict[str, list[int]]
    events: dict[str, list[int]]


def stored_events(url: str) -> StoredEvents:
    app = TimelineApp(settings=Settings(database_url=url))
    try:
        index: dict[str, list[int]] = {}
        after = 0
        while rows := app.index.index_after_position(after, 5000):
            for r in rows:
                index.setdefault(r.event_id, []).append(int(r.position or 0))
            after = int(rows[-1].position or after)
        events: dict[str, list[int]] = {}
        after = 0
        while batch := app.recorder.select_notifications(after, 5000, inclusive_of_start=False):
            for n in batch:
                event_id = str(app.mapper.to_domain_event(n).event_id)  # type: ignore[attr-defined]
                events.setdefault(event_id, []).append(int(n.id))
            after = batch[-1].id
        return StoredEvents(index, events)
    finally:
        app.close()


_RUN_CLI = "import sys; from timeline.cli.main import main; sys.exit(main())"


def timeline_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``timeline ARGS`` with this interpreter (the project's environment)."""
    return subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [
            sys.executable,
            "-c",
            "import sys; from timeline.cli.main import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class FailoverOutcome:
    commit: str
    acknowledged: int
    acknowledged_before_kill: int
    acknowledged_after_kill: int
    lost: list[str]
    doubled: list[str]
    moved: list[str]  # acknowledged at one position, stored at another
    pending: int  # sent, never acknowledged (stopped while retrying)
    pending_stored: int
    failover_seconds: float | None  # kill → first acknowledged append sent after the kill
    promote_seconds: float
    verify_exit: int
    verify_output: str
    failures: dict[str, int]
    failure_samples: dict[str, str]
    server_log: str  # the service's stderr (its last 4000 characters)

    @property
    def ok(self) -> bool:
        return (
            not (self.lost or self.doubled or self.moved)
            and self.verify_exit == 0
            and self.acknowledged_after_kill > 0
        )


@contextmanager
def synchronous_pair(clusters: Clusters, commit: str) -> Iterator[tuple[Cluster, Cluster, str]]:
    """A primary and a standby streaming to it synchronously (``commit`` mode), the database
    made; yields both and the service URL."""
    primary = clusters.primary("primary")
    standby = clusters.standby(primary, "standby")
    primary.configure(synchronous(standby.name, commit))
    primary.reload()
    primary.sql(f"CREATE DATABASE {DBNAME}")
    yield primary, standby, service_url(primary, standby)


def failover_round(
    clusters: Clusters,
    *,
    commit: str = "remote_apply",
    clients: int = 8,
    seekers: int = 40,
    before: float = 3.0,
    after: float = 3.0,
    lag: float = 0.0,
) -> FailoverOutcome:
    """One failover under load (see the module docstring). ``before``/``after``: seconds of
    load before the kill and after the promotion. ``lag``: seconds the primary's WAL sender to
    the standby is stopped (SIGSTOP) just before the kill, as if the network had stalled: a
    synchronous primary acknowledges nothing meanwhile; an asynchronous one (``commit`` =
    ``local``) goes on, and the failover loses what it acknowledged then."""
    with synchronous_pair(clusters, commit) as (primary, standby, url):
        ids = seed_seekers(url, seekers)
        port = free_port()
        server = start_server(url, port)
        try:
            writers = Writers(port, ids, clients)
            writers.start()
            try:
                time.sleep(before)
                sender = primary.wal_sender_pid(standby.name) if lag else None
                if sender is not None:  # stalls; the SIGKILL of the primary ends it
                    os.kill(sender, signal.SIGSTOP)
                    time.sleep(lag)
                killed = primary.kill()
                promote_start = time.monotonic()
                standby.promote()
                promote_seconds = time.monotonic() - promote_start
                deadline = time.monotonic() + after + 30
                # carry on for ``after`` seconds once appends succeed again (at most 30 s more)
                while time.monotonic() < deadline and not any(
                    a.sent > killed for a in list(writers.acks)
                ):
                    time.sleep(0.05)
                time.sleep(after)
            finally:
                writers.stop()
        finally:
            server_log = stop_server(server)
        stored = stored_events(url)
        verify = timeline_cli("verify", "--db", url, "--quiet")
    acks = writers.acks
    firsts = [a.answered - killed for a in acks if a.sent > killed]
    lost, doubled, moved = [], [], []
    for ack in acks:
        index = stored.index.get(ack.event_id, [])
        events = stored.events.get(ack.event_id, [])
        if not index or not events:
            lost.append(ack.event_id)
        elif len(index) > 1 or len(events) > 1:
            doubled.append(ack.event_id)
        elif index != [ack.position] or events != [ack.position]:
            moved.append(ack.event_id)
    pending_stored = 0
    for event_id in writers.pending:
        index, events = stored.index.get(event_id, []), stored.events.get(event_id, [])
        if len(index) > 1 or len(events) > 1:
            doubled.append(event_id)
        pending_stored += bool(index)
    return FailoverOutcome(
        commit=commit,
        acknowledged=len(acks),
        acknowledged_before_kill=sum(1 for a in acks if a.answered <= killed),
        acknowledged_after_kill=sum(1 for a in acks if a.answered > killed),
        lost=lost,
        doubled=doubled,
        moved=moved,
        pending=len(writers.pending),
        pending_stored=pending_stored,
        failover_seconds=min(firsts) if firsts else None,
        promote_seconds=promote_seconds,
        verify_exit=verify.returncode,
        verify_output=(verify.stdout + verify.stderr)[-2000:],
        failures=dict(writers.failures),
        failure_samples=dict(writers.samples),
        server_log=server_log[-4000:],
    )


RATE_SETUPS = ("no standby", "async standby", "sync remote_apply", "sync on")


def access_log_rate(url: str, seconds: float, threads: int = 8) -> float:
    """Access-log entries/s recorded by ``threads`` threads at once (what personal reads
    write): each entry is its own transaction under the log's table lock, so they queue."""
    services = bootstrap(Settings(database_url=url, request_pool_size=threads))
    stop = threading.Event()
    counts = [0] * threads

    def record(i: int) -> None:
        while not stop.is_set():
            services.access_log.record(
                actor="drill", role="admin", action="history", seeker_id=None, purpose="drill"
            )
            counts[i] += 1

    workers = [threading.Thread(target=record, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - start
    services.close()
    return sum(counts) / elapsed


def commit_rate(primary: Cluster, seconds: float) -> float:
    """One connection committing one-row inserts back to back: commits/s, i.e. the inverse of
    a commit's latency (WAL flush, and with a synchronous standby its round trip) — the time
    the event store's table lock is held at least, per transaction."""
    with primary.connect(DBNAME) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS commit_probe (n int)")
        count = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            conn.execute("INSERT INTO commit_probe VALUES (1)")  # autocommit: one commit each
            count += 1
        return count / (time.monotonic() - start)


def append_rates(
    clusters: Clusters, *, clients: int, seconds: float, rounds: int = 3, seekers: int = 100
) -> dict[str, list[float]]:
    """Acknowledged appends/s through the service, :func:`commit_rate` and
    :func:`access_log_rate`, in ``rounds``
    rounds, each measuring in turn the primary alone (the standby stopped), with the standby
    streaming asynchronously, and synchronously with ``remote_apply`` and with ``on``
    (interleaved, so that a machine busy with something else for a while favours no setup)."""
    primary = clusters.primary("rates-primary")
    standby = clusters.standby(primary, "rates-standby")
    primary.sql(f"CREATE DATABASE {DBNAME}")
    url = service_url(primary)
    ids = seed_seekers(url, seekers)
    port = free_port()
    server = start_server(url, port)
    rates: dict[str, list[float]] = {setup: [] for setup in RATE_SETUPS}
    commits: dict[str, list[float]] = {setup: [] for setup in RATE_SETUPS}
    logged: dict[str, list[float]] = {setup: [] for setup in RATE_SETUPS}
    try:
        measure_rate(port, ids, clients=clients, seconds=2)  # warm up the server
        for _ in range(rounds):
            for setup in RATE_SETUPS:
                commit = setup.removeprefix("sync ") if setup.startswith("sync") else "on"
                names = f"'FIRST 1 ({standby.name})'" if setup.startswith("sync") else "''"
                primary.configure(
                    {"synchronous_standby_names": names, "synchronous_commit": commit}
                )
                primary.reload()
                if setup == "no standby":
                    standby.stop()
                elif standby.pid is None:
                    standby.start()
                    primary.wait_streaming(standby.name)
                time.sleep(0.5)
                rate = measure_rate(port, ids, clients=clients, seconds=seconds)
                rates[setup].append(rate)
                commits[setup].append(commit_rate(primary, min(2.0, seconds)))
                logged[setup].append(access_log_rate(url, min(2.0, seconds)))
    finally:
        stop_server(server)
    return {
        **{f"appends/s through the service, {k}": v for k, v in rates.items()},
        **{f"commits/s on one connection, {k}": v for k, v in commits.items()},
        **{f"access-log entries/s, 8 threads, {k}": v for k, v in logged.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--seconds", type=float, default=5, help="per rate and failover phase")
    parser.add_argument("--rounds", type=int, default=1, help="failovers per mode")
    parser.add_argument("--rate-rounds", type=int, default=3, help="rounds of rate measures")
    parser.add_argument(
        "--modes",
        nargs="*",
        default=["remote_apply", "on"],
        help="synchronous_commit of the failovers (local: asynchronous, loses events; "
        "none: only the rates)",
    )
    parser.add_argument("--no-rates", action="store_true", help="only the failovers")
    parser.add_argument(
        "--lag",
        type=float,
        default=1.0,
        help="seconds the stream to the standby stalls just before the kill (0: none)",
    )
    args = parser.parse_args(argv)
    ok = True
    if not args.no_rates:
        with Clusters.temporary("timeline-failover-") as clusters:
            rates = append_rates(
                clusters, clients=args.clients, seconds=args.seconds, rounds=args.rate_rounds
            )
        figures = {
            setup: {"median": round(statistics.median(r), 1), "each": [round(x) for x in r]}
            for setup, r in rates.items()
        }
        print(json.dumps({"clients": args.clients, "rates": figures}))
    for commit in args.modes:
        for i in range(args.rounds):
            with Clusters.temporary("timeline-failover-") as clusters:
                outcome = failover_round(
                    clusters,
                    commit=commit,
                    clients=args.clients,
                    before=args.seconds,
                    after=args.seconds,
                    lag=args.lag,
                )
            shown = asdict(outcome)
            shown["verify_output"] = shown["verify_output"].strip().splitlines()[-1:]
            shown["server_log"] = shown["server_log"].strip().splitlines()[-3:]
            print(json.dumps({"round": i + 1, "ok": outcome.ok, **shown}))
            ok = ok and outcome.ok
    print("failover:", "PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
