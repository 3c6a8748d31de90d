"""Months as ``YYYY-MM`` strings and the count date (laskentapäivä): the last working day of a
month. Pure date arithmetic."""

from __future__ import annotations

import calendar as _stdlib_calendar
import functools
import re
from collections.abc import Iterator
from datetime import date, timedelta

from timeline.domain.calendar import WorkingDayCalendar

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """Validate ``YYYY-MM``; raise ValueError otherwise."""
    if not _MONTH.match(text):
        raise ValueError(f"{text!r} is not a month written YYYY-MM")
    return text


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


@functools.lru_cache(maxsize=4096)
def last_day(month: str) -> date:
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, _stdlib_calendar.monthrange(year, mon)[1])


@functools.lru_cache(maxsize=4096)
def count_date(month: str, calendar: WorkingDayCalendar) -> date:
    """The last working day of ``month`` (the roll-forward rule run backwards)."""
    day = last_day(month)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def months_between(first: str, last: str) -> Iterator[str]:
    """Every month from ``first`` to ``last`` inclusive."""
    year, mon = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{mon:02d}" <= last:
        yield f"{year:04d}-{mon:02d}"
        mon += 1
        if mon == 13:
            year, mon = year + 1, 1
