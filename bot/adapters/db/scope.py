"""Where a store's statements run: in a short transaction of their own, or in the unit of
work that bound the store to its connection.

Every SQL store takes a `Scope`. Unbound (the default), each method is one transaction;
bound by `SqlUnitOfWork.begin()`, every store of that unit shares one connection, so a
use case that writes in several stores commits all of it or none of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db.database import Database
from bot.adapters.db.dialects import dialect_insert


class Scope:
    def __init__(self, db: Database, conn: AsyncConnection | None = None) -> None:
        self.db = db
        self.conn = conn

    def bound(self, conn: AsyncConnection) -> Scope:
        return Scope(self.db, conn)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        if self.conn is not None:
            yield self.conn
        else:
            async with self.db.write() as conn:
                yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        if self.conn is not None:
            yield self.conn
        else:
            async with self.db.read() as conn:
                yield conn

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both engines."""
        return dialect_insert(self.db.is_sqlite)(table)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def aware_or_none(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None
