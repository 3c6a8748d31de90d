"""``timeline obligations``: a seeker's obligations on a day, or the worklist export."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from projections.obligations import Unevaluable
from timeline.cli import input as cli_input
from timeline.cli.input import add_command
from timeline.cli.wiring import log_read, services
from timeline.domain.errors import NotFound
from timeline.domain.zone import HELSINKI


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "obligations",
        "a seeker's obligations, or every seeker's open/overdue (worklist)",
        "With SEEKER_ID: that seeker's obligations as on --on (default today), each with "
        "its rule, due date, status and the events it rests on. Without: the worklist "
        "export, one obligation per line as JSON (open and overdue by default).",
    )
    p.add_argument("seeker_id", type=cli_input.seeker_id, metavar="SEEKER_ID", nargs="?")
    p.add_argument("--on", type=cli_input.day, metavar="DATE", help="the day (default: today)")
    p.add_argument("--as-of", type=cli_input.aware, metavar="T", help="only events recorded by T")
    p.add_argument("--status", choices=["open", "met", "met_late", "overdue", "not_required"])
    p.add_argument("--municipality", type=cli_input.municipality, metavar="CODE")
    p.add_argument("--coach", metavar="ID")
    p.add_argument("--limit", type=cli_input.positive_int, default=100_000)
    p.add_argument("--json", action="store_true", help="JSON Lines")
    p.add_argument("--purpose", help="why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_obligations)


def cmd_obligations(args: argparse.Namespace) -> int:
    with services(args) as built:
        view = built.obligations
        view.catch_up()
        on = args.on or built.clock().astimezone(HELSINKI).date()
        stale = None
        if args.seeker_id:
            view.check_day(on)
            if not view.has_seeker(args.seeker_id):  # as over HTTP (404)
                msg = f"no obligations for seeker {args.seeker_id} (unknown seeker)"
                raise NotFound(msg)
            stale = view.stale(args.seeker_id)
            try:
                items = view.for_seeker(args.seeker_id, on, as_of=args.as_of)
            except Unevaluable as exc:
                print(f"timeline obligations: {exc}", file=sys.stderr)
                return 1
            log_read(
                built,
                args.seeker_id,
                "obligations",
                args.purpose,
                {"on": on.isoformat(), "as_of": args.as_of.isoformat() if args.as_of else None},
            )
            if args.status:
                items = [i for i in items if i["status"] == args.status]
        else:
            items = view.worklist(
                on,
                status=args.status,
                municipality=args.municipality,
                coach=args.coach,
                limit=args.limit,
            )
    if stale:  # the seeker is quarantined: these are the rows of their last clean evaluation
        print(f"STALE (see `timeline quarantine`): {stale}", file=sys.stderr)
    if args.json or not args.seeker_id:
        for item in items:
            print(json.dumps(item, ensure_ascii=False))
        return 0
    print(
        f"seeker {args.seeker_id}: obligations as on {on.isoformat()}"
        + (f", as known at {args.as_of.isoformat()}" if args.as_of else "")
        + (f"\nSTALE: {stale}" if stale else "")
    )
    header = f"{'kind':<27}  {'due':<10}  {'status':<12}  {'met':<10}  {'late':>4}  rule"
    print(header)
    print("-" * len(header))
    for i in items:
        late = "" if i["days_late"] is None else str(i["days_late"])
        extra = f"  ({i['counted']}/{i['required']})" if i["required"] is not None else ""
        print(
            f"{i['kind']:<27}  {i['due_on'] or '':<10}  {i['status']:<12}  "
            f"{i['met_on'] or '':<10}  {late:>4}  {i['rule']}{extra}"
        )
    return 0
