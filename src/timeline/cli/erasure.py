"""``timeline erase``, ``timeline erasures`` and ``timeline retention``: lawful erasure of a
seeker's personal data by destroying its data key, the register that records each erasure, and
the retention job that erases seekers whose last event is older than the retention period
(docs/erasure.md)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import UsageError, add_command
from timeline.cli.wiring import services
from timeline.domain.canonical import iso_utc
from timeline.erasure import Eraser
from timeline.erasure.retention import cutoff, due, parse_period

ERASE_HELP = (
    "Erase a seeker's personal data, irreversibly, and keep the proof. In one transaction the "
    "erasure register records who ran it (you, as cli:USER), when, the --reason, the "
    "--authority (the decision or the legal ground) and which events it covers, and the "
    "seeker's keyed identity-code hash (person_ref) is cleared from the event index; then the "
    "seeker's data key is destroyed, so every personal field of its events (identity, "
    "language, free texts, employer names, meeting ids…) can never be decrypted again, not "
    "even from a backup of the data taken before; then cached copies are dropped. KEPT: every "
    "event's type, times, position, clear fields (municipality, statuses, kinds, dates, codes: "
    "what obligations and statistics read), digest and chain hash, so `timeline verify` and "
    "the daily digests still pass and published statistics do not change. AFTER: the history "
    'shows each event with "erased": true and no payload, appends for the seeker are refused '
    "(410 / exit 2), look-ups by identity code do not find the person. There is no undo. Asks "
    "you to type the seeker id unless --yes. Running it again for an erased seeker completes "
    "what an interrupted run left undone and changes nothing else. See docs/erasure.md."
)


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "erase",
        "erase a seeker's personal data (destroys its key; irreversible; keeps the proof)",
        ERASE_HELP,
    )
    p.add_argument("seeker_id", type=cli_input.seeker_id, metavar="SEEKER_ID")
    p.add_argument(
        "--reason",
        type=cli_input.non_empty,
        required=True,
        help="why (kept in the erasure register), e.g. 'wrongly registered person'",
    )
    p.add_argument(
        "--authority",
        type=cli_input.non_empty,
        required=True,
        help="on whose decision or which legal ground, e.g. 'GDPR art. 17, decision 2026/123'",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts, jobs)")
    p.set_defaults(func=cmd_erase)

    p = add_command(
        subparsers,
        "erasures",
        "list the erasure register (JSON Lines)",
        "Every entry of the erasure register in number order, one JSON object a line: seq, "
        "erased_at, seeker_id, reason, authority, actor, the events covered (events, "
        "last_version, last_position), prev_hash and hash. `timeline verify` checks its chain. "
        "--reapply, after restoring a data backup: erase again every seeker whose key the key "
        "ring (backed up on its own, newer than the data) says was destroyed but the restored "
        "register does not hold (docs/operations.md).",
    )
    p.add_argument(
        "--reapply",
        action="store_true",
        help="after a restore: erase again the seekers the key ring says were erased",
    )
    p.set_defaults(func=cmd_erasures)

    p = add_command(
        subparsers,
        "retention",
        "erase the seekers whose last event is older than the retention period",
        "Select every seeker not yet erased whose events were all recorded, and happened, "
        "more than --older-than before now (default: TIMELINE_RETENTION_YEARS years; the "
        "legal basis and what is assumed: docs/erasure.md). --dry-run lists them (JSON on "
        "stdout) and erases nothing; --apply erases each as `timeline erase` does, with the "
        "authority 'retention', progress on stderr. Irreversible with --apply.",
    )
    p.add_argument(
        "--older-than",
        metavar="PERIOD",
        help="5y, 60m or 1825d (default: TIMELINE_RETENTION_YEARS, in years)",
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="list, erase nothing")
    mode.add_argument("--apply", action="store_true", help="erase every seeker listed")
    p.add_argument(
        "--reason",
        type=cli_input.non_empty,
        help="kept in each entry (default: 'retention period PERIOD elapsed: last event "
        "before CUTOFF')",
    )
    p.add_argument(
        "--now",
        type=cli_input.aware,
        metavar="T",
        help="the moment the period is counted back from (default: the clock)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_retention)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _confirm(seeker_id: str) -> None:
    """Ask to type the seeker id; refuse when nobody can answer (no terminal) or it differs."""
    if not sys.stdin.isatty():
        raise UsageError("erasure is irreversible: pass --yes to confirm when not at a terminal")
    print(
        f"This destroys the personal data of seeker {seeker_id} for good (no undo).\n"
        "Type the seeker id to confirm: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    if sys.stdin.readline().strip() != seeker_id:
        raise UsageError("not confirmed: nothing was erased")


def cmd_erase(args: argparse.Namespace) -> int:
    if not args.yes:
        _confirm(args.seeker_id)
    with services(args) as built:
        eraser = Eraser(built.app, built.erasures, built.clock)
        try:
            outcome = eraser.erase(
                args.seeker_id, reason=args.reason, authority=args.authority, actor=_actor()
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print(json.dumps(outcome.to_dict()))
    return 0


def cmd_erasures(args: argparse.Namespace) -> int:
    with services(args) as built:
        if args.reapply:
            eraser = Eraser(built.app, built.erasures, built.clock)
            for outcome in eraser.reapply(_actor()):
                print(json.dumps(outcome.to_dict()))
            return 0
        for entry in built.erasures.entries():
            print(json.dumps(entry.to_dict()))
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    with services(args) as built:
        text = args.older_than or f"{built.settings.retention_years}y"
        try:
            period = parse_period(text)
        except ValueError as exc:
            raise UsageError(f"--older-than: {exc}") from None
        now = args.now or built.clock()
        before = cutoff(now, period)
        found = due(built.app, built.erasures, before)
        summary: dict[str, Any] = {
            "now": iso_utc(now),
            "older_than": str(period),
            "cutoff": iso_utc(before),
            "due": len(found),
        }
        if args.dry_run:
            summary["seekers"] = [d.to_dict() for d in found]
            print(json.dumps(summary, indent=2))
            return 0
        reason = (
            args.reason or f"retention period {period} elapsed: last event before {before.date()}"
        )
        eraser = Eraser(built.app, built.erasures, built.clock)
        erased = []
        for item in progress.iterate(found, "erasing", unit="seeker", quiet=args.quiet):
            outcome = eraser.erase(
                item.seeker_id, reason=reason, authority="retention", actor=_actor()
            )
            erased.append(outcome.entry.seeker_id)
        summary["erased"] = erased
        print(json.dumps(summary, indent=2))
    return 0
