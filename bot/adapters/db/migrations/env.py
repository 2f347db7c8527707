"""Alembic environment: runs migrations over the bot's async engine."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.adapters.db.schema import metadata

config = context.config


# Several instances starting at once on the same PostgreSQL database (a deployment with two instances,
# or an upgrade rolled out to both) would otherwise each see the old revision and run the same migration:
# the second fails on a duplicate table and that instance dies. Each takes this transaction-scoped advisory
# lock first, so they migrate one after the other; the later one then finds the schema at head.
# (SQLite: one process per file; its write lock already serialises.)
MIGRATION_LOCK = 0x52524D49  # an arbitrary constant of this application ("RRMI")


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # set by bot.adapters.db.database.alembic_config
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
