"""The jobs' process: ``python -m timeline.worker [--parent PID]``, the child that
``timeline serve`` starts (:class:`timeline.jobs.JobsProcess`) to run the scheduled jobs on
another core. An entry point: it builds through :func:`timeline.bootstrap.bootstrap`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from timeline.bootstrap import bootstrap, jobs_runtime
from timeline.jobs import STOP_GRACE_SECONDS, stop_within
from timeline.settings import Settings

log = logging.getLogger("timeline.jobs")


def main(argv: Sequence[str] | None = None) -> int:
    """The scheduled jobs on the settings of the environment (TIMELINE_…), until SIGTERM or
    until the parent process is gone."""
    parser = argparse.ArgumentParser(prog="python -m timeline.worker", description=main.__doc__)
    parser.add_argument("--parent", type=int, metavar="PID", help="stop when PID is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("timeline").setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    services = bootstrap(Settings(), for_jobs=True)
    runtime = jobs_runtime(services).start()
    if services.settings.jobs_metrics_port:  # this process's metrics (docs/operations.md)
        from timeline.api.metrics import serve_metrics  # noqa: PLC0415 - only if asked

        serve_metrics(services, services.settings.jobs_metrics_port)
    while not stop.wait(1.0):
        if args.parent is not None and os.getppid() != args.parent:
            log.warning("the server (pid %s) is gone; the jobs stop", args.parent)
            break
    if not stop_within(runtime, STOP_GRACE_SECONDS):
        # A job still waiting (e.g. for a database that went away): what it did not commit is
        # rolled back with its connection, and it runs again at the next start.
        log.warning("jobs still running after %.0f s; stopping without them", STOP_GRACE_SECONDS)
        os._exit(0)
    services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
