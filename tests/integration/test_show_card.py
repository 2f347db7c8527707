"""`show RR-…` over HTTP: a lost channel post is never a dead end.

The case card is posted once and updated in place (tests/integration/test_panel_http.py).
`show RR-…`, typed in personal chat or in the panel channel by someone with a role on the
case, posts the live card again as a NEW channel message, and from then on every update
goes to the new message. Anyone else is told the same sentence whether or not the case
exists, and the attempt is audited. Each request posts at most one card, however often
its outbox message is delivered.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.adapters.db import schema as t
from bot.services.access import CASE_DENIED
from bot.services.ports import OUTBOX_LEASE_SECONDS
from tests.integration.test_panel_http import (
    BASIS,
    LA_WHY,
    OPEN,
    PANEL,
    POLICE_WHY,
    REF,
    VOTE,
    ballot,
    card_of,
    case_posts,
    case_row,
    channel_command,
    events,
    refer,
    said,
    the_post,
)
from tests.support import activities as A
from tests.support.harness import BotHarness, fill_referral, find_action, reply_of, texts

SHOWN = f"The card for {REF} is posted again in the panel channel; the new post is kept up to date from now on."
CANNOT = CASE_DENIED  # the one answer to any case a person has no role on (bot/services/access.py)


@pytest.fixture
async def bot(tmp_path, database_url):
    async with BotHarness(tmp_path, database_url=database_url) as harness:
        await refer(harness)
        yield harness


async def in_channel(h: BotHarness, person: A.Person, text: str) -> dict[str, Any] | str:
    """`@Rapid Review <text>` in the panel channel; the bot's one answer there."""
    before = len(h.connector.sent_activities())
    status, _ = await h.post(channel_command(h, person, text))
    assert status in (200, 201), status
    sent = h.connector.sent_activities()[before:]
    assert len(sent) == 1 and sent[0].conversation_id.startswith(PANEL), sent
    return reply_of(sent[0].activity)


async def vote_on(h: BotHarness, activity_id: str, person: A.Person, fields: dict[str, str]) -> dict[str, Any]:
    """Press Vote on the channel post `activity_id` (as it reads now), then record the vote."""
    post = next(p for p in case_posts(h) if p.activity_id == activity_id)
    updates = [u for u in h.connector.updates() if u.activity_id == activity_id]
    card = card_of(updates[-1].activity) if updates else card_of(post.activity)
    member = await h.press(person, OPEN, find_action(card, OPEN), channel=True)
    return await h.press(person, VOTE, {**find_action(member["value"], VOTE), **fields}, channel=True)


async def outbox_rows(h: BotHarness) -> int:
    async with h.c.db.read() as conn:
        return (await conn.execute(select(func.count()).select_from(t.outbox))).scalar_one()


async def test_show_posts_the_card_again_and_the_next_vote_updates_the_new_post(bot):
    old = the_post(bot).activity_id
    assert await bot.say(A.LAURA, f"show {REF}") == SHOWN
    [asked] = await events(bot, "case_card_reposted")
    assert (asked.actor_aad_id, asked.case_id, asked.detail) == (A.LAURA.aad, (await case_row(bot)).id,
                                                                  {"replaces": old})
    assert await bot.flush() == 1
    posts = case_posts(bot)
    assert [p.activity_id for p in posts][0] == old and len(posts) == 2, "a second post; the first stays"
    new = posts[1].activity_id
    assert new != old and (await case_row(bot)).panel_activity_id == new
    assert REF in texts(card_of(posts[1].activity))

    body = await vote_on(bot, new, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    assert "Vote recorded." in said(body)
    await bot.flush()
    updates = bot.connector.updates()
    assert updates and {u.activity_id for u in updates} == {new}, "the vote updates the NEW post only"
    assert "Rapid review\n — Laura LocalAuthority" in texts(card_of(updates[-1].activity))

    # In the panel channel, by a partnership manager, at the same (fixed) moment: a request of its own.
    assert await in_channel(bot, A.PAT, f"show {REF.lower()}") == SHOWN
    assert await bot.flush() == 1
    newest = case_posts(bot)[-1].activity_id
    assert len(case_posts(bot)) == 3 and newest not in (old, new)
    assert "Rapid review\n — Laura LocalAuthority" in texts(card_of(case_posts(bot)[-1].activity)), "the live card"
    before = len(bot.connector.updates())
    await vote_on(bot, newest, A.DAN, ballot("rapid_review", POLICE_WHY, BASIS))
    await bot.flush()
    assert {u.activity_id for u in bot.connector.updates()[before:]} == {newest}
    assert await bot.flush() == 0 and len(case_posts(bot)) == 3
    assert len(await events(bot, "case_card_reposted")) == 2


async def test_an_outsider_gets_the_same_sentence_for_a_case_that_exists_and_one_that_does_not(bot):
    posts, rows = len(case_posts(bot)), await outbox_rows(bot)
    assert await bot.say(A.MALLORY, f"show {REF}") == CANNOT
    assert await bot.say(A.MALLORY, "show RR-2026-0099") == CANNOT
    assert await in_channel(bot, A.MALLORY, f"show {REF}") == CANNOT
    assert await in_channel(bot, A.RILEY, "show RR-2026-0099") == CANNOT, "the referrer has no role on the panel"
    denied = await events(bot, "access_denied")
    assert [(e.actor_aad_id, e.case_id, e.detail) for e in denied] == [
        (A.MALLORY.aad, None, {"action": "show_card", "reference": REF}),
        (A.MALLORY.aad, None, {"action": "show_card", "reference": "RR-2026-0099"}),
        (A.MALLORY.aad, None, {"action": "show_card", "reference": REF}),
        (A.RILEY.aad, None, {"action": "show_card", "reference": "RR-2026-0099"}),
    ]
    assert await events(bot, "case_card_reposted") == []
    assert await outbox_rows(bot) == rows and await bot.flush() == 0 and len(case_posts(bot)) == posts

    # Someone with a role is told plainly.
    assert await bot.say(A.CHRIS, "show RR-2026-0099") == "There is no case RR-2026-0099."
    assert await bot.say(A.CHRIS, "show") == "Say which case, for example: **show RR-2026-0001**."


async def test_a_failed_post_is_retried_and_posts_once(bot):
    assert await bot.say(A.NINA, f"show {REF}") == SHOWN
    bot.connector.fail_next(1, status=503, route_kind="send")
    assert await bot.flush() == 0
    assert len(case_posts(bot)) == 1
    bot.clock.advance(minutes=10)
    assert await bot.flush() == 1
    assert len(case_posts(bot)) == 2
    bot.clock.advance(minutes=10)
    assert await bot.flush() == 0 and len(case_posts(bot)) == 2


async def test_a_delivery_redone_after_the_post_was_recorded_does_not_post_twice(bot, monkeypatch):
    """The process dies after posting and recording the new post, before marking the row
    sent: the lease runs out and the row is delivered again. It updates the new post."""
    assert await bot.say(A.NINA, f"show {REF}") == SHOWN
    store = bot.c.services.outbox

    async def crash(item_id: int, at: Any) -> None:
        raise RuntimeError("the process died")

    monkeypatch.setattr(store, "done", crash)
    with pytest.raises(RuntimeError):
        await bot.flush()
    monkeypatch.undo()
    assert len(case_posts(bot)) == 2
    new = case_posts(bot)[1].activity_id
    assert (await case_row(bot)).panel_activity_id == new

    bot.clock.advance(seconds=OUTBOX_LEASE_SECONDS + 1)
    updates = len(bot.connector.updates())
    assert await bot.flush() == 1
    assert len(case_posts(bot)) == 2, "no third post"
    assert {u.activity_id for u in bot.connector.updates()[updates:]} == {new}
    assert await bot.flush() == 0


async def test_help_lists_show_and_the_commands_that_apply_where_it_is_asked(bot):
    personal = texts(card_of_reply(await bot.say(A.PAT, "help")))
    for command in ("show RR-…", "status", "timeline RR-…", "notification summary RR-…", "refer"):
        assert command in personal, command
    channel = texts(card_of_reply(await in_channel(bot, A.PAT, "help")))
    for command in ("show RR-…", "status", "timeline RR-…", "members", "add @Name as", "remove @Name",
                    "use this channel for the panel"):
        assert command in channel, command


def card_of_reply(reply: dict[str, Any] | str) -> dict[str, Any]:
    assert isinstance(reply, dict), reply
    return reply


async def test_show_in_another_channel_is_answered_with_one_line_and_shows_nothing(bot):
    activity = A.channel_message(bot.url, A.PAT, f"show {REF}", channel_id="19:general@thread.tacv2")
    before = len(bot.connector.sent_activities())
    status, _ = await bot.post(activity)
    assert status in (200, 201)
    [answer] = bot.connector.sent_activities()[before:]
    assert reply_of(answer.activity) == "This bot works in the Example Safeguarding Children Partnership channel."
    assert await events(bot, "case_card_reposted") == []


async def test_show_before_the_panel_channel_is_bound_says_so(tmp_path):
    async with BotHarness(tmp_path) as h:
        await h.say(A.PAT, "hello")
        await fill_referral(h)
        await h.flush()
        told = await h.say(A.PAT, f"show {REF}")
        assert isinstance(told, str) and "The panel channel is not set yet" in told
        assert await events(h, "case_card_reposted") == []


def thread_posts(h: BotHarness, root: str) -> list[str]:
    """The text of each card posted as a reply in the thread under the post `root`."""
    return [texts(card_of(s.activity)) for s in h.connector.activities_to(f"{PANEL};messageid={root}")
            if s.kind == "send" and s.attachments]


async def test_a_cases_posts_are_replies_in_its_thread_and_follow_the_card_shown_again(bot):
    """The case card is the root of the case's thread: a post about the case (here the notice
    that its dates were corrected) is a reply under it, not a new line in the channel; after
    `show`, the re-posted card is the thread."""
    old = the_post(bot).activity_id
    top_level_before = [s for s in bot.connector.activities_to(PANEL) if ";messageid=" not in s.conversation_id]

    assert "is now 19 November 2026" in await bot.say(A.PAT, f"correct {REF} incident 2026-11-19")
    await bot.flush()
    first = thread_posts(bot, old)
    assert len(first) == 1 and REF in first[0], first
    top_level = [s for s in bot.connector.activities_to(PANEL) if ";messageid=" not in s.conversation_id]
    assert len(top_level) == len(top_level_before), "nothing about the case posted at the top of the channel"

    assert await bot.say(A.LAURA, f"show {REF}") == SHOWN
    await bot.flush()
    new = case_posts(bot)[-1].activity_id
    assert new != old
    assert "is now 18 November 2026" in await bot.say(A.PAT, f"correct {REF} incident 2026-11-18")
    await bot.flush()
    assert len(thread_posts(bot, new)) == 1
    assert len(thread_posts(bot, old)) == 1  # the old thread keeps its history, and gets nothing new
