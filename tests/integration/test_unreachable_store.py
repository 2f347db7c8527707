"""The record of people Teams would not deliver to, on SQLite and PostgreSQL: marked once,
and cleared with only that person's waiting messages made due again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.app import sql_stores
from bot.services.ports import OutboxMessage

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PAT, CHRIS = "00000000-0000-0000-0000-00000000a002", "00000000-0000-0000-0000-00000000a003"


async def test_marked_once_and_only_their_waiting_messages_are_released(db) -> None:
    outbox = sql_stores(db, rng=random.Random(7)).outbox
    await outbox.enqueue([OutboxMessage(key=f"record_links:c1>{aad}", kind="record_links", case_id="c1",
                                        payload={"to": aad}) for aad in (PAT, CHRIS)], NOW)
    items = {i.payload["to"]: i for i in await outbox.claim(NOW, 60, 10)}
    for item in items.values():
        await outbox.park(item.id, "waiting_person", "not reachable")

    assert await outbox.reachable_again(PAT, NOW) is None  # not marked: nothing to release
    assert await outbox.mark_unreachable(PAT, NOW, "404") is True
    assert await outbox.mark_unreachable(PAT, NOW + timedelta(minutes=1), "403") is False  # already known
    assert await outbox.is_unreachable(PAT) and not await outbox.is_unreachable(CHRIS)

    later = NOW + timedelta(hours=1)
    assert await outbox.reachable_again(PAT, later) == 1
    assert not await outbox.is_unreachable(PAT)
    [due] = await outbox.claim(later, 60, 10)
    assert due.payload["to"] == PAT  # the chair's row still waits for the chair
    assert await outbox.count("waiting_person") == 1
    assert await outbox.mark_unreachable(PAT, later, "404") is True  # a new episode is news again
