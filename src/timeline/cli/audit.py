"""``timeline verify``, ``timeline export`` and ``timeline digest``: the auditor's commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from timeline.audit.checks import verify_store
from timeline.audit.digests import Digest, export_lines
from timeline.audit.export import export_seeker
from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import LineError, UsageError, add_command
from timeline.cli.wiring import log_read, services
from timeline.domain.zone import HELSINKI


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "verify",
        "recompute every seeker's hash chain and index from the stored events",
        "Recompute each event's digest, each link of each seeker's hash chain and every field "
        "of its index entry (position, type, dates, person_ref…) from the stored events, and "
        "check the access log's chain. Exit 0 when intact; exit 1 naming, for every broken "
        "seeker, the first broken version and why. What each check proves: docs/audit.md.",
    )
    p.add_argument(
        "--seeker", type=cli_input.seeker_id, metavar="ID", help="verify one seeker only"
    )
    p.add_argument(
        "--since",
        type=cli_input.day,
        metavar="DATE",
        help="only seekers with events recorded on or after DATE",
    )
    p.add_argument(
        "--digests",
        metavar="FILE",
        help="daily digests kept outside the system (from `timeline digest --export`)"
        ": name every day the store no longer matches",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_verify)

    p = add_command(
        subparsers,
        "export",
        "export a seeker's history for an auditor (JSONL, manifest, HTML report)",
        "Write DIR/events.jsonl (every event with both times, position, digest and chain "
        "hash), DIR/report.html (the timeline on a time axis with obligations), "
        "DIR/verify_export.py (the standalone verifier) and DIR/manifest.json (the SHA-256 of "
        "every other file and the chain head). Verify offline with `python verify_export.py .` "
        "inside DIR (or `python ops/verify_export.py DIR`). The read is recorded in the access "
        "log with the manifest's SHA-256.",
    )
    p.add_argument("seeker_id", type=cli_input.seeker_id, metavar="SEEKER_ID")
    p.add_argument("--as-of", type=cli_input.aware, metavar="T", help="as known at T")
    p.add_argument("--out", metavar="DIR", help="default: export-SEEKER_ID")
    p.add_argument("--purpose", help="why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_export)

    p = add_command(
        subparsers,
        "digest",
        "seal a finished day's digest, or export the kept digests",
        "A day's digest is a Merkle root over the positions and chain hashes of the events "
        "recorded that day (Europe/Helsinki) and the access log's last entry by the end of "
        "the day, signed with TIMELINE_DIGEST_KEY. Without options, seal yesterday's. Keep "
        "the export outside the system; `timeline verify --digests FILE` later proves both "
        "logs unchanged up to those days.",
    )
    p.add_argument("--day", type=cli_input.day, metavar="DATE", help="seal this day instead")
    p.add_argument("--export", metavar="FILE", help="write every kept digest as JSON Lines")
    p.set_defaults(func=cmd_digest)


# -- verify -------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    kept = _kept_digests(args.digests) if args.digests else None

    def shown(seekers: Iterable[str]) -> Iterable[str]:
        return progress.iterate(seekers, "verifying", unit="seeker", quiet=args.quiet)

    with services(args) as built:
        report = verify_store(
            built.app,
            built.access_log,
            built.digests,
            seeker=args.seeker,
            since=args.since,
            kept_digests=kept,
            progress=shown,
        )
    for broken in report.broken:
        print(f"BROKEN {broken}", file=sys.stderr)
    if report.access_log:
        print(f"BROKEN {report.access_log}", file=sys.stderr)
    for problem in report.digest_problems:
        print(f"BROKEN digest {problem}", file=sys.stderr)
    summary = report.to_dict()
    summary["broken"] = len(report.broken)
    print(json.dumps(summary))
    return 0 if report.ok else 1


def _kept_digests(path: str) -> list[dict[str, Any]]:
    """The digests of a ``timeline digest --export`` file, each line checked against the
    digest's fields; :class:`UsageError` naming every bad line."""
    shape = TypeAdapter(Digest)

    def parse(raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise LineError([f"(line): not a digest (a JSON object), but {type(raw).__name__}"])
        try:
            found = asdict(shape.validate_python(raw))
            date.fromisoformat(found["day"])
        except ValidationError as exc:
            raise LineError(cli_input.validation_reasons(exc.errors())) from None
        except ValueError:
            raise LineError([f"day: {raw['day']!r} is not a date (YYYY-MM-DD)"]) from None
        return found

    problems: list[str] = []
    with cli_input.open_input(path) as source:
        kept = [d for _, d in cli_input.read_jsonl(source, parse, problems=problems)]
    if problems:
        shown = "".join(f"\n  {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise UsageError(
            f"{path} is not a digest export (`timeline digest --export`):{shown}{more}"
        )
    return kept


# -- exports and digests ------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out or f"export-{args.seeker_id}")
    with services(args) as built:
        exported = export_seeker(
            built.app, built.obligations, args.seeker_id, out, as_of=args.as_of
        )
        log_read(
            built,
            args.seeker_id,
            "export",
            args.purpose,
            {
                "as_of": args.as_of.isoformat() if args.as_of else None,
                "out": str(out),
                "manifest_sha256": exported.manifest_sha256,  # so a reader can check the folder
            },
        )
    summary = {"directory": str(out), "manifest_sha256": exported.manifest_sha256}
    print(json.dumps({**summary, **exported.manifest}, indent=2))
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    with services(args) as built:
        if args.export:
            text = export_lines(built.digests.kept())
            if args.export == "-":
                sys.stdout.write(text)
            else:
                with open(args.export, "w", encoding="utf-8") as f:
                    f.write(text)
            return 0
        today = built.clock().astimezone(HELSINKI).date()
        day = args.day or today - timedelta(days=1)
        if day >= today:
            msg = f"--day {day}: not over yet (today is {today}); only finished days are sealed"
            raise UsageError(msg)
        digest = built.digests.seal(day)
    print(json.dumps(digest.to_dict()))
    return 0
