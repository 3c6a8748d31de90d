"""``timeline whatif``: the obligations and workload of a window as they were, beside what they
would have been had another ruleset (shipped, or a draft file) been in force (docs/whatif.md).
An edge: parses, reads through ``projections.whatif``, prints."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from projections.outcomes.months import parse_month
from projections.whatif import (
    DraftError,
    Scenario,
    Window,
    area_filter,
    parse_draft,
    plausible,
    seeker_pairs,
    whatif_report,
)
from timeline.cli import input as cli_input
from timeline.cli.input import UsageError, add_command
from timeline.cli.stats import require
from timeline.cli.wiring import log_read, services
from timeline.domain.rules import Ruleset, Rulesets
from timeline.domain.zone import HELSINKI
from timeline.rulesets import RULESET_IDS, default_rulesets

COLUMNS = ("month", "kind", "measure", "actual", "whatif", "change")
SIDE = ("ruleset", "due_on", "status", "met_on", "days_late")
PLOT_SERIES = (
    ("all", "due", "Obligations due"),
    ("all", "overdue", "Overdue (as on the evaluation day)"),
    ("conversations", "per_coach", "Conversations required per coach"),
)


def _month(value: str) -> str:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    """Add the ``whatif`` subcommand."""
    name, help_ = "whatif", "obligations and workload under another ruleset, beside the actual"
    description = (
        "Evaluate every job-search spell active in FROM..TO again, in memory, as if RULESET "
        "had been in force for those months instead of the rulesets that were (before and "
        "after them, the rulesets that were), and print per month and kind of obligation: how "
        "many fell due, were met on time, met late, overdue or open, the median days late, "
        "conversations required per coach, seekers with a job-search requirement shortfall — "
        "actual beside what-if. Cells of fewer than 5 persons are suppressed as in the "
        "statistics. --ruleset-file runs a draft ruleset (the schema of the shipped TOML "
        "files). --seeker ID prints one seeker's obligations under both, for an auditor (a "
        "personal read: recorded in the access log). Nothing is written but that entry."
    )
    p = add_command(subparsers, name, help_, description)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--ruleset", choices=RULESET_IDS, help="a shipped ruleset")
    which.add_argument(
        "--ruleset-file", metavar="FILE.toml", help="a draft ruleset (see docs/whatif.md)"
    )
    p.add_argument(
        "--from",
        dest="from_month",
        type=_month,
        required=True,
        metavar="YYYY-MM",
        help="the first month the ruleset is in force for, and reported",
    )
    p.add_argument(
        "--to",
        dest="to_month",
        type=_month,
        required=True,
        metavar="YYYY-MM",
        help="the last month (a window of at most 120 months)",
    )
    p.add_argument(
        "--area",
        help="municipality code (398) or employment/pilot area id (paijat-hame); "
        "judged by the seeker's municipality on each due day (default: every area)",
    )
    p.add_argument(
        "--on",
        type=cli_input.day,
        metavar="DATE",
        help="evaluate every obligation as on this day (default: today)",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="also draw actual and what-if by month")
    p.add_argument(
        "--seeker",
        type=cli_input.seeker_id,
        metavar="ID",
        help="one seeker's obligations under both rulesets, side by side",
    )
    p.add_argument("--purpose", help="with --seeker: why you read it (recorded in the access log)")
    p.set_defaults(func=cmd_whatif)


def _ruleset(args: argparse.Namespace, rulesets: Rulesets) -> Ruleset:
    if args.ruleset:
        return rulesets.by_id(args.ruleset)
    with open(args.ruleset_file, encoding="utf-8") as fh:  # OSError naming the file: exit 2
        text = fh.read()
    try:
        return parse_draft(text, args.ruleset_file, shipped=RULESET_IDS)
    except DraftError as exc:
        raise UsageError(str(exc)) from None


def cmd_whatif(args: argparse.Namespace) -> int:
    rulesets = default_rulesets()
    ruleset = _ruleset(args, rulesets)  # a draft is checked before the store is opened
    for option, month in (("--from", args.from_month), ("--to", args.to_month)):
        try:
            Window(month, month)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
    try:
        window = Window(args.from_month, args.to_month)
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    try:
        plausible(args.on or window.first_day)
    except ValueError as exc:
        raise UsageError(f"--on: {exc}") from None
    try:
        area_filter(args.area)
    except ValueError as exc:
        raise UsageError(f"--area: {exc}") from None
    if args.seeker and (args.area or args.plot):
        raise UsageError("--seeker reads one seeker: --area and --plot do not apply")
    if args.plot:
        require("matplotlib", "--plot")
    with services(args) as built:
        app = built.app
        on = args.on or app.clock().astimezone(HELSINKI).date()
        scenario = Scenario(ruleset, window, on, rulesets)
        if args.seeker:
            found = seeker_pairs(app, args.seeker, scenario)
            log_read(
                built,
                args.seeker,
                "whatif",
                args.purpose,
                {
                    "ruleset": scenario.ruleset.id,
                    "ruleset_file": args.ruleset_file,
                    "from": scenario.window.first,
                    "to": scenario.window.last,
                    "on": scenario.on.isoformat(),
                },
            )
            sys.stdout.write(render_seeker(args.seeker, scenario, found, args.format))
            return 0
        report = whatif_report(app, scenario, area=args.area)
    sys.stdout.write(render(report.to_dict(), args.format))
    if args.plot:
        plot(report.to_dict(), args.plot)
    return 0


def _heading(report: dict[str, Any]) -> str:
    return (
        f"{report['ruleset']} in force {report['from']}..{report['to']} instead of the "
        f"rulesets in force; obligations as on {report['on']}; area {report['area'] or 'all'}; "
        f"seekers {_cell(report['seekers'])}; – = suppressed (fewer than 5 persons)"
    )


def render(report: dict[str, Any], fmt: str) -> str:
    rows: list[dict[str, Any]] = report["rows"]
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(
            buf, fieldnames=[*COLUMNS, "suppressed"], lineterminator="\n", extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    return _table(COLUMNS, [[_cell(r[c]) for c in COLUMNS] for r in rows], _heading(report))


def render_seeker(
    seeker_id: str, scenario: Scenario, found: Sequence[dict[str, Any]], fmt: str
) -> str:
    if fmt == "json":
        doc = {
            "seeker_id": seeker_id,
            "ruleset": scenario.ruleset.id,
            "from": scenario.window.first,
            "to": scenario.window.last,
            "on": scenario.on.isoformat(),
            "pairs": list(found),
        }
        return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    columns = ["kind", "rule", *(f"actual_{c}" for c in SIDE), *(f"whatif_{c}" for c in SIDE)]
    rows = [
        [
            r["kind"],
            r["rule"],
            *(_side(r["actual"], c) for c in SIDE),
            *(_side(r["whatif"], c) for c in SIDE),
        ]
        for r in found
    ]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buf.getvalue()
    heading = (
        f"seeker {seeker_id}: obligations as on {scenario.on.isoformat()}, actual beside "
        f"{scenario.ruleset.id} in force {scenario.window.first}..{scenario.window.last}"
        " (– = none on that side)"
    )
    return _table(columns, rows, heading)


def _side(item: dict[str, Any] | None, column: str) -> str:
    if item is None:
        return "–"
    return "" if item[column] is None else str(item[column])


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], heading: str) -> str:
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    lines = [heading, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return str(int(value)) if value == int(value) else f"{value:.2f}"
    return str(value)


def plot(report: dict[str, Any], path: str) -> None:
    """Three panels by month, actual and what-if: obligations due, overdue, conversations
    required per coach. Suppressed months are gaps."""
    import matplotlib  # noqa: PLC0415 (optional: timeline[stats])

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    months = sorted({r["month"] for r in report["rows"]})
    days = [date.fromisoformat(m + "-01") for m in months]
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, constrained_layout=True)
    for ax, (kind, measure, label) in zip(axes, PLOT_SERIES, strict=True):
        found = {
            (r["month"], side): r[side]
            for r in report["rows"]
            if r["kind"] == kind and r["measure"] == measure
            for side in ("actual", "whatif")
        }
        for side, name, style in (
            ("actual", "actual (rulesets in force)", "-"),
            ("whatif", f"what-if ({report['ruleset']})", "--"),
        ):
            ys = [found.get((m, side)) for m in months]
            values = [float("nan") if v is None else v for v in ys]
            ax.plot(days, values, style, marker="o", markersize=3, label=name)
        ax.set_title(label, loc="left", fontsize=11)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(
        f"What-if: {report['ruleset']} in force {report['from']}..{report['to']}, "
        f"area {report['area'] or 'all'} (gaps: suppressed)",
        fontsize=13,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
