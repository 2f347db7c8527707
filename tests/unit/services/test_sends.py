"""The send guard's decisions (bot/services/sends.py), one at a time, with the ledger in memory.

The crash itself is in tests/integration/test_no_message_twice.py (real processes, SIGKILL);
here each way a send can be left is set up directly: Teams said no, the answer was lost,
Graph found the message, Graph found nothing, Graph could not be asked.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.adapters.clock import FixedClock
from bot.domain.events import Event, EventKind
from bot.services.ports import ChannelMessageError, DeliveryError, OutboxItem, SendRecord
from bot.services.sends import IN_DOUBT, RESENDING, SENT, SendGuard, delivering, send_key

CHANNEL = "19:rapid-review-panel@thread.tacv2"
CHAT = "a:personal-chat"
ITEM = OutboxItem(7, "reminder:12:due:2026-11-25", "reminder", "case-1", {}, 1)
WHERE = ("6f4b3a2e-1c5d-4e8f-9a0b-1c2d3e4f5a6b", CHANNEL)


class Ledger:
    def __init__(self) -> None:
        self.rows: dict[str, SendRecord] = {}

    async def get(self, key: str) -> SendRecord | None:
        return self.rows.get(key)

    async def begin(self, record: SendRecord, outbox_id: int | None, at: datetime) -> bool:
        return self.rows.setdefault(record.send_key, record) is record

    async def mark(self, key: str, state: str, activity_id: str | None, at: datetime) -> None:
        old = self.rows[key]
        self.rows[key] = SendRecord(key, old.conversation_id, state, activity_id)

    async def forget(self, key: str) -> None:
        self.rows.pop(key, None)

    async def graph_channel(self, conversation_id: str) -> tuple[str, str] | None:
        return WHERE if conversation_id == CHANNEL else None


class Reader:
    def __init__(self, found: str | None = None, error: ChannelMessageError | None = None) -> None:
        self.found, self.error, self.asked = found, error, 0

    async def find_sent(self, team_id: str, channel_id: str, key: str, reply_to: str | None = None) -> str | None:
        self.asked += 1
        assert (team_id, channel_id) == WHERE
        if self.error is not None:
            raise self.error
        return self.found


class Events:
    def __init__(self) -> None:
        self.kinds: list[EventKind] = []

    async def add_event(self, event: Event) -> None:
        self.kinds.append(event.kind)


class Teams:
    """The post: records (send key, re-sent) and answers an id, or fails as told."""

    def __init__(self) -> None:
        self.posts: list[tuple[str | None, bool]] = []
        self.fail: DeliveryError | None = None

    async def __call__(self, key: str | None, resent: bool) -> str:
        self.posts.append((key, resent))
        if self.fail is not None:
            raise self.fail
        return f"activity-{len(self.posts)}"


def guard(ledger: Ledger, reader: Reader | None = None) -> tuple[SendGuard, Events]:
    events = Events()
    return SendGuard(ledger, reader, events, FixedClock(datetime(2026, 11, 25, 9, tzinfo=UTC))), events  # type: ignore[arg-type]


async def send(g: SendGuard, teams: Teams, conversation: str = CHANNEL) -> str:
    with delivering(ITEM):
        return await g.send(conversation, teams)


def in_doubt(ledger: Ledger, conversation: str = CHANNEL, state: str = IN_DOUBT) -> str:
    key = send_key(ITEM.key, conversation)
    ledger.rows[key] = SendRecord(key, conversation, state)
    return key


async def test_a_send_is_recorded_in_doubt_before_it_leaves_and_sent_after() -> None:
    ledger, teams = Ledger(), Teams()
    g, _ = guard(ledger)
    seen: list[str] = []

    async def post(key: str | None, resent: bool) -> str:
        assert key is not None
        seen.append(ledger.rows[key].state)  # what a crash at this moment would leave
        return await teams(key, resent)

    with delivering(ITEM):
        assert await g.send(CHANNEL, post) == "activity-1"
    key = send_key(ITEM.key, CHANNEL)
    assert seen == [IN_DOUBT]
    assert ledger.rows[key] == SendRecord(key, CHANNEL, SENT, "activity-1")
    assert teams.posts == [(key, False)]


async def test_a_send_already_made_is_not_made_again() -> None:
    ledger, teams = Ledger(), Teams()
    g, _ = guard(ledger)
    await send(g, teams)
    assert await send(g, teams) == "activity-1"
    assert len(teams.posts) == 1


async def test_teams_saying_no_leaves_nothing_in_doubt_so_the_retry_is_an_ordinary_post() -> None:
    ledger, teams = Ledger(), Teams()
    g, events = guard(ledger)
    teams.fail = DeliveryError("connector answered 429", retry_after=1, answered=True)
    with pytest.raises(DeliveryError):
        await send(g, teams)
    assert ledger.rows == {}
    teams.fail = None
    await send(g, teams)
    assert [resent for _, resent in teams.posts] == [False, False]
    assert events.kinds == []


async def test_a_lost_answer_without_graph_is_re_sent_once_saying_so_and_never_a_third_time() -> None:
    ledger, teams = Ledger(), Teams()
    g, events = guard(ledger)
    teams.fail = DeliveryError("connector unreachable: ServerTimeoutError")  # the answer was lost
    with pytest.raises(DeliveryError):
        await send(g, teams)
    with pytest.raises(DeliveryError):  # the re-send's answer lost too
        await send(g, teams)
    teams.fail = None
    assert await send(g, teams) == ""
    assert [resent for _, resent in teams.posts] == [False, True]
    assert events.kinds == [EventKind.SEND_RESENT, EventKind.SEND_GIVEN_UP]


async def test_a_refused_re_send_is_still_the_one_re_send() -> None:
    ledger, teams = Ledger(), Teams()
    key = in_doubt(ledger)
    g, events = guard(ledger)
    teams.fail = DeliveryError("connector answered 503", answered=True)
    with pytest.raises(DeliveryError):
        await send(g, teams)
    assert ledger.rows[key].state == IN_DOUBT  # it did not arrive: the original is still the one in doubt
    teams.fail = None
    await send(g, teams)
    assert [resent for _, resent in teams.posts] == [True, True]
    assert ledger.rows[key].state == SENT


async def test_a_message_found_in_the_channel_is_adopted_and_not_posted() -> None:
    ledger, teams, reader = Ledger(), Teams(), Reader(found="1764950000123")
    key = in_doubt(ledger)
    g, events = guard(ledger, reader)
    assert await send(g, teams) == "1764950000123"
    assert teams.posts == []
    assert ledger.rows[key] == SendRecord(key, CHANNEL, SENT, "1764950000123")
    assert events.kinds == [EventKind.SEND_ADOPTED]


async def test_a_message_not_in_the_channel_is_posted_as_usual() -> None:
    ledger, teams, reader = Ledger(), Teams(), Reader(found=None)
    in_doubt(ledger)
    g, events = guard(ledger, reader)
    assert await send(g, teams) == "activity-1"
    assert [resent for _, resent in teams.posts] == [False]
    assert events.kinds == []


async def test_while_graph_cannot_be_asked_nothing_is_posted_blind() -> None:
    ledger, teams, reader = Ledger(), Teams(), Reader(error=ChannelMessageError("Graph answered 503"))
    key = in_doubt(ledger)
    g, _ = guard(ledger, reader)
    with pytest.raises(DeliveryError) as raised:
        await send(g, teams)
    assert raised.value.retry_after and teams.posts == []
    assert ledger.rows[key].state == IN_DOUBT


async def test_without_consent_to_read_the_channel_the_message_is_re_sent_once() -> None:
    ledger, teams = Ledger(), Teams()
    reader = Reader(error=ChannelMessageError("Graph answered 403", lasting=True))
    in_doubt(ledger)
    g, events = guard(ledger, reader)
    await send(g, teams)
    assert [resent for _, resent in teams.posts] == [True]
    assert events.kinds == [EventKind.SEND_RESENT]


async def test_a_personal_chat_is_never_looked_for_in_graph() -> None:
    ledger, teams, reader = Ledger(), Teams(), Reader(found="1764950000123")
    in_doubt(ledger, CHAT)
    g, events = guard(ledger, reader)
    await send(g, teams, CHAT)
    assert reader.asked == 0
    assert [resent for _, resent in teams.posts] == [True]
    assert events.kinds == [EventKind.SEND_RESENT]


async def test_a_re_send_in_doubt_with_graph_is_looked_for_first() -> None:
    ledger, teams, reader = Ledger(), Teams(), Reader(found="1764950000123")
    in_doubt(ledger, state=RESENDING)
    g, _ = guard(ledger, reader)
    assert await send(g, teams) == "1764950000123"
    assert teams.posts == []


async def test_sends_outside_an_outbox_delivery_are_not_recorded() -> None:
    ledger, teams = Ledger(), Teams()
    g, _ = guard(ledger)
    assert await g.send(CHANNEL, teams) == "activity-1"
    assert teams.posts == [(None, False)] and ledger.rows == {}


def test_the_send_key_says_nothing_and_differs_per_conversation() -> None:
    key = send_key("notice:no_panel_channel:case-1:00000000-0000-0000-0000-00000000a002", CHAT)
    assert len(key) == 32 and "case" not in key and "a002" not in key
    assert key != send_key("notice:no_panel_channel:case-1:00000000-0000-0000-0000-00000000a002", CHANNEL)
    assert key == send_key("notice:no_panel_channel:case-1:00000000-0000-0000-0000-00000000a002", CHAT)
