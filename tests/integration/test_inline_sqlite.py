"""The SQLite driver that runs on the event loop (bot/adapters/db/inline_sqlite.py): a
lock held elsewhere is waited for without stopping the loop, and the wait has a limit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.db.database import Database


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'inline.db'}")
    await database.migrate()
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield database
    await database.dispose()


def _hold_write_lock(path: str) -> sqlite3.Connection:
    """Another process's writer, as far as SQLite can tell: its own connection, mid-transaction."""
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    return other


async def test_the_loop_keeps_running_while_a_write_waits_for_the_lock(db: Database, tmp_path: Path) -> None:
    other = _hold_write_lock(str(tmp_path / "inline.db"))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def writer() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    ticking = asyncio.create_task(ticker())
    waiting = asyncio.create_task(writer())
    await asyncio.sleep(0.3)
    assert not waiting.done(), "the write went ahead while another connection held the lock"
    assert ticks >= 10, f"the event loop was blocked: {ticks} ticks in 0.3 s"
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(waiting, 5)
    ticking.cancel()
    async with db.read() as conn:
        assert sorted((await conn.execute(text("SELECT n FROM t"))).scalars()) == [1, 2]


async def test_a_lock_never_released_ends_in_an_error_after_the_timeout(tmp_path: Path) -> None:
    from bot.adapters.db import inline_sqlite

    path = tmp_path / "locked.db"
    sqlite3.connect(path).execute("CREATE TABLE t (n INTEGER)")
    other = _hold_write_lock(str(path))
    connection = await inline_sqlite.connect(str(path), timeout=0.2)
    started = time.perf_counter()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await connection.cursor().execute("BEGIN IMMEDIATE")
    assert 0.2 <= time.perf_counter() - started < 2
    other.close()
    await connection.close()


async def test_reads_see_committed_writes_and_rollback_undoes(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO t VALUES (5)"))
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (6)"))
            raise RuntimeError("abandon")
    async with db.read() as conn:
        assert list((await conn.execute(text("SELECT n FROM t"))).scalars()) == [5]
