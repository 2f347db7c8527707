"""Smoke test in a real browser: the bot answers in Microsoft 365 Agents Playground's Teams-like page.

Playground's current user is Riley Referrer (.m365agentsplayground.yml), a referrer, not a
partnership manager in config/partnership.example.toml, so binding the panel channel is refused.
"""

from __future__ import annotations

from tests.e2e import playground as pg
from tests.e2e.playground import expect


def test_help_card_in_personal_chat_and_channel_binding_refused_for_a_referrer(page, shot) -> None:
    pg.open_personal_chat(page)
    shot("personal-chat")

    answer = pg.say(page, "help")
    card = pg.last_card(page)
    expect(card).to_be_visible()
    expect(answer.locator(pg.CARD)).to_have_count(1)  # the answer to "help" is this card
    text = pg.card_text(card)
    assert "How I can help" in text
    for command in ("refer", "resume", "cancel", "my referrals", "help"):
        assert command in pg.facts(card), f"{command!r} missing from the help card: {text}"
    assert pg.facts(card)["refer"] == "Start a new referral (case notification form)"
    assert "Questions about the process: contact Example Safeguarding Children Partnership's business unit." in text
    assert pg.card_buttons(card) == ["Start a referral"]
    expect(card.get_by_role("button", name="Start a referral")).to_be_visible()
    card.scroll_into_view_if_needed()
    shot("help-card")

    pg.open_channel(page, "Rapid Review Panel")
    thread = pg.post(page, "@Rapid Review use this channel for the panel")
    expect(thread).to_contain_text("use this channel for the panel")
    refusal = "Only a partnership manager can choose the panel channel. Ask a partnership manager to do it."
    expect(thread.get_by_text(refusal)).to_be_visible()
    expect(page.get_by_text("Panel channel set")).to_have_count(0)
    thread.scroll_into_view_if_needed()
    shot("channel-binding-refused")
