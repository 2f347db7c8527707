"""The channel card is updated right after a vote while the outbox dispatcher runs (the
real process), without giving up the outbox's guarantees: the update is committed with
the vote, a failed PUT is retried by the ordinary pass, an update that never happened is
delivered after a restart, and an older view never replaces a newer one."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.adapters.db import schema as t
from tests.integration.test_panel_http import (
    BASIS,
    HEALTH_WHY,
    LA_WHY,
    POLICE_WHY,
    ballot,
    card_of,
    card_updates,
    case_posts,
    channel_card,
    refer,
    said,
    vote,
)
from tests.support import activities as A
from tests.support.harness import BotHarness, texts


@pytest.fixture
async def bot(tmp_path, database_url):
    async with BotHarness(tmp_path, database_url=database_url) as harness:
        await refer(harness)
        harness.c.outbox.start()  # as in `python -m bot`
        yield harness
        await harness.c.outbox.stop()


async def card_rows(h: BotHarness) -> list[tuple[str, str]]:
    """The case cards' outbox rows, once what the process keeps for its next write is written
    (a shown update's `sent` mark, bot/adapters/db/deferred_writes.py)."""
    await h.c.db.deferred.flush()
    async with h.c.db.read() as conn:
        rows = await conn.execute(select(t.outbox.c.key, t.outbox.c.status).where(t.outbox.c.kind == "panel_card")
                                  .order_by(t.outbox.c.id))
        return [(r.key, r.status) for r in rows]


async def settled(h: BotHarness, updates: int) -> None:
    for _ in range(200):
        if len(h.connector.updates()) >= updates and not h.c.outbox._immediate:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(h.connector.updates())} card updates, expected {updates}")


async def test_a_vote_updates_the_channel_card_at_once_and_marks_its_outbox_row_sent(bot):
    body = await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    assert "Vote recorded." in said(body)
    await settled(bot, 1)
    assert "Rapid review\n — Laura LocalAuthority" in texts(channel_card(bot))
    assert [status for key, status in await card_rows(bot) if key.endswith(":v2")] == ["sent"]
    assert await bot.flush() == 0, "nothing left for the ordinary pass"
    assert len(bot.connector.updates()) == 1 and len(case_posts(bot)) == 1


async def test_a_failed_immediate_update_is_left_to_the_ordinary_pass(bot):
    bot.connector.fail_next(4, status=503, route_kind="update")
    await vote(bot, A.DAN, ballot("practice_review", POLICE_WHY))
    for _ in range(300):
        if not bot.c.outbox._immediate:
            break
        await asyncio.sleep(0.01)
    assert card_updates(bot) == []
    assert [status for key, status in await card_rows(bot) if key.endswith(":v2")] == ["pending"]
    bot.clock.advance(minutes=10)
    assert await bot.flush() == 1
    assert "Practice review\n — Dan Police" in texts(channel_card(bot))


async def test_votes_in_quick_succession_end_with_the_card_showing_all_of_them(bot):
    await asyncio.gather(
        vote(bot, A.LAURA, ballot("escalation", LA_WHY)),
        vote(bot, A.DAN, ballot("practice_review", POLICE_WHY)),
        vote(bot, A.NINA, ballot("no_further_action", HEALTH_WHY)),
    )
    await settled(bot, 1)
    await asyncio.sleep(0.2)
    shown = texts(channel_card(bot))
    for line in ("Escalation\n — Laura LocalAuthority", "Practice review\n — Dan Police",
                 "No further action\n — Nina Health"):
        assert line in shown
    assert all(status == "sent" for _, status in await card_rows(bot))


async def test_an_update_lost_in_a_crash_is_delivered_by_the_next_process(bot):
    bot.c.services.signal.hand_over = lambda card: None  # type: ignore[method-assign]  # the process dies before the PUT
    await vote(bot, A.LAURA, ballot("escalation", LA_WHY))
    await bot.c.outbox.stop()
    await bot.restart()
    assert await bot.flush() == 0, "still leased to the dead process"
    bot.clock.advance(seconds=61)
    assert await bot.flush() == 1
    [update] = bot.connector.updates()
    assert "Escalation\n — Laura LocalAuthority" in texts(card_of(update.activity))
    assert bot.connector.activities_to(A.PANEL_CHANNEL_ID) == [], "no second post"


async def test_the_card_update_reaches_teams_only_after_the_voters_own_answer(bot, monkeypatch):
    """A client that shows both the voter's answer and the channel's update (Agents Playground,
    or the voter's own Teams) must end on the channel's card: the update goes after the answer."""
    from bot.teams.edge import MessagesEndpoint

    order: list[str] = []
    send_now = MessagesEndpoint._send_now

    async def answered(response, request):
        await send_now(response, request)
        order.append("answer sent")

    update = bot.c.services.notifier.update_panel_card

    async def updated(*args, **kwargs):
        order.append("card updated")
        return await update(*args, **kwargs)

    monkeypatch.setattr(MessagesEndpoint, "_send_now", staticmethod(answered))
    monkeypatch.setattr(bot.c.services.notifier, "update_panel_card", updated)
    bot.connector.set_latency(0.0)
    await vote(bot, A.LAURA, ballot("rapid_review", LA_WHY, BASIS))
    await settled(bot, 1)
    assert order == ["answer sent", "card updated"]


async def test_card_updates_waiting_together_put_only_the_newest_view_on_the_card(bot, monkeypatch):
    from dataclasses import replace

    from tests.unit.test_card_budget import _panel_view

    shown: list[int] = []
    teams_answers = asyncio.Event()

    async def update_panel_card(channel, activity_id, view):  # the first PUT is slow: the rest queue behind it
        shown.append(view.version)
        if len(shown) == 1:
            await teams_answers.wait()

    monkeypatch.setattr(bot.c.outbox.ctx.notifier, "update_panel_card", update_panel_card)
    view = _panel_view()
    waiting = [asyncio.create_task(bot.c.outbox._show_card(None, "card-1", replace(view, version=version)))
               for version in (5, 6, 7)]
    await asyncio.sleep(0.05)
    teams_answers.set()
    await asyncio.gather(*waiting)
    assert shown == [5, 7]  # 6 was overtaken while it waited: 7 shows every vote it held
