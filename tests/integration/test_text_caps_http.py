"""Text over its cap, through the real HTTP path (bot/domain/limits.py, cards/budget.py).

A member pastes 100 KB into the vote's rationale; a referrer pastes a long job title into
the referral form. Each is refused on the card, next to the input, with the cap and how much
was written ("2,000 characters at most — you wrote 51,200"); the card keeps what fits, so
nothing typed within the cap is lost; nothing over the cap is stored anywhere — not the vote,
not the draft's saved state; and every answer the bot sends, in the invoke response or as a
message, is within the bot's size budget as Teams counts it (UTF-16).
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.domain.meeting import MeetingOutcome
from tests.integration.test_panel_http import (
    LA_WHY,
    PANEL,
    VOTE,
    ballot,
    error_after,
    find_action,
    open_card,
    refer,
    snapshot,
    submit_in_channel,
)
from tests.support import activities as A
from tests.support.harness import VALID, BotHarness, errors, inputs, reply_of

HUNDRED_KB = 51_200  # characters: 100 KB as Teams counts them (UTF-16, two bytes each)
BOT_BUDGET = 60 * 1024  # cards/budget.py; written out so that this test runs against any version of the bot


def payload_size(payload: object) -> int:
    """As Teams counts a message (cards/budget.py, `payload_size`): the JSON in UTF-16."""
    return len(json.dumps(payload, ensure_ascii=False).encode("utf-16-le"))


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(tmp_path) as harness:
        await refer(harness)
        yield harness


async def _stored_texts(h: BotHarness) -> str:
    """Every place a typed text could be kept: votes, queries, events, the outbox, dialog state."""
    async with h.c.db.read() as conn:
        rows = []
        for table in (t.votes, t.queries, t.events, t.outbox, t.bot_state, t.processed_activities):
            rows += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in await conn.execute(select(table))]
    return "\n".join(rows)


async def test_a_100_kb_rationale_is_refused_with_the_cap_and_nothing_is_stored(bot):
    before = await snapshot(bot)
    pasted = ("A very long rationale pasted from a report. " * 2_000)[:HUNDRED_KB]
    data = find_action(await open_card(bot, A.LAURA), VOTE)

    body = await bot.press(A.LAURA, VOTE, {**data, **ballot("escalation", rationale=pasted)}, channel=True)

    assert payload_size(body) <= BOT_BUDGET, f"{payload_size(body):,} bytes"
    card = body["value"]
    assert "2,000 characters at most — you wrote 51,200" in error_after(card, "rationale")
    shown = inputs(card)["rationale"]
    assert shown["maxLength"] == 2000 and shown["value"] == pasted[:2000]  # the draft, cut to what fits
    assert await snapshot(bot) == before  # no vote, no event, no message
    assert pasted[:2001] not in await _stored_texts(bot)


async def test_an_over_long_rationale_sent_by_action_submit_gets_a_reply_within_the_budget(bot):
    pasted = "x" * HUNDRED_KB
    data = find_action(await open_card(bot, A.LAURA), VOTE)
    before = len(bot.connector.sent_activities())

    status, _ = await bot.post(submit_in_channel(bot, A.LAURA, {**data, **ballot("escalation", rationale=pasted)}))

    assert status in (200, 201)
    sent = bot.connector.sent_activities()[before:]
    assert len(sent) == 1 and sent[0].conversation_id.startswith(PANEL)
    assert payload_size(sent[0].activity) <= BOT_BUDGET, f"{payload_size(sent[0].activity):,} bytes"
    card = reply_of(sent[0].activity)
    assert isinstance(card, dict)
    assert "2,000 characters at most — you wrote 51,200" in error_after(card, "rationale")
    assert "x" * 2001 not in await _stored_texts(bot)


async def test_a_rationale_at_its_cap_is_recorded(bot):
    at_cap = (LA_WHY + " ") * 200
    at_cap = at_cap[:2000]
    data = find_action(await open_card(bot, A.LAURA), VOTE)

    body = await bot.press(A.LAURA, VOTE, {**data, **ballot("escalation", rationale=at_cap)}, channel=True)

    assert "Vote recorded" in json.dumps(body)
    async with bot.c.db.read() as conn:
        stored = [await bot.c.db.keyring.open_text(conn, r.case_id, "votes.rationale", r.rationale)  # sealed at rest
                  for r in await conn.execute(select(t.votes))]
    assert stored == [at_cap.strip()]


async def test_a_referral_field_over_its_cap_is_refused_on_the_form_and_the_draft_keeps_what_fits(tmp_path):
    async with BotHarness(tmp_path) as h:
        card = await h.say(A.RILEY, "refer")
        assert isinstance(card, dict)
        typed = {**VALID["referrer"], "job_title": ("Designated safeguarding lead; " * 10).strip() + "."}
        assert len(typed["job_title"]) == 300

        body = await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **typed})

        assert payload_size(body) <= BOT_BUDGET
        refused = body["value"]
        shown = inputs(refused)
        assert shown["job_title"]["maxLength"] == 100
        assert shown["job_title"]["value"] == typed["job_title"][:100].strip()
        assert shown["name"]["value"] == VALID["referrer"]["name"]  # everything else is kept as typed
        assert any("100 characters at most — you wrote 300" in e for e in errors(refused)), errors(refused)
        assert "section 1 of 6" in json.dumps(refused)
        assert typed["job_title"][:101] not in await _stored_texts(h)  # not even in the saved draft

        # What the draft kept is within the cap: sent again, the form moves on.
        again = await h.press(A.RILEY, "form.next", {**find_action(refused, "form.next"),
                                                     **{k: v["value"] for k, v in shown.items() if "value" in v}})
        assert not errors(again["value"]), errors(again["value"])
        assert "section 2 of 6" in json.dumps(again["value"])


async def test_the_chairs_outcome_over_its_cap_is_refused_next_to_the_input() -> None:
    """The same table caps the chair's outcome (bot/domain/meeting.py) — checked on the domain
    here; the meeting's HTTP path is tests/integration/test_meeting_graph.py's."""
    with pytest.raises(ValidationError) as refused:
        MeetingOutcome.model_validate({"local_cspr": "yes", "national_review": "no", "rationale": "r" * 2500,
                                       "participants": "Laura, Pat and Nina"})
    assert refused.value.errors()[0]["msg"] == "2,000 characters at most — you wrote 2,500."



async def test_a_long_answer_typed_with_windows_line_endings_is_kept_whole(tmp_path):
    """The cap counts the text as it will be stored (line endings normalised), and the draft
    keeps all of it: nothing within the cap is cut."""
    async with BotHarness(tmp_path) as h:
        card = await h.say(A.RILEY, "refer")
        assert isinstance(card, dict)
        lines = ["Discussed with my manager on the day."] * 52
        typed_text = "\r\n".join(lines)  # 2,026 characters as typed, 1,975 once the line endings are normalised
        body = await h.press(A.RILEY, "form.next", {**find_action(card, "form.next"), **VALID["referrer"],
                                                     "discussed_with": typed_text})
        assert not errors(body["value"]), errors(body["value"])
        back = await h.press(A.RILEY, "form.back", find_action(body["value"], "form.back"))
        assert inputs(back["value"])["discussed_with"]["value"] == "\n".join(lines)
