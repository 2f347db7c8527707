"""Which bot process runs the scheduler.

APScheduler 3 cannot share a job store between processes ("duplicate execution or the
scheduler missing jobs", its FAQ), so exactly one process schedules. On PostgreSQL
that is whoever holds a session-level advisory lock, on a connection kept open for the
purpose: if that process dies, its session ends, the lock is released and another
process takes over at its next attempt. SQLite is single-instance: the one process leads.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db.database import Database

log = logging.getLogger(__name__)

LOCK_KEY = 0x5252_4B31  # "RRK1": the rapid review bot's scheduler


class LeaderLock:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: AsyncConnection | None = None
        self.held = False

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.db.is_sqlite:
            self.held = True
            return True
        conn = await self.db.engine.connect()
        try:
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})).scalar())
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            self.held = True
        else:
            await conn.close()
        return got

    async def still_held(self) -> bool:
        """A leader whose lock connection broke is no longer leader."""
        if self.db.is_sqlite or self._conn is None:
            return self.held
        try:
            await self._conn.execute(text("SELECT 1"))
            await self._conn.commit()
            return True
        except Exception:  # noqa: BLE001 - the connection is gone: so is the lock
            log.warning("scheduler leadership lost")
            self.held = False
            self._conn = None
            return False

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                await self._conn.commit()
            await self._conn.close()
            self._conn = None
        self.held = False
