"""The England working-day calendar: the rule for day 0, bank holidays, closure days, BST.

Property tests state the rules over many dates; the tables pin the dates a safeguarding
lead could check on a wall calendar (docs/architecture.md, Statutory clock).
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.timeline import WorkingCalendarPort
from scheduler.calendar import EnglandCalendar, local_date

LONDON = ZoneInfo("Europe/London")
CALENDAR = EnglandCalendar()
PROPERTY = settings(max_examples=200, deadline=None)

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
counts = st.integers(min_value=0, max_value=60)
positive_counts = st.integers(min_value=1, max_value=60)
signed_counts = st.integers(min_value=-60, max_value=60)


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- properties -------------------------------------------------------------------------


@PROPERTY
@given(start=dates, n=positive_counts)
def test_a_deadline_of_one_or_more_working_days_always_falls_on_a_working_day(start: date, n: int) -> None:
    assert CALENDAR.is_working_day(CALENDAR.add_working_days(start, n))


@PROPERTY
@given(start=dates, n=positive_counts)
def test_counting_back_one_or_more_working_days_always_lands_on_a_working_day(start: date, n: int) -> None:
    assert CALENDAR.is_working_day(CALENDAR.add_working_days(start, -n))


@PROPERTY
@given(start=dates, n=signed_counts)
def test_working_days_between_undoes_add_working_days(start: date, n: int) -> None:
    assert CALENDAR.working_days_between(start, CALENDAR.add_working_days(start, n)) == n


@PROPERTY
@given(start=dates, n=counts)
def test_exactly_n_working_days_lie_after_the_start_up_to_the_deadline(start: date, n: int) -> None:
    due = CALENDAR.add_working_days(start, n)
    stepped_over = [start + timedelta(days=k) for k in range(1, (due - start).days + 1)]
    assert sum(CALENDAR.is_working_day(day) for day in stepped_over) == n


@PROPERTY
@given(start=dates, n=counts)
def test_one_more_working_day_always_gives_a_later_deadline(start: date, n: int) -> None:
    assert CALENDAR.add_working_days(start, n) < CALENDAR.add_working_days(start, n + 1)


@PROPERTY
@given(first=dates, second=dates, n=counts)
def test_a_later_start_never_gives_an_earlier_deadline(first: date, second: date, n: int) -> None:
    early, late = sorted((first, second))
    assert CALENDAR.add_working_days(early, n) <= CALENDAR.add_working_days(late, n)


@PROPERTY
@given(start=dates, n=positive_counts)
def test_a_deadline_is_after_the_start_and_at_most_n_weeks_of_five_days_plus_holidays_away(start: date, n: int) -> None:
    due = CALENDAR.add_working_days(start, n)
    assert start < due <= start + timedelta(days=n * 7 // 5 + 12)


@PROPERTY
@given(start=dates)
def test_zero_working_days_returns_the_start_unchanged(start: date) -> None:
    assert CALENDAR.add_working_days(start, 0) == start


@PROPERTY
@given(day=dates)
def test_weekends_are_never_working_days(day: date) -> None:
    if day.weekday() >= 5:
        assert not CALENDAR.is_working_day(day)


@PROPERTY
@given(start=dates, months=st.integers(min_value=-24, max_value=24))
def test_adding_months_keeps_the_day_unless_the_month_is_shorter(start: date, months: int) -> None:
    result = CALENDAR.add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day == start.day or (result.day < start.day and (result + timedelta(days=1)).day == 1)


@PROPERTY
@given(
    moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
    hours=st.floats(min_value=-200, max_value=200, allow_nan=False),
)
def test_adding_hours_is_real_elapsed_time_and_answers_in_london(moment: datetime, hours: float) -> None:
    result = CALENDAR.add_hours(moment, hours)
    assert result.tzinfo == LONDON
    assert abs((result - moment) - timedelta(hours=hours)) < timedelta(microseconds=2)


# --- the convention, on known dates --------------------------------------------------------


def test_aware_on_friday_19_december_2025_plus_5_working_days_is_tuesday_30_december() -> None:
    assert CALENDAR.add_working_days(d("2025-12-19"), 5) == d("2025-12-30")


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        pytest.param("2025-12-24", 1, "2025-12-29", id="Christmas Eve 2025 + 1 skips Christmas and Boxing Day"),
        pytest.param("2025-12-31", 1, "2026-01-02", id="New Year's Eve 2025 + 1 skips New Year's Day"),
        pytest.param("2026-12-24", 1, "2026-12-29", id="Christmas Eve 2026 + 1 skips the substitute Monday 28th"),
        pytest.param("2026-12-24", 3, "2026-12-31", id="Christmas Eve 2026 + 3 is New Year's Eve"),
        pytest.param("2026-12-24", 4, "2027-01-04", id="Christmas Eve 2026 + 4 skips New Year's Day 2027"),
        pytest.param(
            "2026-04-02", 1, "2026-04-07", id="Thursday before Easter 2026 + 1 skips Good Friday to Easter Monday"
        ),
        pytest.param("2026-04-03", 1, "2026-04-07", id="Good Friday 2026 is day 0 though not a working day"),
        pytest.param("2026-05-01", 1, "2026-05-05", id="Friday 1 May 2026 + 1 skips the May Day bank holiday"),
        pytest.param("2026-05-22", 1, "2026-05-26", id="Friday 22 May 2026 + 1 skips the Spring bank holiday"),
        pytest.param("2025-12-20", 1, "2025-12-22", id="a Saturday start counts from the Monday"),
        pytest.param("2025-12-21", 5, "2025-12-30", id="a Sunday start is day 0 like any other"),
        pytest.param("2025-12-30", -1, "2025-12-29", id="one working day before a Tuesday is the Monday"),
        pytest.param(
            "2025-12-29", -1, "2025-12-24", id="one working day before Monday 29 December 2025 is Christmas Eve"
        ),
        pytest.param(
            "2026-04-07", -1, "2026-04-02", id="one working day before Easter Tuesday 2026 is Maundy Thursday"
        ),
    ],
)
def test_working_days_are_counted_around_bank_holidays(start: str, n: int, due: str) -> None:
    assert CALENDAR.add_working_days(d(start), n) == d(due)


@pytest.mark.parametrize(
    "holiday",
    [
        pytest.param("2025-12-25", id="Christmas Day 2025 (Thursday)"),
        pytest.param("2025-12-26", id="Boxing Day 2025 (Friday)"),
        pytest.param("2026-01-01", id="New Year's Day 2026"),
        pytest.param("2026-04-03", id="Good Friday 2026"),
        pytest.param("2026-04-06", id="Easter Monday 2026"),
        pytest.param("2026-05-04", id="Early May bank holiday 2026"),
        pytest.param("2026-05-25", id="Spring bank holiday 2026"),
        pytest.param("2026-08-31", id="Summer bank holiday 2026"),
        pytest.param("2026-12-25", id="Christmas Day 2026 (Friday)"),
        pytest.param("2026-12-28", id="Boxing Day 2026 substitute (Monday)"),
        pytest.param("2027-12-27", id="Christmas Day 2027 substitute (Monday)"),
        pytest.param("2027-12-28", id="Boxing Day 2027 substitute (Tuesday)"),
    ],
)
def test_england_bank_holidays_and_substitute_days_are_not_working_days(holiday: str) -> None:
    assert not CALENDAR.is_working_day(d(holiday))


@pytest.mark.parametrize(
    "day",
    [
        pytest.param("2025-12-29", id="Monday between Christmas and New Year 2025"),
        pytest.param("2026-12-29", id="Tuesday after the Boxing Day substitute 2026"),
        pytest.param("2026-04-07", id="Tuesday after Easter 2026"),
        pytest.param("2026-03-17", id="St Patrick's Day is not an England bank holiday"),
        pytest.param("2026-01-02", id="2 January is a holiday in Scotland, not England"),
    ],
)
def test_ordinary_weekdays_are_working_days(day: str) -> None:
    assert CALENDAR.is_working_day(d(day))


def test_the_weekday_bank_holidays_of_2026_are_the_eight_england_dates() -> None:
    holidays_2026 = CALENDAR.bank_holidays(2026)
    assert "observed" in holidays_2026[d("2026-12-28")].lower()
    assert sorted(day for day in holidays_2026 if day.weekday() < 5) == [
        d(text)
        for text in (
            "2026-01-01",
            "2026-04-03",
            "2026-04-06",
            "2026-05-04",
            "2026-05-25",
            "2026-08-31",
            "2026-12-25",
            "2026-12-28",
        )
    ]


def test_working_days_between_counts_forwards_and_backwards() -> None:
    assert CALENDAR.working_days_between(d("2025-12-19"), d("2025-12-30")) == 5
    assert CALENDAR.working_days_between(d("2025-12-30"), d("2025-12-19")) == -5
    assert CALENDAR.working_days_between(d("2025-12-19"), d("2025-12-19")) == 0
    assert CALENDAR.working_days_between(d("2025-12-24"), d("2025-12-28")) == 0


# --- closure days ------------------------------------------------------------------------


def test_closure_days_are_not_working_days_and_push_deadlines_back() -> None:
    closed = EnglandCalendar(closure_days=[d("2025-12-29"), d("2025-12-30"), d("2025-12-31")])
    assert not closed.is_working_day(d("2025-12-29"))
    assert closed.add_working_days(d("2025-12-19"), 5) == d("2026-01-05")
    assert CALENDAR.is_working_day(d("2025-12-29")), "another partnership's closures do not leak"


def test_a_closure_day_on_a_weekend_or_bank_holiday_changes_nothing() -> None:
    closed = EnglandCalendar(closure_days=[d("2025-12-25"), d("2025-12-27")])
    assert closed.add_working_days(d("2025-12-19"), 5) == d("2025-12-30")


def test_closure_days_must_be_dates_not_datetimes() -> None:
    with pytest.raises(TypeError):
        EnglandCalendar(closure_days=[datetime(2025, 12, 29, 9, 0)])


def test_working_day_arithmetic_refuses_a_datetime_so_the_caller_picks_the_local_day() -> None:
    with pytest.raises(TypeError, match="local_date"):
        CALENDAR.add_working_days(datetime(2025, 12, 19, 23, 30, tzinfo=UTC), 5)


def test_local_date_is_the_day_in_london_not_in_utc() -> None:
    assert local_date(datetime(2026, 6, 1, 23, 30, tzinfo=UTC)) == d("2026-06-02")
    assert local_date(datetime(2026, 1, 1, 23, 30, tzinfo=UTC)) == d("2026-01-01")


# --- clock hours across the BST changes of 2026 (29 March, 25 October) ---------------------


def london(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("moment", "hours", "expected"),
    [
        pytest.param(
            london(2026, 3, 30, 10), -48, london(2026, 3, 28, 9), id="48h before Monday 10:00 BST is Saturday 09:00 GMT"
        ),
        pytest.param(
            london(2026, 3, 31, 10), -48, london(2026, 3, 29, 10), id="48h before Tuesday 10:00 BST, after the change"
        ),
        pytest.param(
            london(2026, 3, 31, 10), -72, london(2026, 3, 28, 9), id="72h before Tuesday 10:00 BST crosses the change"
        ),
        pytest.param(
            london(2026, 3, 28, 10), 24, london(2026, 3, 29, 11), id="24h after Saturday 10:00 GMT is Sunday 11:00 BST"
        ),
        pytest.param(
            london(2026, 10, 26, 10),
            -48,
            london(2026, 10, 24, 11),
            id="48h before Monday 10:00 GMT is Saturday 11:00 BST",
        ),
        pytest.param(
            london(2026, 10, 24, 10), 24, london(2026, 10, 25, 9), id="24h after Saturday 10:00 BST is Sunday 09:00 GMT"
        ),
        pytest.param(
            london(2026, 10, 27, 10), -48, london(2026, 10, 25, 10), id="48h before Tuesday 10:00 GMT, after the change"
        ),
    ],
)
def test_hours_are_elapsed_hours_across_the_clock_changes(moment: datetime, hours: float, expected: datetime) -> None:
    result = CALENDAR.add_hours(moment, hours)
    assert result == expected
    assert (result.hour, result.utcoffset()) == (expected.hour, expected.utcoffset())


def test_hours_given_in_utc_come_back_in_london_time() -> None:
    result = CALENDAR.add_hours(datetime(2026, 7, 1, 8, 0, tzinfo=UTC), 1)
    assert (result.hour, result.utcoffset()) == (10, timedelta(hours=1))


def test_hours_refuse_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add_hours(datetime(2026, 3, 30, 10, 0), 48)


# --- calendar months -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param("2025-08-31", 6, "2026-02-28", id="31 August + 6 months clamps to 28 February"),
        pytest.param("2027-08-31", 6, "2028-02-29", id="31 August + 6 months clamps to 29 February in a leap year"),
        pytest.param("2026-01-31", 1, "2026-02-28", id="31 January + 1 month"),
        pytest.param("2026-03-15", -3, "2025-12-15", id="15 March - 3 months crosses the year back"),
        pytest.param("2026-03-31", -1, "2026-02-28", id="31 March - 1 month clamps"),
        pytest.param("2026-03-25", 12, "2027-03-25", id="12 months is the same day next year"),
    ],
)
def test_months_are_calendar_months_clamped_to_the_month_end(start: str, months: int, expected: str) -> None:
    assert CALENDAR.add_months(d(start), months) == d(expected)


# --- shape and purity ----------------------------------------------------------------------


def test_the_england_calendar_is_the_working_calendar_the_domain_asks_for() -> None:
    assert isinstance(CALENDAR, WorkingCalendarPort)


def test_the_calendar_module_imports_only_the_standard_library_and_holidays() -> None:
    source = Path(__file__).resolve().parents[2] / "scheduler" / "calendar.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {"__future__", "calendar", "math", "collections", "datetime", "zoneinfo", "holidays"}
