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
from timeline.store.migrate import DEFAULT_BATCH, FORMS, check, migrate_store


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
        "data key is made there. It is "
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
    print(json.dumps(run.to_dict()))
    if not args.dry_run and run.rewritten:
        print(
            "timeline migrate-store: done; now run `timeline verify` (and `--digests FILE` "
            "with the digests exported before)",
            file=sys.stderr,
        )
    return 0
