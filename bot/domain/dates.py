"""The one way a person reads a date or a time, on every card and in every document:
"Wed 25 Nov 2026" and "Wed 25 Nov 2026, 10:00" (Europe/London). Stored and exchanged
dates stay ISO 8601; only what is shown to people goes through here.

Pure: stdlib only.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

DAY = "%a %d %b %Y"
TIME = "%H:%M"


def format_day(day: date | datetime) -> str:
    """A calendar day as people read it: "Wed 25 Nov 2026". A datetime must be converted to the
    partnership's zone first (use `format_moment`, or pass `.astimezone(tz).date()`)."""
    if isinstance(day, datetime):
        day = day.date()
    return day.strftime(DAY)


def format_moment(moment: datetime, tz: tzinfo) -> str:
    """An instant as people read it, in the partnership's zone: "Wed 25 Nov 2026, 10:00"."""
    local = moment.astimezone(tz)
    return f"{local.strftime(DAY)}, {local.strftime(TIME)}"


def format_time(moment: datetime, tz: tzinfo) -> str:
    """The clock time alone, in the partnership's zone: "10:00"."""
    return moment.astimezone(tz).strftime(TIME)
