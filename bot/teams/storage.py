"""botbuilder `Storage` on our database, so dialog state survives restarts and is shared by
every bot process — and by the Microsoft 365 Agents SDK edge, which reads and writes the same
rows in the same JSON (dialogs/state_rows.py: the rows, the encoding and the optimistic
concurrency, shared by both SDKs' storages).

Semantics follow botbuilder's MemoryStorage, with the difference that matters: no write
overwrites a state it has not read (a stale writer gets `StateConflict`).
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import Storage, StoreItem
from botbuilder.dialogs import DialogInstance, DialogState

from bot.services.ports import Clock
from dialogs.state_rows import ETAG, DialogShapes, StateConflict, StateRows, StateStore

__all__ = ["SqlStorage", "StateConflict"]


def _instance(dialog_id: str | None, state: dict[str, Any]) -> DialogInstance:
    instance = DialogInstance()
    instance.id = dialog_id
    instance.state = state
    return instance


BOTBUILDER_DIALOGS = DialogShapes(DialogState, DialogInstance, DialogState, _instance)


class SqlStorage(Storage):
    def __init__(self, repo: StateStore, clock: Clock) -> None:
        self._rows = StateRows(repo, clock, BOTBUILDER_DIALOGS)

    async def read(self, keys: list[str]) -> dict[str, object]:
        return dict(await self._rows.read(keys))

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
