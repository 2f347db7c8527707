"""Busy is an answer, not a timeout: while another connection holds the SQLite write lock
for longer than a turn may take, every press and command is answered within the turn's
budget with "The system is busy — your answer was not saved, please press again" (the
invoke response for Action.Execute, a message for Action.Submit and typed commands), HTTP
200, nothing written; once the lock goes, pressing again — or Teams retrying the same
activity — works, and the outbox delivers what waited.

The budget here is 1 s (TURN_BUDGET_SECONDS; 3.5 s in production) so the tests are quick;
tests/bench/bench.py (`--only locked`) measures the answer time with the production budget.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.db import schema as t
from tests.integration.test_clock_http import REF, ballot, refer
from tests.support import activities as A
from tests.support.harness import BotHarness, reply_of, texts

BUSY = "The system is busy — your answer was not saved, please press again."
BUDGET = 1.0


@contextmanager
def write_locked(database: Path) -> Iterator[sqlite3.Connection]:
    """Another connection (another program, a backup, a long migration) holds the write lock."""
    conn = sqlite3.connect(database, timeout=5, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def counts(h: BotHarness) -> dict[str, int]:
    async with h.c.db.read() as conn:
        return {table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (t.votes, t.events, t.outbox, t.processed_activities, t.bot_state)}


async def timed(h: BotHarness, activity: dict[str, Any]) -> tuple[int, Any, float]:
    started = time.monotonic()
    status, body = await h.post(activity)
    return status, body, time.monotonic() - started


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(tmp_path, env={"turn_budget_seconds": BUDGET}) as harness:
        await refer(harness)
        yield harness, tmp_path / "bot.db"


async def test_a_press_while_the_database_is_locked_is_answered_busy_in_time_and_writes_nothing(bot):
    h, database = bot
    before = await counts(h)
    press = A.invoke(h.url, A.LAURA, "panel.vote", ballot(REF), channel=True)
    with write_locked(database):
        status, body, took = await timed(h, press)
    assert status == 200
    assert took < BUDGET + 0.5, took
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.activity.message", body
    assert body["value"].startswith(BUSY) and "(reference " in body["value"], body
    await asyncio.sleep(0.2)  # the claim's release runs once the lock has gone
    assert await counts(h) == before  # no vote, no event, no outbox row, no claim left behind

    # Teams retries the very same activity: handled, not taken for a duplicate
    status, body, _ = await timed(h, press)
    assert status == 200 and body["statusCode"] == 200 and body["type"] != "application/vnd.microsoft.activity.message"
    assert (await counts(h))["votes"] == 1
    # and a fresh press (the person pressing again) is answered as usual
    again = await h.press(A.LAURA, "panel.vote", ballot(REF), channel=True)
    assert again["statusCode"] == 200


async def test_an_action_submit_and_a_typed_command_are_told_busy_in_a_message(bot):
    h, database = bot
    before = await counts(h)
    sent_before = len(h.connector.sent_activities())
    submit = A.submit(h.url, A.RILEY, {"verb": "form.resume", "action": "form.resume"})
    typed = A.message(h.url, A.RILEY, "refer")  # starting a form writes its state
    with write_locked(database):
        results = [await timed(h, submit), await timed(h, typed)]
    for status, _, took in results:
        assert status == 200
        assert took < BUDGET + 0.5, took
    said = [reply_of(s.activity) for s in h.connector.sent_activities()[sent_before:]]
    assert len(said) == 2 and all(isinstance(m, str) and m.startswith(BUSY) for m in said), said
    await asyncio.sleep(0.2)
    assert await counts(h) == before
    card = await h.say(A.RILEY, "refer")  # after the lock: works
    assert isinstance(card, dict) and "About you" in texts(card)


async def test_a_lock_that_outlasts_the_databases_own_patience_is_never_a_bare_500(tmp_path):
    """Locked longer than DATABASE_BUSY_SECONDS (30 s in production, 0.3 s here) but the turn
    budget is longer: the database gives up first, inside the turn or while claiming it."""
    async with BotHarness(tmp_path, env={"turn_budget_seconds": 3, "database_busy_seconds": 0.3}) as h:
        await refer(h)
        database = tmp_path / "bot.db"
        claimed = A.invoke(h.url, A.LAURA, "panel.vote", ballot(REF), channel=True)
        unclaimed = A.invoke(h.url, A.DAN, "panel.vote", ballot(REF), channel=True)
        unclaimed.pop("id")  # no id, no de-duplication claim: the first write is the vote itself
        with write_locked(database):
            answers = [await timed(h, claimed), await timed(h, unclaimed)]
        for status, body, took in answers:
            assert status == 200, (status, body)
            assert body["value"].startswith(BUSY), body
            assert took < 2, took
        assert (await counts(h))["votes"] == 0


async def test_the_outbox_delivers_what_waited_once_the_lock_goes(tmp_path):
    async with BotHarness(tmp_path, env={"database_busy_seconds": 0.3}) as h:
        status, _ = await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        assert status in (200, 201)
        from tests.support.harness import fill_referral
        await fill_referral(h)  # the case card waits in the outbox
        posted_before = len(h.connector.sent_activities())
        h.c.outbox._idle_poll = 0.1  # as `python -m bot` runs it, polling quickly
        with write_locked(tmp_path / "bot.db"):
            h.c.outbox.start()
            await asyncio.sleep(1.0)  # passes fail while locked (and are logged), the loop lives on
            assert len(h.connector.sent_activities()) == posted_before
        try:
            for _ in range(100):
                if any(s.conversation_id.startswith(A.PANEL_CHANNEL_ID)
                       for s in h.connector.sent_activities()[posted_before:]):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the outbox did not resume after the lock went")
        finally:
            await h.c.outbox.stop()


@pytest.mark.postgres
async def test_on_postgresql_a_press_that_waits_for_a_lock_is_answered_busy_in_time(tmp_path, pg_url):
    """PostgreSQL waits for a lock as long as it is held: the turn's budget ends the wait (the
    statement is cancelled, the transaction rolled back) and the pool stays usable."""
    import psycopg
    from sqlalchemy.engine import make_url

    async with BotHarness(tmp_path, database_url=pg_url, env={"turn_budget_seconds": BUDGET}) as h:
        await refer(h)
        before = await counts(h)
        plain = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(plain) as locker:
            locker.execute("LOCK TABLE processed_activities, votes IN EXCLUSIVE MODE")  # reads go on, writes wait
            status, body, took = await timed(h, A.invoke(h.url, A.LAURA, "panel.vote", ballot(REF), channel=True))
            locker.rollback()
        assert status == 200 and body["value"].startswith(BUSY), body
        assert took < BUDGET + 0.5, took
        await asyncio.sleep(0.3)
        assert await counts(h) == before
        again = await h.press(A.LAURA, "panel.vote", ballot(REF), channel=True)
        assert again["statusCode"] == 200 and (await counts(h))["votes"] == 1
