"""botbuilder `Storage` on our database, so dialog state survives restarts and is shared by
every bot process — and by the Microsoft 365 Agents SDK edge, which reads and writes the same
rows in the same JSON (dialogs/state_rows.py: the rows, the encoding and the optimistic
concurrency, shared by both SDKs' storages).

Semantics follow botbuilder's MemoryStorage, with the difference that matters: no write
overwrites a state it has not read (a stale writer gets `StateConflict`).
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import ConversationState, Storage, StoreItem, TurnContext
from botbuilder.core.bot_state import CachedBotState
from botbuilder.dialogs import DialogInstance, DialogState

from bot.domain.json_text import MeasuredJson
from bot.services.ports import Clock
from dialogs.state_rows import ETAG, DialogShapes, StateCodec, StateConflict, StateRows, StateStore

__all__ = ["SqlStorage", "StateConflict"]


def _instance(dialog_id: str | None, state: dict[str, Any]) -> DialogInstance:
    instance = DialogInstance()
    instance.id = dialog_id
    instance.state = state
    return instance


BOTBUILDER_DIALOGS = DialogShapes(DialogState, DialogInstance, DialogState, _instance)
BOTBUILDER_CODEC = StateCodec(BOTBUILDER_DIALOGS)


class SqlStorage(Storage):
    def __init__(self, repo: StateStore, clock: Clock) -> None:
        self._rows = StateRows(repo, clock, BOTBUILDER_DIALOGS)

    async def read(self, keys: list[str]) -> dict[str, object]:
        return dict(await self._rows.read(keys))

    async def read_stored(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """The item stored at `key` (None when there is none) and, when the store has it, the
        text it is stored as (`StateRows.read_stored`)."""
        item, text = (await self._rows.read_stored([key])).get(key, (None, None))
        return item, text

    async def write_stored(self, key: str, item: dict[str, Any], stored: MeasuredJson) -> None:
        """`write` of one item whose stored JSON (`StateCodec.stored`) the caller has already."""
        item[ETAG] = await self._rows.write(key, item, stored)

    async def write(self, changes: dict[str, object]) -> None:
        for key, item in (changes or {}).items():
            if isinstance(item, dict):
                item[ETAG] = await self._rows.write(key, item)
            elif isinstance(item, StoreItem):
                item.e_tag = await self._rows.write(key, dict(vars(item)))
            else:
                raise TypeError(f"cannot store {type(item).__name__}")

    async def delete(self, keys: list[str]) -> None:
        await self._rows.delete(keys)


class _StateSnapshot(CachedBotState):
    """The state as loaded, and how to tell whether the turn changed it. botbuilder compares
    jsonpickle flattenings of the whole state (once on load, once before saving, once after:
    about a tenth of a referral form step's CPU, tests/bench/bench.py); this compares the
    JSON this storage would write (`StateCodec.stored`: without the e_tag, which only a write
    changes), which says the same for every state it can store. A state it cannot store
    (which `SqlStorage.write` refuses anyway) is compared as botbuilder does."""

    def __init__(self, state: dict[str, object] | None = None, stored_text: str | None = None) -> None:
        """`stored_text`: the text the state was read from, which is what `compute_hash` would
        write for it again (`StateRows.read_stored`); without it the state is written to have it."""
        if stored_text is None:
            super().__init__(state)
        else:
            self.state = state if state is not None else {}
            self.hash = stored_text

    def compute_hash(self, obj: object) -> str:
        stored = self.stored_json(obj)
        return stored.text if stored is not None else super().compute_hash(obj)

    @staticmethod
    def stored_json(obj: object) -> MeasuredJson | None:
        """The JSON this storage would write for `obj`, or None for what it cannot store."""
        if not isinstance(obj, dict):
            return None
        try:
            return BOTBUILDER_CODEC.stored(obj)
        except (TypeError, ValueError):
            return None


class SqlConversationState(ConversationState):
    """botbuilder's ConversationState, loading into `_StateSnapshot` and saving what changed with
    its stored JSON written once (the rest is the SDK's)."""

    async def save_changes(self, turn_context: TurnContext, force: bool = False) -> None:
        """`BotState.save_changes`: the state is written when it differs from the state as loaded
        (or `force`). Its stored JSON is written once: the text compared is the text sealed into
        the row, and, the e_tag not being part of it, the text the saved state compares as."""
        cached = self.get_cached_state(turn_context)
        stored = _StateSnapshot.stored_json(cached.state) if isinstance(cached, _StateSnapshot) else None
        if stored is None or not isinstance(self._storage, SqlStorage):
            await super().save_changes(turn_context, force)
            return
        if force or stored.text != cached.hash:
            await self._storage.write_stored(self.get_storage_key(turn_context), cached.state, stored)
            cached.hash = stored.text

    async def load(self, turn_context: TurnContext, force: bool = False) -> None:
        """`BotState.load`, with the cheaper change check."""
        cached_state = self.get_cached_state(turn_context)
        if force or not cached_state or not cached_state.state:
            storage_key = self.get_storage_key(turn_context)
            if isinstance(self._storage, SqlStorage):
                item, stored_text = await self._storage.read_stored(storage_key)
                snapshot = _StateSnapshot(item, stored_text)
            else:
                items = await self._storage.read([storage_key])
                snapshot = _StateSnapshot(items.get(storage_key))
            turn_context.turn_state[self._context_service_key] = snapshot
