"""Line charts of monthly figures as SVG geometry (drawn by ``templates/charts.html``): months
on the x axis (labelled without overlap, :class:`~timeline.render.axis.Axis`), the value on
the y axis with round ticks, one line per series, gaps where a month is suppressed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from timeline.render.axis import Axis, Tick, YearLabel, next_month

PALETTE = (
    "#1565c0",
    "#c62828",
    "#2e7d32",
    "#ef6c00",
    "#6a1b9a",
    "#00838f",
    "#ad1457",
    "#5d4037",
    "#9e9d24",
    "#37474f",
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 600, 260, 56, 585, 26, 200


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    paths: list[str]  # one per run of months with a value
    points: list[tuple[float, float, str]]  # x, y, tooltip


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    y_ticks: list[tuple[float, str]]
    ticks: list[Tick]
    years: list[YearLabel]
    series: list[Series]

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


def _nice_step(span: float) -> float:
    """A round step giving 3–6 ticks over ``span``."""
    raw = span / 5 if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(s * power) for s in (1, 2, 2.5, 5, 10) if s * power >= raw)


def _label(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ") if value == int(value) else f"{value:g}"


def line_chart(
    title: str,
    unit: str,
    months: Sequence[str],
    values: Mapping[str, Mapping[str, float | None]],
) -> Chart:
    """``values``: series name → month (``YYYY-MM``) → value (None: suppressed)."""
    first = date.fromisoformat(months[0] + "-01")
    last = date.fromisoformat(months[-1] + "-01")
    axis = Axis(first, next_month(last), LEFT, RIGHT)
    found = [v for s in values.values() for v in s.values() if v is not None]
    hi = max(found, default=1.0)
    lo = min(min(found, default=0.0), 0.0)
    step = _nice_step(hi - lo)
    top = math.ceil(hi / step) * step if hi > 0 else step
    bottom = math.floor(lo / step) * step

    def y(value: float) -> float:
        return round(BOTTOM - (value - bottom) / (top - bottom) * (BOTTOM - TOP), 1)

    y_ticks = []
    tick = bottom
    while tick <= top + step / 2:
        y_ticks.append((y(tick), _label(tick)))
        tick += step
    series = []
    for i, (name, by_month) in enumerate(values.items()):
        paths: list[str] = []
        run: list[str] = []
        points = []
        for month in months:
            value = by_month.get(month)
            if value is None:
                if run:
                    paths.append("M" + " L".join(run))
                run = []
                continue
            day = date.fromisoformat(month + "-01")
            x = round((axis.x(day) + axis.x(next_month(day))) / 2, 1)
            run.append(f"{x},{y(value)}")
            points.append((x, y(value), f"{name} {month}: {_label(value)} {unit}"))
        if run:
            paths.append("M" + " L".join(run))
        series.append(Series(name, PALETTE[i % len(PALETTE)], paths, points))
    ticks, years = axis.ticks()
    return Chart(
        title, unit, WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, y_ticks, ticks, years, series
    )
