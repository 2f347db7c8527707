"""A backlog of reminders is written in few transactions, each all or nothing.

After downtime the sweep records the due reminders in chunks, one transaction each
(bot/services/deadlines.py, `sweep`), and the outbox splits the reminders it claims together
into their owners' rows in one transaction (bot/services/reminder_delivery.py, `split_due`).
A crash inside either transaction leaves none of its writes, and the next pass delivers each
reminder to each of its owners exactly once. On the in-memory stores, with a crash injected
into the unit of work (tests/support/memory_stores.py).
"""

from __future__ import annotations

from collections import Counter

import pytest

from bot.services import deadlines
from bot.services.context import ServiceContext
from bot.services.outbox import LEASE_SECONDS, OutboxDispatcher
from bot.services.ports import Address
from bot.services.referrals import PANEL_CHANNEL
from tests.support.memory_stores import InjectedCrash
from tests.unit.services.flow import PAT, db, decided, services, snapshot

CASES = 3
WEDNESDAY_0905 = {"days": 1, "hours": 23, "minutes": 5}  # from Monday 10:00: the heads-ups are due


async def _backlog() -> ServiceContext:
    """Three decided cases whose reminders fell due together, with nothing else waiting."""
    ctx = await services()
    for n in range(CASES):
        await decided(ctx, draft=f"draft-{n}")
    for row in db(ctx).state.outbox.values():  # the cases' own cards are not what this is about
        row["status"] = "sent"
    ctx.clock.advance(**WEDNESDAY_0905)  # type: ignore[attr-defined]
    return ctx


def _reminder_rows(ctx: ServiceContext) -> list[dict]:
    return [r for r in db(ctx).state.outbox.values() if r["kind"] == "reminder"]


async def test_a_crash_inside_the_sweeps_transaction_records_none_of_it_and_the_next_sweep_each_once() -> None:
    ctx = await _backlog()
    due = await ctx.deadlines.due_for_reminder(ctx.clock.now(), 500)
    assert len(due) >= CASES
    before = snapshot(ctx)

    ctx.uow.crash_after_writes(2)  # type: ignore[attr-defined]
    with pytest.raises(InjectedCrash):
        await deadlines.sweep(ctx)
    assert db(ctx).state == before  # not the first two reminders without the others

    recorded = await deadlines.sweep(ctx)
    assert recorded == len(due)
    assert await deadlines.sweep(ctx) == 0
    keys = [r["key"] for r in _reminder_rows(ctx)]
    assert len(keys) == len(set(keys)) == recorded


async def test_reminders_claimed_together_are_split_in_one_transaction_and_a_crash_splits_none() -> None:
    ctx = await _backlog()
    recorded = await deadlines.sweep(ctx)
    assert recorded >= CASES
    dispatcher = OutboxDispatcher(ctx)

    ctx.uow.crash_after_writes(3)  # type: ignore[attr-defined]
    with pytest.raises(InjectedCrash):
        await dispatcher.dispatch_due()
    rows = _reminder_rows(ctx)
    assert not [r for r in rows if ">" in r["key"]]  # no owner has a row of their own yet
    assert {r["status"] for r in rows} == {"pending"}  # every reminder still to deliver (its lease runs out)
    assert ctx.notifier.calls == []  # type: ignore[attr-defined]

    ctx.clock.advance(seconds=LEASE_SECONDS + 1)  # type: ignore[attr-defined]
    await dispatcher.dispatch_due()
    await dispatcher.dispatch_due()

    sent = Counter(
        (view.deadline.id, to)
        for name, (to, views) in ctx.notifier.calls  # type: ignore[attr-defined]
        if name == "send_reminders"
        for view in views
    )
    owners = {r["key"].split(">", 1)[0]: [] for r in _reminder_rows(ctx)}
    for row in _reminder_rows(ctx):
        if row["payload"].get("to"):
            owners[row["key"].split(">", 1)[0]].append(row["payload"]["to"])
    assert sum(len(people) for people in owners.values()) == len(sent) >= recorded  # each owner, their own row
    assert set(sent.values()) == {1}  # each reminder to each of its owners once
    assert {r["status"] for r in _reminder_rows(ctx)} == {"sent"}
    assert all(r["sent_at"] is not None for r in db(ctx).state.reminders.values())


async def test_an_escalation_gets_a_row_for_the_case_thread_written_with_its_owners_rows() -> None:
    """The first overdue reminder of a step is posted once in the case's thread and goes to each
    owner's chat; the thread's post is a row of its own, written in the owners' transaction, so the
    owners' digests never wait behind the panel channel's pace, and a crash writes neither."""
    ctx = await _backlog()
    await ctx.roster.bind_channel(
        PANEL_CHANNEL,
        Address("19:panel@thread.tacv2", "https://smba.example"),
        "team",
        "19:panel@thread.tacv2",
        PAT,
        ctx.clock.now(),
    )
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]  # Thursday 09:05: the templates are overdue
    await deadlines.sweep(ctx)
    for row in _reminder_rows(ctx):  # Wednesday's reminders went already
        if row["key"].endswith("2026-11-25"):
            row["status"] = "sent"
    dispatcher = OutboxDispatcher(ctx)

    ctx.uow.crash_after_writes(1)  # type: ignore[attr-defined]
    with pytest.raises(InjectedCrash):
        await dispatcher.dispatch_due()
    assert not [r for r in _reminder_rows(ctx) if ">" in r["key"]]

    ctx.clock.advance(seconds=LEASE_SECONDS + 1)  # type: ignore[attr-defined]
    await dispatcher.dispatch_due()
    await dispatcher.dispatch_due()
    escalated = [view.deadline.id for name, (_, view) in ctx.notifier.calls if name == "post_reminder"]  # type: ignore[attr-defined]
    assert len(escalated) == len(set(escalated)) == CASES  # each case's overdue template, in its thread, once
    to_owners = Counter(
        view.deadline.id
        for name, (_, views) in ctx.notifier.calls  # type: ignore[attr-defined]
        if name == "send_reminders"
        for view in views
    )
    assert set(escalated) <= set(to_owners)  # and to its owners, in their chats
    thread_rows = [r for r in _reminder_rows(ctx) if r["key"].endswith(">thread")]
    assert len(thread_rows) == CASES and {r["status"] for r in _reminder_rows(ctx)} == {"sent"}
