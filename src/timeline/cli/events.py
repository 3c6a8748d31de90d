"""``timeline import`` and ``timeline history``: events in, a seeker's history out."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from eventsourcing.persistence import IntegrityError

from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import LineError, add_command
from timeline.cli.wiring import log_read, services
from timeline.domain.errors import Conflict, InvalidEvent
from timeline.domain.zone import HELSINKI
from timeline.vocabulary import EventValidationError, ParsedEvent, parse_event

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
        "event is then reported as a duplicate.",
    )
    p.add_argument("file", metavar="FILE", help="JSON Lines file, or - for standard input")
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


def parse_jsonl(
    source: Iterable[bytes], *, allow_test_codes: bool
) -> tuple[list[tuple[int, ParsedEvent]], list[str]]:
    """Parse every line; collect every problem as ``line N: field: reason`` (bad UTF-8, bad
    JSON, nesting too deep, a refused envelope). A UTF-8 byte-order mark at the start is
    accepted."""

    def parse(raw: Any) -> ParsedEvent:
        try:
            return parse_event(raw, allow_test_identity_codes=allow_test_codes)
        except EventValidationError as exc:
            raise LineError([f"{e.loc}: {e.msg}" for e in exc.errors]) from None

    problems: list[str] = []
    events = list(cli_input.read_jsonl(source, parse, problems=problems))
    return events, problems


def _size(source: IO[bytes]) -> int | None:
    """The size of a regular file, for the reading bar's total (None for a pipe)."""
    try:
        return os.fstat(source.fileno()).st_size or None
    except (OSError, ValueError):
        return None


def _counted(source: IO[bytes], *, quiet: bool) -> Iterator[bytes]:
    """The lines of ``source``, with a bar of the bytes read (the file's size as the total)."""
    with progress.bar("reading", total=_size(source), unit="B", quiet=quiet) as read:
        for line in source:
            yield line
            read.update(len(line))


def cmd_import(args: argparse.Namespace) -> int:
    # Decide every event once (the validation pass), then write those very decisions in large
    # chunks: no second load or decision per seeker. The decisions hold every timeline of the
    # file in memory until written (as the dry run always did).
    with services(args) as built:
        app = built.app
        with cli_input.open_input(args.file) as source:
            events, problems = parse_jsonl(
                _counted(source, quiet=args.quiet),
                allow_test_codes=app.settings.test_codes_allowed,
            )
        decisions = None
        if not problems:
            refused, decisions = app.appender.decide_each([e for _, e in events])
            for i, exc in refused:
                number = events[i][0]
                errors = exc.errors if isinstance(exc, InvalidEvent) else []
                if errors:
                    problems.extend(f"line {number}: {e.loc}: {e.msg}" for e in errors)
                else:
                    problems.append(f"line {number}: {_conflict_loc(exc)}: {exc}")
        if problems or decisions is None:
            for p in problems:
                print(p, file=sys.stderr)
            print(
                f"timeline import: {args.file}: refused, {len(problems)} problem(s) (above); "
                "nothing was written",
                file=sys.stderr,
            )
            return EXIT_INVALID
        planned = decisions.planned
        accepted = 0
        duplicates = len(events) - len(planned)  # already stored: nothing to write
        with progress.bar(
            "importing", total=len(events), unit="event", quiet=args.quiet, initial=duplicates
        ) as bar:
            for start in range(0, len(planned), IMPORT_CHUNK):
                chunk = planned[start : start + IMPORT_CHUNK]
                try:
                    decisions.save(chunk)
                except IntegrityError:
                    # Another writer took a version or an event_id since the validation pass:
                    # decide the rest again, batch by batch, as a live append would.
                    rest = [p.event for p in planned[start:]]
                    for at in range(0, len(rest), IMPORT_BATCH):
                        batch = rest[at : at + IMPORT_BATCH]
                        accepted += sum(not r.duplicate for r in app.append(batch))
                        bar.update(len(batch))
                    break
                accepted += len(chunk)
                bar.update(len(chunk))
    print(json.dumps({"accepted": accepted, "duplicates": len(events) - accepted}))
    return 0


def _conflict_loc(exc: Exception) -> str:
    if isinstance(exc, Conflict):
        return "expected_version" if exc.current_version is not None else "event_id"
    return "(event)"


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
        print(
            f"{d['version']:>4}  {shown:<19}  {recorded:<19}  {d['recorded_late_days']:>4}d"
            f"  {d['type']:<28}  {status}"
        )
    return 0


def _helsinki_minute(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M")
