"""``timeline migrate-store``: moving a store's events to the stored form this build writes."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import add_command
from timeline.cli.wiring import services
from timeline.store.migrate import (
    DEFAULT_BATCH,
    FORMS,
    check,
    check_target,
    convert_index,
    migrate_store,
)
from timeline.store.postgres import tolerating_index_layout_1


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "migrate-store",
        "rewrite the stored events into another stored form, in place (a maintenance window)",
        "Rewrite every stored timeline event that is not yet in stored form --to (2: a clear "
        "part and the personal data sealed with a key per seeker, ops/adr/0009) into it, in "
        "place, in position order, --batch events a transaction. Every event keeps its "
        "position, seeker, version and topic, and its index entry (recorded time, digest, "
        "chain hash) is not touched: `timeline verify` and `verify --digests` with digests "
        "exported before still pass. Before: stop every writer (the service, the jobs' "
        "process, imports) and take a backup (pg_dump, or a copy of the SQLite file); set "
        "TIMELINE_MASTER_KEY (and TIMELINE_KEYS_URL) as the service has them: each seeker's "
        "data key is made there. On PostgreSQL it first converts the event index table to "
        "layout 2 (hashes as bytes, the type as its code: the service refuses layout 1), in "
        "one transaction, values unchanged; printed as index_table. It is "
        "resumable: a rerun (after a crash, or Ctrl-C) skips the events already in form "
        "--to; a second run rewrites nothing. After: run `timeline verify`. On PostgreSQL "
        "the old row versions stay in the table until `VACUUM (FULL) timeline_events` or "
        "pg_repack reclaims them (on SQLite: `VACUUM`); the sizes before and after are "
        "printed. Prints a JSON summary; progress (total and rate) on stderr.",
    )
    p.add_argument(
        "--to",
        type=int,
        choices=FORMS,
        required=True,
        help="the stored form to move to (it must be the one this build writes)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="count the events that would be rewritten; write nothing",
    )
    p.add_argument(
        "--batch",
        type=cli_input.positive_int,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"events read and rewritten per transaction (default {DEFAULT_BATCH:,})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_migrate_store)


def cmd_migrate_store(args: argparse.Namespace) -> int:
    check_target(args.to)  # (before anything is converted)

    def say(text: str) -> None:
        if not args.quiet:
            print(f"timeline migrate-store: {text}", file=sys.stderr)

    index = convert_index(cli_input.settings(args), dry_run=args.dry_run, say=say)
    if index is not None and index.layout_before == 1 and not args.dry_run:
        say(f"index table converted to layout 2 in {index.seconds:.1f} s")
    # (a dry run leaves a layout-1 index: its services read the events table only)
    unconverted = index is not None and index.layout_after == 1
    tolerate = tolerating_index_layout_1() if unconverted else contextlib.nullcontext()
    with tolerate, services(args) as built:
        recorder = built.app.recorder
        check(recorder, built.app.mapper, to=args.to, batch=args.batch)  # (before the bar)
        total = recorder.max_notification_id() or 0
        desc = "counting" if args.dry_run else f"migrating to form {args.to}"
        with progress.bar(desc, total=total, unit="event", quiet=args.quiet) as shown:
            run = migrate_store(
                recorder,
                built.app.mapper,
                to=args.to,
                batch=args.batch,
                dry_run=args.dry_run,
                progress=shown.update,
            )
    print(json.dumps({**run.to_dict(), "index_table": index and index.to_dict()}))
    if not args.dry_run and run.rewritten:
        print(
            "timeline migrate-store: done; now run `timeline verify` (and `--digests FILE` "
            "with the digests exported before)",
            file=sys.stderr,
        )
    return 0
