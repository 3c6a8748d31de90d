"""``timeline stats``: the monthly outcome statistics as a table, CSV, JSON or Parquet, and a
chart of the series people would rather look at than read. An edge: wires the outcomes
projection; matplotlib and pyarrow are optional (``pip install timeline[stats]``)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from projections.outcomes import OutcomesView
from projections.outcomes.aggregate import ROW_COLUMNS
from projections.outcomes.measures import BY_NAME
from projections.outcomes.months import parse_month
from timeline import cli_input
from timeline.application import TimelineApp

Add = Callable[..., argparse.ArgumentParser]
PLOT_SERIES = (
    ("stock_unemployed", "Unemployed job seekers (persons)"),
    ("activation_rate", "Activation rate (%)"),
    ("interview_on_time_pct", "Initial interviews held on time (%)"),
)


def _month(value: str) -> str:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any, add: Add) -> argparse.ArgumentParser:
    """Add the ``stats`` subcommand with the parser factory of ``timeline.cli.build_parser``
    (which gives every command ``--db``). ``subparsers`` is accepted for symmetry; ``add``
    already knows it."""
    del subparsers
    p = add(
        "stats",
        "monthly outcome statistics (stocks, flows, activation, timeliness, cohorts)",
        "Catch the outcomes projection up, then print its published rows for the months FROM..TO "
        "(YYYY-MM): one row per month, area level, area and measure, with small cells "
        "suppressed. --plot FILE.png draws unemployed stock, activation rate and initial-"
        "interview timeliness (needs matplotlib); --format parquet needs pyarrow.",
    )
    p.add_argument("--from", dest="from_month", type=_month, required=True, metavar="YYYY-MM")
    p.add_argument("--to", dest="to_month", type=_month, required=True, metavar="YYYY-MM")
    p.add_argument(
        "--area",
        help="municipality code (398), area id (paijat-hame, lahti-region-2021), all, pilot or "
        "non_pilot (default: every area)",
    )
    p.add_argument(
        "--measure",
        choices=sorted(BY_NAME),
        metavar="MEASURE",
        help=f"one measure: {', '.join(sorted(BY_NAME))}",
    )
    p.add_argument("--format", choices=("table", "csv", "json", "parquet"), default="table")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the headline monthly series")
    p.set_defaults(func=cmd_stats)
    return p


def cmd_stats(args: argparse.Namespace) -> int:
    if args.format == "parquet" and not args.out:
        print("--format parquet needs --out FILE", file=sys.stderr)
        return 2
    app = TimelineApp(settings=cli_input.settings(args))
    view = OutcomesView(app)
    try:
        view.catch_up()
        rows = view.monthly(args.from_month, args.to_month, args.area, args.measure)
        plot_rows = (
            view.monthly(args.from_month, args.to_month, args.area or "all") if args.plot else []
        )
    finally:
        view.close()
        app.close()
    try:
        if args.format == "parquet":
            write_parquet(rows, args.out)
        else:
            text = render(rows, args.format)
            if args.out:
                with open(args.out, "w", encoding="utf-8", newline="") as fh:
                    fh.write(text)
            else:
                sys.stdout.write(text)
        if args.plot:
            plot(plot_rows, args.plot, area=args.area or "all")
    except MissingPackage as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


class MissingPackage(RuntimeError):
    pass


def render(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(ROW_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    widths = {c: max([len(c), *(len(_cell(r[c])) for r in rows)]) for c in ROW_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in ROW_COLUMNS)]
    lines += ["  ".join(_cell(r[c]).ljust(widths[c]) for c in ROW_COLUMNS) for r in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.1f}" if value != int(value) else str(int(value))
    return str(value)


def write_parquet(rows: Sequence[dict[str, Any]], path: str) -> None:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    except ImportError:
        raise MissingPackage(
            "--format parquet needs the pyarrow package: pip install pyarrow "
            "(or pip install 'timeline[stats]')"
        ) from None
    schema = pa.schema(
        [
            ("month", pa.string()),
            ("level", pa.string()),
            ("area", pa.string()),
            ("measure", pa.string()),
            ("value", pa.float64()),
            ("base", pa.int64()),
            ("suppressed", pa.bool_()),
            ("provisional", pa.bool_()),
            ("position", pa.int64()),
        ]
    )
    table = pa.Table.from_pylist(list(rows), schema=schema)
    with open(path, "wb") as sink:  # a path that cannot be written: an OSError naming it
        pq.write_table(table, sink)


def plot(rows: Sequence[dict[str, Any]], path: str, *, area: str) -> None:
    """Three stacked panels sharing a month axis: unemployed stock, activation rate, initial
    interviews held on time. Suppressed months are gaps; provisional months are marked."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.dates as mdates  # noqa: PLC0415
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        raise MissingPackage(
            "--plot needs the matplotlib package: pip install matplotlib "
            "(or pip install 'timeline[stats]')"
        ) from None
    series: dict[str, dict[date, float | None]] = {name: {} for name, _ in PLOT_SERIES}
    provisional: set[date] = set()
    for r in rows:
        if r["measure"] in series:
            day = date.fromisoformat(r["month"] + "-01")
            series[r["measure"]][day] = r["value"]
            if r["provisional"]:
                provisional.add(day)
    months = sorted({d for s in series.values() for d in s})
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True, constrained_layout=True)
    colours = ("#1f4e79", "#2e7d32", "#b35900")
    for ax, (name, label), colour in zip(axes, PLOT_SERIES, colours, strict=True):
        values = [series[name].get(m) for m in months]
        ys = [float("nan") if v is None else v for v in values]
        ax.plot(months, ys, marker="o", markersize=3, linewidth=1.8, color=colour, label=label)
        for m in provisional:
            if series[name].get(m) is not None:
                ax.plot([m], [series[name][m]], marker="o", markersize=7, mfc="white", color=colour)
        ax.set_ylabel(label.split(" (")[1].rstrip(")"))
        ax.set_title(label, loc="left", fontsize=11)
        ax.grid(True, alpha=0.3)
        if name != "stock_unemployed":
            ax.set_ylim(0, 105)
        else:
            ax.set_ylim(0, max([v for v in values if v is not None] or [1]) * 1.15)
    from matplotlib.lines import Line2D  # noqa: PLC0415

    keys = [
        Line2D([], [], color="grey", marker="o", markersize=3, label="monthly value"),
        Line2D([], [], color="none", label="gap: suppressed (fewer than 5 persons) or no data"),
    ]
    if provisional:
        keys.append(
            Line2D(
                [],
                [],
                color="grey",
                marker="o",
                mfc="white",
                linestyle="",
                label="month not yet over (provisional)",
            )
        )
    axes[0].legend(handles=keys, loc="lower right", fontsize=9, framealpha=0.9)
    locator = mdates.MonthLocator(bymonth=(1, 4, 7, 10))  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    formatter = mdates.DateFormatter("%b %Y")  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_formatter(formatter)
    axes[-1].set_xlabel("Month (stock on the last working day of the month)")
    for tick in axes[-1].get_xticklabels():
        tick.set_rotation(45)
        tick.set_horizontalalignment("right")
    where = "all areas in the data" if area == "all" else f"area {area}"
    span = f"{months[0]:%b %Y} – {months[-1]:%b %Y}" if months else "no data"
    fig.suptitle(f"Job seekers' outcome statistics, {where}, {span}", fontsize=13)
    fig.savefig(path, dpi=110)
    plt.close(fig)
