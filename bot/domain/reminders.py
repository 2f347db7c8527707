"""When a deadline's reminders fall due (docs/architecture.md, Statutory clock).

Per step, by default: a heads-up some working days before the due day, one on the due
day, and an overdue reminder on each working day after it, all at the plan's time
(09:00 local). Nothing here reads a clock or sends anything: the sweep asks "which
reminder is due now, and when is the next one?".

A sweep that runs late (the bot was down) sends only the latest reminder that has
fallen due, once, marked as delayed; the earlier ones it missed are not sent on top.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from bot.domain.timeline import ReminderPlan, WorkingCalendarPort

DELAYED_AFTER = timedelta(minutes=10)
MAX_OVERDUE_DAYS = 60  # after twelve weeks overdue, the daily escalation stops


class ReminderKind(StrEnum):
    HEADS_UP = "heads_up"
    DUE = "due"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReminderSlot:
    kind: ReminderKind
    at: datetime
    day: date

    @property
    def key_part(self) -> str:
        return f"{self.kind.value}:{self.day.isoformat()}"


def _at(day: date, when: time, tz: tzinfo) -> datetime:
    return datetime.combine(day, when, tzinfo=tz)


def slots(due_day: date, plan: ReminderPlan, calendar: WorkingCalendarPort, tz: tzinfo) -> Iterator[ReminderSlot]:
    """Every reminder of a deadline, in time order (overdue ones for MAX_OVERDUE_DAYS)."""
    if plan.heads_up_working_days > 0:
        heads_up = calendar.add_working_days(due_day, -plan.heads_up_working_days)
        yield ReminderSlot(ReminderKind.HEADS_UP, _at(heads_up, plan.due_time, tz), heads_up)
    # A step due on a non-working day (48 hours before a Tuesday meeting is a Sunday) is
    # announced on the last working day before it, not at the weekend.
    announce = due_day if calendar.is_working_day(due_day) else calendar.add_working_days(due_day, -1)
    yield ReminderSlot(ReminderKind.DUE, _at(announce, plan.due_time, tz), due_day)
    if plan.overdue_daily:
        for n in range(1, MAX_OVERDUE_DAYS + 1):
            day = calendar.add_working_days(due_day, n)
            yield ReminderSlot(ReminderKind.OVERDUE, _at(day, plan.due_time, tz), day)


def due_now(due_day: date, plan: ReminderPlan, calendar: WorkingCalendarPort, tz: tzinfo, now: datetime,
            last_sent: datetime | None) -> tuple[ReminderSlot | None, datetime | None]:
    """(the latest reminder due at `now` not yet sent, the time of the next one after now)."""
    latest: ReminderSlot | None = None
    for slot in slots(due_day, plan, calendar, tz):
        if slot.at > now:
            return (latest if _unsent(latest, last_sent) else None), slot.at
        latest = slot
    return (latest if _unsent(latest, last_sent) else None), None


def _unsent(slot: ReminderSlot | None, last_sent: datetime | None) -> bool:
    return slot is not None and (last_sent is None or slot.at > last_sent)


def next_after(due_day: date, plan: ReminderPlan, calendar: WorkingCalendarPort, tz: tzinfo,
               moment: datetime) -> datetime | None:
    for slot in slots(due_day, plan, calendar, tz):
        if slot.at > moment:
            return slot.at
    return None


def is_delayed(slot: ReminderSlot, now: datetime) -> bool:
    return now - slot.at > DELAYED_AFTER


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


def rag(due_day: date, today: date, calendar: WorkingCalendarPort, amber_working_days: int = 2) -> Rag:
    """Red: overdue. Amber: due within two working days. Green: further off."""
    if due_day < today:
        return Rag.RED
    if due_day <= calendar.add_working_days(today, amber_working_days):
        return Rag.AMBER
    return Rag.GREEN
