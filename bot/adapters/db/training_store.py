"""Training mode's state, as `bot_state` rows (no table of its own: a training database is
a rehearsal, thrown away with its file).

Keys: `training:clock` (the offset of the training clock), `training:acting:<real aad>` (who
a keyboard user is acting as), `training:keyboard:<real aad>` (that user's personal chat),
`training:inbox:<aad>:<sequence>` (a message kept for someone nobody is sitting at).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope
from bot.domain.lifecycle import CLOSED_STATUSES
from bot.services.ports import Address
from bot.services.training import InboxItem, Person

CLOCK = "training:clock"
ACTING = "training:acting:"
KEYBOARD = "training:keyboard:"
INBOX = "training:inbox:"
OPEN_MEETING = ("booked",)
CLOSED = tuple(s.value for s in CLOSED_STATUSES)


class SqlTrainingStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def _get(self, key: str) -> dict[str, Any] | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.bot_state.c.data).where(t.bot_state.c.key == key))).first()
        return row.data if row is not None else None

    async def _put(self, key: str, data: dict[str, Any], at: datetime) -> None:
        async with self.scope.write() as conn:
            stmt = self.scope.insert(t.bot_state).values(key=key, data=data, etag="training", updated_at=at)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.bot_state.c.key],
                                                          set_={"data": data, "updated_at": at}))

    async def _delete(self, keys: list[str]) -> None:
        async with self.scope.write() as conn:
            await conn.execute(delete(t.bot_state).where(t.bot_state.c.key.in_(keys)))

    # ---- the clock ---------------------------------------------------------------------------

    async def clock_offset(self) -> float:
        data = await self._get(CLOCK)
        return float(data["seconds"]) if data else 0.0

    async def save_clock_offset(self, seconds: float) -> None:
        await self._put(CLOCK, {"seconds": seconds}, datetime.now().astimezone())

    # ---- acting as ---------------------------------------------------------------------------

    async def acting(self, real_aad: str) -> Person | None:
        data = await self._get(ACTING + real_aad.lower())
        return Person.from_dict(data) if data else None

    async def set_acting(self, real_aad: str, person: Person | None, at: datetime) -> None:
        if person is None:
            await self._delete([ACTING + real_aad.lower()])
        else:
            await self._put(ACTING + real_aad.lower(), person.as_dict(), at)

    async def actors_of(self, acted_aad: str) -> list[str]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.bot_state.c.key, t.bot_state.c.data)
                                      .where(t.bot_state.c.key.like(ACTING + "%")))
            return [r.key.removeprefix(ACTING) for r in rows
                    if str(r.data.get("aad_object_id", "")).lower() == acted_aad.lower()]

    # ---- keyboard users ----------------------------------------------------------------------

    async def keyboard(self, real_aad: str) -> Address | None:
        data = await self._get(KEYBOARD + real_aad.lower())
        return Address(**data) if data else None

    async def remember_keyboard(self, real_aad: str, address: Address, at: datetime) -> None:
        key = KEYBOARD + real_aad.lower()
        data = {"conversation_id": address.conversation_id, "service_url": address.service_url,
                "tenant_id": address.tenant_id, "bot_id": address.bot_id}
        if await self._get(key) != data:
            await self._put(key, data, at)

    # ---- the inbox ---------------------------------------------------------------------------

    async def keep(self, aad: str, card: dict[str, Any], at: datetime) -> None:
        key = f"{INBOX}{aad.lower()}:{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        await self._put(key, {"card": card, "at": at.isoformat(), "read": False}, at)

    async def inbox(self, aad: str) -> list[InboxItem]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.bot_state.c.key, t.bot_state.c.data)
                                      .where(t.bot_state.c.key.like(f"{INBOX}{aad.lower()}:%"))
                                      .order_by(t.bot_state.c.key))
            return [InboxItem(r.key, r.data["card"], datetime.fromisoformat(r.data["at"]))
                    for r in rows if not r.data.get("read")]

    async def waiting(self, aad: str) -> int:
        return len(await self.inbox(aad))

    async def mark_read(self, keys: list[str]) -> None:
        if not keys:
            return
        async with self.scope.write() as conn:
            rows = list(await conn.execute(select(t.bot_state.c.key, t.bot_state.c.data)
                                           .where(t.bot_state.c.key.in_(keys))))
            for row in rows:
                await conn.execute(update(t.bot_state).where(t.bot_state.c.key == row.key)
                                   .values(data={**row.data, "read": True}))

    # ---- meetings ----------------------------------------------------------------------------

    async def next_meeting(self, after: datetime) -> datetime | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(
                select(t.meetings.c.start_at)
                .select_from(t.meetings.join(t.cases, t.cases.c.id == t.meetings.c.case_id))
                .where(and_(t.meetings.c.status.in_(OPEN_MEETING), t.meetings.c.start_at > after,
                            t.cases.c.status.not_in(CLOSED)))
                .order_by(t.meetings.c.start_at).limit(1))).first()
        return row.start_at if row is not None else None
