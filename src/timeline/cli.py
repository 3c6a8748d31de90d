"""The ``timeline`` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any, TextIO

from tqdm import tqdm

from timeline.application import TimelineApp
from timeline.clock import Clock, FixedClock
from timeline.domain.errors import Conflict, InvalidEvent, TimelineError
from timeline.settings import Settings
from timeline.vocabulary import EventValidationError, ParsedEvent, parse_event

EXIT_INVALID = 2
IMPORT_BATCH = 500


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    return Settings(**overrides)


def _app(args: argparse.Namespace, clock: Clock | None = None) -> TimelineApp:
    return TimelineApp(settings=_settings(args), clock=clock)


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        msg = f"{value!r} has no UTC offset; write e.g. 2025-06-01T12:00:00+03:00"
        raise argparse.ArgumentTypeError(msg)
    return moment


# -- import -------------------------------------------------------------------------------------


def _read_lines(source: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(source, start=1):
        if line.strip():
            yield number, line


def parse_jsonl(
    lines: Iterable[tuple[int, str]], *, allow_test_codes: bool
) -> tuple[list[tuple[int, ParsedEvent]], list[str]]:
    """Parse every line; collect every problem as ``line N: field: reason``."""
    events: list[tuple[int, ParsedEvent]] = []
    problems: list[str] = []
    for number, line in lines:
        try:
            raw = json.loads(line)
        except ValueError as exc:
            problems.append(f"line {number}: (line): not valid JSON: {exc}")
            continue
        try:
            events.append((number, parse_event(raw, allow_test_identity_codes=allow_test_codes)))
        except EventValidationError as exc:
            problems.extend(f"line {number}: {e.loc}: {e.msg}" for e in exc.errors)
    return events, problems


def cmd_import(args: argparse.Namespace) -> int:
    app = _app(args)
    source: IO[str] = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    with source:
        events, problems = parse_jsonl(
            _read_lines(source), allow_test_codes=app.settings.test_codes_allowed
        )
    if not problems:
        for i, exc in app.dry_run([e for _, e in events]):
            number = events[i][0]
            errors = exc.errors if isinstance(exc, InvalidEvent) else []
            if errors:
                problems.extend(f"line {number}: {e.loc}: {e.msg}" for e in errors)
            else:
                problems.append(f"line {number}: {_conflict_loc(exc)}: {exc}")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"refused: {len(problems)} problem(s); nothing was written", file=sys.stderr)
        return EXIT_INVALID
    accepted = duplicates = 0
    with tqdm(
        total=len(events), unit="event", file=sys.stderr, disable=args.quiet, desc="importing"
    ) as bar:
        for start in range(0, len(events), IMPORT_BATCH):
            batch = [e for _, e in events[start : start + IMPORT_BATCH]]
            for result in app.append(batch):
                duplicates += result.duplicate
                accepted += not result.duplicate
            bar.update(len(batch))
    print(json.dumps({"accepted": accepted, "duplicates": duplicates}))
    return 0


def _conflict_loc(exc: Exception) -> str:
    if isinstance(exc, Conflict):
        return "expected_version" if exc.current_version is not None else "event_id"
    return "(event)"


# -- history ------------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    app = _app(args)
    entries = app.history(args.seeker_id, as_of=args.as_of)
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_dict(), ensure_ascii=False))
        return 0
    header = f"{'ver':>4}  {'occurred':<16}  {'recorded':<16}  {'late':>5}  {'type':<28}  status"
    print(
        f"seeker {args.seeker_id}"
        + (f", as known at {args.as_of.isoformat()}" if args.as_of else "")
    )
    print(header)
    print("-" * len(header))
    for entry in entries:
        d = entry.to_dict()
        occurred = (d["occurred_at"] or d["occurred_on"])[:16].replace("T", " ")
        recorded = entry.index.recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        status = d["status"]
        if entry.superseded_by:
            status += f" by {entry.superseded_by[-1][:8]}"
        if entry.voided_by:
            status += f" by {entry.voided_by[:8]}"
        print(
            f"{d['version']:>4}  {occurred:<16}  {recorded:<16}  {d['recorded_late_days']:>4}d"
            f"  {d['type']:<28}  {status}"
        )
    return 0


# -- verify -------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from timeline.verify import all_seekers, verify_seeker

    app = _app(args)
    seekers: Iterable[str] = [args.seeker] if args.seeker else all_seekers(app)
    checked = broken = 0
    for seeker_id in tqdm(
        seekers, unit="seeker", file=sys.stderr, disable=args.quiet, desc="verifying"
    ):
        checked += 1
        found = verify_seeker(app, seeker_id)
        if found is not None:
            broken += 1
            print(f"BROKEN {found}", file=sys.stderr)
    print(json.dumps({"seekers_checked": checked, "broken": broken}))
    return 1 if broken else 0


# -- demo ---------------------------------------------------------------------------------------


def load_demo(
    app: TimelineApp, clock: FixedClock, events: Iterable[Any], *, quiet: bool = False
) -> int:
    """Append demo events as a backend would have sent them: the injected clock is moved to
    each event's simulated recording time, so backdated entries are recorded late."""
    count = 0
    batch: list[ParsedEvent] = []
    batch_at: datetime | None = None
    with tqdm(unit="event", file=sys.stderr, disable=quiet, desc="loading demo") as bar:
        for demo in events:
            if batch and (batch_at != demo.recorded_at or len(batch) >= IMPORT_BATCH):
                clock.set(batch_at)  # type: ignore[arg-type]
                app.append(batch)
                bar.update(len(batch))
                count += len(batch)
                batch = []
            batch_at = demo.recorded_at
            batch.append(parse_event(demo.envelope, allow_test_identity_codes=True))
        if batch:
            clock.set(batch_at)  # type: ignore[arg-type]
            app.append(batch)
            bar.update(len(batch))
            count += len(batch)
    return count


def cmd_demo(args: argparse.Namespace) -> int:
    from timeline.demo import generate, write_jsonl

    events = generate(seekers=args.seekers, seed=args.seed)
    if args.out:
        out: TextIO = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        with out:
            n = write_jsonl(events, out)
        print(json.dumps({"written": n, "file": args.out}), file=sys.stderr)
        return 0
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = _app(args, clock)
    n = load_demo(app, clock, events, quiet=args.quiet)
    print(json.dumps({"appended": n, "seekers": args.seekers, "seed": args.seed}))
    return 0


# -- serve --------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from timeline.api import create_app
    from timeline.demo import generate

    settings = _settings(args)
    if args.demo_if_empty:
        clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
        loader = TimelineApp(settings=settings, clock=clock)
        if not loader.recorder.max_notification_id():
            print(
                f"store is empty: loading demo data ({args.demo_if_empty} seekers)", file=sys.stderr
            )
            load_demo(loader, clock, generate(seekers=args.demo_if_empty, seed=1))
        loader.close()
    api = create_app(TimelineApp(settings=settings))
    print(
        f"timeline on http://{args.host}:{args.port}  (API docs: /docs; store: "
        f"{settings.database_url})",
        file=sys.stderr,
    )
    uvicorn.run(api, host=args.host, port=args.port, log_level="info")
    return 0


# -- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timeline",
        description="Event-sourced timelines of job seekers' employment services. Every command "
        "takes --db URL (or TIMELINE_DATABASE_URL): sqlite:///./timeline.db (default), "
        "postgresql://user@host:5432/db, or memory:.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_: str, description: str | None = None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=description or help_)
        p.add_argument(
            "--db",
            metavar="URL",
            help="database URL (default: $TIMELINE_DATABASE_URL or sqlite:///./timeline.db)",
        )
        return p

    p = add("serve", "run the HTTP service (OpenAPI docs at /docs)")
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

    p = add(
        "import",
        "append events from a JSON Lines file (one envelope per line)",
        "Validate every line first: if any line is invalid, list every bad line with its "
        "line number, field path and reason on stderr, write nothing and exit 2. Otherwise "
        "append in batches (a progress bar on stderr) and print "
        '{"accepted": n, "duplicates": n}. Importing the same file again is safe: every '
        "event is then reported as a duplicate.",
    )
    p.add_argument("file", metavar="FILE", help="JSON Lines file, or - for standard input")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = add("history", "print a seeker's history with both times (occurred and recorded)")
    p.add_argument("seeker_id", metavar="SEEKER_ID")
    p.add_argument(
        "--as-of",
        type=_aware,
        metavar="T",
        help="show the history as it was known at T (ISO 8601 with offset)",
    )
    p.add_argument("--json", action="store_true", help="JSON Lines, one event a line")
    p.set_defaults(func=cmd_history)

    p = add(
        "demo",
        "write a realistic synthetic dataset (deterministic for a seed)",
        "Generate job seekers in the Lahti region and elsewhere, 2022–2026: registrations, "
        "interviews on time and late, conversations, applications, referrals, services, "
        "ends, backdated entries and corrections. Appends to the store, or with --out writes "
        "JSON Lines for `timeline import`.",
    )
    p.add_argument("--seekers", type=int, default=200, metavar="N")
    p.add_argument("--seed", type=int, default=1, metavar="S")
    p.add_argument("--out", metavar="FILE", help="write JSON Lines here (- for stdout) instead")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except TimelineError as exc:
        print(f"timeline {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
