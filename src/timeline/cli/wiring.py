"""What a command runs on: the services of :func:`timeline.bootstrap.bootstrap`, built once per
command from its settings and closed when the command ends, and the access-log entry of a
personal read from the command line."""

from __future__ import annotations

import argparse
import contextlib
import getpass
from collections.abc import Iterator
from typing import Any

from timeline.bootstrap import Services, bootstrap
from timeline.cli import input as cli_input
from timeline.clock import Clock


@contextlib.contextmanager
def services(args: argparse.Namespace, clock: Clock | None = None) -> Iterator[Services]:
    """The services of the command's settings (environment and ``--db``, refused with a
    :class:`~timeline.cli.input.UsageError` when they cannot work), closed on the way out
    whatever happens."""
    built = bootstrap(cli_input.settings(args), clock)
    try:
        yield built
    finally:
        built.close()


def log_read(
    services: Services,
    seeker_id: str,
    action: str,
    purpose: str | None,
    detail: dict[str, Any],
) -> None:
    """A personal read from the command line is logged like any other, in the access log of
    the services the command reads with."""
    services.access_log.record(
        actor=f"cli:{getpass.getuser()}",
        role="operator",
        action=action,
        seeker_id=seeker_id,
        purpose=purpose or "unstated (command line)",
        detail=detail,
    )
