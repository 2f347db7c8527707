"""The SQLite driver that runs on the event loop (bot/adapters/db/inline_sqlite.py): a
lock held elsewhere is waited for without stopping the loop, and the wait has a limit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from bot.adapters.db.database import Database

T = TypeVar("T")


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


async def _waits_while_the_loop_runs(work: Coroutine[Any, Any, T]) -> tuple[asyncio.Task[None], asyncio.Task[T]]:
    """Start `work` (which meets a lock held elsewhere) beside a ticker; after 0.3 s it must still
    be waiting, and the loop must have kept running. Returns both tasks (cancel the ticker)."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking, waiting = asyncio.create_task(ticker()), asyncio.create_task(work)
    await asyncio.sleep(0.3)
    assert not waiting.done(), "the write went ahead while another connection held the lock"
    assert ticks >= 10, f"the event loop was blocked: {ticks} ticks in 0.3 s"
    return ticking, waiting


async def test_the_loop_keeps_running_while_a_write_waits_for_the_lock(db: Database, tmp_path: Path) -> None:
    other = _hold_write_lock(str(tmp_path / "inline.db"))

    async def writer() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (2)"))

    ticking, waiting = await _waits_while_the_loop_runs(writer())
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


async def test_statements_run_in_the_calling_coroutine_without_a_greenlet(db: Database,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Each statement through SQLAlchemy's greenlet cost about as much CPU again as the
    statement itself; the inline driver runs them in place (inline_sqlite.InlineAsyncConnection)."""
    from sqlalchemy.ext.asyncio import engine as async_engine

    spawned = 0
    real_spawn = async_engine.greenlet_spawn

    async def counting_spawn(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - SQLAlchemy's signature
        nonlocal spawned
        spawned += 1
        return await real_spawn(*args, **kwargs)

    monkeypatch.setattr(async_engine, "greenlet_spawn", counting_spawn)
    async with db.write() as conn:
        before = spawned
        for n in range(5):
            await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 5
        assert spawned == before, f"{spawned - before} greenlets for 6 statements"
    async with db.read() as conn:
        assert sorted((await conn.execute(text("SELECT n FROM t"))).scalars()) == [0, 1, 2, 3, 4]


async def test_a_statement_that_finds_the_database_busy_waits_on_the_loop_and_then_runs(
        db: Database, tmp_path: Path) -> None:
    """Run in place, a statement cannot wait; when it finds the write lock held elsewhere it runs
    again through SQLAlchemy's greenlet, which waits on the event loop (inline_sqlite.WaitOnLoop).
    A read connection's deferred transaction takes the write lock at its first write: here."""
    async def deferred_writer() -> int:
        async with db.read() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))  # the transaction begins, as a reader
            await conn.execute(text("INSERT INTO t VALUES (3)"))  # busy: the other writer holds the lock
            total = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
            await conn.commit()
            return int(total)

    other = sqlite3.connect(str(tmp_path / "inline.db"), isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    ticking, waiting = await _waits_while_the_loop_runs(deferred_writer())
    other.execute("ROLLBACK")
    other.close()
    assert await asyncio.wait_for(waiting, 5) == 1
    ticking.cancel()
    async with db.read() as conn:
        assert list((await conn.execute(text("SELECT n FROM t"))).scalars()) == [3]


async def test_writers_share_one_connection_that_holds_no_lock_between_transactions(db: Database,
                                                                                   tmp_path: Path) -> None:
    """Database.write keeps SQLite's one writer connection open instead of taking it from the pool
    each time; between transactions another process can still write, and a failed transaction
    leaves nothing behind for the next."""
    from sqlalchemy import event

    checkouts = 0

    def count(*_args: object) -> None:
        nonlocal checkouts
        checkouts += 1

    event.listen(db._write_engine.sync_engine, "checkout", count)
    for n in range(3):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
    assert checkouts <= 1, f"{checkouts} pool checkouts for 3 write transactions"

    other = sqlite3.connect(str(tmp_path / "inline.db"), isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # no lock left behind: this would fail at once with "locked"
    other.execute("INSERT INTO t VALUES (10)")
    other.execute("COMMIT")
    other.close()

    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (99)"))
            raise RuntimeError("abandon")
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO t VALUES (3)"))
    async with db.read() as conn:
        assert sorted((await conn.execute(text("SELECT n FROM t"))).scalars()) == [0, 1, 2, 3, 10]


async def test_readers_are_kept_open_between_reads_and_each_read_sees_what_was_committed_since(
        db: Database, tmp_path: Path) -> None:
    """Database.read keeps SQLite read connections open instead of a pool checkout per read; each
    read still ends its transaction (a kept connection pins no old snapshot, and what a read wrote
    is undone, as the pool's reset did)."""
    from sqlalchemy import event

    async with db.read() as conn:  # the first reader opens its connection
        await conn.execute(text("SELECT count(*) FROM t"))
    checkouts = 0

    def count(*_args: object) -> None:
        nonlocal checkouts
        checkouts += 1

    event.listen(db.engine.sync_engine, "checkout", count)
    other = sqlite3.connect(str(tmp_path / "inline.db"), isolation_level=None, timeout=0)
    for n in range(3):
        async with db.read() as conn:
            seen = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
            assert seen == n, "a kept reader saw an old snapshot"
            await conn.execute(text("INSERT INTO t VALUES (100)"))  # undone when the read ends
        other.execute("INSERT INTO t VALUES (:n)", {"n": n})  # committed (autocommit) between reads
    other.close()
    assert checkouts == 0, f"{checkouts} pool checkouts for 3 reads"
    async with db.read() as conn:
        assert sorted((await conn.execute(text("SELECT n FROM t"))).scalars()) == [0, 1, 2]


async def test_readers_keep_a_small_page_cache_and_the_writer_sqlites_default(db: Database) -> None:
    """A reader's cache is emptied by every commit elsewhere, so it is kept small (peak RSS);
    the one writer keeps SQLite's default, which stays valid between its transactions."""
    from bot.adapters.db.database import READER_CACHE_KIB

    async with db.read() as conn:
        assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -READER_CACHE_KIB
    assert await db.read_off_loop(lambda c: c.execute(text("PRAGMA cache_size")).scalar()) == -READER_CACHE_KIB
    async with db.write() as conn:
        assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -2000
