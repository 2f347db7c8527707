"""One-time links and file consent offers: issued to one person, used at most once, before
they expire.

A claim is one conditional UPDATE (not yet used, not expired — and, for a consent offer,
answered by the person it was issued to), so two presses or two fetches racing each other
— two browser tabs, two bot processes — are served once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope, aware, aware_or_none
from bot.services.ports import CONSENT, LINK, FileLink

_L = t.file_links


def _link(row: Any) -> FileLink:
    return FileLink(case_id=row.case_id, kind=row.kind, issued_to=row.issued_to, issued_at=aware(row.issued_at),
                    expires_at=aware(row.expires_at), fetched_at=aware_or_none(row.fetched_at), via=row.via,
                    outcome=row.outcome, delivered_at=aware_or_none(row.delivered_at))


class SqlFileLinkStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def issue(self, token_hash: str, link: FileLink) -> None:
        async with self.scope.write() as conn:
            await conn.execute(insert(_L).values(
                token_hash=token_hash, case_id=link.case_id, kind=link.kind, issued_to=link.issued_to,
                issued_at=link.issued_at, expires_at=link.expires_at, via=link.via))

    async def claim(self, token_hash: str, now: datetime) -> tuple[FileLink | None, str]:
        async with self.scope.write() as conn:
            taken = await conn.execute(update(_L).where(
                _L.c.token_hash == token_hash, _L.c.via == LINK, _L.c.fetched_at.is_(None), _L.c.expires_at > now,
            ).values(fetched_at=now, outcome="fetched", delivered_at=now))
            row = (await conn.execute(select(_L).where(_L.c.token_hash == token_hash, _L.c.via == LINK))).first()
        if row is None:
            return None, "unknown"
        link = _link(row)
        if taken.rowcount:
            return link, "ok"
        return link, "used" if link.fetched_at is not None else "expired"

    async def answer(self, token_hash: str, person: str, answer: str, now: datetime) -> tuple[FileLink | None, str]:
        async with self.scope.write() as conn:
            taken = await conn.execute(update(_L).where(
                _L.c.token_hash == token_hash, _L.c.via == CONSENT, _L.c.issued_to == person,
                _L.c.fetched_at.is_(None), _L.c.expires_at > now,
            ).values(fetched_at=now, outcome=answer))
            row = (await conn.execute(select(_L).where(_L.c.token_hash == token_hash, _L.c.via == CONSENT))).first()
        if row is None:
            return None, "unknown"
        offer = _link(row)
        if taken.rowcount:
            return offer, "ok"
        if offer.issued_to != person:
            return offer, "not_yours"
        return offer, "used" if offer.fetched_at is not None else "expired"

    async def settle(self, token_hash: str, outcome: str, now: datetime) -> None:
        async with self.scope.write() as conn:
            await conn.execute(update(_L).where(_L.c.token_hash == token_hash, _L.c.outcome == "accepted").values(
                outcome=outcome, delivered_at=now if outcome == "uploaded" else None))

    async def deliveries_of(self, case_id: str) -> list[FileLink]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(_L).where(_L.c.case_id == case_id).order_by(_L.c.issued_at))
            return [_link(row) for row in rows]
