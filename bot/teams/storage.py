"""botbuilder `Storage` on our database, so dialog state survives restarts and is
shared by every bot process.

Semantics follow botbuilder's MemoryStorage, with the difference that matters: no write
overwrites a state it has not read. An item that carries an `e_tag` is written only if
the stored one still has that e_tag; one without (or with botbuilder's "*") only if none
is stored yet. A stale writer gets `StateConflict` instead of silently replacing a newer
state (the handler then tells the person what changed: bot/teams/handler.py). Reads hand
back copies, never live references.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from botbuilder.core import ConversationState, Storage, StoreItem, TurnContext
from botbuilder.core.bot_state import CachedBotState
from botbuilder.dialogs import DialogInstance, DialogState

from bot.services.ports import Clock


class StateConflict(KeyError):
    """Another turn saved this conversation's state first."""


def _encode(value: Any) -> Any:
    """Plain JSON, plus the two SDK objects the dialog stack is made of. No general
    object pickling: what is read back from the database can only become these types."""
    if isinstance(value, DialogState):
        return {"$dialog_state": [_encode(instance) for instance in value.dialog_stack]}
    if isinstance(value, DialogInstance):
        return {"$dialog_instance": {"id": value.id, "state": _encode(value.state)}}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in bot state")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dialog_state"}:
            return DialogState([_decode(i) for i in value["$dialog_state"]])
        if set(value) == {"$dialog_instance"}:
            inner = value["$dialog_instance"]
            instance = DialogInstance()
            instance.id = inner["id"]
            instance.state = _decode(inner["state"])
            return instance
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _to_json(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return _encode(item)
    if isinstance(item, StoreItem):
        return _encode(dict(vars(item)))
    raise TypeError(f"cannot store {type(item).__name__}")


class StateStore(Protocol):
    """Where dialog state lives (bot/adapters/db/turn_store.py): etag-checked writes."""

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]: ...
    async def write_state(self, key: str, data: dict[str, Any], etag: str | None, new_etag: str,
                          at: datetime) -> bool: ...
    async def delete_state(self, keys: Sequence[str]) -> None: ...


class SqlStorage(Storage):
    def __init__(self, repo: StateStore, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock

    async def read(self, keys: list[str]) -> dict[str, object]:
        if not keys:
            return {}
        found = await self._repo.read_state(keys)
        result: dict[str, object] = {}
        for key, (data, etag) in found.items():
            item = _decode(data)  # new dicts and lists all the way down: never the stored ones
            item["e_tag"] = etag
            result[key] = item
        return result

    async def write(self, changes: dict[str, object]) -> None:
        for key, item in (changes or {}).items():
            data = _to_json(item)
            etag = data.pop("e_tag", None)
            new_etag = uuid.uuid4().hex
            written = await self._repo.write_state(key, data, etag, new_etag, self._clock.now())
            if not written:
                raise StateConflict(f"Etag conflict for {key}")
            if isinstance(item, dict):
                item["e_tag"] = new_etag
            elif isinstance(item, StoreItem):
                item.e_tag = new_etag

    async def delete(self, keys: list[str]) -> None:
        if keys:
            await self._repo.delete_state(keys)


class _StateSnapshot(CachedBotState):
    """The state as loaded, and how to tell whether the turn changed it. botbuilder compares
    jsonpickle flattenings of the whole state (once on load, once before saving, once after:
    about a tenth of a referral form step's CPU, tests/bench/bench.py); this compares the
    JSON this storage would write, which says the same for every state it can store. A state
    it cannot store (which `SqlStorage.write` refuses anyway) is compared as botbuilder does."""

    def compute_hash(self, obj: object) -> str:
        try:
            return json.dumps(_encode(obj), ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError):
            return super().compute_hash(obj)


class SqlConversationState(ConversationState):
    """botbuilder's ConversationState, loading into `_StateSnapshot` (the rest is the SDK's)."""

    async def load(self, turn_context: TurnContext, force: bool = False) -> None:
        """`BotState.load`, with the cheaper change check."""
        cached_state = self.get_cached_state(turn_context)
        if force or not cached_state or not cached_state.state:
            storage_key = self.get_storage_key(turn_context)
            items = await self._storage.read([storage_key])
            turn_context.turn_state[self._context_service_key] = _StateSnapshot(items.get(storage_key))
