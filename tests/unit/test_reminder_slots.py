"""When a deadline's reminders fall due (bot/domain/reminders.py).

A heads-up two working days before the due day, one on the due day and one on each
working day after it, all at 09:00 Europe/London, on the England calendar (weekends,
bank holidays and their substitute days skipped). A sweep that runs late picks only the
latest reminder not yet sent, and marks it delayed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reminders import (
    DELAYED_AFTER,
    MAX_OVERDUE_DAYS,
    Rag,
    ReminderKind,
    ReminderSlot,
    due_now,
    is_delayed,
    next_after,
    rag,
    slots,
)
from bot.domain.timeline import ReminderPlan
from scheduler.calendar import EnglandCalendar

LONDON = ZoneInfo("Europe/London")
CALENDAR = EnglandCalendar()
PLAN = ReminderPlan()  # heads-up 2 working days before, 09:00, daily while overdue


def at(day: str, hh: int = 9, mm: int = 0) -> datetime:
    """A London wall-clock time."""
    return datetime.combine(date.fromisoformat(day), time(hh, mm), tzinfo=LONDON)


def first(due_day: str, n: int, plan: ReminderPlan = PLAN) -> list[tuple[ReminderKind, datetime]]:
    return [(s.kind, s.at) for s in islice(slots(date.fromisoformat(due_day), plan, CALENDAR, LONDON), n)]


# ---- the slots ---------------------------------------------------------------------------------


def test_heads_up_two_working_days_before_then_due_day_then_each_working_day_overdue() -> None:
    # Due Friday 27 November 2026: heads-up Wednesday, due Friday, overdue from Monday (the weekend skipped).
    assert first("2026-11-27", 5) == [
        (ReminderKind.HEADS_UP, at("2026-11-25")),
        (ReminderKind.DUE, at("2026-11-27")),
        (ReminderKind.OVERDUE, at("2026-11-30")),
        (ReminderKind.OVERDUE, at("2026-12-01")),
        (ReminderKind.OVERDUE, at("2026-12-02")),
    ]


def test_heads_up_counts_back_over_a_weekend() -> None:
    # Due Tuesday 1 December: two working days before is Friday 27 November.
    assert first("2026-12-01", 1) == [(ReminderKind.HEADS_UP, at("2026-11-27"))]


def test_christmas_bank_holidays_and_the_boxing_day_substitute_are_skipped() -> None:
    # 2026: Christmas Day is Friday 25 December; Boxing Day is Saturday 26, so Monday 28 is the
    # substitute bank holiday; New Year's Day 2027 is Friday 1 January.
    assert first("2026-12-24", 6) == [
        (ReminderKind.HEADS_UP, at("2026-12-22")),
        (ReminderKind.DUE, at("2026-12-24")),
        (ReminderKind.OVERDUE, at("2026-12-29")),
        (ReminderKind.OVERDUE, at("2026-12-30")),
        (ReminderKind.OVERDUE, at("2026-12-31")),
        (ReminderKind.OVERDUE, at("2027-01-04")),
    ]
    # Counting back over them: due Tuesday 29 December, heads-up Wednesday 23 December.
    assert first("2026-12-29", 1) == [(ReminderKind.HEADS_UP, at("2026-12-23"))]


def test_no_reminder_ever_falls_on_a_weekend_or_bank_holiday() -> None:
    for due in ("2026-12-24", "2027-04-01", "2027-05-28", "2027-08-27"):
        for slot in slots(date.fromisoformat(due), PLAN, CALENDAR, LONDON):
            assert CALENDAR.is_working_day(slot.day), (due, slot)
            assert slot.at.astimezone(LONDON).time() == time(9, 0)


def test_a_partnership_closure_day_is_skipped_too() -> None:
    closed = EnglandCalendar([date(2026, 11, 30)])
    overdue = [s.day for s in islice(slots(date(2026, 11, 27), PLAN, closed, LONDON), 4)][2:]
    assert overdue == [date(2026, 12, 1), date(2026, 12, 2)]


def test_overdue_reminders_stop_after_the_escalation_limit() -> None:
    all_slots = list(slots(date(2026, 11, 27), PLAN, CALENDAR, LONDON))
    assert len(all_slots) == 1 + 1 + MAX_OVERDUE_DAYS
    assert [s.kind for s in all_slots].count(ReminderKind.OVERDUE) == MAX_OVERDUE_DAYS
    assert all(a.at < b.at for a, b in zip(all_slots, all_slots[1:], strict=False))


def test_a_plan_without_heads_up_or_overdue_has_only_the_due_day() -> None:
    plan = ReminderPlan(heads_up_working_days=0, overdue_daily=False, due_time=time(8, 30))
    assert first("2026-11-27", 5, plan) == [(ReminderKind.DUE, at("2026-11-27", 8, 30))]


def test_keys_name_the_kind_and_the_day() -> None:
    slot = ReminderSlot(ReminderKind.OVERDUE, at("2026-11-30"), date(2026, 11, 30))
    assert slot.key_part == "overdue:2026-11-30"


# ---- British Summer Time -------------------------------------------------------------------------


def test_a_due_day_after_the_clocks_go_back_keeps_nine_oclock_local() -> None:
    # BST ends at 02:00 on Sunday 25 October 2026. Due Tuesday 27 October: the heads-up on
    # Friday 23 October is 09:00 BST (08:00 UTC); the due day is 09:00 GMT (09:00 UTC).
    heads_up, due, overdue = islice(slots(date(2026, 10, 27), PLAN, CALENDAR, LONDON), 3)
    assert heads_up.day == date(2026, 10, 23)
    assert heads_up.at.astimezone(UTC) == datetime(2026, 10, 23, 8, 0, tzinfo=UTC)
    assert due.at.astimezone(UTC) == datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
    assert overdue.at.astimezone(UTC) == datetime(2026, 10, 28, 9, 0, tzinfo=UTC)
    assert {s.at.astimezone(LONDON).time() for s in (heads_up, due, overdue)} == {time(9, 0)}


def test_a_due_day_after_the_clocks_go_forward_keeps_nine_oclock_local() -> None:
    # BST starts on Sunday 28 March 2027: due Tuesday 30 March is 09:00 BST = 08:00 UTC, while
    # its heads-up is still 09:00 GMT = 09:00 UTC, on Wednesday 24 March (Easter 2027 falls in
    # between: Good Friday 26 March and Easter Monday 29 March are bank holidays).
    heads_up, due = islice(slots(date(2027, 3, 30), PLAN, CALENDAR, LONDON), 2)
    assert heads_up.at.astimezone(UTC) == datetime(2027, 3, 24, 9, 0, tzinfo=UTC)
    assert due.at.astimezone(UTC) == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)


def test_the_sweep_across_the_clock_change_finds_the_right_slot() -> None:
    # 08:30 UTC on Tuesday 27 October 2026 is 08:30 GMT: the due reminder (09:00) is not due yet.
    slot, next_at = due_now(date(2026, 10, 27), PLAN, CALENDAR, LONDON,
                            datetime(2026, 10, 27, 8, 30, tzinfo=UTC), at("2026-10-23"))
    assert slot is None
    assert next_at == at("2026-10-27")


# ---- which one is due now ----------------------------------------------------------------------


DUE = date(2026, 11, 27)


def test_nothing_is_due_before_the_heads_up() -> None:
    slot, next_at = due_now(DUE, PLAN, CALENDAR, LONDON, at("2026-11-25", 8, 59), None)
    assert slot is None
    assert next_at == at("2026-11-25")


def test_the_heads_up_is_due_at_nine() -> None:
    slot, next_at = due_now(DUE, PLAN, CALENDAR, LONDON, at("2026-11-25"), None)
    assert slot is not None and slot.kind is ReminderKind.HEADS_UP and slot.at == at("2026-11-25")
    assert next_at == at("2026-11-27")


def test_only_the_latest_unsent_slot_is_picked_after_missing_several() -> None:
    # Down from Tuesday until the following Tuesday: heads-up, due day and Monday's overdue
    # were all missed; only Tuesday's overdue reminder is due, the rest are not sent on top.
    slot, next_at = due_now(DUE, PLAN, CALENDAR, LONDON, at("2026-12-01", 11, 0), None)
    assert slot is not None
    assert (slot.kind, slot.day) == (ReminderKind.OVERDUE, date(2026, 12, 1))
    assert next_at == at("2026-12-02")
    # The same when the heads-up had been sent before the outage.
    slot, _ = due_now(DUE, PLAN, CALENDAR, LONDON, at("2026-12-01", 11, 0), at("2026-11-25"))
    assert slot is not None and slot.day == date(2026, 12, 1)


def test_a_sent_slot_is_not_picked_again() -> None:
    slot, next_at = due_now(DUE, PLAN, CALENDAR, LONDON, at("2026-11-27", 15, 0), at("2026-11-27"))
    assert slot is None
    assert next_at == at("2026-11-30")


def test_after_the_last_overdue_reminder_there_is_no_next_one() -> None:
    last = list(slots(DUE, PLAN, CALENDAR, LONDON))[-1]
    slot, next_at = due_now(DUE, PLAN, CALENDAR, LONDON, last.at + timedelta(days=30), None)
    assert slot == last and next_at is None
    assert due_now(DUE, PLAN, CALENDAR, LONDON, last.at + timedelta(days=30), last.at) == (None, None)


def test_next_after_skips_what_was_sent() -> None:
    assert next_after(DUE, PLAN, CALENDAR, LONDON, datetime.min.replace(tzinfo=LONDON)) == at("2026-11-25")
    assert next_after(DUE, PLAN, CALENDAR, LONDON, at("2026-11-25")) == at("2026-11-27")
    assert next_after(DUE, PLAN, CALENDAR, LONDON, at("2026-11-27", 12)) == at("2026-11-30")


# ---- delayed -----------------------------------------------------------------------------------


def test_delayed_means_more_than_ten_minutes_after_it_fell_due() -> None:
    slot = ReminderSlot(ReminderKind.DUE, at("2026-11-27"), DUE)
    assert DELAYED_AFTER == timedelta(minutes=10)
    assert not is_delayed(slot, slot.at)
    assert not is_delayed(slot, slot.at + timedelta(minutes=10))
    assert is_delayed(slot, slot.at + timedelta(minutes=10, seconds=1))
    assert is_delayed(slot, at("2026-11-30", 8))


# ---- red, amber, green -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "today", "expected"),
    [
        ("2026-11-24", "2026-11-25", Rag.RED),  # yesterday
        ("2026-11-25", "2026-11-25", Rag.AMBER),  # today
        ("2026-11-27", "2026-11-25", Rag.AMBER),  # two working days ahead
        ("2026-11-30", "2026-11-25", Rag.GREEN),  # three
        ("2026-12-01", "2026-11-27", Rag.AMBER),  # two working days over the weekend
        ("2026-12-02", "2026-11-27", Rag.GREEN),
        ("2026-12-29", "2026-12-23", Rag.AMBER),  # over Christmas and the Boxing Day substitute
        ("2026-12-30", "2026-12-23", Rag.GREEN),
    ],
)
def test_rag(due: str, today: str, expected: Rag) -> None:
    assert rag(date.fromisoformat(due), date.fromisoformat(today), CALENDAR) is expected
