"""``timeline status``: the operations picture of ``/metrics`` for a terminal (or, ``--json``,
for a script): the log's position, each projection's position, lag in events and seconds,
quarantine and rebuild progress, the last sealed digest day, the last nightly verification,
and the pool settings. Read from the store (:mod:`timeline.status`), so it says the same as the
server's and the worker's ``/metrics``.

Also the worker's ``--metrics-port`` (:func:`add_metrics_port`, :func:`serve_worker_metrics`):
``timeline worker`` has no HTTP service, so it serves its metrics on a port of its own."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from timeline.bootstrap import Services
from timeline.cli import input as cli_input
from timeline.cli.input import add_command
from timeline.cli.wiring import services
from timeline.domain.zone import HELSINKI
from timeline.status import Picture, pool_settings


def register(subparsers: Any) -> None:
    """Add the ``status`` subcommand."""
    p = add_command(
        subparsers,
        "status",
        "the operations picture: positions, projection lag, quarantine, digests, pools",
        "Print what /metrics shows, read from the store: the log's position and when its last "
        "event was recorded; for each projection its position, how far behind the log it is "
        "(in events, and in seconds: the recorded time of the log's last event minus that of "
        "the event at the projection's position), its quarantine, and the progress of a "
        "rebuild; the last day sealed in a digest; the last nightly verification the jobs "
        "recorded; the pool sizes of the settings. --json prints one JSON object instead.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    with services(args) as built:
        picture = Picture.of(built).to_dict(pool_settings(built))
        picture["store"] = cli_input.redacted(built.settings.database_url)
    if args.json:
        print(json.dumps(picture, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(render(picture))
    return 0


def _local(iso: str | None) -> str:
    """An ISO time in Europe/Helsinki, to the second ('-' for none)."""
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M:%S")


def _rebuild(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    state = "running" if r["running"] else "last"
    return f"{state} {r['done']:,}/{r['total']:,} (at {_local(r['updated_at'])})"


def render(p: dict[str, Any]) -> str:
    """The picture as a few aligned lines (times in Europe/Helsinki)."""
    lines = [
        f"store          {p['store']}",
        f"log position   {p['log_position']:,}   last event recorded "
        f"{_local(p['last_recorded_at'])} (Europe/Helsinki)",
        "",
    ]
    head = ("projection", "position", "behind", "behind s", "quarantined", "stale", "rebuild")
    rows = [head]
    for name, s in p["projections"].items():
        rows.append(
            (
                name,
                f"{s['position']:,}",
                f"{s['lag_events']:,}",
                f"{s['lag_seconds']:.1f}",
                f"{s['quarantined']:,}",
                f"{s['stale_seekers']:,}",
                _rebuild(s["rebuild"]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    for r in rows:
        pairs = enumerate(zip(r[:-1], widths, strict=True))
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    verify = p["last_verify"]
    lines += [
        "",
        f"last digest    {p['last_digest_day'] or 'none sealed'}",
        "last verify    "
        + (
            f"{verify['outcome']} at {_local(verify['finished_at'])}: "
            f"{(verify['detail'] or '').splitlines()[0] if verify['detail'] else ''}".rstrip(": ")
            if verify
            else "none recorded (the nightly audit job records it)"
        ),
    ]
    pools = p.get("pools") or {}
    if pools:
        parts = []
        for name, spec in pools.items():
            wait = f", wait ≤ {spec['timeout_seconds']:g} s" if "timeout_seconds" in spec else ""
            parts.append(f"{name} {spec['size']}{wait}")
        lines.append("pools          " + "; ".join(parts) + " (PostgreSQL; settings)")
    return "\n".join(lines) + "\n"


# -- the worker's metrics port -------------------------------------------------------------


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (1-65535)")
    return int(value)


def add_metrics_port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="also serve this process's Prometheus metrics at http://127.0.0.1:PORT/metrics "
        "(the same metrics as the server's /metrics, for the jobs' own counters and pools; "
        "default: $TIMELINE_JOBS_METRICS_PORT, else none)",
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for --metrics-port (127.0.0.1)"
    )


def serve_worker_metrics(args: argparse.Namespace, built: Services) -> None:
    """With ``--metrics-port``: serve this process's metrics (the store's picture, the jobs'
    counters, ``built``'s pools) from a daemon thread."""
    port = getattr(args, "metrics_port", None) or built.settings.jobs_metrics_port
    if not port:
        return
    from timeline.api.metrics import serve_metrics  # noqa: PLC0415 - FastAPI only for the worker

    serve_metrics(built, port, args.metrics_host)
    print(
        f"timeline worker: metrics on http://{args.metrics_host}:{port}/metrics",
        file=sys.stderr,
    )
