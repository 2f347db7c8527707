"""One-time links: issued to one person, fetched at most once, before they expire.

The claim is one conditional UPDATE (not yet fetched, not expired), so two fetches racing
each other — two browser tabs, two bot processes — hand the file out once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope, aware, aware_or_none
from bot.services.ports import FileLink

_L = t.file_links


class SqlFileLinkStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def issue(self, token_hash: str, link: FileLink) -> None:
        async with self.scope.write() as conn:
            await conn.execute(insert(_L).values(
                token_hash=token_hash, case_id=link.case_id, kind=link.kind, issued_to=link.issued_to,
                issued_at=link.issued_at, expires_at=link.expires_at))

    async def claim(self, token_hash: str, now: datetime) -> tuple[FileLink | None, str]:
        async with self.scope.write() as conn:
            taken = await conn.execute(update(_L).where(_L.c.token_hash == token_hash, _L.c.fetched_at.is_(None),
                                                        _L.c.expires_at > now).values(fetched_at=now))
            row = (await conn.execute(select(_L).where(_L.c.token_hash == token_hash))).first()
        if row is None:
            return None, "unknown"
        link = FileLink(case_id=row.case_id, kind=row.kind, issued_to=row.issued_to, issued_at=aware(row.issued_at),
                        expires_at=aware(row.expires_at), fetched_at=aware_or_none(row.fetched_at))
        if taken.rowcount:
            return link, "ok"
        return link, "used" if link.fetched_at is not None else "expired"
