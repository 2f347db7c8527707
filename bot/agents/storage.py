"""The Microsoft 365 Agents SDK's `Storage` on the bot's database: the referral form's dialog
state in the same `bot_state` rows, keys and JSON as the botbuilder edge's (bot/teams/storage.py),
with the same optimistic concurrency — both are thin wrappers over dialogs/state_rows.py. A
draft saved by either edge is read by the other as its own SDK's dialog stack."""

from __future__ import annotations

from typing import Any

from microsoft_agents.hosting.core import Storage, StoreItem
from microsoft_agents.hosting.core.storage.storage import StoreItemT
from microsoft_agents.hosting.dialogs import DialogInstance, DialogState

from bot.services.ports import Clock
from dialogs.state_rows import ETAG, DialogShapes, StateRows, StateStore

AGENTS_DIALOGS = DialogShapes(
    DialogState,
    DialogInstance,
    lambda stack: DialogState(dialog_stack=stack),
    lambda dialog_id, state: DialogInstance(id=dialog_id, state=state),
)


class AgentsSqlStorage(Storage):
    """Reads hand back `target_cls` items (the SDK's `CachedAgentState`: its `state` the row's
    dict, `e_tag` included, as botbuilder's are); writes check that e_tag."""

    def __init__(self, repo: StateStore, clock: Clock) -> None:
        self._rows = StateRows(repo, clock, AGENTS_DIALOGS)

    async def read(self, keys: list[str], *, target_cls: type[StoreItemT], **kwargs: Any) -> dict[str, StoreItemT]:
        found = await self._rows.read(keys)
        return {key: target_cls.from_json_to_store_item(item) for key, item in found.items()}  # type: ignore[misc]

    async def write(self, changes: dict[str, StoreItem]) -> None:
        for key, item in changes.items():
            state = getattr(item, "state", None)
            if not isinstance(state, dict):
                raise TypeError(f"cannot store {type(item).__name__}")
            state[ETAG] = await self._rows.write(key, state)

    async def delete(self, keys: list[str]) -> None:
        await self._rows.delete(keys)
