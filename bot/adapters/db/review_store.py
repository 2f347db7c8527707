"""Persistence of the local review, its agency reports and progress checks, and the actions
(bot/domain/review.py). Free text and names are sealed under the case's key
(bot/adapters/db/case_keys.py), the associated data naming table and column."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope, aware, aware_or_none
from bot.services.ports import ActionRecord, ReviewEntry, ReviewRecord

SETUP_FIELD = "reviews.setup"
LEARNING_FIELD = "reviews.learning"
LATE_REASON_FIELD = "reviews.late_reason"
NOTE_FIELD = "review_entries.note"
DESCRIPTION_FIELD = "case_actions.description"
EVIDENCE_FIELD = "case_actions.evidence"


class SqlReviewStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def bound(self, scope: Scope) -> SqlReviewStore:
        return SqlReviewStore(scope)

    async def _open(self, conn: AsyncConnection, case_id: str, field: str, value: str | None) -> str | None:
        return await self.scope.db.keyring.open_text(conn, case_id, field, value)

    # ---- the review --------------------------------------------------------------------------

    async def review(self, case_id: str) -> ReviewRecord | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.reviews).where(t.reviews.c.case_id == case_id))).first()
            if row is None:
                return None
            keys = self.scope.db.keyring
            return ReviewRecord(
                case_id=row.case_id, setup=await keys.open_json(conn, case_id, SETUP_FIELD, row.setup),
                agencies_asked=list(row.agencies_asked or []),
                learning=await self._open(conn, case_id, LEARNING_FIELD, row.learning),
                report_sent_on=row.report_sent_on, published_on=row.published_on,
                late_reason=await self._open(conn, case_id, LATE_REASON_FIELD, row.late_reason),
                updated_at=aware_or_none(row.updated_at), updated_by_name=row.updated_by_name)

    async def save_review(self, record: ReviewRecord, at: datetime, by_name: str) -> None:
        async with self.scope.write() as conn:
            sealer = await self.scope.db.keyring.sealer(conn, record.case_id)
            values: dict[str, Any] = {
                "setup": sealer.json(SETUP_FIELD, record.setup), "agencies_asked": list(record.agencies_asked),
                "learning": sealer.text(LEARNING_FIELD, record.learning), "report_sent_on": record.report_sent_on,
                "published_on": record.published_on, "late_reason": sealer.text(LATE_REASON_FIELD, record.late_reason),
                "updated_at": at, "updated_by_name": by_name,
            }
            stmt = self.scope.insert(t.reviews).values(case_id=record.case_id, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.reviews.c.case_id], set_=values))

    # ---- agency reports and progress checks --------------------------------------------------

    async def entries(self, case_id: str) -> list[ReviewEntry]:
        async with self.scope.read() as conn:
            rows = (await conn.execute(select(t.review_entries).where(t.review_entries.c.case_id == case_id)
                                       .order_by(t.review_entries.c.id))).all()
            return [ReviewEntry(r.id, r.case_id, r.kind, r.agency, r.on_time,
                                await self._open(conn, case_id, NOTE_FIELD, r.note), aware(r.recorded_at),
                                r.recorded_by_name) for r in rows]

    async def add_entry(self, case_id: str, kind: str, at: datetime, by_name: str, *, agency: str | None = None,
                        on_time: bool | None = None, note: str | None = None) -> int:
        async with self.scope.write() as conn:
            sealed = (await self.scope.db.keyring.sealer(conn, case_id)).text(NOTE_FIELD, note)
            result = await conn.execute(insert(t.review_entries).values(
                case_id=case_id, kind=kind, agency=agency, on_time=on_time, note=sealed, recorded_at=at,
                recorded_by_name=by_name).returning(t.review_entries.c.id))
            return int(result.scalar_one())

    # ---- actions -----------------------------------------------------------------------------

    async def _action(self, conn: AsyncConnection, r: Any) -> ActionRecord:
        return ActionRecord(
            id=r.id, case_id=r.case_id, origin=r.origin,
            description=await self._open(conn, r.case_id, DESCRIPTION_FIELD, r.description) or "",
            owner_agency=r.owner_agency, owner_aad_id=r.owner_aad_id, owner_name=r.owner_name, due_on=r.due_on,
            status=r.status, created_at=aware(r.created_at), created_by_name=r.created_by_name,
            done_at=aware_or_none(r.done_at), done_by_name=r.done_by_name,
            evidence=await self._open(conn, r.case_id, EVIDENCE_FIELD, r.evidence))

    async def actions(self, case_id: str) -> list[ActionRecord]:
        async with self.scope.read() as conn:
            rows = (await conn.execute(select(t.case_actions).where(t.case_actions.c.case_id == case_id)
                                       .order_by(t.case_actions.c.id))).all()
            return [await self._action(conn, r) for r in rows]

    async def action(self, action_id: int) -> ActionRecord | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.case_actions).where(t.case_actions.c.id == action_id))).first()
            return await self._action(conn, row) if row is not None else None

    async def add_action(self, case_id: str, origin: str, description: str, owner_agency: str, owner_aad_id: str,
                         owner_name: str, due_on: date, at: datetime, by_name: str) -> int:
        async with self.scope.write() as conn:
            sealed = (await self.scope.db.keyring.sealer(conn, case_id)).text(DESCRIPTION_FIELD, description)
            result = await conn.execute(insert(t.case_actions).values(
                case_id=case_id, origin=origin, description=sealed, owner_agency=owner_agency,
                owner_aad_id=owner_aad_id, owner_name=owner_name, due_on=due_on, status="open", created_at=at,
                created_by_name=by_name).returning(t.case_actions.c.id))
            return int(result.scalar_one())

    async def open_action_owners(self) -> list[tuple[int, str, str, str]]:
        async with self.scope.read() as conn:
            rows = (await conn.execute(
                select(t.case_actions.c.id, t.case_actions.c.case_id, t.case_actions.c.owner_aad_id,
                       t.case_actions.c.owner_name).where(t.case_actions.c.status == "open")
                .order_by(t.case_actions.c.id))).all()
            return [(r.id, r.case_id, r.owner_aad_id, r.owner_name) for r in rows]

    async def reassign_action(self, action_id: int, owner_aad_id: str, owner_name: str) -> bool:
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.case_actions).where(t.case_actions.c.id == action_id, t.case_actions.c.status == "open")
                .values(owner_aad_id=owner_aad_id, owner_name=owner_name))
            return bool(result.rowcount)

    async def action_done(self, action_id: int, at: datetime, by_name: str, evidence: str) -> bool:
        async with self.scope.write() as conn:
            case_id = (await conn.execute(select(t.case_actions.c.case_id)
                                          .where(t.case_actions.c.id == action_id))).scalar_one_or_none()
            if case_id is None:
                return False
            sealed = (await self.scope.db.keyring.sealer(conn, case_id)).text(EVIDENCE_FIELD, evidence)
            result = await conn.execute(
                update(t.case_actions).where(t.case_actions.c.id == action_id, t.case_actions.c.status == "open")
                .values(status="done", done_at=at, done_by_name=by_name, evidence=sealed))
            return bool(result.rowcount)
