"""The send ledger: each message an outbox delivery sends, recorded before it leaves.

Every method is its own short transaction, committed at once, never part of a use case's
unit of work: the "in doubt" row must already be on disk when the message is on the wire,
so that a process killed before Teams' answer is recorded leaves the proof behind
(bot/services/sends.py reconciles it).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select, update

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope
from bot.services.ports import SendRecord

GROUP_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class SqlSendLedger:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def get(self, send_key: str) -> SendRecord | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.outbox_sends).where(t.outbox_sends.c.send_key == send_key))).first()
        if row is None:
            return None
        return SendRecord(row.send_key, row.conversation_id, row.state, row.activity_id)

    async def begin(self, record: SendRecord, outbox_id: int | None, at: datetime) -> bool:
        """Record the send; a record already there (a concurrent delivery) is left as it is."""
        values = {"send_key": record.send_key, "outbox_id": outbox_id, "conversation_id": record.conversation_id,
                  "state": record.state, "activity_id": record.activity_id, "created_at": at, "updated_at": at}
        async with self.scope.write() as conn:
            result = await conn.execute(self.scope.insert(t.outbox_sends).values(**values)
                                        .on_conflict_do_nothing(index_elements=[t.outbox_sends.c.send_key]))
        return bool(result.rowcount)

    async def mark(self, send_key: str, state: str, activity_id: str | None, at: datetime) -> None:
        async with self.scope.write() as conn:
            await conn.execute(update(t.outbox_sends).where(t.outbox_sends.c.send_key == send_key)
                               .values(state=state, activity_id=activity_id, updated_at=at))

    async def forget(self, send_key: str) -> None:
        """Teams answered that the message was not taken: nothing is in doubt any more."""
        async with self.scope.write() as conn:
            await conn.execute(delete(t.outbox_sends).where(t.outbox_sends.c.send_key == send_key))

    async def graph_channel(self, conversation_id: str) -> tuple[str, str] | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.channels.c.team_id, t.channels.c.channel_id)
                                      .where(t.channels.c.conversation_id == conversation_id))).first()
        # Bound from an activity without the team's group id: Graph cannot address that team.
        if row is None or not row.channel_id or not GROUP_ID.match(row.team_id or ""):
            return None
        return str(row.team_id), str(row.channel_id)
