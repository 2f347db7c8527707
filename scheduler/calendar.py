"""The England working-day calendar that every statutory clock is counted on.

Why this module exists: the guidance counts in *working days* ("notify the National Panel
within five working days of becoming aware", Stockport Rapid Review Process (2019); "within
2 working days of receiving the referral", West Midlands procedures, 4.3.3) and in clock hours
("48 hours before the meeting", Surrey Rapid Review & CSPR flowchart).
A working day is Monday to Friday except the bank holidays of England (substitute days
included, e.g. Boxing Day on Saturday 26 December 2026 gives Monday 28 December off) and the
partnership's own closure days (docs/architecture.md, Statutory clock).

The rule for "within N working days of D", written down once so it is never an accident of a
loop: the deadline is the N-th working day *after* D, and D is day 0 even when D itself is a
Saturday or a bank holiday. Aware on Friday 19 December 2025, within 5 working days, means on
or before Tuesday 30 December 2025 (22, 23, 24, 29, 30; 25 and 26 are bank holidays).

This module is pure (stdlib and `holidays` only) so the domain can be tested with it, and it
satisfies `bot.domain.timeline.WorkingCalendarPort` structurally without importing it.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def _require_date(value: object, name: str) -> date:
    """Refuse datetimes: a UTC 23:30 is already tomorrow in London during BST, so the caller
    must decide which local day an instant belongs to (see `local_date`)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}; use local_date() for a datetime")
    return value


def local_date(moment: datetime, tz: ZoneInfo = LONDON) -> date:
    """The calendar day an aware instant falls on in England (the day a clock starts from)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be timezone-aware")
    return moment.astimezone(tz).date()


class EnglandCalendar:
    """Working days in England, with the partnership's closure days.

    Non-working days are computed once per year and kept in a frozenset, because deadline
    arithmetic asks "is this a working day?" for every day it steps over, for every case,
    on every reminder sweep.
    """

    def __init__(self, closure_days: Iterable[date] = ()) -> None:
        self._closure_days = frozenset(_require_date(d, "closure day") for d in closure_days)
        self._closed_by_year: dict[int, frozenset[date]] = {}

    @property
    def closure_days(self) -> frozenset[date]:
        return self._closure_days

    def bank_holidays(self, year: int) -> dict[date, str]:
        """England's bank holidays in `year`, substitute ("observed") days included."""
        # Ask for the neighbouring years too, so a substitute day that falls into `year` for a
        # holiday of the previous or next year would still be found; then keep only `year`.
        # lazy: importing it loads all its calendar systems, ~40 ms and ~4 MiB (start-up time: README, Performance)
        import holidays

        found = holidays.country_holidays("GB", subdiv="ENG", years=(year - 1, year, year + 1))
        return {d: name for d, name in sorted(found.items()) if d.year == year}

    def _closed(self, year: int) -> frozenset[date]:
        closed = self._closed_by_year.get(year)
        if closed is None:
            closed = frozenset(self.bank_holidays(year)) | {d for d in self._closure_days if d.year == year}
            self._closed_by_year[year] = closed
        return closed

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday, not an England bank holiday, not a closure day."""
        _require_date(d, "d")
        return d.weekday() < _SATURDAY and d not in self._closed(d.year)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (n > 0) or before it (n < 0); `start` is day 0.

        n == 0 returns `start` unchanged, even when it is not a working day: "within 0 working
        days" has no meaning in the guidance, and changing the date silently would hide that.
        """
        _require_date(start, "start")
        step = _ONE_DAY if n >= 0 else -_ONE_DAY
        remaining = abs(n)
        day = start
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days `end` is after `start`, so that
        ``working_days_between(D, add_working_days(D, n)) == n`` for every n.

        Forwards it counts working days d with start < d <= end. Backwards (end < start) it
        counts d with end <= d < start and is negative: the inverse of stepping back n
        working days, whose result is itself a working day.
        """
        _require_date(start, "start")
        _require_date(end, "end")
        if end >= start:
            return self._working_days_through(start + _ONE_DAY, end)
        return -self._working_days_through(end, start - _ONE_DAY)

    def _working_days_through(self, first: date, last: date) -> int:
        """Working days from `first` to `last`, both included: the weekdays, counted by
        arithmetic, less the closed days among them. (`status` asks this for every line it
        shows, and a step weeks overdue made a day-by-day count hold the event loop.)"""
        if last < first:
            return 0
        full_weeks, extra = divmod((last - first).days + 1, 7)
        weekdays = full_weeks * 5 + sum(1 for i in range(extra) if (first.weekday() + i) % 7 < _SATURDAY)
        closed = sum(1 for year in range(first.year, last.year + 1) for d in self._closed(year)
                     if first <= d <= last and d.weekday() < _SATURDAY)
        return weekdays - closed

    def add_hours(self, moment: datetime, hours: float) -> datetime:
        """Elapsed clock hours, in Europe/London.

        Arithmetic is done in UTC so that "48 hours before 10:00 on the Monday after the clocks
        go forward" is a real 48 hours (09:00 GMT on the Saturday), not 48 wall-clock hours.
        """
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("moment must be timezone-aware (a naive time is ambiguous around BST changes)")
        if not math.isfinite(hours):
            raise ValueError("hours must be a finite number")
        return (moment.astimezone(UTC) + timedelta(hours=hours)).astimezone(LONDON)

    def add_months(self, d: date, months: int) -> date:
        """Calendar months, clamped to the end of a shorter month (31 August + 6 months is the
        last day of February), because "within 6 months" must never run past that month."""
        _require_date(d, "d")
        index = d.year * 12 + (d.month - 1) + months
        year, month = divmod(index, 12)
        month += 1
        last_day = _stdlib_calendar.monthrange(year, month)[1]
        return date(year, month, min(d.day, last_day))
