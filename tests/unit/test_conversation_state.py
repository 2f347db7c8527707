"""The conversation state on our storage (bot/teams/storage.py) tells a changed state from an
unchanged one by the JSON it would store: saved when the turn changed it, not otherwise."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.dialogs import DialogInstance, DialogState
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount

from bot.domain.json_text import MeasuredJson
from bot.teams.storage import SqlConversationState, SqlStorage


class _Clock:
    def now(self) -> datetime:
        return datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


class _Repo:
    """The state table in memory, counting writes."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Any], str]] = {}
        self.writes = 0

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]:
        return {key: self.rows[key] for key in keys if key in self.rows}

    async def write_state(self, key: str, data: dict[str, Any], etag: str | None, new_etag: str, at: datetime) -> bool:
        self.writes += 1
        self.rows[key] = (data, new_etag)
        return True

    async def delete_state(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.rows.pop(key, None)


def _turn() -> TurnContext:
    activity = Activity(
        type="message",
        channel_id="msteams",
        conversation=ConversationAccount(id="a:chat"),
        from_property=ChannelAccount(id="29:riley"),
        recipient=ChannelAccount(id="28:bot"),
    )
    return TurnContext(object(), activity)  # type: ignore[arg-type]  # the adapter is not used here


async def _turn_with(state: SqlConversationState, change: Any = None) -> None:
    turn = _turn()
    await state.load(turn)
    if change is not None:
        change(state.get(turn))
    await state.save_changes(turn)


def _set_dialog(data: dict[str, Any]) -> None:
    instance = DialogInstance()
    instance.id, instance.state = "ReferralDialog", {"answers": {"referrer": {"name": "Riley"}}, "v": 1}
    data["DialogState"] = DialogState([instance])


def test_a_turn_that_changes_nothing_writes_nothing_and_a_change_anywhere_is_written() -> None:
    repo = _Repo()
    state = SqlConversationState(SqlStorage(repo, _Clock()))

    asyncio.run(_turn_with(state, _set_dialog))
    assert repo.writes == 1
    asyncio.run(_turn_with(state))
    assert repo.writes == 1, "an unchanged state was written again"

    def deep_change(data: dict[str, Any]) -> None:
        data["DialogState"].dialog_stack[0].state["answers"]["referrer"]["name"] = "Riley R"

    asyncio.run(_turn_with(state, deep_change))
    assert repo.writes == 2
    stored, _ = repo.rows["msteams/conversations/a:chat"]
    assert stored["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]["answers"]["referrer"] == {
        "name": "Riley R"
    }


def test_a_state_the_storage_cannot_store_is_still_compared_and_refused_when_saved() -> None:
    repo = _Repo()
    state = SqlConversationState(SqlStorage(repo, _Clock()))

    with pytest.raises(TypeError, match="cannot store set"):
        asyncio.run(_turn_with(state, lambda data: data.update(odd={1, 2})))
    assert repo.writes == 0


def _count_encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the state's encodings from now on (an encoding's own nested calls not counted)."""
    from dialogs.state_rows import StateCodec

    encode, outermost, depth = StateCodec.encode, [0], [0]

    def counted(self: StateCodec, value: Any) -> Any:
        outermost[0] += depth[0] == 0
        depth[0] += 1
        try:
            return encode(self, value)
        finally:
            depth[0] -= 1

    monkeypatch.setattr(StateCodec, "encode", counted)
    return outermost


def test_a_changed_state_is_encoded_once_to_be_compared_and_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON compared with the state as loaded is the JSON written (and sealed), and the
    state's hash after the write is that same text."""

    repo = _Repo()
    state = SqlConversationState(SqlStorage(repo, _Clock()))
    asyncio.run(_turn_with(state, _set_dialog))
    outermost = _count_encodes(monkeypatch)
    turn = _turn()
    asyncio.run(state.load(turn))

    def change(data: dict[str, Any]) -> None:
        data["DialogState"].dialog_stack[0].state["v"] = 2

    change(state.get(turn))
    asyncio.run(state.save_changes(turn))
    # Once, on save (this store hands back what it was given, its text included: nothing on load).
    assert repo.writes == 2 and outermost[0] == 1
    stored, etag = repo.rows["msteams/conversations/a:chat"]
    assert stored["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]["v"] == 2
    assert state.get(turn)["e_tag"] == etag
    asyncio.run(state.save_changes(turn))  # saved: unchanged since, with its new e_tag
    assert repo.writes == 2 and outermost[0] == 2


class _SealingRepo(_Repo):
    """As the SQL store (bot/adapters/db/turn_store.py): a row is kept as the text it was written
    as and read back as `MeasuredJson` with that text."""

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]:
        return {key: (MeasuredJson(json.loads(text), text), etag)
                for key, (text, etag) in self.rows.items() if key in keys}  # type: ignore[misc]

    async def write_state(self, key: str, data: dict[str, Any], etag: str | None, new_etag: str, at: datetime) -> bool:
        self.writes += 1
        text = data.text if isinstance(data, MeasuredJson) else json.dumps(data, separators=(",", ":"))
        self.rows[key] = (text, new_etag)  # type: ignore[assignment]
        return True


def test_a_state_read_with_its_stored_text_is_compared_with_that_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read from a sealed row, the state is not written out again to know what it was: a turn
    that changes it encodes it once, and one that does not writes nothing."""

    repo = _SealingRepo()
    state = SqlConversationState(SqlStorage(repo, _Clock()))
    asyncio.run(_turn_with(state, _set_dialog))
    assert repo.writes == 1
    outermost = _count_encodes(monkeypatch)
    asyncio.run(_turn_with(state))
    assert repo.writes == 1, "an unchanged state was written again"
    assert outermost[0] == 1, "the state as loaded was encoded again to compare it"

    def change(data: dict[str, Any]) -> None:
        data["DialogState"].dialog_stack[0].state["v"] = 2

    asyncio.run(_turn_with(state, change))
    assert repo.writes == 2 and outermost[0] == 2
    text, _ = repo.rows["msteams/conversations/a:chat"]
    assert json.loads(text)["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]["v"] == 2  # type: ignore[arg-type]
