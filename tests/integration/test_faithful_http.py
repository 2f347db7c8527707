"""Faithfulness to the sources, over HTTP as Teams drives it: the vote card's notification
date and wording come from the profile (an override included), Surrey's Day-1 steps are on the
timeline from the referral on (provisional, not overdue), the meeting supersedes the steps it
makes moot, and the panel's vote deadline is labelled local policy."""

from __future__ import annotations

from pathlib import Path

from bot.services import meeting
from tests.integration.test_clock_http import (
    REF,
    decide,
    london,
    partnership_with,
    refer,
    say_in_channel,
    timeline_states,
)
from tests.integration.test_panel_http import channel_card
from tests.support import activities as A
from tests.support.harness import BotHarness, texts
from tests.unit.services.flow import GOOD_OUTCOME


def _override(tmp_path: Path, text: str) -> Path:
    overrides = tmp_path / "our_timescales.toml"
    overrides.write_text(text, encoding="utf-8")
    return partnership_with(tmp_path, profile_overrides=str(overrides))


async def test_the_vote_card_says_what_the_profile_override_says(tmp_path: Path) -> None:
    partnership = _override(tmp_path, '[[steps]]\nid = "notify_national_panel"\noffset = { working_days = 3 }\n')
    async with BotHarness(tmp_path, partnership_file=partnership) as h:
        await refer(h)
        await decide(h)
        shown = texts(channel_card(h))
        # Aware Sat 21 Nov 2026 (day 0) + 3 working days: Wed 25 Nov, not the national 5 (Fri 27 Nov).
        assert ("notify the National Panel within 3 working days of the local authority becoming aware: "
                "**by Wednesday 25 November 2026**") in shown
        assert "5 working days" not in shown


async def test_the_vote_card_follows_a_profile_that_counts_from_the_referral(tmp_path: Path) -> None:
    partnership = _override(tmp_path, '[[steps]]\nid = "notify_national_panel"\nanchor = "referral_received"\n')
    async with BotHarness(tmp_path, partnership_file=partnership) as h:
        await refer(h)
        await decide(h)
        shown = texts(channel_card(h))
        # Received Mon 23 Nov 2026 + 5 working days: Mon 30 Nov.
        assert ("within 5 working days of the referral being received: **by Monday 30 November 2026**") in shown


async def test_surreys_day_one_steps_are_on_the_timeline_from_the_referral_and_provisional(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, partnership_file=partnership_with(tmp_path, timeline_profile="surrey")) as h:
        await refer(h)
        card = await say_in_channel(h, A.PAT, f"timeline {REF}")
        assert isinstance(card, dict), card
        assert "Provisional" in texts(card)
        states = timeline_states(card)
        # Aware Sat 21 Nov 2026: Day 1 is Mon 23 Nov, today; due, not overdue.
        assert states["Date for the Rapid Review Panel (Case Review Group) meeting set"] == \
            "due Mon 23 Nov 2026 · provisional"
        assert states["Local authority notifies the National Panel (serious incident notification)"] == \
            "due Fri 27 Nov 2026 · provisional"
        assert states["Virtual panel decides the pathway (all three partners vote) (local policy)"] == \
            "due Wed 25 Nov 2026"

        await decide(h)
        card = await say_in_channel(h, A.PAT, f"timeline {REF}")
        assert isinstance(card, dict) and "Provisional" not in texts(card)
        assert "provisional" not in " ".join(timeline_states(card).values())


async def test_the_held_meeting_shows_the_papers_and_the_returns_as_superseded(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:  # Stockport
        await refer(h)
        await decide(h, book_meeting=True)
        h.clock.set(london(2026, 12, 11, 12, 0))
        await meeting.record_outcome(h.c.services, _actor(A.CHRIS), REF, GOOD_OUTCOME)
        card = await say_in_channel(h, A.PAT, f"timeline {REF}")
        assert isinstance(card, dict), card
        states = timeline_states(card)
        assert states["Completed templates circulated to the panel"] == "➖ superseded: the meeting has been held"
        assert states["Agencies return the completed template"] == "➖ superseded: the meeting has been held"


def _actor(person: A.Person):  # noqa: ANN202
    from bot.domain.case import Actor

    return Actor(aad_object_id=person.aad, name=person.name)
