"""The transactional outbox's table: what the use cases committed for later delivery.

Messages are claimed with a compare-and-set lease, so two bot processes never both
deliver the same message; a lease that runs out (the process died mid-send) makes the
message due again.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.deferred_writes import DeferredKind, Handle
from bot.adapters.db.dialects import dialect_insert
from bot.adapters.db.in_lists import padded_ids
from bot.adapters.db.scope import Scope
from bot.domain.outbox import GATHERED, GATHERED_WITH, WAITING_FOR_PERSON
from bot.services.ports import OutboxItem, OutboxMessage

_OUTBOX_DONE = (
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("b_id"))
    .values(status="sent", sent_at=bindparam("b_at"), claimed_until=None)
)


async def _write_sent(_db: Handle, conn: AsyncConnection, sent: list[tuple[Hashable, Any]]) -> None:
    """Card updates already shown (`DeferredWrites`), marked sent in one statement."""
    await conn.execute(_OUTBOX_DONE, [{"b_id": item_id, "b_at": at} for item_id, at in sent])


SHOWN_CARD_UPDATES = DeferredKind("shown card updates", _write_sent)
# Asked on every turn in personal chat (bot/services/recipients.py `person_is_back`): built once.
_IS_UNREACHABLE = select(t.unreachable_people.c.aad_object_id).where(
    t.unreachable_people.c.aad_object_id == bindparam("b_aad_object_id"))


@cache
def _enqueue_statement(is_sqlite: bool) -> Any:
    """INSERT … ON CONFLICT (key) DO NOTHING in the engine's dialect, built once per dialect."""
    return dialect_insert(is_sqlite)(t.outbox).on_conflict_do_nothing(index_elements=[t.outbox.c.key])


@cache
def _enqueue_claimed_statement(is_sqlite: bool) -> Any:
    return _enqueue_statement(is_sqlite).returning(t.outbox.c.id)


def _outbox_row(message: OutboxMessage, at: datetime, *, attempts: int = 0,
                claimed_until: datetime | None = None) -> dict[str, Any]:
    return {"key": message.key, "kind": message.kind, "case_id": message.case_id, "payload": message.payload,
            "status": message.status, "attempts": attempts, "not_before": at, "claimed_until": claimed_until,
            "created_at": at}




def _item(row: Any) -> OutboxItem:
    return OutboxItem(row.id, row.key, row.kind, row.case_id, row.payload, row.attempts)


async def enqueue_in(conn: AsyncConnection, messages: Sequence[OutboxMessage], at: datetime) -> None:
    """Enqueue inside the caller's transaction: a state change and its messages commit together."""
    statement = _enqueue_statement(conn.dialect.name == "sqlite")
    for message in messages:
        await conn.execute(statement, _outbox_row(message, at))


class SqlOutboxStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def bound(self, scope: Scope) -> SqlOutboxStore:
        return SqlOutboxStore(scope)

    async def enqueue(self, messages: Sequence[OutboxMessage], at: datetime) -> None:
        async with self.scope.write() as conn:
            await enqueue_in(conn, messages, at)

    async def enqueue_claimed(self, message: OutboxMessage, at: datetime, lease_seconds: int) -> OutboxItem | None:
        """Enqueue a message already leased to this process, which delivers it as soon as the
        transaction commits; None if the key was already enqueued."""
        leased = _outbox_row(message, at, attempts=1, claimed_until=at + timedelta(seconds=lease_seconds))
        async with self.scope.write() as conn:
            row = (await conn.execute(_enqueue_claimed_statement(self.scope.db.is_sqlite), leased)).first()
        if row is None:
            return None
        return OutboxItem(row.id, message.key, message.kind, message.case_id, message.payload, 1)

    async def claim(self, now: datetime, lease_seconds: int, limit: int, *,
                    addressed_only: bool = False) -> list[OutboxItem]:
        """Lease due messages to this process. A lease that runs out (the process died
        mid-send) makes the message due again. One compare-and-set UPDATE for the batch: each
        row it returns was still unclaimed when this transaction leased it, so another process
        (PostgreSQL re-reads a row a concurrent claim changed) never gets the same row."""
        lease = now + timedelta(seconds=lease_seconds)
        unclaimed = and_(t.outbox.c.status == "pending",
                         or_(t.outbox.c.claimed_until.is_(None), t.outbox.c.claimed_until < now))
        async with self.scope.write() as conn:
            due = select(t.outbox.c.id).where(unclaimed, t.outbox.c.not_before <= now)
            if addressed_only:
                due = due.where(t.outbox.c.payload["to"].as_string().is_not(None))
            ids = (await conn.execute(due.order_by(t.outbox.c.id).limit(limit))).scalars().all()
            if not ids:
                return []
            rows = (await conn.execute(
                update(t.outbox).where(t.outbox.c.id.in_(padded_ids(ids)), unclaimed)
                .values(claimed_until=lease, attempts=t.outbox.c.attempts + 1)
                .returning(*t.outbox.c))).all()
        return sorted((_item(r) for r in rows), key=lambda item: item.id)

    async def gather(self, lead: OutboxItem, to: str, now: datetime, most: int,
                     mine: Collection[int] = ()) -> list[OutboxItem]:
        """The lead message and the other due messages of its kind for the same person, to go as
        one (a digest), in one transaction: the others are taken out of the queue (status
        GATHERED, never claimed again) and their ids written into the lead's payload (`with`),
        so a delivery that runs again after a crash sends the same set, and another process
        can never send one of them on its own. Only messages no one holds are taken, or ones
        this process claimed and has not started (`mine`). Asked again for the same lead, the
        set written the first time is returned. A row that is itself a digest's lead (its delivery
        failed and is retried) is never taken: the rows it carries would be left behind."""
        async with self.scope.write() as conn:
            row = (await conn.execute(select(t.outbox.c.payload).where(t.outbox.c.id == lead.id))).first()
            payload = dict(row.payload) if row is not None else dict(lead.payload)
            if GATHERED_WITH in payload:
                ids = [int(i) for i in payload[GATHERED_WITH]]
                rows = (await conn.execute(select(t.outbox).where(t.outbox.c.id.in_(ids)).order_by(t.outbox.c.id))).all() if ids else []
                return [lead, *(_item(r) for r in rows)]
            free = or_(t.outbox.c.claimed_until.is_(None), t.outbox.c.claimed_until < now,
                       t.outbox.c.id.in_(padded_ids(mine)))
            candidates = (await conn.execute(
                select(t.outbox).where(t.outbox.c.kind == lead.kind, t.outbox.c.status == "pending",
                                       t.outbox.c.not_before <= now, t.outbox.c.id != lead.id,
                                       t.outbox.c.payload["to"].as_string() == to, free)
                .order_by(t.outbox.c.id).limit(2 * max(0, most - 1)))).all()  # room for leads passed over
            taken: list[Any] = []
            for candidate in candidates:
                if len(taken) >= most - 1:
                    break
                if GATHERED_WITH in candidate.payload:  # a digest's lead of its own (retried): it carries its set
                    continue
                result = await conn.execute(update(t.outbox).where(t.outbox.c.id == candidate.id,
                                                                   t.outbox.c.status == "pending", free)
                                            .values(status=GATHERED, claimed_until=None))
                if result.rowcount:
                    taken.append(candidate)
            await conn.execute(update(t.outbox).where(t.outbox.c.id == lead.id)
                               .values(payload={**payload, GATHERED_WITH: [r.id for r in taken]}))
        return [lead, *(_item(r) for r in taken)]

    async def done_gathered(self, ids: Collection[int], at: datetime) -> None:
        """The digest that carried these messages was delivered."""
        if not ids:
            return
        async with self.scope.write() as conn:
            await conn.execute(update(t.outbox).where(t.outbox.c.id.in_(list(ids)), t.outbox.c.status == GATHERED)
                               .values(status="sent", sent_at=at, claimed_until=None))

    async def done(self, item_id: int, at: datetime) -> None:
        async with self.scope.write() as conn:
            await conn.execute(_OUTBOX_DONE, {"b_id": item_id, "b_at": at})

    def shown(self, item_id: int, at: datetime) -> None:
        """`done` for a card update already on the card, written with this process's next write:
        lost in a crash, the update is only put on the card again (bot/adapters/db/deferred_writes.py)."""
        self.scope.db.deferred.add(SHOWN_CARD_UPDATES, item_id, at)

    async def retry(self, item_id: int, not_before: datetime, error: str, give_up: bool) -> None:
        async with self.scope.write() as conn:
            await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == item_id)
                .values(
                    status="failed" if give_up else "pending",
                    not_before=not_before,
                    claimed_until=None,
                    last_error=error[:300],
                )
            )

    async def park(self, item_id: int, status: str, error: str) -> None:
        async with self.scope.write() as conn:
            await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == item_id)
                .values(status=status, claimed_until=None, last_error=error[:300])
            )

    async def release(self, status: str, at: datetime) -> int:
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.status == status)
                .values(status="pending", not_before=at, claimed_until=None)
            )
            return int(result.rowcount or 0)

    async def count(self, status: str) -> int:
        async with self.scope.read() as conn:
            return int((await conn.execute(select(func.count()).where(t.outbox.c.status == status))).scalar_one())


    # ---- people Teams would not deliver to ---------------------------------------------------

    async def mark_unreachable(self, aad_object_id: str, at: datetime, reason: str) -> bool:
        statement = (self.scope.insert(t.unreachable_people)
                     .values(aad_object_id=aad_object_id, since=at, reason=reason[:100])
                     .on_conflict_do_nothing(index_elements=[t.unreachable_people.c.aad_object_id])
                     .returning(t.unreachable_people.c.aad_object_id))
        async with self.scope.write() as conn:
            return (await conn.execute(statement)).first() is not None

    async def is_unreachable(self, aad_object_id: str) -> bool:
        async with self.scope.read() as conn:
            row = (await conn.execute(_IS_UNREACHABLE, {"b_aad_object_id": aad_object_id})).first()
        return row is not None

    async def reachable_again(self, aad_object_id: str, at: datetime) -> int | None:
        async with self.scope.write() as conn:
            cleared = await conn.execute(delete(t.unreachable_people)
                                         .where(t.unreachable_people.c.aad_object_id == aad_object_id))
            if not cleared.rowcount:
                return None
            released = await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.status == WAITING_FOR_PERSON,
                       t.outbox.c.payload["to"].as_string() == aad_object_id)
                .values(status="pending", not_before=at, claimed_until=None)
            )
            return int(released.rowcount or 0)
