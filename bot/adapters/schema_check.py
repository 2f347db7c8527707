"""Start-up's migration step, without Alembic when there is nothing to migrate.

Loading Alembic's command machinery and the migration scripts to find out that the
database is already at head cost ~150 ms and ~10 MiB of the bot's start-up (README, Performance).
The head revisions are read here straight from the scripts' `revision =` /
`down_revision =` lines and compared with the database's `alembic_version` table. Only
when they agree exactly is Alembic skipped; anything else (a new or older database, a
missing table, a script this reader cannot follow) runs `Database.migrate()`, Alembic's
`upgrade head`, as before. `make migrate` still always runs Alembic.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.adapters.db.database import MIGRATIONS, Database

log = logging.getLogger(__name__)


def _revision_ids(value: object) -> tuple[str, ...] | None:
    """`None`, one id or a tuple/list of ids (a merge); None when it is none of these."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


_ASSIGNMENT = re.compile(r"^(revision|down_revision|depends_on)\s*(?::[^=]*)?=\s*(.*?)\s*$", re.MULTILINE)


def head_revisions(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The revisions no other script builds on, read from the scripts' top-level
    `revision = "…"` / `down_revision = "…"` lines without importing (or parsing) them.
    None when a script does not say so in one literal per line: the caller then asks Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(versions.glob("*.py")):
        found: dict[str, object] = {}
        try:
            for name, value in _ASSIGNMENT.findall(script.read_text(encoding="utf-8")):
                if name in found:  # said twice: not for a line reader to decide which counts
                    return None
                found[name] = ast.literal_eval(value)
        except (OSError, SyntaxError, ValueError):
            return None
        revision = _revision_ids(found.get("revision"))
        down = _revision_ids(found.get("down_revision"))
        if revision is None or len(revision) != 1 or down is None or "down_revision" not in found:
            return None
        if found.get("depends_on") is not None:  # cross-branch dependencies: leave them to Alembic
            return None
        revisions.add(revision[0])
        parents.update(down)
    heads = frozenset(revisions - parents)
    return heads or None


async def current_revisions(db: Database) -> frozenset[str] | None:
    """What Alembic's version table records (its default name: migrations/env.py keeps
    it); None when there is no such table yet (a new database)."""
    try:
        async with db.read() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:
        return None
    return frozenset(rows)


async def migrate_if_behind(db: Database) -> bool:
    """Run Alembic's `upgrade head` unless the database is exactly at the scripts' head.
    Returns whether Alembic ran."""
    heads = head_revisions()
    if heads is not None and await current_revisions(db) == heads:
        return False
    log.info("migrating the database", extra={"head": sorted(heads) if heads else None})
    await db.migrate()
    return True
