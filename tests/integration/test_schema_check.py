"""Start-up's migration step (bot/adapters/schema_check.py): Alembic runs when the
database is new or behind, and is skipped when the database is exactly at head."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text

from bot.adapters.db.database import Database, alembic_config
from bot.adapters.schema_check import current_revisions, head_revisions, migrate_if_behind


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


class _Counting:
    """Counts Alembic runs through `Database.migrate`, the only way it runs at start-up."""

    def __init__(self, db: Database) -> None:
        self.runs = 0
        self._migrate = db.migrate

    async def __call__(self) -> None:
        self.runs += 1
        await self._migrate()


def test_the_heads_read_from_the_scripts_are_alembics_heads() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert head_revisions() == frozenset(heads)


async def test_a_new_database_is_migrated_then_left_alone(db, monkeypatch) -> None:
    counting = _Counting(db)
    monkeypatch.setattr(db, "migrate", counting)
    assert await current_revisions(db) is None
    assert await migrate_if_behind(db) is True
    assert await current_revisions(db) == head_revisions()
    assert await migrate_if_behind(db) is False
    assert counting.runs == 1


async def test_a_database_behind_head_is_migrated(db, monkeypatch) -> None:
    await db.migrate()
    config = alembic_config(db.url)
    await asyncio.to_thread(command.downgrade, config, "-1")
    behind = await current_revisions(db)
    assert behind and behind != head_revisions()
    counting = _Counting(db)
    monkeypatch.setattr(db, "migrate", counting)
    assert await migrate_if_behind(db) is True
    assert counting.runs == 1
    assert await current_revisions(db) == head_revisions()


async def test_an_unknown_revision_goes_to_alembic_which_refuses_it(db) -> None:
    await db.migrate()
    async with db.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'from-a-newer-bot'"))
    with pytest.raises(CommandError, match="from-a-newer-bot"):  # as before: Alembic's own error
        await migrate_if_behind(db)


# ---- reading the scripts ----------------------------------------------------------------------


def _scripts(tmp_path: Path, *bodies: str) -> Path:
    for n, body in enumerate(bodies):
        (tmp_path / f"{n:04d}_x.py").write_text(body, encoding="utf-8")
    return tmp_path


def test_a_linear_history_has_one_head(tmp_path) -> None:
    versions = _scripts(tmp_path, '"""Revision ID: a\nRevises:\n"""\nrevision = "a"\ndown_revision = None\n',
                        'revision: str = "b"  # the second\ndown_revision: Union[str, None] = "a"\n'
                        'def upgrade():\n    revision = "not this either"\n')
    assert head_revisions(versions) == frozenset({"b"})


def test_branches_and_merges(tmp_path) -> None:
    versions = _scripts(tmp_path, 'revision = "a"\ndown_revision = None\n', 'revision = "b"\ndown_revision = "a"\n',
                        'revision = "c"\ndown_revision = "a"\n')
    assert head_revisions(versions) == frozenset({"b", "c"})
    (versions / "0003_x.py").write_text('revision = "m"\ndown_revision = ("b", "c")\n', encoding="utf-8")
    assert head_revisions(versions) == frozenset({"m"})


@pytest.mark.parametrize("body", [
    'revision = make_id()\ndown_revision = None\n',  # not a literal
    'down_revision = None\n',  # no revision
    'revision = "b"\ndown_revision = "a"\ndepends_on = "x"\n',  # cross-branch dependency
    'revision = "b"\ndown_revision = (\n    "a",\n)\n',  # over several lines
    'revision = "b"\ndown_revision = "a"\nrevision = "c"\n',  # said twice
])
def test_anything_unusual_is_left_to_alembic(tmp_path, body: str) -> None:
    versions = _scripts(tmp_path, 'revision = "a"\ndown_revision = None\n', body)
    assert head_revisions(versions) is None


def test_no_scripts_is_left_to_alembic(tmp_path) -> None:
    assert head_revisions(tmp_path) is None
