"""The ``timeline`` command's parser and entry point (``timeline = timeline.cli.main:main``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from timeline.cli import (
    admin,
    audit,
    erasure,
    events,
    keys,
    obligations,
    projections,
    stats,
    status,
    whatif,
)
from timeline.cli.input import user_error

EXIT_INVALID = 2

#: Every group of commands, in the order ``timeline --help`` lists them. A group is a module
#: with ``register(subparsers)``; adding one is one line here.
GROUPS: tuple[ModuleType, ...] = (
    events,  # import, history
    obligations,  # obligations
    audit,  # verify, export, digest
    erasure,  # erase, erasures, retention
    projections,  # rebuild, quarantine, worker
    stats,  # stats
    whatif,  # whatif
    status,  # status
    keys,  # keys status, rotate, new-master
    admin,  # serve, token, demo
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timeline",
        description="Event-sourced timelines of job seekers' employment services. Every command "
        "takes --db URL (or TIMELINE_DATABASE_URL): sqlite:///./timeline.db (default), "
        "postgresql://user@host:5432/db, or memory:.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. Bad arguments are refused by the parser (exit 2); an error the user can
    fix (see :func:`timeline.cli.input.user_error`) is printed as ``timeline COMMAND: reason``
    with exit 2; anything else is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # the reader went away (`timeline history X | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush does not fail again
        return 1
    except Exception as exc:
        reason = user_error(exc)
        if reason is None:
            raise
        print(f"timeline {args.command}: {reason}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
