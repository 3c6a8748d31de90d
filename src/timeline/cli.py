"""The ``timeline`` command: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import IO, Any, TextIO

from pydantic import ValidationError
from tqdm import tqdm

from projections.obligations import Unevaluable
from timeline import cli_input, stats_cli, status_cli
from timeline.application import TimelineApp
from timeline.bootstrap import Services, bootstrap
from timeline.cli_input import LineError, UsageError, read_jsonl, user_error
from timeline.clock import Clock, FixedClock
from timeline.domain.errors import Conflict, InvalidEvent, NotFound
from timeline.domain.zone import HELSINKI
from timeline.vocabulary import EventValidationError, ParsedEvent, parse_event

EXIT_INVALID = 2
IMPORT_BATCH = 500
IMPORT_CHUNK = 5000  # events per transaction of `timeline import`


def _app(args: argparse.Namespace, clock: Clock | None = None) -> TimelineApp:
    return TimelineApp(settings=cli_input.settings(args), clock=clock)


def _aware(value: str) -> datetime:
    from timeline.vocabulary import parse_instant  # the API's parser: the same words

    try:
        return parse_instant(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- import -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _input(path: str) -> Iterator[IO[bytes]]:
    """The bytes of a file the user named, or of standard input for ``-`` (not closed)."""
    if path == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as source:  # a missing or unreadable file: OSError naming it
        yield source


def parse_jsonl(
    source: IO[bytes], *, allow_test_codes: bool
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
    events = list(read_jsonl(source, parse, problems=problems))
    return events, problems


def cmd_import(args: argparse.Namespace) -> int:
    # Decide every event once (the validation pass), then write those very decisions in large
    # chunks: no second load or decision per seeker. The decisions hold every timeline of the
    # file in memory until written (as the dry run always did).
    from eventsourcing.persistence import IntegrityError

    app = _app(args)
    with _input(args.file) as source:
        events, problems = parse_jsonl(source, allow_test_codes=app.settings.test_codes_allowed)
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
    with tqdm(
        total=len(events), unit="event", file=sys.stderr, disable=args.quiet, desc="importing"
    ) as bar:
        bar.update(len(events) - len(planned))  # duplicates: nothing to write
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
    app = _app(args)
    entries = app.history(args.seeker_id, as_of=args.as_of)
    _log_cli_read(
        app,
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


# -- verify -------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from timeline.audit.checks import verify_store

    kept = _kept_digests(args.digests) if args.digests else None
    services = bootstrap(cli_input.settings(args))

    def progress(it: Iterable[str]) -> Iterable[str]:
        return tqdm(it, unit="seeker", file=sys.stderr, disable=args.quiet, desc="verifying")

    report = verify_store(
        services, seeker=args.seeker, since=args.since, kept_digests=kept, progress=progress
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
    from dataclasses import asdict

    from pydantic import TypeAdapter

    from timeline.audit.digests import Digest

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
    with _input(path) as source:
        kept = [d for _, d in read_jsonl(source, parse, problems=problems)]
    if problems:
        shown = "".join(f"\n  {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise UsageError(
            f"{path} is not a digest export (`timeline digest --export`):{shown}{more}"
        )
    return kept


# -- audit exports --------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from timeline.audit.export import export_seeker

    services = bootstrap(cli_input.settings(args))
    out = Path(args.out or f"export-{args.seeker_id}")
    exported = export_seeker(services, args.seeker_id, out, as_of=args.as_of)
    _log_cli_read(
        services.app,
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
    from timeline.audit.digests import export_lines

    services = bootstrap(cli_input.settings(args))
    if args.export:
        text = export_lines(services.digests.kept())
        if args.export == "-":
            sys.stdout.write(text)
        else:
            with open(args.export, "w", encoding="utf-8") as f:
                f.write(text)
        return 0
    today = services.clock().astimezone(HELSINKI).date()
    day = args.day or today - timedelta(days=1)
    if day >= today:
        msg = f"--day {day}: not over yet (today is {today}); only finished days are sealed"
        raise UsageError(msg)
    digest = services.digests.seal(day)
    print(json.dumps(digest.to_dict()))
    return 0


# -- obligations, rebuild, worker ---------------------------------------------------------------


def _date(value: str) -> date:
    return cli_input.day(value)


def _view(app: TimelineApp) -> Any:
    from projections.obligations import ObligationsView

    view = ObligationsView(app)
    view.catch_up()
    return view


def cmd_obligations(args: argparse.Namespace) -> int:
    app = _app(args)
    view = _view(app)
    on = args.on or app.clock().astimezone(HELSINKI).date()
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
        _log_cli_read(
            app,
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


def cmd_rebuild(args: argparse.Namespace) -> int:
    from projections.obligations import ObligationsView
    from projections.outcomes import OutcomesView

    app = _app(args)
    view = (ObligationsView if args.projection == "obligations" else OutcomesView)(app)
    total = app.recorder.max_notification_id() or 0
    with tqdm(
        total=total,
        unit="event",
        file=sys.stderr,
        disable=args.quiet,
        desc=f"rebuilding {args.projection}",
    ) as bar:
        n = view.rebuild(progress=bar.update, online=not args.offline)
    print(
        json.dumps(
            {
                "projection": args.projection,
                "events": n,
                "position": view.runner.position(),
                "quarantined": view.quarantine_counts()[0],
            }
        )
    )
    return 0


def cmd_quarantine(args: argparse.Namespace) -> int:
    from projections.obligations import ObligationsView
    from projections.outcomes import OutcomesView
    from timeline.store.side import SideDatabase

    app = _app(args)
    db = SideDatabase(app.settings)
    views = {"obligations": ObligationsView(app, db), "outcomes": OutcomesView(app, db)}
    for name in [args.projection] if args.projection else list(views):
        view = views[name]
        entries = view.quarantine(args.limit)
        if args.json:
            for e in entries:
                print(json.dumps(e.to_dict(), ensure_ascii=False))
            continue
        count, seekers = view.quarantine_counts()
        print(
            f"{name}: {count} quarantined, {seekers} seeker(s) stale; position "
            f"{view.position()} of {app.recorder.max_notification_id() or 0}"
        )
        for e in entries:
            print(
                f"  {e.position or '-':>9}  {e.seeker_id}  {e.stage:<8}  "
                f"{e.event_id or '-':<36}  {e.recorded_at or '-':<25}  {e.error}"
            )
    db.close()
    return 0


def _start_jobs(services: Services, *, separate_process: bool = False) -> Any:
    """The scheduled jobs beside ``services``, on connection pools of their own (and with
    ``separate_process``, in a child process); the returned runtime's ``shutdown()`` stops
    them."""
    from timeline.jobs import start_jobs

    return start_jobs(services, separate_process=separate_process)


def cmd_worker(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    services = bootstrap(cli_input.settings(args))
    scheduler = _start_jobs(services)
    status_cli.serve_worker_metrics(args, scheduler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(
        "timeline worker: catch-up every second, statistics every minute, day change at "
        "00:05, month close on the 1st, audit at 02:00 (Europe/Helsinki); Ctrl-C to stop",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    scheduler.shutdown()
    return 0


# -- tokens -------------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> int:
    from timeline.auth import new_token, token_hash

    token = new_token()
    scope: object = "*" if args.scope == "*" else [c.strip() for c in args.scope.split(",")]
    entry = {"name": args.name, "sha256": token_hash(token), "role": args.role, "scope": scope}
    print(f"token (shown once; give it to {args.name}): {token}", file=sys.stderr)
    print(json.dumps(entry))
    return 0


def _log_cli_read(
    app: TimelineApp, seeker_id: str, action: str, purpose: str | None, detail: dict[str, Any]
) -> None:
    """A personal read from the command line is logged like any other."""
    import getpass

    from timeline.audit.access_log import AccessLog
    from timeline.store.side import SideDatabase

    db = SideDatabase(app.settings)
    try:
        AccessLog(db, app.clock).record(
            actor=f"cli:{getpass.getuser()}",
            role="operator",
            action=action,
            seeker_id=seeker_id,
            purpose=purpose or "unstated (command line)",
            detail=detail,
        )
    finally:
        db.close()


# -- demo ---------------------------------------------------------------------------------------


DEMO_WINDOW = timedelta(minutes=60)


def load_demo(
    app: TimelineApp, clock: FixedClock, events: Iterable[Any], *, quiet: bool = False
) -> int:
    """Append demo events as backends would have sent them, recorded late where the demo says
    so. Events sent within an hour of each other form one request (at most IMPORT_BATCH
    events), recorded at its last time: each request is decided with the injected clock moved
    there, as an append at that moment would be, and then every decided event is written in
    chunks of IMPORT_CHUNK, as ``timeline import`` does (one transaction per chunk, not per
    request)."""
    requests: list[tuple[datetime, list[ParsedEvent]]] = []
    batch: list[ParsedEvent] = []
    batch_at = first_at = datetime.min.replace(tzinfo=UTC)
    for demo in events:
        if batch and (demo.recorded_at - first_at > DEMO_WINDOW or len(batch) >= IMPORT_BATCH):
            requests.append((batch_at, batch))
            batch = []
        if not batch:
            first_at = demo.recorded_at
        batch_at = demo.recorded_at
        batch.append(parse_event(demo.envelope, allow_test_identity_codes=True))
    if batch:
        requests.append((batch_at, batch))
    if not requests:
        return 0
    everything = [e for _, request in requests for e in request]
    clock.set(requests[0][0])
    decisions = app.appender.decisions(clock(), [e.event_id for e in everything])
    decisions.load(list(dict.fromkeys(e.seeker_id for e in everything)))
    for at, request in requests:
        clock.set(at)
        decisions.now = at
        decisions.decide(app.appender.prepare(request, at))
    planned = decisions.planned
    with tqdm(
        total=len(everything), unit="event", file=sys.stderr, disable=quiet, desc="loading demo"
    ) as bar:
        bar.update(len(everything) - len(planned))  # already stored: nothing to write
        for start in range(0, len(planned), IMPORT_CHUNK):
            chunk = planned[start : start + IMPORT_CHUNK]
            decisions.save(chunk)
            bar.update(len(chunk))
    return len(everything)


def cmd_demo(args: argparse.Namespace) -> int:
    import secrets

    from timeline.demo import generate, write_jsonl

    seed = args.seed
    if seed is None:  # a fresh dataset, not the one `serve --demo-if-empty` loaded (seed 1)
        seed = 2 + secrets.randbelow(2**31)
        print(f"demo seed {seed} (--seed {seed} makes the same data again)", file=sys.stderr)
    events = generate(seekers=args.seekers, seed=seed)
    if args.out:
        out: TextIO = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        with out:
            n = write_jsonl(events, out)
        print(json.dumps({"written": n, "file": args.out, "seed": seed}), file=sys.stderr)
        return 0
    clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
    app = _app(args, clock)
    n = load_demo(app, clock, events, quiet=args.quiet)
    print(json.dumps({"appended": n, "seekers": args.seekers, "seed": seed}))
    return 0


# -- serve --------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import gc
    import signal

    import uvicorn

    from timeline.api import create_app
    from timeline.demo import generate
    from timeline.group_commit import GroupCommitter

    settings = cli_input.settings(args)
    loaded = False
    if args.demo_if_empty:
        clock = FixedClock(datetime(2022, 1, 1, tzinfo=UTC))
        loader = TimelineApp(settings=settings, clock=clock)
        if not loader.recorder.max_notification_id():
            print(
                f"store is empty: loading demo data ({args.demo_if_empty} seekers)", file=sys.stderr
            )
            load_demo(loader, clock, generate(seekers=args.demo_if_empty, seed=1))
            loaded = True
        loader.close()
    services = bootstrap(settings)
    if loaded:  # so the first page a newcomer opens already shows worklists and statistics
        print("projecting the demo: obligations and statistics", file=sys.stderr)
        services.obligations.catch_up()
        services.outcomes.catch_up()
    if services.tokens.open_development:
        print(
            "no tokens configured (TIMELINE_TOKENS/TIMELINE_TOKENS_FILE): development mode, "
            "every request acts as an admin",
            file=sys.stderr,
        )
    # The jobs run in a process of their own: a catch-up's CPU never slows a request down.
    scheduler = _start_jobs(services, separate_process=True)
    committer = GroupCommitter(services.app)  # concurrent requests share one transaction
    api = create_app(services, append=committer)
    gc.freeze()  # what start-up made is never collected: full collections stay short
    print(
        f"timeline on http://{args.host}:{args.port}  (API docs: /docs; store: "
        f"{settings.database_url})",
        file=sys.stderr,
    )
    # uvicorn stops gracefully on SIGTERM, then raises the signal again with the handler that
    # was there before it: make that an orderly exit, so the jobs and pools below are closed.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(api, host=args.host, port=args.port, log_level="info")
    finally:
        committer.close()
        scheduler.shutdown()
        services.close()
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


# -- parser -------------------------------------------------------------------------------------


AddCommand = Callable[..., argparse.ArgumentParser]


def _operations_commands(add: AddCommand) -> None:
    """verify, rebuild, worker, token: the operators' commands."""
    p = add(
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
        type=_date,
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

    p = add(
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
    p.add_argument("--as-of", type=_aware, metavar="T", help="as known at T")
    p.add_argument("--out", metavar="DIR", help="default: export-SEEKER_ID")
    p.add_argument("--purpose", help="why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_export)

    p = add(
        "digest",
        "seal a finished day's digest, or export the kept digests",
        "A day's digest is a Merkle root over the positions and chain hashes of the events "
        "recorded that day (Europe/Helsinki) and the access log's last entry by the end of "
        "the day, signed with TIMELINE_DIGEST_KEY. Without options, seal yesterday's. Keep "
        "the export outside the system; `timeline verify --digests FILE` later proves both "
        "logs unchanged up to those days.",
    )
    p.add_argument("--day", type=_date, metavar="DATE", help="seal this day instead")
    p.add_argument("--export", metavar="FILE", help="write every kept digest as JSON Lines")
    p.set_defaults(func=cmd_digest)

    p = add(
        "rebuild",
        "rebuild a projection from zero, from the whole log",
        "Rebuild the obligations or the statistics (outcomes) tables from the whole event log. "
        "Online by default: the new tables are built in a shadow (a schema or a file beside "
        "the database) while the service keeps reading the old ones, then swapped in one "
        "transaction. --offline drops and refills the tables in place (needed after an "
        "upgrade that changed their columns; readers see a partial view meanwhile).",
    )
    p.add_argument("projection", choices=["obligations", "outcomes"])
    p.add_argument("--offline", action="store_true", help="rebuild in place (see above)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_rebuild)
    _quarantine_command(add)

    p = add(
        "worker",
        "run the scheduled jobs without the HTTP service",
        "Obligations catch-up every second, statistics catch-up every minute, day change "
        "(00:05 Europe/Helsinki), month close (the 1st), nightly audit (02:00); one "
        "instance of each job across processes. For deployments that run the API and the "
        "jobs separately; `timeline serve` runs them too.",
    )
    status_cli.add_metrics_port(p)
    p.set_defaults(func=cmd_worker)

    p = add(
        "token",
        "make a bearer token for the API and print its configuration entry",
        "Print a new random token once (stderr) and the JSON entry to add to "
        "TIMELINE_TOKENS_FILE (stdout); only the token's SHA-256 is ever stored.",
    )
    p.add_argument(
        "--name",
        type=_non_empty,
        required=True,
        help="who or what holds it, e.g. lahti-case-system",
    )
    p.add_argument(
        "--role", required=True, choices=["writer", "caseworker", "auditor", "reporter", "admin"]
    )
    p.add_argument(
        "--scope",
        type=cli_input.municipality_scope,
        default="*",
        help="municipality codes, comma-separated (e.g. 398,016), or * for all",
    )
    p.set_defaults(func=cmd_token)


def _quarantine_command(add: AddCommand) -> None:
    p = add(
        "quarantine",
        "list the events the projections could not apply (quarantined)",
        "A projection never halts on one event: an event it cannot read, or a seeker whose "
        "evaluation or rows fail, is recorded in its quarantine and the seeker's rows are "
        "marked stale, while the rest of the log is applied. This lists, per projection, "
        "each entry: log position, seeker, stage (decode, apply, evaluate, write), event id, "
        "the event's recorded time and the error. Fix the cause (retract or correct the "
        "event, or upgrade the code), then `timeline rebuild PROJECTION`: entries that now "
        "apply disappear, those that still fail are recorded again.",
    )
    p.add_argument("--projection", choices=["obligations", "outcomes"], help="only this one")
    p.add_argument("--json", action="store_true", help="JSON Lines, one entry a line")
    p.add_argument(
        "--limit",
        type=cli_input.positive_int,
        default=1000,
        metavar="N",
        help="at most N per projection",
    )
    p.set_defaults(func=cmd_quarantine)


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
            type=cli_input.database_url,
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
    p.add_argument("seeker_id", type=cli_input.seeker_id, metavar="SEEKER_ID")
    p.add_argument(
        "--as-of",
        type=_aware,
        metavar="T",
        help="show the history as it was known at T (ISO 8601 with offset)",
    )
    p.add_argument("--json", action="store_true", help="JSON Lines, one event a line")
    p.add_argument("--purpose", help="why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_history)

    p = add(
        "obligations",
        "a seeker's obligations, or every seeker's open/overdue (worklist)",
        "With SEEKER_ID: that seeker's obligations as on --on (default today), each with "
        "its rule, due date, status and the events it rests on. Without: the worklist "
        "export, one obligation per line as JSON (open and overdue by default).",
    )
    p.add_argument("seeker_id", type=cli_input.seeker_id, metavar="SEEKER_ID", nargs="?")
    p.add_argument("--on", type=_date, metavar="DATE", help="the day (default: today)")
    p.add_argument("--as-of", type=_aware, metavar="T", help="only events recorded by T")
    p.add_argument("--status", choices=["open", "met", "met_late", "overdue", "not_required"])
    p.add_argument("--municipality", type=_municipality, metavar="CODE")
    p.add_argument("--coach", metavar="ID")
    p.add_argument("--limit", type=cli_input.positive_int, default=100_000)
    p.add_argument("--json", action="store_true", help="JSON Lines")
    p.add_argument("--purpose", help="why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_obligations)

    _operations_commands(add)
    stats_cli.register(sub, add)
    status_cli.register(sub, add)

    p = add(
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
    return parser


def _non_empty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def _municipality(value: str) -> str:
    code = cli_input.municipality_scope(value)
    if code == "*" or "," in code:
        raise argparse.ArgumentTypeError(f"{value!r} is not one three-digit municipality code")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. Bad arguments are refused by the parser (exit 2); an error the user can
    fix (see :func:`timeline.cli_input.user_error`) is printed as ``timeline COMMAND: reason``
    with exit 2; anything else is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # the reader went away (`timeline history X | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush does not fail again
        return 1
    except Exception as exc:
        reason = user_error(exc)
        if reason is None:
            raise
        print(f"timeline {args.command}: {reason}", file=sys.stderr)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
