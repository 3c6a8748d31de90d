"""HTTP appends through the group committer.

:func:`grouped_append` gives the callable the ``POST /v1/events`` route should call instead of
``app.append``. Until ``create_app`` takes it as a parameter, :func:`with_group_commit` wraps the
application so that the route's ``app.append`` goes through the committer.

``python -m timeline.api.grouped --db URL --port N`` serves the API with group commit and no
background jobs (used by ``ops/bench`` and the kill test)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, cast

import uvicorn

from timeline.api.app import create_app
from timeline.application import Appended, TimelineApp
from timeline.bootstrap import bootstrap
from timeline.group_commit import GroupCommitter
from timeline.settings import Settings
from timeline.vocabulary import ParsedEvent

AppendFn = Callable[[Sequence[ParsedEvent]], list[Appended]]


def grouped_append(committer: GroupCommitter) -> AppendFn:
    """The append callable for the HTTP route: same contract as ``TimelineApp.append``."""
    return committer.submit


class _Grouped:
    """The application with ``append`` sent through a group committer; all else delegated."""

    def __init__(self, app: TimelineApp, committer: GroupCommitter) -> None:
        self._app = app
        self.append = grouped_append(committer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


def with_group_commit(app: TimelineApp, committer: GroupCommitter) -> TimelineApp:
    return cast(TimelineApp, _Grouped(app, committer))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, metavar="URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-batch", type=int, default=1000)
    parser.add_argument("--max-wait-ms", type=float, default=1.0)
    parser.add_argument("--pool-size", type=int, default=8)
    args = parser.parse_args(argv)
    services = bootstrap(Settings(database_url=args.db, postgres_pool_size=args.pool_size))
    committer = GroupCommitter(services.app, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)
    real = services.app
    services.app = with_group_commit(real, committer)
    api = create_app(services)

    try:
        uvicorn.run(api, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        committer.close()
        services.app = real
        services.close()


if __name__ == "__main__":
    main()
