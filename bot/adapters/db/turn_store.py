"""Turn plumbing: de-duplication of Teams' retried activities, the SDK's dialog state
(with etags: a stale write is refused, never silently overwritten), and the secrets every
bot process shares.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope

_STORED_RESPONSE = select(t.processed_activities.c.response).where(t.processed_activities.c.key == bindparam("b_key"))
_REMEMBER_RESPONSE = (
    update(t.processed_activities)
    .where(t.processed_activities.c.key == bindparam("b_key"))
    .values(response=bindparam("b_response"))
)


MODE_KEY = "mode"


class SqlTurnStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._claim_activity = (
            scope.insert(t.processed_activities)
            .values(key=bindparam("b_key"), at=bindparam("b_at"), response=None)
            .on_conflict_do_nothing(index_elements=[t.processed_activities.c.key])
        )

    async def claim_activity(self, key: str, at: datetime) -> tuple[bool, Any]:
        """Record that an activity is being handled. (True, None) the first time; (False,
        stored response) when Teams delivers it again."""
        async with self.scope.write() as conn:
            result = await conn.execute(self._claim_activity, {"b_key": key, "b_at": at})
            if result.rowcount:
                return True, None
            row = (await conn.execute(_STORED_RESPONSE, {"b_key": key})).first()
            return False, row.response if row else None

    async def remember_response(self, key: str, response: Any) -> None:
        async with self.scope.write() as conn:
            await conn.execute(_REMEMBER_RESPONSE, {"b_key": key, "b_response": response})

    async def release_activity(self, key: str) -> None:
        """Forget a claim whose turn did not finish (it answered "busy"), so that Teams' retry
        of the activity is handled as new. A claim with a stored answer is kept."""
        async with self.scope.write() as conn:
            row = (await conn.execute(_STORED_RESPONSE, {"b_key": key})).first()
            if row is not None and row.response is None:  # (JSON null or SQL NULL)
                await conn.execute(delete(t.processed_activities).where(t.processed_activities.c.key == key))

    # ---- state for the SDK's Storage (dialog state) ---------------------------------------

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.bot_state).where(t.bot_state.c.key.in_(list(keys))))
            return {r.key: (r.data, r.etag) for r in rows}

    async def write_state(self, key: str, data: dict[str, Any], etag: str | None, new_etag: str, at: datetime) -> bool:
        """Write one item if nobody else has since it was read (False on conflict): with an etag,
        only while the stored one still has it; without one (or botbuilder's "*"), only if there
        is none stored yet. No write ever overwrites a state it has not read."""
        async with self.scope.write() as conn:
            if etag is not None and etag != "*":
                result = await conn.execute(
                    update(t.bot_state)
                    .where(t.bot_state.c.key == key, t.bot_state.c.etag == etag)
                    .values(data=data, etag=new_etag, updated_at=at)
                )
                if result.rowcount:
                    return True
            # Not there yet (a new conversation, or deleted since it was read): create it,
            # unless another writer got there first.
            created = await conn.execute(
                self.scope.insert(t.bot_state).values(key=key, data=data, etag=new_etag, updated_at=at)
                .on_conflict_do_nothing(index_elements=[t.bot_state.c.key])
            )
            return bool(created.rowcount)

    async def shared_secret(self, name: str) -> bytes:
        """A random secret shared by every bot process: made once, kept in the database."""
        key = f"secret:{name}"
        candidate = secrets.token_hex(32)
        async with self.scope.write() as conn:
            stmt = self.scope.insert(t.bot_state).values(key=key, data={"value": candidate}, etag="secret",
                                                    updated_at=datetime.now(UTC))
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.bot_state.c.key]))
            row = (await conn.execute(select(t.bot_state.c.data).where(t.bot_state.c.key == key))).first()
        assert row is not None  # inserted above, or already there
        return bytes.fromhex(row.data["value"])

    # ---- which kind of database this is (training mode) -------------------------------------

    async def database_mode(self) -> str | None:
        """`training` on a database stamped for rehearsals (training mode), else None."""
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.bot_state.c.data).where(t.bot_state.c.key == MODE_KEY))).first()
        return str(row.data.get("mode")) if row is not None and isinstance(row.data, dict) else None

    async def stamp_database_mode(self, mode: str, at: datetime) -> None:
        """Stamp the database (once; an existing stamp is kept)."""
        async with self.scope.write() as conn:
            stmt = self.scope.insert(t.bot_state).values(key=MODE_KEY, data={"mode": mode}, etag="mode", updated_at=at)
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.bot_state.c.key]))

    async def holds_cases(self) -> bool:
        async with self.scope.read() as conn:
            return (await conn.execute(select(t.cases.c.id).limit(1))).first() is not None

    async def delete_state(self, keys: Sequence[str]) -> None:
        async with self.scope.write() as conn:
            await conn.execute(delete(t.bot_state).where(t.bot_state.c.key.in_(list(keys))))


