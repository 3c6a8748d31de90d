"""The Finnish working-day calendar and statutory time arithmetic (Act 150/1930).

Pure functions of dates: no clock is read here. Working days are Monday to Friday (Saturdays too
when ``saturdays_are_working_days`` is set, [P]) excluding the Finnish public holidays of the
``holidays`` package and the statutory eves that s. 5 names (Midsummer Eve, Christmas Eve) [C].
New Year's Eve is an ordinary working day [P]. Holiday sets are cached per year.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import functools
from dataclasses import dataclass
from datetime import date, timedelta

import holidays

_SATURDAY = 5
_SUNDAY = 6
_ONE_DAY = timedelta(days=1)


def midsummer_eve(year: int) -> date:
    """The Friday between 19 and 25 June."""
    first = date(year, 6, 19)
    return first + timedelta(days=(4 - first.weekday()) % 7)


@functools.lru_cache(maxsize=256)
def holidays_of(year: int) -> frozenset[date]:
    """Finnish holidays and statutory eves of ``year`` that are never working days.

    Sundays are excluded separately (every Sunday is a holy day); Easter Sunday and Whit Sunday
    are in the set anyway. New Year's Eve is removed should a ``holidays`` release ever list it.
    """
    days = set(holidays.country_holidays("FI", years=year))
    days.add(midsummer_eve(year))
    days.add(date(year, 12, 24))
    days.discard(date(year, 12, 31))
    return frozenset(days)


def add_months(day: date, months: int) -> date:
    """``day`` + ``months`` calendar months: the same day-of-month, or the month's last day when
    the target month has none (30 Nov + 3 months = 28 Feb; 31 Jan + 3 months = 30 Apr) (s. 3)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    d = day.day
    if d > 28:  # (only then can the target month be too short: its length, without a weekday)
        last = _MONTH_DAYS[month0] + (month0 == 1 and _stdlib_calendar.isleap(year))
        d = min(d, last)
    return date(year, month0 + 1, d)


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class WorkingDayCalendar:
    """Working days for statutory deadlines. ``saturdays_are_working_days`` [P], default False:
    *arkipäivä* is read as Monday–Friday (RESEARCH §1.3)."""

    saturdays_are_working_days: bool = False

    def is_working_day(self, day: date) -> bool:
        weekday = day.weekday()
        if weekday == _SUNDAY or (weekday == _SATURDAY and not self.saturdays_are_working_days):
            return False
        return day not in holidays_of(day.year)

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day``; ``day`` itself (day 0) is not counted (s. 2).
        ``n`` = 0 gives ``day`` unchanged."""
        if n < 0:
            raise ValueError("n must be >= 0")
        current = day
        left = n
        while left:
            current += _ONE_DAY
            if self.is_working_day(current):
                left -= 1
        return current

    def roll_forward(self, day: date) -> date:
        """``day`` if it is a working day, else the next working day (s. 5)."""
        current = day
        while not self.is_working_day(current):
            current += _ONE_DAY
        return current

    def months_deadline(self, day: date, months: int) -> date:
        """A deadline ``months`` after ``day``, moved to the next working day (ss. 3 and 5)."""
        return self.roll_forward(add_months(day, months))

    def describe(self) -> str:
        """The [P] setting this calendar embodies, for an obligation's assumptions."""
        return f"calendar.saturdays_are_working_days={self.saturdays_are_working_days} [P]"


MONDAY_TO_FRIDAY = WorkingDayCalendar()
