"""The Finnish working-day calendar (RULES.md "Calendar: working days")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeline.domain.calendar import (
    MONDAY_TO_FRIDAY,
    WorkingDayCalendar,
    add_months,
    holidays_of,
    midsummer_eve,
)

CAL = MONDAY_TO_FRIDAY
SATURDAYS = WorkingDayCalendar(saturdays_are_working_days=True)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@pytest.mark.parametrize(
    ("start", "plus5", "plus10"),
    [
        (date(2025, 6, 2), date(2025, 6, 9), date(2025, 6, 16)),
        (date(2025, 6, 18), date(2025, 6, 26), date(2025, 7, 3)),
        (date(2025, 12, 19), date(2025, 12, 31), date(2026, 1, 9)),
        (date(2025, 12, 22), date(2026, 1, 2), date(2026, 1, 12)),
        (date(2026, 4, 1), date(2026, 4, 10), date(2026, 4, 17)),
    ],
)
def test_worked_examples_of_five_and_ten_working_days_match_rules(
    start: date, plus5: date, plus10: date
) -> None:
    assert CAL.add_working_days(start, 5) == plus5
    assert CAL.add_working_days(start, 10) == plus10


def test_with_saturdays_counted_19_december_2025_plus_five_is_29_december() -> None:
    assert SATURDAYS.add_working_days(date(2025, 12, 19), 5) == date(2025, 12, 29)


def test_day_zero_is_not_counted_so_one_working_day_after_a_monday_is_tuesday() -> None:
    assert CAL.add_working_days(date(2025, 6, 2), 1) == date(2025, 6, 3)
    assert CAL.add_working_days(date(2025, 6, 2), 0) == date(2025, 6, 2)


def test_adding_a_negative_number_of_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        CAL.add_working_days(date(2025, 6, 2), -1)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
        (date(2025, 1, 31), 3, date(2025, 4, 30)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
        (date(2025, 3, 15), 3, date(2025, 6, 15)),
        (date(2025, 12, 31), 2, date(2026, 2, 28)),
        (date(2025, 5, 31), -3, date(2025, 2, 28)),
    ],
)
def test_adding_months_keeps_the_day_or_clamps_to_the_last_day_of_the_month(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


HOLIDAYS_2025 = {
    "New Year's Day": date(2025, 1, 1),
    "Epiphany": date(2025, 1, 6),
    "Good Friday": date(2025, 4, 18),
    "Easter Monday": date(2025, 4, 21),
    "May Day": date(2025, 5, 1),
    "Ascension Day": date(2025, 5, 29),
    "Midsummer Eve": date(2025, 6, 20),
    "Midsummer Day": date(2025, 6, 21),
    "All Saints' Day": date(2025, 11, 1),
    "Independence Day": date(2025, 12, 6),
    "Christmas Eve": date(2025, 12, 24),
    "Christmas Day": date(2025, 12, 25),
    "Boxing Day": date(2025, 12, 26),
}


@pytest.mark.parametrize(("name", "day"), sorted(HOLIDAYS_2025.items()))
def test_every_listed_holiday_and_eve_is_not_a_working_day(name: str, day: date) -> None:
    assert day in holidays_of(day.year), name
    assert not CAL.is_working_day(day)
    assert not SATURDAYS.is_working_day(day)


@pytest.mark.parametrize(
    ("year", "good_friday", "ascension", "midsummer_eve", "all_saints"),
    [
        (2022, date(2022, 4, 15), date(2022, 5, 26), date(2022, 6, 24), date(2022, 11, 5)),
        (2023, date(2023, 4, 7), date(2023, 5, 18), date(2023, 6, 23), date(2023, 11, 4)),
        (2024, date(2024, 3, 29), date(2024, 5, 9), date(2024, 6, 21), date(2024, 11, 2)),
        (2026, date(2026, 4, 3), date(2026, 5, 14), date(2026, 6, 19), date(2026, 10, 31)),
        (2027, date(2027, 3, 26), date(2027, 5, 6), date(2027, 6, 25), date(2027, 11, 6)),
    ],
)
def test_movable_holidays_match_the_research_table(
    year: int, good_friday: date, ascension: date, midsummer_eve: date, all_saints: date
) -> None:
    found = holidays_of(year)
    assert {good_friday, good_friday + timedelta(days=3), ascension} <= found
    assert {midsummer_eve, midsummer_eve + timedelta(days=1), all_saints} <= found


def test_new_years_eve_on_a_weekday_is_a_working_day() -> None:
    assert CAL.is_working_day(date(2025, 12, 31))
    assert date(2025, 12, 31) not in holidays_of(2025)


def test_all_saints_day_falls_on_a_saturday_and_is_never_a_working_day() -> None:
    for year in range(2022, 2031):
        saints = [d for d in holidays_of(year) if d.month in (10, 11) and d.weekday() == 5]
        assert len(saints) == 1
        assert not SATURDAYS.is_working_day(saints[0])
    assert SATURDAYS.is_working_day(date(2025, 11, 8))


def test_midsummer_eve_is_the_friday_between_19_and_25_june() -> None:
    for year in range(2020, 2040):
        eve = midsummer_eve(year)
        assert eve.weekday() == 4
        assert date(year, 6, 19) <= eve <= date(year, 6, 25)
        assert not CAL.is_working_day(eve)


def test_weekends_are_not_working_days_by_default_but_saturday_is_with_the_setting() -> None:
    assert not CAL.is_working_day(date(2025, 6, 7))
    assert not CAL.is_working_day(date(2025, 6, 8))
    assert SATURDAYS.is_working_day(date(2025, 6, 7))
    assert not SATURDAYS.is_working_day(date(2025, 6, 8))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 6, 7), date(2025, 6, 9)),  # Saturday -> Monday
        (date(2025, 6, 20), date(2025, 6, 23)),  # Midsummer Eve -> Monday
        (date(2025, 12, 24), date(2025, 12, 29)),  # Christmas Eve -> after Boxing Day
        (date(2026, 4, 3), date(2026, 4, 7)),  # Good Friday -> Tuesday after Easter Monday
        (date(2025, 6, 9), date(2025, 6, 9)),  # already a working day
    ],
)
def test_roll_forward_moves_a_non_working_day_to_the_next_working_day(
    day: date, expected: date
) -> None:
    assert CAL.roll_forward(day) == expected


def test_a_three_month_deadline_landing_on_a_sunday_moves_to_monday() -> None:
    # 2 Mar 2025 + 3 months = Mon 2 Jun; 1 Mar 2025 + 3 months = Sun 1 Jun -> Mon 2 Jun
    assert CAL.months_deadline(date(2025, 3, 1), 3) == date(2025, 6, 2)


@given(days, st.integers(min_value=1, max_value=40), st.booleans())
def test_a_working_day_deadline_is_never_a_non_working_day(
    day: date, n: int, saturdays: bool
) -> None:
    cal = WorkingDayCalendar(saturdays_are_working_days=saturdays)
    due = cal.add_working_days(day, n)
    assert cal.is_working_day(due)
    assert due > day
    between = [day + timedelta(days=i) for i in range(1, (due - day).days + 1)]
    assert sum(cal.is_working_day(x) for x in between) == n


@given(days, st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
def test_adding_more_working_days_never_gives_an_earlier_date(day: date, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert CAL.add_working_days(day, low) <= CAL.add_working_days(day, high)


@given(days, st.integers(min_value=-60, max_value=60))
def test_add_months_clamps_to_the_target_month(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    if result.day != day.day:
        assert result.day < day.day
        assert (result + timedelta(days=1)).day == 1


@given(days)
def test_roll_forward_gives_a_working_day_on_or_after_the_day(day: date) -> None:
    rolled = CAL.roll_forward(day)
    assert rolled >= day
    assert CAL.is_working_day(rolled)
    assert all(not CAL.is_working_day(day + timedelta(days=i)) for i in range((rolled - day).days))
