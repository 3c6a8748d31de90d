"""``timeline serve``, ``timeline token`` and ``timeline demo``: running the service, giving
out access, and a dataset to try it on."""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from timeline.auth import ROLES, new_token, token_hash
from timeline.cli import input as cli_input
from timeline.cli import progress
from timeline.cli.input import add_command
from timeline.cli.wiring import services
from timeline.clock import FixedClock

#: the served demo's seed (`serve --demo-if-empty`); `timeline demo` picks others by default
SERVED_DEMO_SEED = 1
#: where a demo load starts its clock: before the demo's first event
DEMO_EPOCH = datetime(2022, 1, 1, tzinfo=UTC)


def register(subparsers: Any) -> None:
    p = add_command(subparsers, "serve", "run the HTTP service (OpenAPI docs at /docs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--demo-if-empty",
        type=int,
        metavar="N",
        default=0,
        help="if the store is empty, first load a demo dataset of N seekers",
    )
    p.set_defaults(func=cmd_serve)

    p = add_command(
        subparsers,
        "token",
        "make a bearer token for the API and print its tokens-file entry",
        "Print a new random token once (stderr) and, on stdout, a tokens file holding its "
        "entry: a JSON list, the shape TIMELINE_TOKENS_FILE and TIMELINE_TOKENS take, "
        "ready to save as the file or to merge into it (docs/cli.md). Only the token's "
        'SHA-256 is ever stored. The scope is written as the file has it: ["398", "016"], '
        'or ["*"] for every municipality.',
    )
    p.add_argument(
        "--name",
        type=cli_input.non_empty,
        required=True,
        help="who or what holds it, e.g. lahti-case-system",
    )
    p.add_argument("--role", required=True, choices=list(ROLES))
    p.add_argument(
        "--scope",
        type=cli_input.municipality_scope,
        default="*",
        help="municipality codes, comma-separated (e.g. 398,016), or * for all (the default)",
    )
    p.set_defaults(func=cmd_token)

    p = add_command(
        subparsers,
        "demo",
        "write a realistic synthetic dataset (deterministic for a seed)",
        "Generate job seekers in the Lahti region and elsewhere, 2022–2026: registrations, "
        "interviews on time and late, conversations, applications, referrals, services, "
        "ends, backdated entries and corrections. Appends to the store, or with --out writes "
        "JSON Lines for `timeline import`. Each run makes a fresh dataset and prints its seed "
        "on stderr; --seed S makes that dataset again (the served demo is seed 1, so a fresh "
        "file imports into it as new seekers, not as duplicates).",
    )
    p.add_argument("--seekers", type=cli_input.positive_int, default=200, metavar="N")
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="the same seed gives the same data (default: a fresh random seed, printed on "
        "stderr; `serve --demo-if-empty` uses 1)",
    )
    p.add_argument("--out", metavar="FILE", help="write JSON Lines here (- for stdout) instead")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)


# -- token --------------------------------------------------------------------------------------


def token_entry(name: str, role: str, scope: str, token: str) -> dict[str, Any]:
    """The tokens-file entry of ``token``: ``scope`` as ``municipality_scope`` returns it
    (``*`` or ``398,016``) becomes the file's list (``["*"]`` or ``["398", "016"]``)."""
    return {
        "name": name,
        "sha256": token_hash(token),
        "role": role,
        "scope": scope.split(","),
    }


def cmd_token(args: argparse.Namespace) -> int:
    token = new_token()
    entry = token_entry(args.name, args.role, args.scope, token)
    print(f"token (shown once; give it to {args.name}): {token}", file=sys.stderr)
    print(json.dumps([entry], indent=2))
    return 0


# -- demo ---------------------------------------------------------------------------------------


def _loading_bar(quiet: bool) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress callback for :func:`timeline.demo.load_demo` and the function that ends it."""
    shown: list[Any] = []

    def update(written: int, to_write: int) -> None:
        if not shown:
            shown.append(progress.bar("loading demo", total=to_write, unit="event", quiet=quiet))
        shown[0].update(written - shown[0].n)

    def close() -> None:
        for bar in shown:
            bar.close()

    return update, close


def cmd_demo(args: argparse.Namespace) -> int:
    from timeline.demo import generate, load_demo, write_jsonl  # noqa: PLC0415 (only here)

    seed = args.seed
    if seed is None:  # a fresh dataset, not the one `serve --demo-if-empty` loaded (seed 1)
        seed = SERVED_DEMO_SEED + 1 + secrets.randbelow(2**31)
        print(f"demo seed {seed} (--seed {seed} makes the same data again)", file=sys.stderr)
    events = generate(seekers=args.seekers, seed=seed)
    if args.out:
        out: TextIO = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        with out:
            n = write_jsonl(events, out)
        print(json.dumps({"written": n, "file": args.out, "seed": seed}), file=sys.stderr)
        return 0
    clock = FixedClock(DEMO_EPOCH)
    update, close = _loading_bar(args.quiet)
    with services(args, clock) as built:
        try:
            n = load_demo(built.app, clock, events, progress=update)
        finally:
            close()
    print(json.dumps({"appended": n, "seekers": args.seekers, "seed": seed}))
    return 0


# -- serve --------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    # the HTTP stack and the demo, only for the command that serves
    import uvicorn  # noqa: PLC0415

    from timeline.api import create_app  # noqa: PLC0415
    from timeline.bootstrap import group_committer, start_jobs  # noqa: PLC0415
    from timeline.demo import generate, load_demo  # noqa: PLC0415

    with services(args) as built:
        if args.demo_if_empty and not built.app.recorder.max_notification_id():
            print(
                f"store is empty: loading demo data ({args.demo_if_empty} seekers)",
                file=sys.stderr,
            )
            # Each request of the demo is decided at its own recorded time, not the clock's.
            update, close = _loading_bar(quiet=False)
            try:
                load_demo(
                    built.app,
                    None,
                    generate(seekers=args.demo_if_empty, seed=SERVED_DEMO_SEED),
                    progress=update,
                )
            finally:
                close()
            # so the first page a newcomer opens already shows worklists and statistics
            print("projecting the demo: obligations and statistics", file=sys.stderr)
            built.obligations.catch_up()
            built.outcomes.catch_up()
        if built.tokens.open_development:
            print(
                "no tokens configured (TIMELINE_TOKENS/TIMELINE_TOKENS_FILE): development mode, "
                "every request acts as an admin",
                file=sys.stderr,
            )
        # The jobs run in a process of their own: a catch-up's CPU never slows a request down.
        scheduler = start_jobs(built, separate_process=True)
        committer = group_committer(built)  # concurrent requests share one transaction
        try:
            api = create_app(built, append=committer)
            gc.freeze()  # what start-up made is never collected: full collections stay short
            print(
                f"timeline on http://{args.host}:{args.port}  (web view: /ui; API docs: "
                f"/docs; store: {cli_input.redacted(built.settings.database_url)})",
                file=sys.stderr,
            )
            # uvicorn stops gracefully on SIGTERM, then raises the signal again with the
            # handler that was there before it: make that an orderly exit, so the jobs and
            # pools are closed.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            uvicorn.run(api, host=args.host, port=args.port, log_level="info")
        finally:
            committer.close()
            scheduler.shutdown()
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)
