"""The Microsoft 365 Agents SDK edge (TEAMS_EDGE=agents, bot/agents/) through the real HTTP path,
for what only it has: start-up building it, answering — never dropping — an invoke the bot does
not use, its turn-error answer, its kept connector clients and its proactive sends. Its authentication
contract is tests/integration/test_http_auth.py's, run on both edges."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.agents.application import NOT_HERE_YET
from bot.app import bootstrap
from bot.services.access import CASE_DENIED
from bot.services.ports import Address, DeliveryError
from bot.settings import Settings
from bot.teams.exports import OFFER_GONE
from cards import chat
from tests.support import activities as A
from tests.support.harness import BotHarness, texts, without_reference

AGENTS = {"teams_edge": "agents"}
CANARY = "Zqxwv Canary 9990001112"


@pytest.fixture
async def bot(tmp_path) -> Any:
    async with BotHarness(tmp_path, env=AGENTS) as harness:
        yield harness


async def test_start_up_builds_the_agents_edge_when_the_setting_asks(tmp_path):
    """What `python -m bot` builds with TEAMS_EDGE=agents: its `/api/messages` and its proactive
    sends, both on the Agents SDK."""
    from bot.agents.edge import AgentsMessagesEndpoint
    from bot.agents.notifier import AgentsWire
    from bot.app import stop

    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'bot.db'}", "TEAMS_EDGE": "agents"})
    components = bootstrap(settings)
    assert isinstance(components.endpoint, AgentsMessagesEndpoint)
    assert isinstance(components.services.notifier.wire, AgentsWire)  # type: ignore[attr-defined]
    await stop(components)


async def test_help_is_answered_with_the_help_card(bot):
    reply = await bot.say(A.RILEY, "help")
    assert isinstance(reply, dict) and "How I can help" in texts(reply)


async def test_what_it_cannot_do_yet_is_answered_never_dropped(bot):
    """An invoke the bot does not use is answered plainly and nothing is stored."""
    status, body = await bot.post({**A.invoke(bot.url, A.RILEY, "chat.refer", {}), "name": "composeExtension/query",
                                   "value": {"commandId": "search"}})
    assert status == 200 and body["statusCode"] == 501
    assert without_reference(body["value"]["message"]) == NOT_HERE_YET


async def test_a_file_consent_answer_is_answered_here(bot):
    """Allow on an offer that is not (or no longer) there: the same line as on botbuilder, in the
    chat, and an empty invoke answer (the file consent suite runs the rest on both edges)."""
    status, body = await bot.post({**A.invoke(bot.url, A.RILEY, "chat.refer", {}), "name": "fileConsent/invoke",
                                   "value": {"action": "accept", "context": {"offer": "x"}}})
    assert (status, body) == (200, {})
    assert bot.connector.activities_to(A.RILEY.chat)[-1].text == OFFER_GONE


async def test_proactive_sends_go_through_the_agents_sdk_client_of_the_turns(bot):
    """The outbox's sends on this edge: the Agents SDK's connector client, the one kept for the
    turns (bot/agents/connector.py); a thread reply to `<channel>;messageid=<root>`; a personal
    chat opened for someone the bot has not talked to yet."""
    notifier = bot.c.services.notifier
    await bot.say(A.RILEY, "help")  # the Bot Connector's address is known from here on
    factory = bot.c.extras["agents_connectors"]
    [client] = list(factory._clients.values())
    thread = Address(f"{A.PANEL_CHANNEL_ID};messageid=1700000000001", bot.url, A.TENANT)
    await notifier.send_card(thread, chat.text_card("A notice", "In the case's thread."))
    assert await notifier.send_to_person(A.DAN.aad, chat.text_card("For Dan", "Only to Dan."))
    assert list(factory._clients.values()) == [client]

    [posted] = bot.connector.activities_to(f"{A.PANEL_CHANNEL_ID};messageid=1700000000001")
    assert texts(posted.attachments[0]["content"]).startswith("A notice")
    [opened] = bot.connector.requests_of("create")
    assert opened.body["members"] == [{"id": A.DAN.aad}] and opened.body["tenantId"] == A.TENANT
    dan = await bot.c.stores.roster.reference(f"user:{A.DAN.aad}")
    assert dan is not None and [s.conversation_id for s in bot.connector.sent_activities()[-1:]] == [dan.conversation_id]
    sends = [r for r in bot.connector.requests if r.kind in ("send", "create")]
    assert sends and all(r.headers["User-Agent"].startswith("agents-sdk-py") for r in sends)


async def test_a_long_conversation_id_is_sent_to_whole(bot):
    """The SDK's client cuts every conversation id at 150 characters before it builds the URL
    (meant for its agentic channel); a Teams conversation id cut short is another address."""
    await bot.say(A.RILEY, "help")
    long_id = "a:1" + "Zx9_-Qw7" * 22  # 179 characters
    await bot.c.services.notifier.send_card(Address(long_id, bot.url, A.TENANT),
                                            chat.text_card("A notice", "To the whole id."))
    assert [sent.conversation_id for sent in bot.connector.activities_to("a:1Zx9")] == [long_id]


async def test_a_throttled_send_is_left_to_the_outbox_after_retry_after(bot):
    """The Agents SDK's client sends once and never retries (its source: no retry policy), so a
    429 becomes a DeliveryError with Teams' Retry-After, which also holds back the thread."""
    await bot.say(A.RILEY, "help")
    channel = Address(A.PANEL_CHANNEL_ID, bot.url, A.TENANT)
    bot.connector.fail_next(1, status=429, retry_after=7, route_kind="send")
    with pytest.raises(DeliveryError) as failed:
        await bot.c.services.notifier.send_card(channel, chat.text_card("A notice", "Throttled."))
    assert (failed.value.reason, failed.value.retry_after, failed.value.permanent, failed.value.answered) == (
        "connector answered 429", 7.0, False, True)
    assert len(bot.connector.requests_of("send")) == 1, "sent once: the SDK does not re-send"
    assert bot.sdk_sleeps == []


async def test_typed_commands_are_answered_by_the_shared_commands(bot):
    reply = await bot.say(A.RILEY, "my referrals")
    assert isinstance(reply, dict) and "RR-" not in texts(reply)  # the card, with no case yet
    reply = await bot.say(A.RILEY, "timeline RR-2026-0099")  # through the access gate, as on botbuilder
    assert reply == CASE_DENIED
    reply = await bot.say(A.RILEY, "inbox")  # a training command, outside training mode
    assert reply == "Training commands work only in training mode."


async def test_a_replayed_press_has_one_turn_and_the_same_answer(bot):
    turns: list[str] = []
    real = bot.c.endpoint.logic

    async def spy(context: Any) -> None:
        turns.append(context.activity.id)
        await real(context)

    bot.c.endpoint.logic = spy
    activity = A.invoke(bot.url, A.RILEY, "chat.refer", {"verb": "chat.refer"})
    first = await bot.post(activity)
    second = await bot.post(activity)
    assert first == second and first[0] == 200
    assert turns == [activity["id"]]


async def test_a_failed_turn_says_so_with_its_reference_and_logs_no_text(bot, caplog):
    async def broken(context: Any) -> None:
        raise ValueError(f"something about {CANARY}")

    bot.c.endpoint.logic = broken
    caplog.set_level(logging.DEBUG)
    reply = await bot.say(A.RILEY, f"help {CANARY}")
    assert isinstance(reply, str) and reply.startswith("Sorry, something went wrong") and "(reference " in reply
    assert CANARY not in reply
    assert all(CANARY not in record.getMessage() and CANARY not in str(vars(record)) for record in caplog.records)
    [failed] = [r for r in caplog.records if r.getMessage() == "turn failed"]
    assert failed.error == "ValueError"  # type: ignore[attr-defined]


async def test_the_bot_added_to_a_chat_greets(bot):
    status, _ = await bot.post(A.install_personal(bot.url, A.RILEY))
    assert status in (200, 201)
    sent = await bot.connector.wait_for_sent(1, A.RILEY.chat)
    assert "Rapid Review" in texts(sent[-1].activity["attachments"][0]["content"])


async def test_connector_clients_are_kept_across_turns(bot):
    """The SDK builds (and closes) a connector client and an HTTP session per activity; this edge
    keeps one per service URL (bot/agents/connector.py)."""
    factory = bot.c.extras["agents_connectors"]
    await bot.say(A.RILEY, "help")
    [client] = list(factory._clients.values())
    await bot.say(A.PAT, "help")
    assert list(factory._clients.values()) == [client]
    assert not client.client.closed


async def test_a_press_while_the_database_is_locked_is_answered_busy_and_its_retry_handled_as_new(tmp_path):
    """The turn's budget (TURN_BUDGET_SECONDS, 1 s here): the de-duplication claim cannot be
    written, so the press is answered BUSY in time; the claim is not left behind, so Teams'
    retry of the same activity is handled."""
    from tests.integration.test_busy_database import BUSY, write_locked

    async with BotHarness(tmp_path, env={**AGENTS, "turn_budget_seconds": 1.0}) as h:
        press = A.invoke(h.url, A.RILEY, "chat.refer", {"verb": "chat.refer"})
        with write_locked(tmp_path / "bot.db"):
            status, body = await h.post(press)
        assert status == 200 and body["statusCode"] == 200, body
        assert body["value"].startswith(BUSY) and "(reference " in body["value"], body
        await asyncio.sleep(0.2)
        status, body = await h.post(press)
        assert status == 200 and body["statusCode"] == 200, body  # handled: the form's first section
        assert "section 1 of 6" in texts(body["value"]), body
