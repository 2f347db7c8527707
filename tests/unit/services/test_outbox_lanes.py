"""Posts held back by the panel channel's pace never take every lane of the outbox.

The outbox delivers side by side in lanes: one per person, one per case (bot/services/outbox.py).
After downtime a burst of escalations (one post per case's thread, all in the one panel channel)
waits in Teams' 60 posts per 30 s for that channel. Before, each waiting post held a lane, all 24
lanes filled, and the owners' reminders in their personal chats, which Teams does not hold, waited
behind them. Now, while MAX_CHANNEL_LANES lanes of case posts run, only messages addressed to a
person are claimed; the case posts wait unleased.
"""

from __future__ import annotations

import asyncio

from bot.services.outbox import MAX_CHANNEL_LANES, MAX_LANES, OutboxDispatcher
from bot.services.ports import OutboxItem, OutboxMessage
from tests.unit.services.flow import services

HELD = MAX_LANES + 16  # more case posts than there are lanes


async def test_a_personal_message_goes_while_the_channels_posts_wait_for_its_pace() -> None:
    ctx = await services()
    pace = asyncio.Event()  # the channel's window opening again
    delivered: list[str] = []

    async def channel_post(item: OutboxItem) -> bool:
        await pace.wait()
        delivered.append(item.key)
        return True

    async def personal(item: OutboxItem) -> bool:
        delivered.append(item.key)
        return True

    dispatcher = OutboxDispatcher(ctx, kinds={"channel_post": channel_post, "personal": personal})
    await ctx.outbox.enqueue(
        [OutboxMessage(key=f"post:{n}", kind="channel_post", case_id=f"case-{n}") for n in range(HELD)], ctx.clock.now()
    )
    await ctx.outbox.enqueue([OutboxMessage(key="reminder", kind="personal", payload={"to": "aad-1"})], ctx.clock.now())
    passing = asyncio.create_task(dispatcher.dispatch_due())
    for _ in range(200):
        await asyncio.sleep(0)
        if delivered:
            break
    assert delivered == ["reminder"]  # before any post the channel holds back
    unleased = [
        r
        for r in ctx.uow.db.state.outbox.values()  # type: ignore[attr-defined]
        if r["kind"] == "channel_post" and r["claimed_until"] is None
    ]
    assert len(unleased) >= HELD - 20 - MAX_CHANNEL_LANES  # the rest wait unleased, not in a lane
    pace.set()
    assert await asyncio.wait_for(passing, 5) == HELD + 1
    assert sorted(delivered[1:]) == sorted(f"post:{n}" for n in range(HELD))
