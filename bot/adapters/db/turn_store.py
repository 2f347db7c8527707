"""Turn plumbing: de-duplication of Teams' retried activities, the SDK's dialog state
(with etags: a stale write is refused, never silently overwritten), and the secrets every
bot process shares.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.deferred_writes import DeferredKind, Handle
from bot.adapters.db.scope import Scope
from bot.adapters.envelope import sealed_json_token
from bot.domain.json_text import MeasuredJson

_STORED_RESPONSE = select(t.processed_activities.c.response).where(t.processed_activities.c.key == bindparam("b_key"))
_REMEMBER_RESPONSE = (
    update(t.processed_activities)
    .where(t.processed_activities.c.key == bindparam("b_key"))
    .values(response=bindparam("b_response"))
)
# Dialog state is read and written on every referral form step: its statements are built once
# (building and keying a SQLAlchemy statement cost more CPU than SQLite running it).
_READ_STATE = select(t.bot_state).where(t.bot_state.c.key.in_(bindparam("b_keys", expanding=True)))
_UPDATE_STATE_AT_ETAG = (
    update(t.bot_state)
    .where(t.bot_state.c.key == bindparam("b_key"), t.bot_state.c.etag == bindparam("b_etag"))
    .values(data=bindparam("b_data"), etag=bindparam("b_new_etag"), updated_at=bindparam("b_at"))
)


MODE_KEY = "mode"
# Dialog state (a half-finished referral is in it) is sealed under a key of its own per stored
# item; the bot's stored invoke answers (cards with a referral's details) under one key.
STATE_FIELD = "bot_state.data"
RESPONSES_OWNER = "activity-responses"
RESPONSE_FIELD = "processed_activities.response"


def state_owner(key: str) -> str:
    """The data key holder of one stored state item (its key can be long and names a conversation)."""
    return "state:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


async def _write_responses(db: Handle, conn: AsyncConnection, responses: list[tuple[Hashable, Any]]) -> None:
    """The answers waiting to be stored (`DeferredWrites`), sealed under one key, in one statement."""
    sealer = await db.keyring.sealer(conn, RESPONSES_OWNER, lasting=True)
    await conn.execute(_REMEMBER_RESPONSE, [
        {"b_key": key, "b_response": None if body is None else sealer.json(RESPONSE_FIELD, body)}
        for key, body in responses])


REMEMBERED_RESPONSES = DeferredKind("remembered responses", _write_responses)


class SqlTurnStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._claim_activity = (
            scope.insert(t.processed_activities)
            .values(key=bindparam("b_key"), at=bindparam("b_at"), response=None)
            .on_conflict_do_nothing(index_elements=[t.processed_activities.c.key])
        )
        self._create_state = (
            scope.insert(t.bot_state)
            .values(key=bindparam("b_key"), data=bindparam("b_data"), etag=bindparam("b_new_etag"),
                    updated_at=bindparam("b_at"))
            .on_conflict_do_nothing(index_elements=[t.bot_state.c.key])
        )

    async def claim_activity(self, key: str, at: datetime) -> tuple[bool, Any]:
        """Record that an activity is being handled. (True, None) the first time; (False,
        stored response) when Teams delivers it again. The claim's transaction also carries
        what this process's earlier turns left to write (`DeferredWrites`): their stored
        answers among them, so a retry handled here finds its answer however soon it comes."""
        deferred = self.scope.db.deferred
        async with deferred.carried_by(self.scope.write()) as conn:
            result = await conn.execute(self._claim_activity, {"b_key": key, "b_at": at})
            if result.rowcount:
                return True, None
            row = (await conn.execute(_STORED_RESPONSE, {"b_key": key})).first()
            if row is None:
                return False, None
            return False, await self.scope.db.keyring.open_json(conn, RESPONSES_OWNER, RESPONSE_FIELD, row.response)

    async def remember_response(self, key: str, response: Any) -> None:
        """Store the answer a retry of this activity gets: with this process's next write,
        within `deferred_writes.FLUSH_SECONDS` (the turn's answer does not wait for it)."""
        self.scope.db.deferred.add(REMEMBERED_RESPONSES, key, response)

    async def release_activity(self, key: str) -> None:
        """Forget a claim whose turn did not finish (it answered "busy"), so that Teams' retry
        of the activity is handled as new. A claim with a stored answer is kept."""
        async with self.scope.write() as conn:
            row = (await conn.execute(_STORED_RESPONSE, {"b_key": key})).first()
            if row is not None and row.response is None:  # (JSON null or SQL NULL)
                await conn.execute(delete(t.processed_activities).where(t.processed_activities.c.key == key))

    # ---- state for the SDK's Storage (dialog state) ---------------------------------------

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """Each stored item's JSON and e_tag. A sealed item comes as `MeasuredJson` with the text
        it was sealed as (dialogs/state_rows.py compares the state a turn saves with that text
        instead of writing the loaded state out again to have something to compare with)."""
        async with self.scope.read() as conn:
            rows = await conn.execute(_READ_STATE, {"b_keys": list(keys)})
            keyring = self.scope.db.keyring
            found: dict[str, tuple[dict[str, Any], str]] = {}
            for r in rows:
                token = sealed_json_token(r.data)
                if token is None:  # written with encryption off
                    found[r.key] = (r.data, r.etag)
                    continue
                text = await keyring.open_text(conn, state_owner(r.key), STATE_FIELD, token)
                assert text is not None  # a sealed token opens to its text, or raises
                found[r.key] = (MeasuredJson(json.loads(text), text), r.etag)
            return found

    async def write_state(self, key: str, data: dict[str, Any], etag: str | None, new_etag: str, at: datetime) -> bool:
        """Write one item if nobody else has since it was read (False on conflict): with an etag,
        only while the stored one still has it; without one (or botbuilder's "*"), only if there
        is none stored yet. No write ever overwrites a state it has not read."""
        async with self.scope.write() as conn:
            data = (await self.scope.db.keyring.sealer(conn, state_owner(key))).json(STATE_FIELD, data)
            values = {"b_key": key, "b_data": data, "b_new_etag": new_etag, "b_at": at}
            if etag is not None and etag != "*":
                result = await conn.execute(_UPDATE_STATE_AT_ETAG, {**values, "b_etag": etag})
                if result.rowcount:
                    return True
            # Not there yet (a new conversation, or deleted since it was read): create it,
            # unless another writer got there first.
            created = await conn.execute(self._create_state, values)
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
            # and their keys: any copy of the deleted state left anywhere can no longer be opened
            await conn.execute(delete(t.case_keys).where(t.case_keys.c.owner.in_([state_owner(k) for k in keys])))


