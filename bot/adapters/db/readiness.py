"""What `/readyz` checks in the database: reachable, at the schema head, a scheduler leader
somewhere, and an outbox that is moving.

Each check is bounded by the caller (bot/app.py) so a hanging database makes `/readyz` say
"database: timeout" within a second instead of hanging with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from bot.adapters.db import schema as t
from bot.adapters.db.database import Database
from bot.adapters.db.leader import LOCK_KEY
from bot.adapters.db.scope import aware
from bot.adapters.schema_check import current_revisions, head_revisions

# pg_locks shows an advisory lock on a bigint key as classid (high 32 bits) and objid (low).
_LEADER = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
               "AND objid = :low AND classid = :high")


async def schema_is_current(db: Database) -> bool:
    return await current_revisions(db) == head_revisions()


async def leader_elsewhere(db: Database) -> bool:
    """PostgreSQL: some process holds the scheduler's lock (it may be another instance)."""
    async with db.read() as conn:
        count = (await conn.execute(_LEADER, {"low": LOCK_KEY & 0xFFFFFFFF, "high": LOCK_KEY >> 32})).scalar_one()
    return bool(count)


async def oldest_due_age(db: Database, now: datetime) -> timedelta | None:
    """How long the oldest message that is due has waited (None: nothing is due)."""
    async with db.read() as conn:
        oldest = (await conn.execute(select(func.min(t.outbox.c.not_before)).where(
            t.outbox.c.status == "pending", t.outbox.c.not_before <= now))).scalar_one_or_none()
    return None if oldest is None else now - aware(oldest)
