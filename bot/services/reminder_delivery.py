"""Who a reminder goes to, and how: each person who owns the step, in their personal chat.

A reminder is for the people who own the step, so it goes to each of them in their own
personal chat with the bot (one outbox row per person, bot/services/recipients.py), mentioning
nobody else; the case's thread in the panel channel keeps its card, updated in place, and gets
one post only when a step becomes overdue (the escalation). A reminder nobody on the roster
owns is posted in the case's thread, where the panel sees it.

The reminders that fall due for one person at once (a morning with many steps, a backlog after
downtime) go to them as one digest card: a person's chat is one thread for Teams' limits (60
per 30 s), and nobody wants a hundred messages. The rows are gathered in one transaction before
anything is sent (bot/adapters/db/outbox_store.py, `gather`), so each reminder is delivered once
whatever crashes, and another process never sends one of them on its own.

A backlog is written in few transactions: the reminders the outbox claims together are split
into their owners' rows in one (`split_due`), so after downtime every owner's rows exist before
their first digest goes and each digest is full.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from bot.domain.outbox import OutboxKind
from bot.domain.reminders import ReminderKind
from bot.services import recipients
from bot.services.context import ServiceContext
from bot.services.ports import DeadlineRow, MemberRecord, OutboxItem, OutboxMessage
from bot.services.reminder_view import ReminderView, reminded_people, reminder_view

# Reminders in one card: the most that fit the card budget at their longest (cards/budget.py; 15 do
# not). As many as fit, because a person's chat takes 60 messages per 30 s: the owner of 700 steps
# due at once after downtime gets 50 digests, inside one window, where 12 a card made 59 and a
# single refused send then pushed the rest past the window's end.
DIGEST_MOST = 14
IN_THREAD = "in_thread"  # a row for the escalation's post in the case's thread (its people have their own rows)


def reminder_key(outbox_key: str) -> str:
    """The reminder's own key (its row in `reminders`) from a person's row's key (`…>aad`)."""
    return outbox_key.split(">", 1)[0]


def deadline_id(item: OutboxItem) -> int:
    return int(item.payload["deadline_id"])


async def view_of(ctx: ServiceContext, item: OutboxItem) -> ReminderView | None:
    """The reminder as it is now; None when the step was done or the case closed since."""
    return await _view_with(ctx, item, await ctx.deadlines.deadline(deadline_id(item)))


async def _view_with(ctx: ServiceContext, item: OutboxItem, row: DeadlineRow | None) -> ReminderView | None:
    """The reminder with its step as just read; None when the step was done or the case closed since."""
    assert item.case_id is not None
    if row is None or row.status != "open":
        return None
    case = await ctx.cases.get_case_by_id(item.case_id)
    if case is None:
        return None
    return await reminder_view(ctx, case, row, item.payload["kind"], bool(item.payload.get("delayed")))


async def owners_of(ctx: ServiceContext, item: OutboxItem, row: DeadlineRow,
                    members: Sequence[MemberRecord]) -> list[str]:
    """Who the reminder is for, given its open step as it is now and the roster (both read once for
    the batch, without rendering: a backlog of a thousand is split quickly)."""
    assert item.case_id is not None
    people = await reminded_people(ctx, item.case_id, row, ReminderKind(item.payload["kind"]), members)
    return sorted({m.aad_object_id for m in people})


def _splittable(item: OutboxItem) -> bool:
    """A reminder not yet split among its owners (nor the escalation's own row)."""
    return item.kind == OutboxKind.REMINDER and not recipients.addressed_to(item) and not item.payload.get(IN_THREAD)


async def split_due(ctx: ServiceContext, items: Sequence[OutboxItem]) -> list[OutboxItem]:
    """Split the reminders among `items` (claimed together) into their owners' rows, all in one
    transaction, and return the items still to deliver one by one: the other kinds, and a
    reminder nobody owns (posted in the case's thread). An escalation's post in the case's thread
    gets a row of its own in the same transaction, so the owners' reminders never wait behind the
    panel channel's pace. One transaction per claimed batch instead of one per reminder: after
    downtime a thousand reminders are split in a second or two, before their digests go out."""
    splits: list[tuple[OutboxItem, list[str]]] = []
    in_thread: list[OutboxMessage] = []
    left: list[OutboxItem] = []
    reminders = [item for item in items if _splittable(item)]
    rows = await ctx.deadlines.deadlines_by_id([deadline_id(item) for item in reminders])
    members = await ctx.roster.members() if reminders else []
    for item in items:
        if not _splittable(item):
            left.append(item)
            continue
        row = rows.get(deadline_id(item))
        if row is None or row.status != "open":  # done, or the case closed since (closing closes its steps)
            splits.append((item, []))  # nothing to send: the row is finished
            continue
        people = await owners_of(ctx, item, row, members)
        if not people:
            left.append(item)
            continue
        splits.append((item, people))
        if is_escalation(ctx, row, item):
            in_thread.append(OutboxMessage(key=f"{item.key}>thread", kind=item.kind, case_id=item.case_id,
                                           payload={**item.payload, IN_THREAD: True}))
    if splits:
        await recipients.split_all(ctx, splits, in_thread)
    return left


class RenderedReminders:
    """Each reminder rendered once for all the people it goes to: the first person's digest works
    it out, the others' reuse it with the step as read for their digest (done since: not sent).
    Kept briefly, by the reminder's key (one slot of one step)."""

    def __init__(self, keep_seconds: float = 120.0, most: int = 5000) -> None:
        self._keep = keep_seconds
        self._most = most
        self._views: dict[str, tuple[datetime, ReminderView]] = {}

    async def view(self, ctx: ServiceContext, item: OutboxItem, row: DeadlineRow | None) -> ReminderView | None:
        """`row`: the reminder's step, read just now (None: gone)."""
        key, now = reminder_key(item.key), ctx.clock.now()
        kept = self._views.get(key)
        if kept is not None and (now - kept[0]).total_seconds() < self._keep:
            return replace(kept[1], deadline=row) if row is not None and row.status == "open" else None
        view = await _view_with(ctx, item, row)
        if view is not None:
            if len(self._views) >= self._most:
                self._views.clear()
            self._views[key] = (now, view)
        return view


def is_escalation(ctx: ServiceContext, row: DeadlineRow, item: OutboxItem) -> bool:
    """The first overdue reminder of a step: the day it is escalated, posted in the case's thread."""
    scheduled_for = item.payload.get("scheduled_for")
    if item.payload.get("kind") != ReminderKind.OVERDUE.value or not scheduled_for or row.due_at is None:
        return False
    slot_day = datetime.fromisoformat(str(scheduled_for)).astimezone(ctx.tz).date()
    return slot_day == ctx.calendar.add_working_days(row.due_at.astimezone(ctx.tz).date(), 1)


async def deliver_to(
    ctx: ServiceContext, item: OutboxItem, to: str, mine: set[int], rendered: RenderedReminders
) -> bool:
    """One person's reminder, with the others due for them now gathered into one card.
    `mine`: rows this process claimed and has not started; those gathered leave it."""
    items = await ctx.outbox.gather(item, to, ctx.clock.now(), DIGEST_MOST, mine)
    mine.difference_update(i.id for i in items)
    shown: list[tuple[OutboxItem, ReminderView]] = []
    rows = await ctx.deadlines.deadlines_by_id([deadline_id(i) for i in items])  # the digest's steps, read together
    for gathered in items:
        view = await rendered.view(ctx, gathered, rows.get(deadline_id(gathered)))
        if view is not None and any(m.aad_object_id == to for m in view.mentions):  # still theirs
            shown.append((gathered, replace(view, mentions=[m for m in view.mentions if m.aad_object_id == to])))
    views = [view for _, view in shown]
    if views and not await recipients.deliver(ctx, item, to, lambda: ctx.notifier.send_reminders(to, views)):
        return False  # waits for them, with the reminders it carries (bot/services/recipients.py)
    now = ctx.clock.now()
    await ctx.outbox.done_gathered([i.id for i in items[1:]], now)
    await _record_sent(ctx, [i.key for i, _ in shown], now)
    return True


async def _record_sent(ctx: ServiceContext, keys: Collection[str], at: datetime) -> None:
    await ctx.deadlines.reminders_sent(sorted({reminder_key(k) for k in keys}), at)


async def sent_in_thread(ctx: ServiceContext, item: OutboxItem) -> None:
    await _record_sent(ctx, [item.key], ctx.clock.now())
