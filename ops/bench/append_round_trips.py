"""Round trips to PostgreSQL per group commit, and the statements of one group, as the writer
thread of the group committer makes them (issue 12).

    python ops/bench/append_round_trips.py [--threads 16] [--seconds 5] [--pool 500] [--batch 1]

Builds the services on a throwaway database (as ``timeline serve`` does), seeds ``--pool`` job
seekers and appends one event to each (so every timeline is in the cache: the steady state),
then has ``--threads`` threads append ``--batch`` events a request through one group committer
for ``--seconds``. It counts, in every thread that talks to the database, the round trips
(psycopg's waits that read from the server: a statement outside a pipeline is one, a
pipeline's flight or a query of several statements is one) and the statements, and prints
per group commit: the round trips and statements of the writer thread, the requests answered a
second and the writer's wall-clock time per group, and the statements of one typical group in
the order they went out, each with the round trip that carried it.

Run it with ``PYTHONPATH=DIR/src:DIR`` to count another tree's (before/after). Needs
PostgreSQL (``TIMELINE_TEST_PG_*``, as the tests)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import waiting

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import db_url, envelope, scratch_database

_local = threading.local()
_lock = threading.Lock()
#: per thread name: [round trips, statements]
TOTALS: dict[str, list[int]] = {}


def _log() -> list[str]:
    log: list[str] | None = getattr(_local, "log", None)
    if log is None:
        log = _local.log = []
    return log


def _count(kind: int) -> None:
    name = threading.current_thread().name
    with _lock:
        TOTALS.setdefault(name, [0, 0])[kind] += 1


def _counting(gen: Any) -> Iterator[Any]:
    """Pass ``gen``'s waits through, noting whether it waited to read (a round trip)."""
    read = False
    try:
        state = next(gen)
        while True:
            if int(state) == int(waiting.Wait.R):
                read = True
            ready = yield state
            state = gen.send(ready)
    except StopIteration as stop:
        return stop.value
    finally:
        if read:
            _count(0)
            _log().append("-- round trip")


def install() -> None:
    """Count round trips (``Connection.wait`` → ``waiting.wait``) and statements."""
    original_wait = waiting.wait

    def wait(gen: Any, fileno: int, interval: float | None = None, **kwargs: Any) -> Any:
        if interval is None:
            return original_wait(_counting(gen), fileno, **kwargs)
        return original_wait(_counting(gen), fileno, interval, **kwargs)

    waiting.wait = wait  # Connection.wait looks it up on the module

    original_execute = psycopg.Cursor.execute

    def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if isinstance(query, bytes):
            text = query.decode()
        else:
            text = query if isinstance(query, str) else query.as_string(self.connection)
        # (one query may hold several statements: the simple protocol runs them all)
        for statement in text.split("; "):
            _log().append(" ".join(statement.split())[:110])
            _count(1)
        return original_execute(self, query, params, **kwargs)

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]

    base = psycopg.Connection._exec_command

    def exec_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        text = command if isinstance(command, (str, bytes)) else command.as_string(self)
        text = text.decode() if isinstance(text, bytes) else text
        _log().append(text)
        _count(1)
        return base(self, command, *args, **kwargs)

    psycopg.Connection._exec_command = exec_command  # type: ignore[method-assign]


def main() -> int:  # noqa: PLR0915 - one run, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pool", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    install()
    from timeline.bootstrap import bootstrap, group_committer  # noqa: PLC0415
    from timeline.settings import Settings  # noqa: PLC0415
    from timeline.vocabulary import parse_event  # noqa: PLC0415

    os.environ["TIMELINE_ENVIRONMENT"] = "development"
    with scratch_database("rt_bench") as name:
        services = bootstrap(Settings(database_url=db_url(name)))
        committer = group_committer(services)
        seekers = [str(uuid.uuid4()) for _ in range(args.pool)]
        started = (date.today() - timedelta(days=60)).isoformat()
        on = (date.today() - timedelta(days=30)).isoformat()

        def parsed(seeker: str, type_: str, day: str, data: dict[str, Any]) -> Any:
            return parse_event(envelope(seeker, type_, day, data, source="bench"))

        start = {"municipality": "398", "labour_market_status": "unemployed"}
        contact = {"channel": "phone", "direction": "outbound", "purpose": "bench"}
        for i in range(0, len(seekers), 100):
            committer.submit(
                [parsed(s, "job_search_started", started, start) for s in seekers[i : i + 100]]
            )
            committer.submit([parsed(s, "contact_made", on, contact) for s in seekers[i : i + 100]])
        base_groups, base_busy = committer.stats.groups, committer.stats.busy_seconds
        with _lock:
            TOTALS.clear()
        _local.log = []
        stop = time.monotonic() + args.seconds
        answered = [0]

        def client(k: int) -> None:
            n = k
            while time.monotonic() < stop:
                batch = [
                    parsed(seekers[(n + j) % len(seekers)], "contact_made", on, contact)
                    for j in range(args.batch)
                ]
                n += args.threads * args.batch
                committer.submit(batch)
                with _lock:
                    answered[0] += 1

        clients = [threading.Thread(target=client, args=(k,)) for k in range(args.threads)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        groups = committer.stats.groups - base_groups
        busy = committer.stats.busy_seconds - base_busy
        writer = TOTALS.get("timeline-group-commit", [0, 0])
        others = {k: v for k, v in TOTALS.items() if k != "timeline-group-commit"}
        print(
            f"{groups} group commits, {answered[0]} requests of {args.batch} event(s) "
            f"({answered[0] / max(groups, 1):.1f} a group), {args.threads} threads, "
            f"{args.seconds:.0f} s, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(
            f"writer thread: {writer[0] / max(groups, 1):.2f} round trips and "
            f"{writer[1] / max(groups, 1):.2f} statements per group commit; "
            f"{answered[0] / args.seconds:,.0f} requests/s; a group takes the writer "
            f"{busy / max(groups, 1) * 1000:.2f} ms (deciding and writing, wall clock)"
        )
        if others:
            print(f"other threads (round trips, statements): {others}")
        committer.close()
        log = _last_group(services.app)
        print("one group commit, in order:")
        for line in log:
            print(f"  {line}")
        kinds = Counter(line.split(" ")[0] for line in log)
        print(f"  ({kinds['--']} round trips)")
        services.close()
    return 0


def _last_group(app: Any) -> list[str]:
    """The statements of one more group (one event to a seeker in the cache), as a fresh
    committer's writer thread sends them (its log is thread-local: it is read there)."""
    from timeline.group_commit import GroupCommitter  # noqa: PLC0415

    holder: list[list[str]] = []
    fresh = GroupCommitter(app)
    original = fresh._write

    def write(group: Any) -> None:
        _local.log = []
        original(group)
        holder.append(list(_local.log))

    fresh._write = write  # type: ignore[method-assign]
    from timeline.vocabulary import parse_event  # noqa: PLC0415

    seeker = app.index.seeker_ids(limit=1)[0]
    on = (date.today() - timedelta(days=20)).isoformat()
    event = parse_event(
        envelope(
            seeker,
            "contact_made",
            on,
            {"channel": "phone", "direction": "outbound", "purpose": "bench"},
            source="bench",
        )
    )
    fresh.submit([event])
    fresh.close()
    return holder[0] if holder else []


if __name__ == "__main__":
    raise SystemExit(main())
