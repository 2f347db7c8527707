"""`/readyz`: ready only when the database answers at the schema head, a scheduler leads and
the outbox moves; each failure says which, and the answer comes within about a second even
while the database hangs. `/healthz` stays independent of all of it."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.__main__ import JsonFormatter
from bot.domain.outbox import OutboxKind
from bot.services.ports import OutboxMessage
from tests.support.bot_process import BotProcess
from tests.support.harness import BotHarness


async def _ready(h: BotHarness) -> tuple[int, dict]:
    response = await h.client.get("/readyz")
    return response.status, await response.json()


async def test_a_real_process_is_ready_and_says_so(tmp_path: Path) -> None:
    bot = BotProcess(tmp_path, "bot", f"sqlite:///{tmp_path / 'rr.db'}")
    try:
        await bot.ready()
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the scheduler takes its lead just after the first answer
                async with http.get(f"http://127.0.0.1:{bot.port}/readyz") as response:
                    body = await response.json()
                if response.status == 200:
                    break
                await asyncio.sleep(0.1)
        assert response.status == 200, body
        assert body == {"ready": True, "checks": {"database": "ok", "scheduler": "ok", "outbox": "ok"}}
    finally:
        bot.stop()


async def test_no_scheduler_and_a_database_behind_the_schema_are_not_ready(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:  # the harness runs no scheduler
        status, body = await _ready(h)
        assert status == 503 and body["checks"]["scheduler"] == "no scheduler leader"
        assert body["checks"]["database"] == "ok" and body["checks"]["outbox"] == "ok"
        async with h.c.db.write() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        status, body = await _ready(h)
        assert body["checks"]["database"].startswith("behind the schema head")


async def test_a_message_due_for_too_long_makes_the_bot_not_ready(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, env={"OUTBOX_STUCK_AFTER_SECONDS": "600"}) as h:
        now = h.clock.now()
        await h.c.stores.outbox.enqueue([OutboxMessage(key="stuck", kind=OutboxKind.REFRESH_DEADLINES)],
                                        now - timedelta(seconds=599))
        assert (await _ready(h))[1]["checks"]["outbox"] == "ok"
        h.clock.set(now + timedelta(seconds=2))
        status, body = await _ready(h)
        assert status == 503 and body["checks"]["outbox"] == "a message has waited 601 s"


@pytest.mark.postgres
async def test_a_hanging_database_is_reported_within_a_second_and_health_still_answers(
        tmp_path: Path, pg_url: str) -> None:
    async with BotHarness(tmp_path, database_url=pg_url) as h:
        blocker = h.c.db.engine  # another connection takes the version table and holds it
        async with blocker.connect() as conn:
            await conn.execute(text("BEGIN"))
            await conn.execute(text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            await conn.execute(text("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            status, body = await _ready(h)
            took = time.monotonic() - started
            health = await h.client.get("/healthz")
            await conn.execute(text("ROLLBACK"))
        assert status == 503 and took < 1.5
        assert body["checks"]["database"] == "timeout" and body["checks"]["outbox"] == "timeout"
        assert health.status == 200


def test_logged_failures_keep_their_type_and_frames_but_never_their_text() -> None:
    def fail() -> None:
        raise ValueError("Jamie Canary, 12 Acacia Avenue")

    try:
        fail()
    except ValueError:
        record = logging.LogRecord("bot", logging.ERROR, __file__, 1, "sweep failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert '"error": "ValueError"' in line and "in fail" in line and "test_readiness.py" in line
    assert "Canary" not in line and "Acacia" not in line
