"""The audit trail cannot be rewritten: the database refuses UPDATE, DELETE and TRUNCATE on
it (both engines, a PostgreSQL superuser's plain statements included), and where someone
gets round that (triggers dropped, a file edited), the verifier finds the first bad row.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.adapters.db import schema as t
from bot.adapters.db.audit_log import apply_role_split, verify_audit_trail
from bot.adapters.db.case_store import add_event_in
from bot.adapters.db.database import Database
from bot.domain.events import Event, EventKind

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _event(n: int, case_id: str | None = None) -> Event:
    return Event(kind=EventKind.VOTE_CAST, at=T0 + timedelta(seconds=n), actor_aad_id=f"aad-{n % 3}",
                 actor_name=f"Member {n % 3}", case_id=case_id, detail={"choice": "A", "n": n, "tags": ("x", n)})


async def _trail(url: str, n: int = 6) -> Database:
    db = Database(url)
    await db.migrate()
    for i in range(n):
        await _append(db, _event(i, case_id=str(uuid.uuid4())))
    return db


async def _append(db: Database, event: Event) -> None:
    """As every store records an event: the one shared INSERT, in a write transaction."""
    async with db.write() as conn:
        await add_event_in(conn, event)


async def _event_ids(db: Database) -> list[int]:
    async with db.read() as conn:
        return list((await conn.execute(select(t.events.c.id).order_by(t.events.c.id))).scalars())


async def test_an_intact_trail_verifies(database_url: str) -> None:
    db = await _trail(database_url)
    try:
        report = await verify_audit_trail(db)
        assert report.intact and report.rows == 6 and len(report.head) == 64
    finally:
        await db.dispose()


@pytest.mark.parametrize("statement", [
    "UPDATE events SET kind = 'panel_decided' WHERE id = {id}",
    "UPDATE events SET detail = '{{}}' WHERE id = {id}",
    "DELETE FROM events WHERE id = {id}",
    "DELETE FROM events",
])
async def test_the_database_refuses_to_change_or_remove_an_audit_row(database_url: str, statement: str) -> None:
    db = await _trail(database_url)
    try:
        target = (await _event_ids(db))[2]
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.write() as conn:
                await conn.execute(text(statement.format(id=target)))
        assert len(await _event_ids(db)) == 6
        assert (await verify_audit_trail(db)).intact
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgresql_refuses_truncate_too(pg_url: str) -> None:
    db = await _trail(pg_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.write() as conn:
                await conn.execute(text("TRUNCATE events"))
        assert len(await _event_ids(db)) == 6
    finally:
        await db.dispose()


async def _bypass_triggers(db: Database, statement: str, row: int) -> None:
    """What only someone who already owns the database could do: the triggers removed."""
    async with db.write() as conn:
        if db.is_sqlite:
            await conn.execute(text("DROP TRIGGER IF EXISTS events_append_only_update"))
            await conn.execute(text("DROP TRIGGER IF EXISTS events_append_only_delete"))
        else:
            await conn.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        await conn.execute(text(statement), {"id": row})


async def test_an_edited_row_is_found_by_the_verifier(database_url: str) -> None:
    db = await _trail(database_url)
    try:
        target = (await _event_ids(db))[3]
        await _bypass_triggers(db, "UPDATE events SET actor_name = 'Someone else' WHERE id = :id", target)
        report = await verify_audit_trail(db)
        assert report.broken is not None and report.broken.row_id == target
        assert "edited" in report.broken.reason and report.rows == 3
    finally:
        await db.dispose()


async def test_a_deleted_row_is_found_by_the_verifier(database_url: str) -> None:
    db = await _trail(database_url)
    try:
        ids = await _event_ids(db)
        await _bypass_triggers(db, "DELETE FROM events WHERE id = :id", ids[2])
        report = await verify_audit_trail(db)
        assert report.broken is not None and report.broken.row_id == ids[3]
        assert "deleted" in report.broken.reason
    finally:
        await db.dispose()


async def test_a_rehashed_row_still_breaks_the_chain_after_it(database_url: str) -> None:
    """Editing a row and fixing its own hash is not enough: the next row names the old hash."""
    db = await _trail(database_url)
    try:
        ids = await _event_ids(db)
        await _bypass_triggers(db, "UPDATE events SET row_hash = '" + "f" * 64 + "' WHERE id = :id", ids[1])
        report = await verify_audit_trail(db)
        assert report.broken is not None and report.broken.row_id in (ids[1], ids[2])
    finally:
        await db.dispose()


async def test_concurrent_writers_keep_one_chain(database_url: str) -> None:
    """Many transactions appending at once (PostgreSQL: a pool of connections) chain one at a
    time: no two rows name the same predecessor."""
    db = await _trail(database_url, n=0)
    try:
        await asyncio.gather(*(_append(db, _event(i)) for i in range(40)))
        report = await verify_audit_trail(db)
        assert report.intact and report.rows == 40
    finally:
        await db.dispose()


def _admin(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot", "admin", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


async def test_the_admin_command_exits_1_at_the_first_bad_row(database_url: str) -> None:
    db = await _trail(database_url)
    try:
        intact = await asyncio.to_thread(_admin, database_url, "audit", "verify")
        assert intact.returncode == 0, intact.stderr
        assert "intact: 6 events" in intact.stdout
        target = (await _event_ids(db))[4]
        await _bypass_triggers(db, "UPDATE events SET at = at WHERE id = :id", target)  # a no-op edit: still intact
        assert (await asyncio.to_thread(_admin, database_url, "audit", "verify")).returncode == 0
        await _bypass_triggers(db, "UPDATE events SET kind = 'tamper' WHERE id = :id", target)
        broken = await asyncio.to_thread(_admin, database_url, "audit", "verify")
        assert broken.returncode == 1
        assert f"BROKEN at event {target}" in broken.stdout
    finally:
        await db.dispose()


async def test_rows_written_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    from alembic import command

    from bot.adapters.db.database import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0005")
    db = Database(url)
    try:
        async with db.write() as conn:
            for i in range(3):
                await conn.execute(t.events.insert().values(
                    case_id=None, at=T0 + timedelta(minutes=i), kind="vote_cast", actor_aad_id="a", actor_name="A",
                    detail={"i": i}))
        await db.migrate()
        await _append(db, _event(9))
        report = await verify_audit_trail(db)
        assert report.intact and report.rows == 4
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_the_application_role_may_append_but_never_change_the_trail(pg_url: str) -> None:
    role = f"rr_app_{uuid.uuid4().hex[:8]}"
    db = await _trail(pg_url)
    app_url = make_url(pg_url).set(username=role, password=None).render_as_string(hide_password=False)
    app_db = None
    try:
        async with db.write() as conn:
            await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await apply_role_split(pg_url, role)
        app_db = Database(app_url)
        await _append(app_db, _event(7))  # the bot still records events
        for statement in ("UPDATE events SET kind = 'tamper'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with app_db.write() as conn:
                    await conn.execute(text(statement))
        with pytest.raises(DBAPIError, match="permission denied"):  # nor migrate the schema itself
            async with app_db.write() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = 'x'"))
        assert (await verify_audit_trail(app_db)).rows == 7
    finally:
        if app_db is not None:
            await app_db.dispose()
        async with db.write() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
        await db.dispose()


async def test_the_role_split_refuses_sqlite_and_odd_role_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        await apply_role_split(f"sqlite:///{tmp_path / 'x.db'}", "rr_app")
    with pytest.raises(ValueError, match="plain"):
        await apply_role_split("postgresql://postgres@127.0.0.1/test", "app; DROP TABLE events")
