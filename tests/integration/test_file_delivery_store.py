"""The file delivery store on both databases: an offer answered once, by its person only,
before it expires — also when two answers race — and the list of who received which file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.adapters.db.database import Database
from bot.adapters.db.file_link_store import SqlFileLinkStore
from bot.adapters.db.scope import Scope
from bot.services.ports import CONSENT, FileLink

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
CHAIR, MANAGER = "00000000-0000-0000-0000-00000000a003", "00000000-0000-0000-0000-00000000a002"


def _offer(case_id: str = "case-1", to: str = CHAIR, at: datetime = NOW, via: str = CONSENT) -> FileLink:
    return FileLink(case_id=case_id, kind="rapid_review_record", issued_to=to, issued_at=at,
                    expires_at=at + timedelta(hours=1), via=via)


async def test_an_offer_is_answered_once_by_its_person(database_url: str) -> None:
    db = Database(database_url)
    await db.migrate()
    try:
        store = SqlFileLinkStore(Scope(db))
        await store.issue("a" * 64, _offer())
        await store.issue("b" * 64, _offer(at=NOW + timedelta(minutes=1)))
        await store.issue("c" * 64, _offer(case_id="case-2"))
        await store.issue("d" * 64, _offer(at=NOW + timedelta(minutes=2), via="link"))

        assert (await store.answer("a" * 64, MANAGER, "accepted", NOW))[1] == "not_yours"
        assert (await store.answer("d" * 64, CHAIR, "accepted", NOW))[1] == "unknown"  # a link is no offer
        assert (await store.claim("a" * 64, NOW))[1] == "unknown"  # and an offer is no link
        # Two answers racing (two windows, two processes): one wins.
        results = await asyncio.gather(*(store.answer("a" * 64, CHAIR, "accepted", NOW) for _ in range(5)))
        assert sorted(why for _, why in results) == ["ok", "used", "used", "used", "used"]
        await store.settle("a" * 64, "uploaded", NOW + timedelta(seconds=5))
        await store.settle("a" * 64, "failed", NOW + timedelta(seconds=6))  # settled once: no change
        assert (await store.answer("b" * 64, CHAIR, "declined", NOW + timedelta(hours=2)))[1] == "expired"
        link, why = await store.claim("d" * 64, NOW + timedelta(minutes=3))
        assert why == "ok" and link is not None and link.received

        deliveries = await store.deliveries_of("case-1")
        assert [(d.via, d.issued_to, d.outcome, d.received) for d in deliveries] == [
            ("consent", CHAIR, "uploaded", True), ("consent", CHAIR, None, False), ("link", CHAIR, "fetched", True)]
        assert deliveries[0].delivered_at == NOW + timedelta(seconds=5)
        assert [d.case_id for d in await store.deliveries_of("case-2")] == ["case-2"]
    finally:
        await db.dispose()
