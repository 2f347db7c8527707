"""A referral end to end through POST /api/messages, as Teams would send it, on both Teams edges
(botbuilder and the Microsoft 365 Agents SDK) and both databases."""

from __future__ import annotations

import pytest

from tests.support import activities as A
from tests.support.harness import CANARY_CHILD, BotHarness, fill_referral, texts


@pytest.fixture
async def bot(tmp_path, database_url, edge):
    async with BotHarness(tmp_path, database_url=database_url) as harness:
        await harness.serve_on(edge)
        yield harness


async def test_a_referrer_completes_a_referral_and_the_panel_channel_gets_a_card_without_identifiers(bot):
    await bot.post(A.channel_message(bot.url, A.PAT, "use this channel for the panel"))
    card = await fill_referral(bot)
    assert "Referral received" in texts(card), texts(card)
    assert "RR-2026-0001" in texts(card)
    await bot.flush()
    channel_posts = bot.connector.activities_to(A.PANEL_CHANNEL_ID)
    case_posts = [p for p in channel_posts if "RR-2026-0001" in str(p.activity)]
    assert len(case_posts) == 1
    assert CANARY_CHILD not in str([p.activity for p in channel_posts])
