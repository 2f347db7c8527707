"""The audit trail read back for its verifier, and the PostgreSQL role split that keeps the
application's own database role from rewriting it.

The chain itself is computed in the domain (bot/domain/audit_chain.py); here are only the
rows, in id order, in pages, so a trail of millions of rows is verified in constant memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.adapters.db import schema as t
from bot.adapters.db.database import Database, normalise_url
from bot.domain import audit_chain

PAGE = 2_000
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def _rows(db: Database) -> AsyncIterator[Mapping[str, Any]]:
    last = 0
    while True:
        async with db.read() as conn:
            page = (await conn.execute(
                select(t.events).where(t.events.c.id > last).order_by(t.events.c.id).limit(PAGE))).mappings().all()
        for row in page:
            yield dict(row)
        if len(page) < PAGE:
            return
        last = page[-1]["id"]


async def verify_audit_trail(db: Database) -> audit_chain.ChainReport:
    walk = audit_chain.ChainWalk()
    async for row in _rows(db):
        if not walk.step(row):
            break
    return walk.report()


def role_split_statements(app_role: str) -> list[str]:
    """What the owner grants the application's role: everything it needs on every table,
    only INSERT and SELECT on the audit trail, and read-only on the migration stamp (so the
    bot sees whether the schema is current but cannot migrate it: the owner does that)."""
    if not _ROLE_NAME.match(app_role):
        raise ValueError("the application role must be a plain lower-case PostgreSQL name")
    return [
        f"GRANT USAGE ON SCHEMA public TO {app_role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {app_role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {t.events.name} FROM {app_role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {app_role}",
    ]


async def apply_role_split(owner_url: str, app_role: str) -> list[str]:
    """Run the grants as the tables' owner. Not part of the migrations the bot runs at
    start-up: roles belong to the whole PostgreSQL cluster, and the bot's own role must not
    be able to grant itself anything back."""
    url = normalise_url(owner_url)
    if not make_url(url).drivername.startswith("postgresql"):
        raise ValueError("the role split is for PostgreSQL; SQLite has no roles (its triggers still refuse edits)")
    statements = role_split_statements(app_role)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            exists = (await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"),
                                         {"role": app_role})).first()
            if exists is None:
                raise ValueError(f"there is no role {app_role}: create it first (CREATE ROLE {app_role} LOGIN "
                                 "PASSWORD '…'), then run this again")
            for statement in statements:
                await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()
    return statements
