"""The geometry of a horizontal time axis: the months between two days mapped onto a width,
with month and year labels spaced so that none overlap. Shared by the timeline view and the
statistics charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: the least room a month label ("Sep", 11 px type) needs, and a year label ("2025")
MONTH_LABEL_PX = 30
YEAR_LABEL_PX = 40
#: month steps tried in turn until labels fit
_STEPS = (1, 2, 3, 4, 6, 12)


@dataclass(frozen=True)
class Tick:
    x: float
    label: str  # "" when the step leaves this month unlabelled
    year_start: bool


@dataclass(frozen=True)
class YearLabel:
    x: float
    label: str


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass(frozen=True)
class Axis:
    """Days ``lo`` (a first of a month) … ``hi`` (a first of a month, exclusive) drawn from
    ``left`` to ``right`` px."""

    lo: date
    hi: date
    left: float
    right: float

    @classmethod
    def covering(
        cls, first: date, last: date, left: float, right: float, *, min_months: int = 3
    ) -> Axis:
        lo = month_start(first)
        hi = next_month(last)
        while (hi.year - lo.year) * 12 + hi.month - lo.month < min_months:
            hi = next_month(hi)
        return cls(lo, hi, left, right)

    @property
    def days(self) -> int:
        return (self.hi - self.lo).days

    def x(self, day: date) -> float:
        """The x of a day's start, clamped to the axis."""
        offset = min(max((day - self.lo).days, 0), self.days)
        return round(self.left + offset / self.days * (self.right - self.left), 1)

    def x_end(self, day: date) -> float:
        """The x of a day's end (the start of the next day)."""
        return self.x(day + timedelta(days=1))

    def months(self) -> list[date]:
        out, day = [], self.lo
        while day < self.hi:
            out.append(day)
            day = next_month(day)
        return out

    def ticks(self) -> tuple[list[Tick], list[YearLabel]]:
        """A tick per month; month names every ``step`` months, the least step whose labels
        fit; a year label at each January (and at the start when there is room), every
        ``n`` years when years are narrower than a label."""
        months = self.months()
        day_px = (self.right - self.left) / self.days
        # the shortest run of ``s`` months (a February first) must hold a label
        step = next((s for s in _STEPS if (28 + 30 * (s - 1)) * day_px >= MONTH_LABEL_PX), 0)
        ticks = [
            Tick(
                self.x(m),
                MONTHS[m.month - 1] if step and (m.month - 1) % step == 0 else "",
                m.month == 1,
            )
            for m in months
        ]
        year_px = 365 * day_px
        every = 1
        while every * year_px < YEAR_LABEL_PX:
            every += 1
        years = [
            YearLabel(self.x(m), str(m.year))
            for m in months
            if m.month == 1 and m.year % every == 0
        ]
        first = years[0].x if years else self.right
        if self.lo.month != 1 and first - self.left >= YEAR_LABEL_PX:
            years.insert(0, YearLabel(self.left, str(self.lo.year)))
        return ticks, years
