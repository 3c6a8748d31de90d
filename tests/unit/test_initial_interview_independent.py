"""The initial-interview due date against an independent computation.

Written without the ``holidays`` package and without the project's calendar: its own Easter
(anonymous Gregorian algorithm), its own list of Finnish holidays and eves, weekends excluded,
N = 5 before 1 Jan 2026 and 10 from it, day 0 not counted.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.unit.factories import started
from timeline.domain.rules import evaluate
from timeline.rulesets import default_rulesets

ONE_DAY = timedelta(days=1)


def easter_sunday(year: int) -> date:
    """Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def first_weekday_between(year: int, month: int, first_day: int, weekday: int) -> date:
    day = date(year, month, first_day)
    while day.weekday() != weekday:
        day += ONE_DAY
    return day


def finnish_days_off(year: int) -> set[date]:
    easter = easter_sunday(year)
    return {
        date(year, 1, 1),  # New Year's Day
        date(year, 1, 6),  # Epiphany
        easter - 2 * ONE_DAY,  # Good Friday
        easter + ONE_DAY,  # Easter Monday
        date(year, 5, 1),  # May Day
        easter + 39 * ONE_DAY,  # Ascension Day
        first_weekday_between(year, 6, 19, 4),  # Midsummer Eve: Friday 19-25 June
        first_weekday_between(year, 6, 20, 5),  # Midsummer Day: Saturday 20-26 June
        first_weekday_between(year, 10, 31, 5),  # All Saints' Day: Saturday 31 Oct-6 Nov
        date(year, 12, 6),  # Independence Day
        date(year, 12, 24),  # Christmas Eve
        date(year, 12, 25),  # Christmas Day
        date(year, 12, 26),  # Boxing Day
    }


OFF = set().union(*(finnish_days_off(y) for y in range(2022, 2029)))


def expected_due(start: date) -> date:
    n = 5 if start < date(2026, 1, 1) else 10
    day = start
    while n:
        day += ONE_DAY
        if day.weekday() < 5 and day not in OFF:
            n -= 1
    return day


IN_FORCE = [
    (date(2022, 5, 2), "FI-2022-05"),
    (date(2022, 7, 11), "FI-2022-07"),
    (date(2025, 1, 1), "FI-2025-01"),
    (date(2026, 1, 1), "FI-2026-01"),
    (date(2026, 3, 1), "FI-2026-03"),
]


def expected_ruleset(start: date) -> str:
    return [rid for since, rid in IN_FORCE if since <= start][-1]


def test_easter_algorithm_gives_known_easter_sundays() -> None:
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)


def test_initial_interview_due_date_equals_the_independent_computation_for_every_start_day() -> (
    None
):
    rulesets = default_rulesets()
    day = date(2022, 5, 2)
    checked = 0
    mismatches = []
    while day <= date(2027, 12, 31):
        facts = [started(day, event_id="s", version=1)]
        [interview] = [o for o in evaluate(facts, day, rulesets) if o.kind == "initial_interview"]
        if interview.due_on != expected_due(day):
            mismatches.append((day, interview.due_on, expected_due(day)))
        assert interview.ruleset == expected_ruleset(day)
        checked += 1
        day += ONE_DAY
    assert checked == (date(2027, 12, 31) - date(2022, 5, 2)).days + 1 == 2070
    assert mismatches == []
