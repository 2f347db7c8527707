"""The Microsoft 365 Agents SDK edge (TEAMS_EDGE=agents, bot/agents/) through the real HTTP path,
for what only it has: start-up refusing it while it is incomplete, answering — never dropping —
what it cannot do yet, its turn-error answer, its kept connector clients. Its authentication
contract is tests/integration/test_http_auth.py's, run on both edges."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.agents.application import MISSING, NOT_HERE_YET
from bot.app import bootstrap
from bot.services.access import CASE_DENIED
from bot.settings import ConfigError, Settings
from tests.support import activities as A
from tests.support.harness import BotHarness, texts, without_reference

AGENTS = {"teams_edge": "agents"}
CANARY = "Zqxwv Canary 9990001112"


@pytest.fixture
async def bot(tmp_path) -> Any:
    async with BotHarness(tmp_path, env=AGENTS) as harness:
        yield harness


def test_start_up_refuses_the_incomplete_edge_naming_what_is_missing(tmp_path):
    settings = Settings.model_validate({"database_url": f"sqlite:///{tmp_path / 'bot.db'}", "TEAMS_EDGE": "agents"})
    with pytest.raises(ConfigError) as refused:
        bootstrap(settings)
    message = str(refused.value)
    assert "TEAMS_EDGE=agents" in message and "Unset TEAMS_EDGE" in message
    assert all(missing in message for missing in MISSING)
    assert not (tmp_path / "bot.db").exists(), "refused before anything was built"


async def test_help_is_answered_with_the_help_card(bot):
    reply = await bot.say(A.RILEY, "help")
    assert isinstance(reply, dict) and "How I can help" in texts(reply)


async def test_what_it_cannot_do_yet_is_answered_never_dropped(bot):
    """Teams' file consent answer is not on this edge yet: invoked, it is answered plainly and
    nothing is stored."""
    status, body = await bot.post({**A.invoke(bot.url, A.RILEY, "chat.refer", {}), "name": "fileConsent/invoke",
                                   "value": {"action": "accept", "context": {"offer": "x"}}})
    assert status == 200 and body["statusCode"] == 501
    assert without_reference(body["value"]["message"]) == NOT_HERE_YET


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
