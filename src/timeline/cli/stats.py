"""``timeline stats``: the monthly outcome statistics as a table (months × measures), CSV, JSON
or Parquet, and a chart of the series people would rather look at than read. matplotlib and
pyarrow are optional (the ``stats`` extra); a command that needs one says how to install it
before it reads or prints anything."""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from projections.outcomes.aggregate import ROW_COLUMNS
from projections.outcomes.measures import BY_NAME
from projections.outcomes.months import parse_month
from timeline.cli.input import UsageError, add_command
from timeline.cli.wiring import services

PLOT_SERIES = (
    ("stock_unemployed", "Unemployed job seekers (persons)"),
    ("activation_rate", "Activation rate (%)"),
    ("interview_on_time_pct", "Initial interviews held on time (%)"),
)
SUPPRESSED = "s"
NO_DATA = "–"


def _month(value: str) -> str:
    try:
        return parse_month(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "stats",
        "monthly outcome statistics (stocks, flows, activation, timeliness, cohorts)",
        "Catch the outcomes projection up, then print its published figures for the months "
        "FROM..TO (YYYY-MM), small cells suppressed. The table (the default) has one block "
        "per area: a row per month, a column per measure. --format csv|json|parquet gives one "
        "row per month, area level, area and measure. --plot FILE.png draws unemployed stock, "
        "activation rate and initial-interview timeliness (needs matplotlib); --format "
        "parquet needs pyarrow (both: pip install -e '.[stats]' in a checkout).",
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


def install_hint() -> str:
    """How to install the ``stats`` extra here: in the checkout this package runs from (an
    editable install), ``pip install -e '.[stats]'`` there; otherwise from the index."""
    pip = f"{sys.executable} -m pip"
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / "src" / "timeline").is_dir():
        return f"cd {root} && {pip} install -e '.[stats]'"
    return f"{pip} install 'timeline[stats]'"


def require(module: str, what: str) -> None:
    """Refuse (exit 2, nothing read or printed) when ``module`` of the stats extra is missing."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(
            f"{what} needs the {module} package (the stats extra), which is not installed; "
            f"install it with: {install_hint()}"
        )


def cmd_stats(args: argparse.Namespace) -> int:
    if args.format == "parquet" and not args.out:
        raise UsageError("--format parquet needs --out FILE")
    if args.format == "parquet":
        require("pyarrow", "--format parquet")
    if args.plot:
        require("matplotlib", "--plot")
    with services(args) as built:
        view = built.outcomes
        view.catch_up()
        rows = view.monthly(args.from_month, args.to_month, args.area, args.measure)
        plot_rows = (
            view.monthly(args.from_month, args.to_month, args.area or "all") if args.plot else []
        )
    if args.format == "parquet":
        write_parquet(rows, args.out)
    else:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() and not args.out else 0
        text = render(rows, args.format, width=width)
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
    if args.plot:
        plot(plot_rows, args.plot, area=args.area or "all")
    return 0


def render(rows: Sequence[dict[str, Any]], fmt: str, *, width: int = 0) -> str:
    """``rows`` as JSON, CSV (one row per month, area and measure) or the table (months ×
    measures per area; blocks of columns no wider than ``width`` when it is above 0)."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(ROW_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    return table(rows, width=width)


def table(rows: Sequence[dict[str, Any]], *, width: int = 0) -> str:
    """One block per area (level and area, in the rows' order): a row per month, a column
    per measure (in the measures' order). A provisional month is marked ``*``; a suppressed
    figure is ``s``, a missing one ``–``."""
    if not rows:
        return "no statistics for these months (is the outcomes projection empty?)\n"
    areas: dict[tuple[str, str], dict[str, dict[str, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for r in rows:
        areas[(r["level"], r["area"])][r["month"]][r["measure"]] = r
    order = {name: i for i, name in enumerate(BY_NAME)}
    blocks: list[str] = []
    provisional = False
    for (level, area), months in areas.items():
        measures = sorted({m for per in months.values() for m in per}, key=order.__getitem__)
        labels = []
        for month, per in months.items():
            late = any(r["provisional"] for r in per.values())
            provisional |= late
            labels.append(month + (" *" if late else "  "))
        columns = [["month", *labels]]
        for name in measures:
            cells = [_shown(months[month].get(name)) for month in months]
            columns.append([name, *cells])
        blocks.append(f"{level} {area}\n" + _grid(columns, width))
    legend = f"{SUPPRESSED}: suppressed (fewer persons than the threshold); {NO_DATA}: no data"
    if provisional:
        legend += "\n*: month not yet over (provisional)"
    return "\n\n".join(blocks) + "\n\n" + legend + "\n"


def _shown(row: dict[str, Any] | None) -> str:
    if row is None:
        return NO_DATA
    if row["suppressed"]:
        return SUPPRESSED
    return _cell(row["value"])


def _grid(columns: list[list[str]], width: int) -> str:
    """Columns side by side, the first (the months) repeated in each block of columns that
    fits in ``width`` characters (all in one block when ``width`` is 0)."""
    widths = [max(len(c) for c in col) for col in columns]
    first, rest = columns[0], list(range(1, len(columns)))
    chunks: list[list[int]] = []
    used = widths[0]
    for i in rest:
        if chunks and (not width or used + 2 + widths[i] <= width):
            chunks[-1].append(i)
            used += 2 + widths[i]
        else:
            chunks.append([i])
            used = widths[0] + 2 + widths[i]
    out = []
    for chunk in chunks or [[]]:
        lines = []
        for line in range(len(first)):
            cells = [first[line].ljust(widths[0])]
            cells += [columns[i][line].rjust(widths[i]) for i in chunk]
            lines.append("  ".join(cells).rstrip())
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:.1f}" if value != int(value) else str(int(value))
    return str(value)


def write_parquet(rows: Sequence[dict[str, Any]], path: str) -> None:
    import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
    import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

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
    import matplotlib  # noqa: PLC0415 (the stats extra, checked by `require` beforehand)

    matplotlib.use("Agg")
    import matplotlib.dates as mdates  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415

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
