"""Partitioned workers from the command line (ops/adr/0011-partitioned-workers.md):
``timeline rebuild obligations --workers N`` builds the shadow with N processes, one partition
each; ``timeline worker --partition k/N`` keeps one partition's obligations."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

from projections.obligations import ObligationsProjection, ObligationsView
from projections.runtime import BuildPartitions, LogReader, Partition, Runner, ViewDatabase
from timeline.application import TimelineApp
from timeline.bootstrap import jobs_services
from timeline.cli import status
from timeline.cli.wiring import services
from timeline.jobs import PartitionWorker
from timeline.settings import Settings


def partition(value: str) -> Partition:
    """``k/N`` for argparse."""
    try:
        return Partition.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def obligations_partitions(settings: Settings, workers: int, limit: int) -> BuildPartitions:
    """Build the obligations shadow with ``workers`` processes, partition k/N each; each reads
    the whole log (the shared cost), and decodes and evaluates only its own seekers."""

    def build(shadow: ViewDatabase, stop: int) -> int:
        where = (getattr(shadow, "schema", None), shadow.path)
        # a fork server: one fresh process imports the code once and forks the workers from
        # it (a fork of this process would inherit its pools' threads and connections)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            done = [
                pool.submit(_build_one, settings, where, k, workers, stop, limit)
                for k in range(workers)
            ]
            return max(f.result() for f in done)  # each read every event up to ``stop``

    return build


def _build_one(
    settings: Settings, where: tuple[str | None, str | None], k: int, n: int, stop: int, limit: int
) -> int:
    """One worker process of an N-worker rebuild: partition k/N into the shadow, to ``stop``;
    the events it read."""
    # the log and the shadow only, making no tables (the rebuild's process has made them):
    # statements that make tables race when several processes run them at once
    app = TimelineApp(
        {"CREATE_TABLE": "false"},
        settings=settings.model_copy(update={"aggregate_cache_size": 0}),
    )
    schema, path = where
    shadow = ViewDatabase(settings, schema=schema, path=path)
    try:
        projection = ObligationsProjection(partition=Partition(k, n))
        projection.read_from(LogReader(app, projection.name))
        runner = Runner(app, shadow, projection)
        runner.create_tables()
        return runner.catch_up(limit, stop=stop)
    finally:
        shadow.close()
        app.close()


def run_worker(args: argparse.Namespace, part: Partition) -> int:
    """``timeline worker --partition k/N``: this partition's obligations catch-up (every
    second) and day change, until SIGTERM or Ctrl-C."""
    with services(args) as built:
        own = jobs_services(built)
        try:
            view = ObligationsView(own.app, own.db, ObligationsProjection(partition=part))
            status.serve_worker_metrics(args, own)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            print(
                f"timeline worker: obligations of partition {part} (buckets "
                f"{part.lo}..{part.hi - 1} of 4096), from position {view.runner.position()}; "
                "Ctrl-C to stop",
                file=sys.stderr,
            )
            with contextlib.suppress(KeyboardInterrupt):
                PartitionWorker(view, own.clock).run(stop)
        finally:
            if own is not built:
                own.close()
    return 0
