"""`admin check`: everything the bot needs before it can start, each problem said once with its
fix — the environment (Settings), the master key, the partnership file and its timeline
profile, and the database (reachable, at the schema head, of the right mode). Exit 1 when
anything is wrong, listing all of it; 0 when all is well. Reads no case data (not audited)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from bot.adapters.db.database import Database
from bot.adapters.db.scope import Scope
from bot.adapters.db.turn_store import SqlTurnStore
from bot.adapters.schema_check import current_revisions, head_revisions
from bot.app import TRAINING, keyring_for, profile_for
from bot.settings import ConfigError, Settings, load_partnership, load_settings

DATABASE_SECONDS = 10.0  # a database that does not answer within this is reported unreachable


async def run_check(settings: Settings | None = None) -> int:
    problems: list[str] = []
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as error:
            problems.append(str(error))
    if settings is not None:
        _ok("environment (Settings)")
        try:
            keyring_for(settings)
            _ok("master key")
        except ConfigError as error:
            problems.append(str(error))
        try:
            partnership = load_partnership(Path(settings.partnership_file))
            profile_for(partnership, Path(settings.partnership_file))
            _ok(f"partnership file {settings.partnership_file} ({partnership.short_name}, "
                f"timeline profile {partnership.timeline_profile})")
        except ConfigError as error:
            problems.append(str(error))
        problems.extend(await _database(settings))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("check: all well" if not problems else f"check: {len(problems)} problem(s)")
    return 1 if problems else 0


def _ok(what: str) -> None:
    print(f"ok: {what}")


async def _database(settings: Settings) -> list[str]:
    db = Database(settings.database_url, busy_seconds=DATABASE_SECONDS)
    where = db.url.split("@")[-1] if not db.is_sqlite else db.url  # never the password
    try:
        async with asyncio.timeout(DATABASE_SECONDS):
            async with db.read() as conn:
                await conn.execute(text("SELECT 1"))
            current, heads = await current_revisions(db), head_revisions()
            if current is None:
                return [f"the database at {where} has no schema: run `python -m bot admin db migrate`"]
            if heads is not None and current != heads:
                return [f"the database is at revision {', '.join(sorted(current))}, behind the schema head "
                        f"{', '.join(sorted(heads))}: run `python -m bot admin db migrate`"]
            turns = SqlTurnStore(Scope(db))
            mode = await turns.database_mode()
            real_cases = mode != TRAINING and await turns.holds_cases()
    except TimeoutError:
        return [f"the database at {where} did not answer within {DATABASE_SECONDS:.0f} s"]
    except Exception as error:  # noqa: BLE001 - any failure to reach it is the problem to report
        return [f"the database at {where} cannot be reached ({type(error).__name__}): check DATABASE_URL"]
    finally:
        await db.dispose()
    if mode == TRAINING and not settings.training_mode:
        return ["the database is a training database (a rehearsal's) but TRAINING_MODE is off: point DATABASE_URL "
                "at the real database"]
    if settings.training_mode and real_cases:
        return ["TRAINING_MODE is on but the database holds real cases: point DATABASE_URL at a training database"]
    _ok(f"database reachable, at the schema head ({', '.join(sorted(current))})")
    return []
