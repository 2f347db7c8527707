"""The scheduler resumes by itself after the database was locked: APScheduler 3 writes its
job's next run to its job store after every run, and when that write fails (the database
locked past the store's timeout) it never wakes up again. The leader notices that no sweep
has run for three intervals and starts it again; while locked, the job store's waits hold
the event loop (and every turn) for a fraction of a second, not sqlite3's 5 s."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bot.adapters.db.database import Database, sync_url
from bot.adapters.db.leader import LeaderLock
from scheduler.runtime import SchedulerRuntime

INTERVAL = 1  # seconds between sweeps (60 in production)
LOCKED_FOR = 6.0  # longer than sqlite3's default 5 s wait


async def test_the_scheduler_sweeps_again_after_a_long_lock_and_never_holds_the_loop_for_long(tmp_path: Path):
    path = tmp_path / "bot.db"
    db = Database(f"sqlite:///{path}")
    await db.migrate()
    sweeps: list[float] = []

    async def sweep() -> int:
        sweeps.append(time.monotonic())
        return 0

    runtime = SchedulerRuntime(sync_url(db.url), LeaderLock(db), sweep, interval_seconds=INTERVAL,
                               leader_retry_seconds=0.2)
    runtime.start()
    try:
        for _ in range(100):
            if len(sweeps) >= 2:  # the one at start and the first interval's
                break
            await asyncio.sleep(0.05)
        assert len(sweeps) >= 2 and runtime.is_leader

        stalls: list[float] = []

        async def watch_the_loop() -> None:
            while True:
                before = time.monotonic()
                await asyncio.sleep(0.02)
                stalls.append(time.monotonic() - before - 0.02)

        watcher = asyncio.create_task(watch_the_loop())
        locker = sqlite3.connect(path, timeout=5, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        await asyncio.sleep(LOCKED_FOR)
        locker.execute("ROLLBACK")
        locker.close()
        released = time.monotonic()

        for _ in range(300):
            if any(at > released for at in sweeps[-1:]) and len([a for a in sweeps if a > released]) >= 2:
                break
            await asyncio.sleep(0.05)
        watcher.cancel()
        assert len([a for a in sweeps if a > released]) >= 2, "the scheduler did not resume after the lock"
        assert max(stalls) < 1.0, f"the event loop was held for {max(stalls):.2f} s"
    finally:
        await runtime.stop()
        await db.dispose()
