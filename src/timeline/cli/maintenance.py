"""``timeline migrate-store``: moving a store's events to the stored form this build writes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import add_command
from timeline.cli.wiring import services
from timeline.store.migrate import (
    DEFAULT_BATCH,
    TARGETS,
    check,
    check_target,
    convert_index,
    convert_log,
    migrate_store,
)


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
        "data key is made there. On PostgreSQL it first brings the tables to index layout 3, "
        "the single log table timeline_log (the service refuses layouts 1 and 2): a layout-1 "
        "index table is converted to layout 2 (printed as index_table), then the library's "
        "events table and the index table are moved into the log, positions kept, in one "
        "transaction, every event compared as read back, the old tables dropped (printed as "
        "log_table). It is "
        "resumable: a rerun (after a crash, or Ctrl-C) skips the events already in form "
        "--to; a second run rewrites nothing. After: run `timeline verify`. On PostgreSQL "
        "the old row versions stay in the table until `VACUUM (FULL) timeline_events` or "
        "pg_repack reclaims them (on SQLite: `VACUUM`); the sizes before and after are "
        "printed. Prints a JSON summary; progress (total and rate) on stderr.",
    )
    p.add_argument(
        "--to",
        type=int,
        choices=TARGETS,
        required=True,
        help="the stored form to move to (it must be the one this build writes: 3, stored form 2 "
        "in PostgreSQL's single log table; 2 does the same on this build)",
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

    settings = cli_input.settings(args)
    index = convert_index(settings, dry_run=args.dry_run, say=say)
    if index is not None and index.layout_before == 1 and not args.dry_run:
        say(f"index table converted to layout 2 in {index.seconds:.1f} s")
    log = convert_log(settings, dry_run=args.dry_run, say=say)
    if log is not None and log.layout_before == 2 and not args.dry_run:
        say(f"moved into the log table in {log.seconds:.1f} s")
    tables = {"index_table": index and index.to_dict(), "log_table": log and log.to_dict()}
    if log is not None and log.layout_after != 3:
        # a dry run on a store not yet in the log: this build's services cannot read its
        # events, so what the conversion would move is all it tells
        print(json.dumps({"to": args.to, "dry_run": True, **tables}))
        return 0
    with services(args) as built:
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
    print(json.dumps({**run.to_dict(), **tables}))
    if not args.dry_run and run.rewritten:
        print(
            "timeline migrate-store: done; now run `timeline verify` (and `--digests FILE` "
            "with the digests exported before)",
            file=sys.stderr,
        )
    return 0
