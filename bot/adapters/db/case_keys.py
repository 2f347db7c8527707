"""Data keys: one per case (and one per other holder of identifiers), wrapped by the master key.

The stores seal identifying fields through a `Sealer` (bot/adapters/envelope.py) and open
them with `open_text` / `open_json`. The keyring lives on the `Database`, so every store on
it uses the same master key and the same small cache of unwrapped data keys.

Keys are created inside the caller's write transaction (insert, or take the one another
process inserted first), so a case and its key commit together or not at all. The cache is
by data key id and a key is looked up in the database whenever it is used for writing, so a
key whose transaction rolled back is never used again.

`destroy(owner)` empties the wrapped key: what was sealed under it can never be opened again
(crypto-shredding). A process that already held that key in memory forgets it on restart;
the retention purge erases the rows as well.

Without a configured master key (local mode only; bot/app.py refuses elsewhere) a
development master key is made once and kept in the database itself, so restarts and other
processes on the same database keep working — and anyone with the database file can open
everything: it is not protection at rest, and every start says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.dialects import dialect_insert
from bot.adapters.envelope import (
    DataKey,
    MasterKey,
    SealBroken,
    is_sealed,
    key_id_of,
    new_data_key,
    sealed_json_token,
)
from bot.adapters.master_keys import MasterKeys

FINGERPRINT_LABEL = b"rapid-review referral fingerprint v1"  # the derivation's fixed input
log = logging.getLogger(__name__)

DEVELOPMENT_KEY_ID = "development"
DEVELOPMENT_KEY_ROW = "secret:development-master-key"  # a bot_state row: in the database, so not protection
KEYS_KEPT = 4096


class KeyDestroyed(Exception):
    """This holder's key was destroyed: its identifiers were erased and cannot be read."""


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return dialect_insert(conn.dialect.name == "sqlite")(table)


class Sealer:
    """Seals one holder's values under its data key (or passes them through when encryption is off)."""

    def __init__(self, owner: str, key: DataKey | None) -> None:
        self.owner = owner
        self._key = key

    def text(self, field: str, value: str | None) -> str | None:
        if value is None or self._key is None:
            return value
        return self._key.seal(value, self.owner, field)

    def json(self, field: str, value: Any) -> Any:
        if value is None or self._key is None:
            return value
        return self._key.seal_json(value, self.owner, field)


@dataclass(frozen=True)
class RotationReport:
    rewrapped: int
    already_current: int
    destroyed: int
    unopenable: int


# Built once, not per call: a vote's sealed writes (the vote, its event, the remembered answer) each
# ask for a key, and building the statement each time cost more than running it (tests/bench/bench.py).
# FOR SHARE on PostgreSQL: a key being used to write is not destroyed, rotated or deleted under
# the writer (those wait for it); sealers never wait for each other.
_KEY_OF_OWNER_FOR_SHARE = select(t.case_keys).where(t.case_keys.c.owner == bindparam("b_owner")).with_for_update(
    read=True)
_KEY_BY_ID = select(t.case_keys).where(t.case_keys.c.key_id == bindparam("b_key"))


class CaseKeyring:
    def __init__(self, master: MasterKeys | None = None, *, enabled: bool = True) -> None:
        self.master = master
        self.enabled = enabled
        self._keys: OrderedDict[str, DataKey] = OrderedDict()
        self._development: MasterKey | None = None
        self._lasting: dict[str, Sealer] = {}

    @property
    def development(self) -> bool:
        """True when the master key is the one kept in the database (local mode, nothing configured)."""
        return self.enabled and self.master is None

    def describe(self) -> str:
        if not self.enabled:
            return "off"
        return "development key in the database" if self.master is None else self.master.source

    # ---- master keys ---------------------------------------------------------------------------

    async def _development_key(self, conn: AsyncConnection, *, create: bool) -> MasterKey | None:
        if self._development is None:
            if create:
                value = base64.b64encode(new_data_key()).decode("ascii")
                await conn.execute(_insert(conn, t.bot_state).values(
                    key=DEVELOPMENT_KEY_ROW, data={"value": value}, etag="secret", updated_at=datetime.now(UTC),
                ).on_conflict_do_nothing(index_elements=[t.bot_state.c.key]))
            row = (await conn.execute(select(t.bot_state.c.data)
                                      .where(t.bot_state.c.key == DEVELOPMENT_KEY_ROW))).first()
            if row is None:
                return None
            self._development = MasterKey(DEVELOPMENT_KEY_ID, base64.b64decode(row.data["value"]))
        return self._development

    async def fingerprint_keys(self, conn: AsyncConnection) -> list[tuple[str, bytes]]:
        """(master key id, HMAC key) for keyed hashes of identifiers compared for equality only
        (bot/adapters/db/case_store.py, duplicates): derived from each configured master key, the
        current first, so a hash made before a rotation still matches; never stored."""
        if not self.enabled:
            return [("off", hashlib.sha256(FINGERPRINT_LABEL).digest())]
        keys = [self.master.current, *self.master.previous] if self.master is not None else [
            await self._wrapping_key(conn)]
        return [(k.key_id, hmac.new(k.secret, FINGERPRINT_LABEL, hashlib.sha256).digest()) for k in keys]

    async def _wrapping_key(self, conn: AsyncConnection) -> MasterKey:
        if self.master is not None:
            return self.master.current
        key = await self._development_key(conn, create=True)
        assert key is not None  # just made, or made before
        return key

    async def _unwrapping_key(self, conn: AsyncConnection, master_key_id: str) -> MasterKey:
        key = self.master.by_id(master_key_id) if self.master is not None else None
        if key is None and master_key_id == DEVELOPMENT_KEY_ID:
            key = await self._development_key(conn, create=False)
        if key is None:
            raise SealBroken(f"a data key is wrapped under master key {master_key_id}, which is not configured: "
                             "set it as MASTER_KEY_PREVIOUS (or keep its Key Vault version enabled) and run "
                             "`python -m bot admin keys rotate`")
        return key

    # ---- data keys -----------------------------------------------------------------------------

    def _remember(self, key: DataKey) -> DataKey:
        self._keys[key.key_id] = key
        self._keys.move_to_end(key.key_id)
        if len(self._keys) > KEYS_KEPT:
            self._keys.popitem(last=False)
        return key

    async def _unwrap(self, conn: AsyncConnection, row: Any) -> DataKey:
        if row.wrapped is None or row.destroyed_at is not None:
            raise KeyDestroyed(f"the key of {row.owner} was destroyed")
        cached = self._keys.get(row.key_id)
        if cached is not None:
            return cached
        master = await self._unwrapping_key(conn, row.master_key_id)
        return self._remember(DataKey(row.key_id, master.unwrap(row.wrapped)))

    async def sealer(self, conn: AsyncConnection, owner: str, *, lasting: bool = False) -> Sealer:
        """The holder's sealer, its key made now if it has none (inside the caller's transaction).
        `lasting`: a holder whose key is never destroyed (not a case's, which erasure destroys):
        its sealer is kept after the first lookup. Rotation rewraps a key, never changes it."""
        if not self.enabled:
            return Sealer(owner, None)
        kept = self._lasting.get(owner) if lasting else None
        if kept is not None:
            return kept
        row = (await conn.execute(_KEY_OF_OWNER_FOR_SHARE, {"b_owner": owner})).first()
        if row is None:  # made in this transaction: kept only once a later lookup finds it committed
            return await self._new_sealer(conn, owner)
        found = Sealer(owner, await self._unwrap(conn, row))
        if lasting:
            self._lasting[owner] = found
        return found

    async def _new_sealer(self, conn: AsyncConnection, owner: str) -> Sealer:
        secret, key_id = new_data_key(), str(uuid.uuid4())
        master = await self._wrapping_key(conn)
        inserted = await conn.execute(_insert(conn, t.case_keys).values(
            key_id=key_id, owner=owner, wrapped=master.wrap(secret), master_key_id=master.key_id,
            created_at=datetime.now(UTC)).on_conflict_do_nothing(index_elements=[t.case_keys.c.owner]))
        if inserted.rowcount:
            return Sealer(owner, self._remember(DataKey(key_id, secret)))
        row = (await conn.execute(_KEY_OF_OWNER_FOR_SHARE, {"b_owner": owner})).first()  # another process made it first
        assert row is not None
        return Sealer(owner, await self._unwrap(conn, row))

    async def _key_by_id(self, conn: AsyncConnection, key_id: str) -> DataKey:
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        row = (await conn.execute(_KEY_BY_ID, {"b_key": key_id})).first()
        if row is None:
            raise SealBroken(f"no data key {key_id}")
        return await self._unwrap(conn, row)

    async def open_text(self, conn: AsyncConnection, owner: str, field: str, value: str | None) -> str | None:
        if not is_sealed(value):
            return value  # written before encryption, or with it off
        assert value is not None
        key = await self._key_by_id(conn, key_id_of(value))
        return key.open(value, owner, field)

    async def open_json(self, conn: AsyncConnection, owner: str, field: str, value: Any) -> Any:
        token = sealed_json_token(value)
        if token is None:
            return value
        key = await self._key_by_id(conn, key_id_of(token))
        return json.loads(key.open(token, owner, field))

    async def destroy(self, conn: AsyncConnection, owner: str, at: datetime) -> bool:
        """Destroy the holder's key (a tombstone row if it never had one, so nothing is sealed
        for it again). True when a usable key was destroyed now."""
        rows = (await conn.execute(select(t.case_keys.c.key_id, t.case_keys.c.destroyed_at)
                                   .where(t.case_keys.c.owner == owner))).all()
        for row in rows:
            self._keys.pop(row.key_id, None)
        if not rows:
            await conn.execute(_insert(conn, t.case_keys).values(
                key_id=str(uuid.uuid4()), owner=owner, wrapped=None, master_key_id=None, created_at=at,
                destroyed_at=at).on_conflict_do_nothing(index_elements=[t.case_keys.c.owner]))
            return False
        result = await conn.execute(update(t.case_keys).where(t.case_keys.c.owner == owner,
                                                              t.case_keys.c.destroyed_at.is_(None))
                                    .values(wrapped=None, destroyed_at=at))
        return bool(result.rowcount)

    # ---- rotation ------------------------------------------------------------------------------

    async def rotate(self, db: Any) -> RotationReport:
        """Re-wrap every live data key under the current master key, one key per transaction,
        so a run that stops half-way is simply run again: keys already under the current
        key are counted and left alone."""
        if self.master is None:
            raise SealBroken("no master key is configured: set MASTER_KEY (or KEY_VAULT_URL) to the new key "
                             "before rotating")
        current = self.master.current
        rewrapped = already = destroyed = unopenable = 0
        after = ""
        while True:
            async with db.write() as conn:
                row = (await conn.execute(select(t.case_keys).where(t.case_keys.c.key_id > after)
                                          .order_by(t.case_keys.c.key_id).limit(1))).first()
                if row is None:
                    break
                after = row.key_id
                if row.wrapped is None:
                    destroyed += 1
                    continue
                if row.master_key_id == current.key_id:
                    already += 1
                    continue
                try:
                    master = await self._unwrapping_key(conn, row.master_key_id)
                    secret = master.unwrap(row.wrapped)
                except SealBroken as error:
                    unopenable += 1
                    log.error("data key not re-wrapped", extra={"key_id": row.key_id, "why": str(error)})
                    continue
                await conn.execute(update(t.case_keys).where(t.case_keys.c.key_id == row.key_id,
                                                             t.case_keys.c.master_key_id == row.master_key_id)
                                   .values(wrapped=current.wrap(secret), master_key_id=current.key_id))
                rewrapped += 1
        if not unopenable:
            async with db.write() as conn:  # nothing needs the development key any more
                left = (await conn.execute(select(t.case_keys.c.key_id).where(
                    t.case_keys.c.master_key_id == DEVELOPMENT_KEY_ID).limit(1))).first()
                if left is None:
                    await conn.execute(delete(t.bot_state).where(t.bot_state.c.key == DEVELOPMENT_KEY_ROW))
        return RotationReport(rewrapped, already, destroyed, unopenable)
