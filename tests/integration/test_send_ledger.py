"""The send ledger's table (bot/adapters/db/send_store.py), on SQLite and PostgreSQL: a send is
recorded once however many deliveries race to record it, and each write is committed at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.db.database import Database
from bot.adapters.db.scope import Scope
from bot.adapters.db.send_store import SqlSendLedger
from bot.app import sql_stores
from bot.domain.case import Actor
from bot.services.ports import Address, SendRecord
from bot.services.sends import IN_DOUBT, SENT
from tests.support import activities as A

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
GROUP_ID = "6f4b3a2e-1c5d-4e8f-9a0b-1c2d3e4f5a6b"
KEY = "0123456789abcdef0123456789abcdef"


async def test_a_send_is_recorded_once_then_marked_sent_or_forgotten(db: Database) -> None:
    ledger = SqlSendLedger(Scope(db))
    record = SendRecord(KEY, A.PANEL_CHANNEL_ID, IN_DOUBT)
    assert await ledger.begin(record, 7, NOW) is True
    assert await ledger.begin(SendRecord(KEY, A.PANEL_CHANNEL_ID, IN_DOUBT), 7, NOW) is False  # a racing delivery
    assert await SqlSendLedger(Scope(db)).get(KEY) == record  # committed: another process sees it
    await ledger.mark(KEY, SENT, "1764950000123", NOW)
    assert await ledger.get(KEY) == SendRecord(KEY, A.PANEL_CHANNEL_ID, SENT, "1764950000123")
    await ledger.forget(KEY)
    assert await ledger.get(KEY) is None


@pytest.mark.parametrize(("team_id", "readable"), [(GROUP_ID, True), (A.TEAM_ID, False), (None, False)])
async def test_only_a_channel_bound_with_its_teams_group_id_can_be_read_back(db: Database, team_id: str | None,
                                                                             readable: bool) -> None:
    stores = sql_stores(db)
    await stores.roster.bind_channel("panel", Address(A.PANEL_CHANNEL_ID, "https://smba.trafficmanager.net/uk/"),
                                     team_id, A.PANEL_CHANNEL_ID, Actor(aad_object_id=A.PAT.aad, name=A.PAT.name),
                                     NOW)
    ledger = SqlSendLedger(Scope(db))
    assert await ledger.graph_channel(A.PANEL_CHANNEL_ID) == ((GROUP_ID, A.PANEL_CHANNEL_ID) if readable else None)
    assert await ledger.graph_channel(A.PAT.chat) is None
