"""``timeline rebuild``, ``timeline quarantine`` and ``timeline worker``: the projections and
the scheduled jobs that keep them."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from typing import Any

from timeline.cli import input as cli_input
from timeline.cli import partitions, progress, status
from timeline.cli.input import add_command
from timeline.cli.wiring import services

PROJECTIONS = ("obligations", "outcomes")


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "rebuild",
        "rebuild a projection from zero, from the whole log",
        "Rebuild the obligations or the statistics (outcomes) tables from the whole event log. "
        "Online by default: the new tables are built in a shadow (a schema or a file beside "
        "the database) while the service keeps reading the old ones, then swapped in one "
        "transaction (the progress bar counts the events applied, then shows the swap as a "
        "phase of its own). --offline drops and refills the tables in place (needed after an "
        "upgrade that changed their columns; readers see a partial view meanwhile).",
    )
    p.add_argument("projection", choices=PROJECTIONS)
    p.add_argument("--offline", action="store_true", help="rebuild in place (see above)")
    p.add_argument(
        "--workers",
        type=cli_input.positive_int,
        default=1,
        metavar="N",
        help="obligations only, online only: build the shadow with N worker processes, one "
        "partition of the seekers each (each reads the whole log and evaluates its own "
        "seekers; see docs/operations.md, Partitioned workers); default 1",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_rebuild)

    p = add_command(
        subparsers,
        "quarantine",
        "list the events the projections could not apply (quarantined)",
        "A projection never halts on one event: an event it cannot read, or a seeker whose "
        "evaluation or rows fail, is recorded in its quarantine and the seeker's rows are "
        "marked stale, while the rest of the log is applied. This lists, per projection, "
        "each entry: log position, seeker, stage (decode, apply, evaluate, write), event id, "
        "the event's recorded time and the error. Fix the cause (retract or correct the "
        "event, or upgrade the code), then `timeline rebuild PROJECTION`: entries that now "
        "apply disappear, those that still fail are recorded again.",
    )
    p.add_argument("--projection", choices=PROJECTIONS, help="only this one")
    p.add_argument("--json", action="store_true", help="JSON Lines, one entry a line")
    p.add_argument(
        "--limit",
        type=cli_input.positive_int,
        default=1000,
        metavar="N",
        help="at most N per projection",
    )
    p.set_defaults(func=cmd_quarantine)

    p = add_command(
        subparsers,
        "worker",
        "run the scheduled jobs without the HTTP service",
        "Obligations catch-up every second, statistics catch-up every minute, day change "
        "(00:05 Europe/Helsinki), month close (the 1st), nightly audit (02:00); one "
        "instance of each job across processes. For deployments that run the API and the "
        "jobs separately; `timeline serve` runs them too. With --partition k/N: only the "
        "obligations catch-up and day change of partition k of N of the seekers, from that "
        "partition's own position (run one per partition, on as many hosts; the unpartitioned "
        "catch-up steps aside once they run; see docs/operations.md, Partitioned workers).",
    )
    p.add_argument(
        "--partition",
        type=partitions.partition,
        metavar="k/N",
        help="keep the obligations of partition k of N only (0/1, the default, is every seeker)",
    )
    status.add_metrics_port(p)
    p.set_defaults(func=cmd_worker)


def cmd_rebuild(args: argparse.Namespace) -> int:
    if args.workers > 1 and args.projection != "obligations":
        raise cli_input.UsageError(
            "--workers: only obligations is rebuilt by partitions (the statistics' monthly "
            "aggregates are summed over every seeker; rebuild outcomes without --workers)"
        )
    if args.workers > 1 and args.offline:
        raise cli_input.UsageError(
            "--workers: partitioned workers build online only, not with --offline"
        )
    with services(args) as built:
        view = built.obligations if args.projection == "obligations" else built.outcomes
        total = built.app.recorder.max_notification_id() or 0
        swaps = not args.offline and built.db.can_shadow
        if args.workers > 1 and not swaps:
            raise cli_input.UsageError(
                "--workers: the in-memory store has no shadow for worker processes to share"
            )
        build = (
            partitions.obligations_partitions(built.settings, args.workers, 5000)
            if args.workers > 1
            else None
        )
        with progress.ThenPhase(
            f"rebuilding {args.projection}",
            total=total,
            unit="event",
            after="swapping the rebuilt tables in (readers keep the old ones until then)"
            if swaps
            else None,
            quiet=args.quiet,
        ) as shown:
            n = view.rebuild(progress=shown, online=not args.offline, partitions=build)
        summary = {
            "projection": args.projection,
            "workers": args.workers,
            "events": n,
            "position": view.position(),
            "quarantined": view.quarantine_counts()[0],
        }
    print(json.dumps(summary))
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    with services(args) as built:
        views = {"obligations": built.obligations, "outcomes": built.outcomes}
        last = built.app.recorder.max_notification_id() or 0
        for name in [args.projection] if args.projection else list(views):
            view = views[name]
            entries = view.quarantine(args.limit)
            if args.json:
                for e in entries:
                    print(json.dumps(e.to_dict(), ensure_ascii=False))
                continue
            count, seekers = view.quarantine_counts()
            print(
                f"{name}: {count} quarantined, {seekers} seeker(s) stale; position "
                f"{view.position()} of {last}"
            )
            for e in entries:
                print(
                    f"  {e.position or '-':>9}  {e.seeker_id}  {e.stage:<8}  "
                    f"{e.event_id or '-':<36}  {e.recorded_at or '-':<25}  {e.error}"
                )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.partition is not None and not args.partition.whole:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        return partitions.run_worker(args, args.partition)
    from timeline.bootstrap import (  # noqa: PLC0415 (the scheduler, only for this command)
        jobs_runtime,
        jobs_services,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with services(args) as built:
        jobs = jobs_services(built)  # pools of their own (ADR 0007); ``built`` on memory
        try:
            scheduler = jobs_runtime(jobs).start()
            status.serve_worker_metrics(args, jobs)  # the jobs' counters and pools
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            print(
                "timeline worker: catch-up every second, statistics every minute, day change "
                "at 00:05, month close on the 1st, audit at 02:00 (Europe/Helsinki); Ctrl-C "
                "to stop",
                file=sys.stderr,
            )
            try:
                with contextlib.suppress(KeyboardInterrupt):
                    stop.wait()
            finally:
                scheduler.shutdown()
        finally:
            if jobs is not built:
                jobs.close()
    return 0
