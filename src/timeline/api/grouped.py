"""HTTP appends through the group committer, without background jobs.

``python -m timeline.api.grouped --db URL --port N`` serves the API with every ``POST /v1/events``
sent through a group committer (used by ``ops/bench`` and the kill test). An entry point: the
service is built by the composition root (:mod:`timeline.bootstrap`) from the settings of the
environment (``TIMELINE_…``), which ``--db`` and ``--pool-size`` override. With
``--workers N`` it runs N server processes on the same port, each with its own committer (the
store decides between them: a group that lost a race is decided again, request by request).

When it stops it prints one line, ``group-commit-stats {json}``, per process to stderr.

``--bench-noop-route`` adds ``POST /bench/noop`` (see :func:`add_bench_noop_route`): the same
server's floor for the HTTP append figure of ``ops/bench/scale.py``. ``timeline serve`` never
has it."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from timeline.api.app import create_app
from timeline.bootstrap import Services, bootstrap, group_committer
from timeline.settings import Settings

#: The options of a worker process (``--workers``), passed through the environment.
_WORKER_OPTIONS = "TIMELINE_GROUPED_OPTIONS"

#: What ``POST /bench/noop`` answers, always.
BENCH_NOOP_BODY = b'{"noop":true}'


def add_bench_noop_route(api: FastAPI) -> None:
    """``POST /bench/noop``: read the request body, answer a fixed 201 JSON, write nothing.
    The same app, middleware and server as ``POST /v1/events`` minus the append, so a load
    generator measures what the append itself costs. Left out of the OpenAPI schema."""

    async def bench_noop(request: Request) -> Response:
        await request.body()
        return Response(BENCH_NOOP_BODY, status_code=201, media_type="application/json")

    api.add_api_route("/bench/noop", bench_noop, methods=["POST"], include_in_schema=False)
    # First of the routes, as POST /v1/events is first of the included ones: matching the path
    # costs the floor what it costs the append, not a walk past every other route.
    api.router.routes.insert(0, api.router.routes.pop())


def _serve(options: dict[str, float | str]) -> tuple[FastAPI, Callable[[], None]]:
    """The API of one process and the function that closes it."""
    overrides: dict[str, Any] = {"postgres_pool_size": int(options["pool_size"])}
    if options.get("db"):
        overrides["database_url"] = str(options["db"])
    services: Services = bootstrap(Settings(**overrides))
    committer = group_committer(
        services, max_batch=int(options["max_batch"]), max_wait_ms=float(options["max_wait_ms"])
    )
    api = create_app(services, append=committer)  # the route awaits submit_async
    if options.get("bench_noop_route"):
        add_bench_noop_route(api)
    gc.freeze()  # as `timeline serve`: what start-up made is never scanned by a collection

    def close() -> None:
        committer.close()
        # One line for the bench: how requests were grouped and how busy the writer was.
        print(f"group-commit-stats {json.dumps(asdict(committer.stats))}", file=sys.stderr)
        services.close()

    return api, close


def worker_app() -> FastAPI:
    """The app factory of a worker process (``--workers`` > 1)."""
    api, close = _serve(json.loads(os.environ[_WORKER_OPTIONS]))
    api.router.on_shutdown.append(close)
    return api


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def parse_options(
    argv: Sequence[str] | None = None,
) -> tuple[dict[str, float | str], argparse.Namespace]:
    """The options of :func:`_serve` (and of every worker process) from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--db", metavar="URL", help="the database (default: TIMELINE_DATABASE_URL's)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-batch", type=int, default=1000)
    parser.add_argument("--max-wait-ms", type=float, default=1.0)
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--bench-noop-route",
        action="store_true",
        help="also serve POST /bench/noop (reads the body, answers 201; for ops/bench/scale.py)",
    )
    args = parser.parse_args(argv)
    options: dict[str, float | str] = {
        "db": args.db or "",
        "pool_size": args.pool_size,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "bench_noop_route": int(args.bench_noop_route),
    }
    return options, args


def main(argv: Sequence[str] | None = None) -> None:
    options, args = parse_options(argv)
    run = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:
        os.environ[_WORKER_OPTIONS] = json.dumps(options)
        uvicorn.run("timeline.api.grouped:worker_app", factory=True, workers=args.workers, **run)
        return
    api, close = _serve(options)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the handler
    # that was there before it: make that one an orderly exit, so the committer is closed.
    signal.signal(signal.SIGTERM, _exit)
    try:
        uvicorn.run(api, **run)
    finally:
        close()


if __name__ == "__main__":
    main()
