"""Who may see a case, through the real HTTP path (docs/architecture.md, "Who may see what").

Cases are served only in the bound panel channel and in personal chats of people with a role
on the case; anywhere else the answer is one line and nothing about a case is read or
stored. Someone without a role gets the same answer whether a case exists or not, and each
refusal is audited — so a reference, short and sequential, is never the key to anything.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.db import schema as t
from bot.services.access import CASE_DENIED
from tests.integration.test_panel_http import (
    ANSWER,
    CANARIES,
    LA_WHY,
    OPEN,
    REF,
    REFRESH,
    VIEW,
    VOTE,
    ballot,
    channel_card,
    refer,
)
from tests.support import activities as A
from tests.support.harness import BotHarness, find_action, reply_of, texts, without_reference

OUTSIDE = "This bot works in the Example Safeguarding Children Partnership channel."
MISSING = "RR-2026-0099"  # no such case
OTHER_TEAM = "19:another-team-general@thread.tacv2"
OTHER_CHANNEL = "19:another-team-projects@thread.tacv2"
UNBOUND = "19:safeguarding-partnership-general@thread.tacv2"  # the partnership's own team, another channel
CASE_COMMANDS = ("status", f"timeline {REF}", f"show {REF}", f"notification summary {REF}", "members", "help")


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(tmp_path) as harness:
        await refer(harness)  # the panel channel bound, and RR-2026-0001 referred by Riley and posted
        yield harness


# ---- activities from places the gate must tell apart ------------------------------------------------


def in_channel(activity: dict[str, Any], channel_id: str, team_id: str = A.TEAM_ID,
               thread: str | None = None) -> dict[str, Any]:
    """The activity moved into a channel of a team (a thread in it, with `thread`)."""
    moved = copy.deepcopy(activity)
    moved["conversation"] = A.channel_conversation(channel_id, thread)
    moved["channelData"].update({"team": {"id": team_id}, "channel": {"id": channel_id}})
    return moved


def in_group_chat(activity: dict[str, Any]) -> dict[str, Any]:
    moved = copy.deepcopy(activity)
    moved["conversation"] = {"id": "19:group-chat-of-three@thread.v2", "conversationType": "groupChat",
                             "isGroup": True, "tenantId": A.TENANT}
    moved["channelData"] = {"tenant": {"id": A.TENANT}}
    return moved


async def answer_to(h: BotHarness, activity: dict[str, Any]) -> tuple[int, Any]:
    """(statusCode, what the person sees) for an invoke; (200, the reply) for a message."""
    before = len(h.connector.sent_activities())
    status, body = await h.post(activity)
    assert status in (200, 201), (status, body)
    if activity["type"] == "invoke":
        value = body["value"]
        return body["statusCode"], value["message"] if isinstance(value, dict) and "message" in value else value
    sent = h.connector.sent_activities()[before:]
    assert len(sent) == 1, sent
    return 200, reply_of(sent[0].activity)


async def votes_stored(h: BotHarness) -> int:
    async with h.c.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.votes))).scalar_one())


async def denials(h: BotHarness) -> list[tuple[str | None, dict[str, Any]]]:
    async with h.c.db.read() as conn:
        rows = (await conn.execute(select(t.events).where(t.events.c.kind == "access_denied")
                                   .order_by(t.events.c.id))).all()
    return [(r.actor_aad_id, json.loads(r.detail) if isinstance(r.detail, str) else r.detail) for r in rows]


def vote_data(h: BotHarness, reference: str = REF) -> dict[str, Any]:
    return {**find_action(channel_card(h), OPEN), "verb": VOTE, "action": VOTE, "ref": reference, "v": 1,
            **ballot("rapid_review", LA_WHY, "Serious harm is likely.")}


# ---- 1. only the partnership's channel and personal chats -------------------------------------------


async def test_a_vote_pressed_in_another_teams_channel_is_answered_with_one_line_and_stores_nothing(bot):
    before = await denials(bot)
    for channel, team in ((OTHER_CHANNEL, OTHER_TEAM), (UNBOUND, A.TEAM_ID)):
        press = in_channel(A.invoke(bot.url, A.LAURA, VOTE, vote_data(bot)), channel, team)
        status, said = await answer_to(bot, press)
        assert status == 403 and without_reference(said) == OUTSIDE, (channel, said)
        opened = in_channel(A.invoke(bot.url, A.LAURA, OPEN, find_action(channel_card(bot), OPEN)), channel, team)
        status, said = await answer_to(bot, opened)
        assert status == 403 and without_reference(said) == OUTSIDE
    assert await votes_stored(bot) == 0
    added = (await denials(bot))[len(before):]
    assert added and all("reference" not in detail for _who, detail in added), "nothing about the case is stored"

    # The same press in the bound channel, and in a thread inside it, is served.
    in_thread = in_channel(A.invoke(bot.url, A.LAURA, VOTE, vote_data(bot)), A.PANEL_CHANNEL_ID,
                           thread="1700000000000")
    status, card = await answer_to(bot, in_thread)
    assert status == 200 and "Vote recorded" in texts(card)
    assert await votes_stored(bot) == 1


@pytest.mark.parametrize("place", ["another team's channel", "an unbound channel", "a group chat"])
async def test_case_commands_outside_the_panel_channel_list_nothing(bot, place):
    for person in (A.PAT, A.LAURA, A.MALLORY):
        for text in CASE_COMMANDS:
            typed = A.channel_message(bot.url, person, text)
            if place == "another team's channel":
                typed = in_channel(typed, OTHER_CHANNEL, OTHER_TEAM)
            elif place == "an unbound channel":
                typed = in_channel(typed, UNBOUND)
            else:
                typed = in_group_chat(typed)
            _status, said = await answer_to(bot, typed)
            assert said == OUTSIDE, (person.name, text, said)


# ---- 2. no existence oracle ------------------------------------------------------------------------


async def test_a_stranger_gets_identical_answers_for_a_case_that_exists_and_one_that_does_not(bot):
    """Mallory is in the tenant but on no roster and referred nothing."""
    channel_open = find_action(channel_card(bot), OPEN)
    view = find_action(channel_card(bot), VIEW)
    presses = {OPEN: channel_open, REFRESH: {**channel_open, "verb": REFRESH, "action": REFRESH},
               VIEW: view, VOTE: vote_data(bot), ANSWER: {"verb": ANSWER, "action": ANSWER, "ref": REF, "query": 1,
                                                          "answer": "I am the referrer."}}
    before = len(await denials(bot))
    for verb, data in presses.items():
        told = []
        for reference in (REF, MISSING):
            status, said = await answer_to(bot, A.invoke(bot.url, A.MALLORY, verb, {**data, "ref": reference}))
            told.append((status, without_reference(said)))
        assert told[0] == told[1] == (403, CASE_DENIED), (verb, told)
    for command in ("timeline", "show", "notification summary"):
        told = [await bot.say(A.MALLORY, f"{command} {reference}") for reference in (REF, MISSING)]
        assert told[0] == told[1] == CASE_DENIED, (command, told)

    added = (await denials(bot))[before:]
    actions = [VIEW, OPEN, REFRESH, VOTE, ANSWER, "timeline", "show_card", "notification_summary"]
    assert sorted((detail["action"], detail["reference"]) for _who, detail in added) == sorted(
        (action, reference) for action in actions for reference in (REF, MISSING))
    assert {who for who, _detail in added} == {A.MALLORY.aad}
    assert await votes_stored(bot) == 0


async def test_walking_the_references_reveals_nothing(bot):
    told = set()
    for number in range(1, 51):
        reference = f"RR-2026-{number:04d}"
        _status, opened = await answer_to(bot, A.invoke(bot.url, A.MALLORY, OPEN, {"verb": OPEN, "action": OPEN,
                                                                                  "ref": reference}))
        told.add(without_reference(opened))
        told.add(await bot.say(A.MALLORY, f"show {reference}"))
        told.add(await bot.say(A.MALLORY, f"timeline {reference}"))
    assert told == {CASE_DENIED}
    pseudonym = (await bot.c.stores.cases.get_case(REF)).summary.pseudonym  # type: ignore[union-attr]
    mallory = "\n".join(json.dumps(s.activity) for s in bot.connector.activities_to(A.MALLORY.chat))
    assert pseudonym not in mallory and not any(c.lower() in mallory.lower() for c in CANARIES)


# ---- people with a role still can ------------------------------------------------------------------


async def test_the_roster_and_the_referrer_are_served_in_personal_chat(bot):
    # A panel member opens the voting card in their personal chat and votes there.
    status, card = await answer_to(bot, A.invoke(bot.url, A.LAURA, OPEN, find_action(channel_card(bot), OPEN)))
    assert status == 200 and "Your vote for **Local authority**" in texts(card)
    status, card = await answer_to(bot, A.invoke(bot.url, A.LAURA, VOTE, vote_data(bot)))
    assert status == 200 and "Vote recorded" in texts(card)
    # The manager reads the timeline and the notification summary of the case.
    assert REF in texts(await bot.say(A.PAT, f"timeline {REF}"))  # type: ignore[arg-type]
    summary = await bot.say(A.PAT, f"notification summary {REF}")
    assert isinstance(summary, dict) and REF in texts(summary)

    # The referrer sees their own case (the list, and the case's card), and no one else's.
    listed = await bot.say(A.RILEY, "my referrals")
    assert isinstance(listed, dict) and REF in texts(listed)
    status, card = await answer_to(bot, A.invoke(bot.url, A.RILEY, OPEN, find_action(channel_card(bot), OPEN)))
    assert status == 200 and REF in texts(card)
    status, said = await answer_to(bot, A.invoke(bot.url, A.RILEY, OPEN, {"verb": OPEN, "action": OPEN,
                                                                        "ref": MISSING}))
    assert status == 403 and without_reference(said) == CASE_DENIED


async def test_before_any_channel_is_bound_the_one_line_says_how_to_bind_one(tmp_path):
    async with BotHarness(tmp_path) as h:
        _status, said = await answer_to(h, A.channel_message(h.url, A.PAT, "status"))
        assert said == ("This bot works in the Example Safeguarding Children Partnership channel, which a "
                        "partnership manager has not chosen yet: they type **@Rapid Review use this channel for "
                        "the panel** in it.")
        _status, bound = await answer_to(h, A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        assert isinstance(bound, dict) and "Panel channel set" in texts(bound)
        _status, listed = await answer_to(h, A.channel_message(h.url, A.PAT, "status"))
        assert isinstance(listed, dict), "served in the channel once it is bound"
