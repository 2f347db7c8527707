"""The conversation state both Teams edges keep in the `bot_state` rows: one row per
conversation key (`{channel}/conversations/{id}`, the key both SDKs' ConversationState use), the
same JSON whichever SDK wrote it, and the same optimistic concurrency. The two SDK `Storage`
classes (bot/teams/storage.py for botbuilder, bot/agents/storage.py for the Microsoft 365 Agents
SDK) are thin wrappers over `StateRows`, so a referral begun on one edge goes on on the other.

No write overwrites a state it has not read. An item that carries an `e_tag` is written only if
the stored one still has that e_tag; one without (or with botbuilder's "*") only if none is
stored yet. A stale writer gets `StateConflict` instead of silently replacing a newer state (the
edge then tells the person what changed: bot/turns/referral_form.py). Reads hand back copies,
never live references.

Each SDK's dialog stack (its `DialogState` of `DialogInstance`s) is stored as
`{"$dialog_state": [{"$dialog_instance": {"id": ..., "state": {...}}}, ...]}` and read back as
the reading SDK's own types (`DialogShapes`). No general object pickling: what is read back from
the database can only become these types.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.domain.json_text import MeasuredJson, json_text
from bot.services.ports import Clock

ETAG = "e_tag"  # where both SDKs' state items carry their version


class StateConflict(KeyError):
    """Another turn saved this conversation's state first."""


class StateStore(Protocol):
    """Where dialog state lives (bot/adapters/db/turn_store.py): etag-checked writes."""

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]: ...
    async def write_state(
        self, key: str, data: dict[str, Any], etag: str | None, new_etag: str, at: datetime
    ) -> bool: ...
    async def delete_state(self, keys: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class DialogShapes:
    """One SDK's dialog-stack types: what is stored as the dialog stack, and how it is rebuilt."""

    state_type: type[Any]
    instance_type: type[Any]
    make_state: Callable[[list[Any]], Any]
    make_instance: Callable[[str | None, dict[str, Any]], Any]


class StateCodec:
    """The stored JSON of a state, both ways, with one SDK's dialog-stack types."""

    def __init__(self, shapes: DialogShapes) -> None:
        self._shapes = shapes

    def encode(self, value: Any) -> Any:
        """Plain JSON, plus the two SDK objects the dialog stack is made of."""
        if isinstance(value, self._shapes.state_type):
            return {"$dialog_state": [self.encode(instance) for instance in value.dialog_stack]}
        if isinstance(value, self._shapes.instance_type):
            return {"$dialog_instance": {"id": value.id, "state": self.encode(value.state)}}
        if isinstance(value, dict):
            return {str(k): self.encode(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.encode(v) for v in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise TypeError(f"cannot store {type(value).__name__} in bot state")

    def stored(self, item: dict[str, Any]) -> MeasuredJson:
        """The JSON stored for a state item — encoded, without its `e_tag` (which has a column of
        its own) — with its text written once. That text is what tells a changed state from an
        unchanged one (bot/teams/storage.py) and what is sealed into the row (bot/adapters/db/
        turn_store.py), instead of the state being encoded and written again for each."""
        data = self.encode({key: value for key, value in item.items() if key != ETAG})
        return MeasuredJson(data, json_text(data))  # as a sealed value is written (plain JSON: `encode`)

    def decode(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$dialog_state"}:
                return self._shapes.make_state([self.decode(i) for i in value["$dialog_state"]])
            if set(value) == {"$dialog_instance"}:
                inner = value["$dialog_instance"]
                return self._shapes.make_instance(inner["id"], self.decode(inner["state"]))
            return {k: self.decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        return value


class StateRows:
    def __init__(self, repo: StateStore, clock: Clock, shapes: DialogShapes) -> None:
        self._repo = repo
        self._clock = clock
        self.codec = StateCodec(shapes)

    async def read(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each stored state found, decoded, with its `e_tag`."""
        return {key: item for key, (item, _) in (await self.read_stored(keys)).items()}

    async def read_stored(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str | None]]:
        """`read`, each item with the text it is stored as when the store has it (a sealed
        item's): the `StateCodec.stored` text of the item as read, for a write is always that."""
        if not keys:
            return {}
        found = await self._repo.read_state(keys)
        result: dict[str, tuple[dict[str, Any], str | None]] = {}
        for key, (data, etag) in found.items():
            item = self.codec.decode(data)  # new dicts and lists all the way down: never the stored ones
            item[ETAG] = etag
            result[key] = (item, data.text if isinstance(data, MeasuredJson) else None)
        return result

    async def write(self, key: str, item: dict[str, Any], stored: MeasuredJson | None = None) -> str:
        """Store `item` (its `e_tag` the version it was read at) and return its new e_tag; raise
        `StateConflict` when another turn saved the key since. `stored`: the item's stored JSON
        (`StateCodec.stored`) when the caller has it already."""
        data = stored if stored is not None else self.codec.stored(item)
        etag = item.get(ETAG)
        new_etag = uuid.uuid4().hex
        if not await self._repo.write_state(key, data, etag, new_etag, self._clock.now()):
            raise StateConflict(f"Etag conflict for {key}")
        return new_etag

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            await self._repo.delete_state(keys)
