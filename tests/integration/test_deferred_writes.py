"""The writes a turn leaves for later (bot/adapters/db/deferred_writes.py): the stored answer of
an activity and a shown card update's `sent` mark ride on the process's next claim instead of
a write transaction each, and nothing is lost on the way: a failed carrier gives them back, a
newer value is never overwritten by an older one, and an idle process writes them itself."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.adapters.db import schema as t
from bot.adapters.db.database import Database
from bot.adapters.db.deferred_writes import DeferredKind, DeferredWrites
from bot.adapters.db.turn_store import RESPONSE_FIELD, RESPONSES_OWNER
from bot.app import sql_stores
from bot.services.ports import OutboxMessage

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ANSWER = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": {"body": []}}


async def stored_answer(db: Database, key: str) -> Any:
    async with db.read() as conn:
        value = (
            await conn.execute(select(t.processed_activities.c.response).where(t.processed_activities.c.key == key))
        ).scalar_one()
        return await db.keyring.open_json(conn, RESPONSES_OWNER, RESPONSE_FIELD, value)


def write_transactions(db: Database) -> list[str]:
    """The write transactions the handle opens from now on (each one's first statement)."""
    seen: list[str] = []
    engine = db._write_engine.sync_engine
    event.listen(engine, "begin", lambda conn: seen.append("begin"))
    return seen


async def test_an_answer_is_stored_by_the_next_claim_not_a_transaction_of_its_own(db):
    turns = sql_stores(db, rng=random.Random(1)).turns
    assert await turns.claim_activity("conv|1", NOW) == (True, None)
    opened = write_transactions(db)
    await turns.remember_response("conv|1", ANSWER)
    assert opened == [], "no transaction of its own"
    assert db.deferred.waiting() == 1  # kept for the next write
    assert await turns.claim_activity("conv|2", NOW) == (True, None)
    assert opened == ["begin"], "the claim carried it"
    assert await stored_answer(db, "conv|1") == ANSWER
    assert db.deferred.waiting() == 0


async def test_a_retry_straight_after_the_answer_gets_the_same_answer(db):
    turns = sql_stores(db, rng=random.Random(1)).turns
    await turns.claim_activity("conv|1", NOW)
    await turns.remember_response("conv|1", ANSWER)
    assert await turns.claim_activity("conv|1", NOW) == (False, ANSWER)


async def test_a_shown_card_update_is_marked_sent_by_the_next_claim(db):
    stores = sql_stores(db, rng=random.Random(1))
    item = await stores.outbox.enqueue_claimed(
        OutboxMessage(key="panel_card:c1:v2", kind="panel_card", case_id=None), NOW, 60
    )
    assert item is not None
    stores.outbox.shown(item.id, NOW)
    assert await stores.outbox.count("sent") == 0
    await stores.turns.claim_activity("conv|1", NOW)
    assert await stores.outbox.count("sent") == 1


async def test_a_carrier_that_fails_gives_the_writes_back_and_the_next_one_writes_them(db):
    turns = sql_stores(db, rng=random.Random(1)).turns
    await turns.claim_activity("conv|1", NOW)
    await turns.remember_response("conv|1", ANSWER)
    with pytest.raises(RuntimeError):
        async with db.deferred.carried_by(db.write()) as conn:
            await conn.execute(t.processed_activities.insert().values(key="conv|9", at=NOW, response=None))
            raise RuntimeError("the carrying transaction fails after writing them")
    assert await stored_answer(db, "conv|1") is None  # rolled back with it
    assert db.deferred.waiting() == 1
    await turns.claim_activity("conv|2", NOW)
    assert await stored_answer(db, "conv|1") == ANSWER


async def test_a_newer_value_is_kept_when_an_older_one_is_written(db):
    written: list[list[tuple[Hashable, Any]]] = []
    release = asyncio.Event()

    async def slow_write(_db: Any, _conn: Any, entries: list[tuple[Hashable, Any]]) -> None:
        written.append(entries)
        if len(written) == 1:
            await release.wait()  # the first carrier is still open when the newer value comes

    kind = DeferredKind("test", slow_write)
    deferred = DeferredWrites(db)
    deferred.add(kind, "k", "old")
    carrier = asyncio.ensure_future(deferred.flush())
    while not written:
        await asyncio.sleep(0)
    deferred.add(kind, "k", "new")
    release.set()
    await carrier
    assert deferred.waiting() == 1, "the newer value is still to be written"
    await deferred.close()
    assert written == [[("k", "old")], [("k", "new")]]
    assert deferred.waiting() == 0


async def test_an_idle_process_writes_what_waits_without_a_turn(db):
    turns = sql_stores(db, rng=random.Random(1)).turns
    await turns.claim_activity("conv|1", NOW)
    db.deferred = DeferredWrites(db, flush_seconds=0)  # the timer, without waiting in real time
    await turns.remember_response("conv|1", ANSWER)

    async def written() -> None:  # the database's own round trips (PostgreSQL), not a timer
        while db.deferred.waiting():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(written(), 10)
    assert await stored_answer(db, "conv|1") == ANSWER


async def test_closing_the_database_writes_what_waits(database_url):
    db = Database(database_url)
    await db.migrate()
    turns = sql_stores(db, rng=random.Random(1)).turns
    await turns.claim_activity("conv|1", NOW)
    await turns.remember_response("conv|1", ANSWER)
    await db.dispose()  # a graceful stop
    again = Database(database_url)
    try:
        assert await stored_answer(again, "conv|1") == ANSWER
    finally:
        await again.dispose()


async def test_the_answers_key_is_looked_up_once_and_never_kept_before_it_is_committed(db):
    looked_up: list[str] = []
    event.listen(
        db._write_engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: looked_up.append(statement) if "FROM case_keys" in statement else None,
    )
    turns = sql_stores(db, rng=random.Random(1)).turns
    # The key is made inside a carrier that rolls back: it must not be kept.
    await turns.claim_activity("conv|1", NOW)
    await turns.remember_response("conv|1", ANSWER)
    with pytest.raises(RuntimeError):
        async with db.deferred.carried_by(db.write()):
            raise RuntimeError("rolled back with the key it made")
    for n in range(2, 5):
        await turns.remember_response(f"conv|{n - 1}", ANSWER)
        await turns.claim_activity(f"conv|{n}", NOW)
    assert await stored_answer(db, "conv|1") == ANSWER  # sealed under a key that exists
    # made (lookup, rolled back), made again (lookup), then found once and kept
    assert len(looked_up) <= 3, looked_up


async def test_what_a_claim_carried_is_not_written_again_by_the_timer(db):
    turns = sql_stores(db, rng=random.Random(1)).turns
    db.deferred = DeferredWrites(db, flush_seconds=0)  # the timer is due at the next turn of the loop
    await turns.claim_activity("conv|1", NOW)
    stored: list[str] = []
    event.listen(
        db._write_engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: (
            stored.append(statement) if "UPDATE processed_activities" in statement else None
        ),
    )
    await turns.remember_response("conv|1", ANSWER)
    await turns.claim_activity("conv|2", NOW)  # carries it, whether or not the timer ran meanwhile
    # Whatever the timer began ends here, and anything still waiting is written: a second UPDATE
    # would show. (Twenty turns of the loop were not always enough on PostgreSQL under load.)
    await db.deferred.close()
    assert len(stored) == 1, "written once"
    assert db.deferred.waiting() == 0
