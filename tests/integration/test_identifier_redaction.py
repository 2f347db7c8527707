"""No identifiers where the form promised none, end to end through POST /api/messages.

- Text written to be shared (a vote's rationale, the referrer's answer, the meeting's
  outcome) is refused on the card while it holds a postcode, a phone number or another
  identifier: the refusal is next to the input, what was typed is kept, nothing is stored.
- Text stored before that rule (put straight into the database here) reaches the panel
  channel and the referrer only redacted: the recording Bot Connector's payloads hold
  neither the fixtures' identifiers nor the canaries below.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.adapters.db import schema as t
from bot.services import deadlines
from tests.support import activities as A
from tests.support.harness import (
    CANARY_ADDRESS,
    CANARY_CHILD,
    CANARY_DOB,
    BotHarness,
    errors,
    fill_referral,
    find_action,
    inputs,
    texts,
    walk,
)

REF = "RR-2026-0001"
PANEL = A.PANEL_CHANNEL_ID
CARD = "application/vnd.microsoft.card.adaptive"

# Identifiers of the realistic forms, none of them in the referral.
POSTCODE, ADDRESS, PHONE, EMAIL, NHS, DOB = (
    "sw1a 1aa", "flat 3, 12 Acacia Avenue", "+44 7700 900123", "jo.bloggs@example.org", "943 476 5919", "01/02/2015")
LEAKY = f"Seen at {ADDRESS} ({POSTCODE}); mum on {PHONE}, {EMAIL}; NHS {NHS}, DOB {DOB}; {CANARY_CHILD} was there."
CANARIES = (POSTCODE, "Acacia Avenue", PHONE, "900123", EMAIL, NHS, DOB, CANARY_CHILD, "Zqxwv", CANARY_DOB,
            "03/02/2017", CANARY_ADDRESS)
MARKERS = ("[address]", "[postcode]", "[phone number]", "[email address]", "[NHS number]", "[date of birth]", "[child]")

WHY = "Serious injuries and suspected abuse by a carer."
BASIS = "Long-term impairment of the child's health is likely."


async def refer(h: BotHarness) -> str:
    """Panel channel bound, the chair and manager introduced, one referral posted; the case id."""
    await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
    for person in (A.PAT, A.CHRIS):
        await h.say(person, "help")
    await fill_referral(h)
    await h.flush()
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case.id


def ballot(choice: str = "rapid_review", rationale: str = WHY, **more: str) -> dict[str, str]:
    fields = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": "1", "choice": choice,
              "rationale": rationale, **more}
    if choice == "rapid_review":
        fields.setdefault("serious_harm_basis", BASIS)
    return fields


async def vote(h: BotHarness, person: A.Person, fields: dict[str, str]) -> dict[str, Any]:
    body = await h.press(person, "panel.vote", fields, channel=True)
    assert body["statusCode"] == 200, body
    return body


def sent_to(h: BotHarness, conversation: str) -> str:
    """Everything the bot sent to (or updated in) a conversation, as the connector received it."""
    return json.dumps([s.activity for s in h.connector.activities_to(conversation, include_updates=True)],
                      ensure_ascii=False)


def assert_no_identifiers(payload: str, where: str) -> None:
    leaked = [c for c in CANARIES if c.lower() in payload.lower()]
    assert not leaked, f"identifiers sent to {where}: {leaked}"


def cards_to(h: BotHarness, conversation: str, marker: str) -> list[dict[str, Any]]:
    return [s.attachments[0]["content"] for s in h.connector.activities_to(conversation)
            if s.attachments and marker in json.dumps(s.attachments[0]["content"], ensure_ascii=False)]


async def stored_votes(h: BotHarness) -> list[Any]:
    async with h.c.db.read() as conn:
        return list(await conn.execute(select(t.votes)))


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(tmp_path) as harness:
        await refer(harness)
        yield harness


# ---- refused on the card, with what was typed kept --------------------------------------------------


async def test_a_vote_rationale_with_a_postcode_is_refused_on_the_card_and_the_text_kept(bot):
    typed = f"Injuries seen at home ({POSTCODE}); abuse suspected by a carer."
    body = await vote(bot, A.LAURA, ballot(rationale=typed))
    assert body["type"] == CARD
    card = body["value"]
    [error] = errors(card)
    assert error.removeprefix("⚠ ") == ('This looks like a postcode ("sw1a…"): remove it before sending — the channel must not hold '
                     "identifiers.")
    assert inputs(card)["rationale"]["value"] == typed  # kept, to edit
    assert await stored_votes(bot) == []

    await bot.flush()
    assert_no_identifiers(sent_to(bot, PANEL), "the panel channel")

    # The same for the serious harm basis and a query's question; a clean vote then goes through.
    body = await vote(bot, A.LAURA, ballot(serious_harm_basis=f"Call the ward on {PHONE} for the findings."))
    assert "This looks like a phone number" in " ".join(errors(body["value"]))
    body = await vote(bot, A.LAURA, ballot("queries", question=f"Is {ADDRESS} still the family home?"))
    assert "This looks like an address" in " ".join(errors(body["value"]))
    assert await stored_votes(bot) == []
    body = await vote(bot, A.LAURA, ballot())
    assert "Vote recorded." in texts(body["value"])


def _after(card: dict[str, Any], input_id: str) -> str:
    """The error shown right after an input ("" when the next thing is another input)."""
    shown = [e for e in walk(card) if str(e.get("type", "")).startswith("Input.")
             or (e.get("type") == "TextBlock" and e.get("color") == "Attention")]
    at = next(i for i, e in enumerate(shown) if e.get("id") == input_id)
    following = shown[at + 1] if at + 1 < len(shown) else {}
    return "" if "id" in following else str(following.get("text", ""))


async def test_the_refusal_sits_next_to_the_input_it_is_about(bot):
    body = await vote(bot, A.LAURA, ballot(rationale=f"Mum gave her number, {PHONE}, to the school."))
    assert "phone number" in _after(body["value"], "rationale")


async def test_an_answer_with_a_phone_number_is_refused_and_kept(bot):
    await vote(bot, A.NINA, ballot("queries", question="When did the GP last see the child?"))
    await bot.flush()
    [query] = cards_to(bot, A.RILEY.chat, "The panel has a question")
    data = find_action(query, "query.answer", ref=REF)
    typed = "Ring the GP surgery on 0161 496 0000; they saw her on 17 November."
    body = await bot.press(A.RILEY, "query.answer", {**data, "answer": typed})
    card = body["value"]
    assert [e.removeprefix("⚠ ") for e in errors(card)] == [
        'This looks like a phone number ("0161 49…"): remove it before sending — the channel must not hold '
        "identifiers."]
    assert inputs(card)["answer"]["value"] == typed
    async with bot.c.db.read() as conn:
        assert (await conn.execute(select(t.queries.c.status, t.queries.c.answer))).one() == ("open", None)


async def test_an_outcome_text_with_a_phone_number_is_refused_and_kept(bot):
    case_id = (await bot.c.stores.cases.get_case(REF)).id
    for person in (A.LAURA, A.DAN, A.NINA):
        await vote(bot, person, ballot())
    await bot.flush()
    await bot.flush()
    record = await bot.c.services.meeting_store.get(case_id)
    assert record is not None and record.status == "booked"
    bot.clock.set(record.end_at)
    await bot.flush()
    [card] = cards_to(bot, A.CHRIS.chat, "Record the rapid review outcome")
    outcome = {"local_cspr": "yes", "national_review": "no",
               "rationale": "Learning about information sharing; the father can be reached on 07700 900123.",
               "participants": "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair",
               "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}
    body = await bot.press(A.CHRIS, "meeting.outcome", {**find_action(card, "meeting.outcome"), **outcome})
    shown = body["value"]
    assert 'This looks like a phone number ("07700 9…"): remove it before saving' in texts(shown)
    assert inputs(shown)["rationale"]["value"] == outcome["rationale"]
    assert _after(shown, "rationale").startswith("⚠ This looks like a phone number")  # next to the input
    assert inputs(shown)["participants"]["value"] == outcome["participants"]
    assert (await bot.c.services.meeting_store.get(case_id)).status == "booked"

    body = await bot.press(A.CHRIS, "meeting.outcome", {**find_action(card, "meeting.outcome"), **outcome,
                                                        "learning": f"Home visits to {POSTCODE} were missed."})
    assert "This looks like a phone number" in texts(body["value"])  # the first field with one is named
    body = await bot.press(A.CHRIS, "meeting.outcome", {**find_action(card, "meeting.outcome"), **outcome,
                                                        "rationale": "Learning about information sharing.",
                                                        "learning": f"Home visits to {POSTCODE} were missed."})
    assert "This looks like a postcode" in texts(body["value"])


# ---- stored text reaches the channel and the referrer only redacted ------------------------------------


async def test_a_stored_vote_rationale_with_identifiers_reaches_the_channel_and_referrer_redacted(bot):
    await vote(bot, A.LAURA, ballot())
    async with bot.c.db.write() as conn:  # as if stored before the form refused identifiers
        await conn.execute(update(t.votes).values(rationale=LEAKY, serious_harm_basis=f"GP on {PHONE}."))
    await vote(bot, A.DAN, ballot())
    await vote(bot, A.NINA, ballot())
    await bot.flush()
    await bot.flush()

    channel = sent_to(bot, PANEL)
    assert "Decided" in channel
    assert_no_identifiers(channel, "the panel channel")
    for marker in MARKERS:
        assert marker in channel, marker
    [decision] = cards_to(bot, A.RILEY.chat, "The panel has decided")
    referrer = json.dumps(decision, ensure_ascii=False)
    assert "[postcode]" in referrer and "[phone number]" in referrer
    assert_no_identifiers(sent_to(bot, A.RILEY.chat), "the referrer")


async def test_a_stored_question_and_answer_with_identifiers_reach_the_referrer_and_channel_redacted(bot):
    await vote(bot, A.NINA, ballot("queries", question="When did the GP last see the child?"))
    async with bot.c.db.write() as conn:
        await conn.execute(update(t.queries).values(question=f"Is {ADDRESS}, {POSTCODE} the family home?"))
    await bot.flush()
    [query] = cards_to(bot, A.RILEY.chat, "The panel has a question")
    assert "Is [address], [postcode] the family home?" in texts(query)
    assert_no_identifiers(sent_to(bot, A.RILEY.chat), "the referrer")

    data = find_action(query, "query.answer", ref=REF)
    body = await bot.press(A.RILEY, "query.answer", {**data, "answer": "Yes, the family still lives there."})
    assert "Answer sent" in texts(body["value"])
    async with bot.c.db.write() as conn:
        await conn.execute(update(t.queries).values(answer=LEAKY))
    await bot.flush()
    [notice] = cards_to(bot, PANEL, "the referrer answered")
    assert "Seen at [address] ([postcode]); mum on [phone number], [email address]" in texts(notice)
    assert_no_identifiers(sent_to(bot, PANEL), "the panel channel")


async def test_a_stored_outcome_with_identifiers_reaches_the_referrer_redacted(bot):
    case_id = (await bot.c.stores.cases.get_case(REF)).id
    for person in (A.LAURA, A.DAN, A.NINA):
        await vote(bot, person, ballot())
    await bot.flush()
    await bot.flush()
    record = await bot.c.services.meeting_store.get(case_id)
    bot.clock.set(record.end_at)
    await bot.flush()
    [card] = cards_to(bot, A.CHRIS.chat, "Record the rapid review outcome")
    outcome = {"local_cspr": "yes", "national_review": "no", "rationale": "Learning about information sharing.",
               "participants": "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair",
               "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}
    body = await bot.press(A.CHRIS, "meeting.outcome", {**find_action(card, "meeting.outcome"), **outcome})
    assert body["statusCode"] == 200 and "Rapid review meeting held" in texts(body["value"])
    async with bot.c.db.write() as conn:  # the outcome as stored before the form refused identifiers
        row = (await conn.execute(select(t.meetings.c.outcome).where(t.meetings.c.case_id == case_id))).one()
        stored = await bot.c.db.keyring.open_json(conn, case_id, "meetings.outcome", row.outcome)  # sealed at rest
        await conn.execute(update(t.meetings).where(t.meetings.c.case_id == case_id)
                           .values(outcome={**stored, "rationale": LEAKY}))
    await bot.flush()
    [told] = cards_to(bot, A.RILEY.chat, "Rapid review outcome")
    assert "Seen at [address] ([postcode]); mum on [phone number]" in texts(told)
    assert_no_identifiers(sent_to(bot, A.RILEY.chat), "the referrer")
    assert_no_identifiers(sent_to(bot, PANEL), "the panel channel")


async def test_a_stored_agency_name_with_an_identifier_reaches_a_reminder_redacted(bot):
    case_id = (await bot.c.stores.cases.get_case(REF)).id
    for person in (A.LAURA, A.DAN, A.NINA):
        await vote(bot, person, ballot())
    await bot.flush()
    await bot.flush()
    [prompt] = cards_to(bot, A.PAT.chat, "Information requests to agencies")
    data = find_action(prompt, "agencies.record")
    body = await bot.press(A.PAT, "agencies.record", {**data, "agencies": "Police"})
    assert body["statusCode"] == 200, body
    async with bot.c.db.write() as conn:
        await conn.execute(update(t.agency_requests).where(t.agency_requests.c.case_id == case_id)
                           .values(agency=f"Police (DC Jones {PHONE})"))
    for _ in range(40):  # on to the reminders that chase the agencies, a day at a time
        bot.clock.advance(days=1)
        await deadlines.sweep(bot.c.services)
        await bot.flush()
        if "Still outstanding" in sent_to(bot, A.PAT.chat):
            break
    # The step is the business unit's: its reminders go to the partnership manager's personal chat.
    chat = sent_to(bot, A.PAT.chat)
    [reminder] = [c for c in cards_to(bot, A.PAT.chat, "Still outstanding")][-1:]
    assert r"Still outstanding: Police (DC Jones \[phone number\])" in texts(reminder)  # Markdown-escaped
    assert_no_identifiers(chat, "the reminder in personal chat")
    assert_no_identifiers(sent_to(bot, PANEL), "the panel channel")
