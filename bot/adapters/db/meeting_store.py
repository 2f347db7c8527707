"""Persistence of the rapid review meeting (one per case). The case's status moves go
through the case store's `move` (bot/domain/lifecycle.py), never through here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope
from bot.services.ports import MeetingRecord

OUTCOME_FIELD = "meetings.outcome"  # the chair's rationale, participants and actions: sealed


def _record(row: Any, outcome: Any) -> MeetingRecord:
    return MeetingRecord(
        case_id=row.case_id, status=row.status, attempt=row.attempt, transaction_id=row.transaction_id,
        event_id=row.event_id, join_url=row.join_url, start_at=row.start_at, end_at=row.end_at,
        provider=row.provider, attendees=row.attendees or [], options=row.options or [], outcome=outcome,
        last_error=row.last_error,
    )


class SqlMeetingStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def bound(self, scope: Scope) -> SqlMeetingStore:
        return SqlMeetingStore(scope)

    async def get(self, case_id: str) -> MeetingRecord | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.meetings).where(t.meetings.c.case_id == case_id))).first()
            if row is None:
                return None
            return _record(row, await self.scope.db.keyring.open_json(conn, case_id, OUTCOME_FIELD, row.outcome))

    async def save(self, record: MeetingRecord, at: datetime) -> None:
        async with self.scope.write() as conn:
            outcome = record.outcome
            if outcome is not None:
                outcome = (await self.scope.db.keyring.sealer(conn, record.case_id)).json(OUTCOME_FIELD, outcome)
            await self._save(conn, record, outcome, at)

    async def _save(self, conn: AsyncConnection, record: MeetingRecord, outcome: Any, at: datetime) -> None:
        values = {
            "status": record.status, "attempt": record.attempt, "transaction_id": record.transaction_id,
            "event_id": record.event_id, "join_url": record.join_url, "start_at": record.start_at,
            "end_at": record.end_at, "provider": record.provider, "attendees": record.attendees,
            "options": record.options, "outcome": outcome, "last_error": record.last_error,
            "updated_at": at,
        }
        stmt = self.scope.insert(t.meetings).values(case_id=record.case_id, **values)
        await conn.execute(stmt.on_conflict_do_update(index_elements=[t.meetings.c.case_id], set_=values))
