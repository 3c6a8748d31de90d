"""``timeline import`` and ``timeline history``: events in, a seeker's history out."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from timeline.bulk import import_file
from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import add_command
from timeline.cli.wiring import log_read, services
from timeline.domain.zone import HELSINKI

EXIT_INVALID = 2
IMPORT_BATCH = 500  # events per append when a concurrent writer forces deciding again
IMPORT_CHUNK = 5000  # events per transaction of `timeline import`


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "import",
        "append events from a JSON Lines file (one envelope per line)",
        "Validate every line first: if any line is invalid, list every bad line with its "
        "line number, field path and reason on stderr, write nothing and exit 2. Otherwise "
        "append in batches (a progress bar on stderr) and print "
        '{"accepted": n, "duplicates": n}. Importing the same file again is safe: every '
        "event is then reported as a duplicate (a rerun after a crash writes only what is "
        "missing). Two passes: 'validating' (lines) decides every line without writing, "
        "'writing' (events) stores the accepted ones in chunks (COPY on PostgreSQL); each "
        "bar shows its total and its own average rate.",
    )
    p.add_argument("file", metavar="FILE", help="JSON Lines file, or - for standard input")
    p.add_argument(
        "--workers",
        type=cli_input.positive_int,
        default=1,
        metavar="N",
        help="PostgreSQL only: validate with N processes, one partition of the seekers each "
        "(each reads the whole file and decides its own seekers' lines); the same answer and "
        "rows as one process: a file whose event id comes again under another seeker, which "
        "the partitions cannot judge alone, is validated again in one process for its "
        "messages. Worth it with a free core per worker; default 1",
    )
    p.add_argument(
        "--partitions",
        type=cli_input.positive_int,
        metavar="P",
        help="PostgreSQL only: validate in P partitions of the seekers, at most --workers "
        "processes at a time, each process one partition and then gone: the memory of the "
        "validation is that of one partition's seekers (~90 B an event of theirs) where one "
        "pass holds every event's; each partition reads the whole file. For files too large "
        "for one pass's memory (e.g. P = events / 2,000,000); default: --workers",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_import)

    p = add_command(
        subparsers, "history", "print a seeker's history with both times (occurred and recorded)"
    )
    p.add_argument("seeker_id", type=cli_input.seeker_id, metavar="SEEKER_ID")
    p.add_argument(
        "--as-of",
        type=cli_input.aware,
        metavar="T",
        help="show the history as it was known at T (ISO 8601 with offset)",
    )
    p.add_argument("--json", action="store_true", help="JSON Lines, one event a line")
    p.add_argument("--purpose", help="why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_history)


# -- import -------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    # Two streaming passes: validate and decide every line (nothing written on any problem),
    # then write in chunks (COPY on PostgreSQL): timeline.bulk. The validation keeps ~90 B an
    # event in one pass; --partitions bounds it.

    with services(args) as built:
        parted = args.workers > 1 or (args.partitions or 1) > 1
        if parted and not callable(getattr(built.app.recorder, "copy_events", None)):
            option = "--workers" if args.workers > 1 else "--partitions"
            raise cli_input.UsageError(f"{option}: a partitioned import needs PostgreSQL")
        result = import_file(
            built.app,
            args.file,
            quiet=args.quiet,
            bar=progress.bar,
            workers=args.workers,
            partitions=args.partitions,
        )
    if result.problems:
        for p in result.problems:
            print(p, file=sys.stderr)
        print(
            f"timeline import: {args.file}: refused, {len(result.problems)} problem(s) (above); "
            "nothing was written",
            file=sys.stderr,
        )
        return EXIT_INVALID
    print(json.dumps({"accepted": result.accepted, "duplicates": result.duplicates}))
    return 0


# -- history ------------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    with services(args) as built:
        entries = built.app.history(args.seeker_id, as_of=args.as_of)
        log_read(
            built,
            args.seeker_id,
            "history",
            args.purpose,
            {"as_of": args.as_of.isoformat() if args.as_of else None},
        )
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_dict(), ensure_ascii=False))
        return 0
    # Both times in one zone, named in the header (--json gives the API's forms).
    header = (
        f"{'ver':>4}  {'occurred (Helsinki)':<19}  {'recorded (Helsinki)':<19}  {'late':>5}  "
        f"{'type':<28}  status"
    )
    print(
        f"seeker {args.seeker_id}"
        + (f", as known at {args.as_of.isoformat()}" if args.as_of else "")
    )
    print(header)
    print("-" * len(header))
    for entry in entries:
        d = entry.to_dict()
        occurred = entry.fact.occurred_at
        shown = (
            _helsinki_minute(occurred)
            if occurred is not None
            else entry.fact.occurred_on.isoformat()
        )
        recorded = _helsinki_minute(entry.index.recorded_at)
        status = d["status"]
        if entry.superseded_by:
            status += f" by {entry.superseded_by[-1][:8]}"
        if entry.voided_by:
            status += f" by {entry.voided_by[:8]}"
        if entry.erased:  # (the table shows no payload; --json has "erased": true, data null)
            status += ", erased"
        print(
            f"{d['version']:>4}  {shown:<19}  {recorded:<19}  {d['recorded_late_days']:>4}d"
            f"  {d['type']:<28}  {status}"
        )
    return 0


def _helsinki_minute(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")
