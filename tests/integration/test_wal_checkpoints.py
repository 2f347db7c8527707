"""SQLite's WAL checkpoints run in a worker thread, never inside a commit on the event loop
(bot/adapters/db/wal_checkpoints.py): the commit that took the log past SQLite's 1,000 pages
used to copy it back and fsync the database file while every request of the process waited."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text

from bot.adapters.db import wal_checkpoints
from bot.adapters.db.database import Database
from bot.app import bootstrap
from bot.settings import Settings

T = TypeVar("T")


async def _writes(db: Database, count: int, size: int = 6000) -> None:
    """Write transactions of about two pages each, the size of a stored dialog step, each in a
    turn of the loop of its own (as requests are: the checkpoint's task runs between them)."""
    for n in range(count):
        async with db.write() as conn:
            await conn.execute(
                text("INSERT OR REPLACE INTO t VALUES (:k, randomblob(:size))"), {"k": n % 50, "size": size}
            )
        await asyncio.sleep(0)


def _log_frames_left(path: Path) -> tuple[int, int]:
    """(frames in the log, frames not yet copied into the database file), asked of a connection
    of our own: a PASSIVE checkpoint that finds nothing to copy copies nothing."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, frames - copied
    finally:
        other.close()


def _each_checkpoint_records(monkeypatch: pytest.MonkeyPatch, what: Callable[[], T]) -> list[T]:
    """`what()` as each PASSIVE checkpoint starts, in the thread and context it runs in."""
    found: list[T] = []
    passive = wal_checkpoints.WalCheckpoints._passive

    def recorded(self: wal_checkpoints.WalCheckpoints) -> tuple[int, int, int]:
        found.append(what())
        return passive(self)

    monkeypatch.setattr(wal_checkpoints.WalCheckpoints, "_passive", recorded)
    return found


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}", checkpoint_off_loop=True)
    await database.migrate()
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)"))
    yield database
    await database.dispose()


async def test_commits_never_checkpoint_and_a_worker_thread_does(db: Database, tmp_path: Path, monkeypatch) -> None:
    threads = _each_checkpoint_records(monkeypatch, threading.get_ident)
    async with db.write() as conn:  # the writers' connection: SQLite's automatic checkpoints are off
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
    async with db.read() as conn:
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0

    # 1,200 transactions of two pages: far past the 1,000 pages at which a commit would have
    # checkpointed, so the log would have been copied back on the loop several times.
    assert db.checkpoints is not None
    every = wal_checkpoints.EVERY_WRITES
    await _writes(db, 12 * every)
    await db.checkpoints.close()
    assert db.checkpoints.completed >= 6, "about one checkpoint per EVERY_WRITES transactions"
    assert threads and threading.get_ident() not in threads, "the checkpoints ran in a worker thread"
    frames, left = _log_frames_left(tmp_path / "wal.db")
    assert left < frames, "the log was copied into the database file as it grew"


async def test_under_a_steady_stream_of_writes_the_log_still_starts_again(db: Database, tmp_path: Path) -> None:
    """A checkpoint beside the writers never finds every frame copied (frames come in while it
    copies), so SQLite would never start the log again: past its limit the checkpoint finishes
    with the writers held, and the log stays bounded."""
    assert db.checkpoints is not None
    db.checkpoints._log_limit = 600
    every = wal_checkpoints.EVERY_WRITES
    await _writes(db, 20 * every)
    await db.checkpoints.close()
    assert db.checkpoints.finished_with_writers_held >= 2
    frames, _ = _log_frames_left(tmp_path / "wal.db")
    assert frames < 600 + every * 3, f"{frames} frames in the log"
    async with db.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 50, "nothing lost"


async def test_a_failed_checkpoint_is_logged_and_the_next_one_runs(db: Database, monkeypatch, caplog) -> None:
    assert db.checkpoints is not None
    calls = 0
    passive = wal_checkpoints.WalCheckpoints._passive

    def failing_once(self: wal_checkpoints.WalCheckpoints) -> tuple[int, int, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return passive(self)

    monkeypatch.setattr(wal_checkpoints.WalCheckpoints, "_passive", failing_once)
    every = wal_checkpoints.EVERY_WRITES
    await _writes(db, every)
    await asyncio.sleep(0)
    await db.checkpoints.close()
    assert "WAL checkpoint failed" in caplog.text
    await _writes(db, every)
    await db.checkpoints.close()
    assert calls == 2 and db.checkpoints.completed == 1


async def test_a_database_of_the_admin_commands_keeps_sqlites_own_checkpoints(tmp_path: Path) -> None:
    plain = Database(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        assert plain.checkpoints is None
        async with plain.write() as conn:
            assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 1000
    finally:
        await plain.dispose()


async def test_the_bot_process_checkpoints_off_the_loop(tmp_path: Path) -> None:
    from bot.settings import DEFAULT_PARTNERSHIP_FILE

    settings = Settings.model_validate(
        {"database_url": f"sqlite:///{tmp_path / 'bot.db'}", "partnership_file": str(DEFAULT_PARTNERSHIP_FILE)}
    )
    components = bootstrap(settings)
    try:
        assert components.db.checkpoints is not None
    finally:
        await components.db.dispose()


async def test_a_checkpoint_started_by_a_turns_write_is_no_part_of_that_turn(db: Database, monkeypatch) -> None:
    """Its log line must not carry the correlation of whichever turn's write started it."""
    from bot.domain import trace

    seen = _each_checkpoint_records(monkeypatch, trace.current)
    token = trace.begin("personal", "a:riley")
    try:
        await _writes(db, wal_checkpoints.EVERY_WRITES)
    finally:
        trace.end(token)
    assert db.checkpoints is not None
    await db.checkpoints.close()
    assert seen == [None]
