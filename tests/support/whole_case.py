"""A whole case driven the way people drive it in Teams: every step a message or a press on a
card the bot sent, posted to /api/messages; time moved only by the injected clock.

Each helper finds the button it presses on a card the bot really sent (or returned), so a
step with no button in the bot fails here instead of being reached by a store call. Reading
the store to assert is fine; changing it is not.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.db.audit_log import verify_audit_trail
from bot.domain.lifecycle import CaseStatus
from bot.services import deadlines
from cards import clock_cards as K
from cards import meeting_cards as M
from cards import pathway_cards as P
from cards import report_cards as R
from cards import review_cards as V
from tests.support import activities as A
from tests.support.harness import BotHarness, fill_referral, find_action, inputs, texts, walk, without_reference

LONDON = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
PANEL = A.PANEL_CHANNEL_ID
EVERYONE = (A.PAT, A.CHRIS, A.LAURA, A.DAN, A.NINA, A.DEE, A.RILEY)
PARTNERS = (A.LAURA, A.DAN, A.NINA)
LINK_PREFIX = "http://localhost:3978"
WHY = "The partners agree on this pathway for the case."
BASIS = "Long-term impairment of the child's health is likely."
OUTCOME = {"national_review": "no",
           "rationale": "The agencies' learning is identified; the partners agree on the local review question.",
           "participants": "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair",
           "immediate_actions": "Safety plan in place for siblings.",
           "learning": "Information sharing between school and GP was slow.",
           "agencies_involved": "Children's social care, police, the GP practice and the school.",
           "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}


def london(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def cards_to(h: BotHarness, conversation: A.Person | str, marker: str) -> list[dict[str, Any]]:
    """Cards sent to a person's chat (or the panel channel) that contain `marker`, oldest first."""
    chat = conversation if isinstance(conversation, str) else conversation.chat
    return [s.attachments[0]["content"] for s in h.connector.activities_to(chat)
            if s.attachments and marker in json.dumps(s.attachments[0]["content"], ensure_ascii=False)]


def last_card_to(h: BotHarness, person: A.Person, marker: str) -> dict[str, Any]:
    found = cards_to(h, person, marker)
    assert found, f"no card with {marker!r} was sent to {person.name}"
    return found[-1]


async def press(h: BotHarness, who: A.Person, card: dict[str, Any], verb: str, *, channel: bool = False,
                **typed: str) -> dict[str, Any]:
    """Press the button `verb` on `card` with what the person typed; the card that comes back."""
    body = await h.press(who, verb, {**find_action(card, verb), **typed}, channel=channel)
    assert body["statusCode"] == 200, (verb, body)
    value = body["value"]
    assert isinstance(value, dict), (verb, without_reference(str(value)))
    return value


async def say(h: BotHarness, who: A.Person, text: str) -> dict[str, Any]:
    reply = await h.say(who, text)
    assert isinstance(reply, dict), reply
    return reply


async def at(h: BotHarness, moment: datetime) -> None:
    """The clock moves; what fell due is swept and delivered, as the scheduler would."""
    h.clock.set(moment)
    await deadlines.sweep(h.c.services)
    await h.flush()
    await h.flush()


def today(h: BotHarness) -> str:
    return h.clock.now().astimezone(LONDON).date().isoformat()


async def status(h: BotHarness) -> CaseStatus:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case.summary.status


async def case_id(h: BotHarness) -> str:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case.id


# ---- from the referral to the panel's decision ----------------------------------------------------


async def refer(h: BotHarness) -> None:
    """The manager binds the panel channel, everyone opens the bot, Riley fills in and submits the form."""
    await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
    for person in EVERYONE:
        await h.say(person, "hello")
    await fill_referral(h)
    await h.flush()
    assert await status(h) is CaseStatus.REFERRED


def channel_card(h: BotHarness) -> dict[str, Any]:
    """The case's card as the channel sees it now: its first post, or the latest update of that post."""
    posts = [s for s in h.connector.activities_to(PANEL)
             if s.reply_to_id is None and s.attachments and '"case.view"' in json.dumps(s.activity)]
    assert posts, "the case was never posted in the panel channel"
    post = posts[0]
    updates = [u for u in h.connector.updates() if u.activity_id == post.activity_id and u.activity.get("attachments")]
    return (updates[-1] if updates else post).activity["attachments"][0]["content"]


async def vote(h: BotHarness, who: A.Person, choice: str, **extra: str) -> dict[str, Any]:
    """Press Vote on the channel's case card, then cast the vote on the controls that come back."""
    controls = await press(h, who, channel_card(h), "panel.open", channel=True)
    fields = {"choice": choice, "rationale": WHY, **extra}
    if choice == "rapid_review":
        fields.setdefault("serious_harm_basis", BASIS)
    return await press(h, who, controls, "panel.vote", channel=True, **fields)


async def decide(h: BotHarness, choice: str) -> None:
    for who in PARTNERS:
        await vote(h, who, choice)
    await h.flush()
    await h.flush()
    assert await status(h) is not CaseStatus.REFERRED


async def query_answered_then_decided(h: BotHarness, choice: str, question: str, answer: str) -> None:
    """Health asks the referrer a question; Riley answers it on her card; the votes start again and decide."""
    await vote(h, A.LAURA, choice)
    await vote(h, A.DAN, choice)
    await vote(h, A.NINA, "queries", question=question)
    await h.flush()
    assert await status(h) is CaseStatus.REFERRED
    asked = last_card_to(h, A.RILEY, "query.answer")
    assert question in texts(asked)
    said = await press(h, A.RILEY, asked, "query.answer", answer=answer)
    assert "Answer sent" in texts(said)
    await h.flush()
    await decide(h, choice)


async def step_row(h: BotHarness, step_id: str) -> Any:
    """The case's deadline row for a step (read, to find its Mark done button)."""
    rows = {r.step_id: r for r in await h.c.stores.deadlines.deadlines(await case_id(h))}
    return rows[step_id]


async def mark_done(h: BotHarness, who: A.Person, step_id: str, **typed: str) -> dict[str, Any]:
    """`timeline RR-…` → Mark done on the step (with the date, when it asks for one). The
    invoke's body: a card when done, a message when refused."""
    row = await step_row(h, step_id)
    timeline = await say(h, who, f"timeline {REF}")
    return await h.press(who, K.MARK_DONE, {**find_action(timeline, K.MARK_DONE, step=row.id), **typed})


async def national_panel_notified(h: BotHarness, on: str) -> None:
    """The local authority records the notification to the National Panel from the timeline."""
    body = await mark_done(h, A.LAURA, "notify_national_panel", done_on=on)
    assert body["statusCode"] == 200 and isinstance(body["value"], dict), body
    assert (await step_row(h, "notify_national_panel")).status == "done"


# ---- the rapid review: meeting, report, National Panel ---------------------------------------------


async def hold_meeting(h: BotHarness, local_review: bool) -> None:
    """The meeting the bot booked ends; the chair records the outcome on the card it sends her."""
    assert await status(h) is CaseStatus.MEETING_SCHEDULED
    meeting = await h.c.services.meeting_store.get(await case_id(h))
    assert meeting is not None and meeting.end_at is not None
    await at(h, meeting.end_at)
    form = last_card_to(h, A.CHRIS, "Record the rapid review outcome")
    held = await press(h, A.CHRIS, form, M.OUTCOME, local_cspr="yes" if local_review else "no", **OUTCOME)
    assert "Rapid review meeting held" in texts(held)
    await h.flush()
    assert await status(h) is CaseStatus.MEETING_HELD


async def report_card(h: BotHarness, who: A.Person) -> dict[str, Any]:
    """`timeline RR-…` → Open the rapid review report (as the browser walk does)."""
    return await press(h, who, await say(h, who, f"timeline {REF}"), R.OPEN)


async def report_sent(h: BotHarness, comments_at: datetime, sent_at: datetime, *,
                      late_reason: str | None = None) -> dict[str, Any]:
    """Started from the record card, commented on by every partner and the chair, the missing
    items written, the final draft signed off by the chair and the manager, recorded as sent
    (late: first refused without the reason, then with it). Returns the manager's report card."""
    started = await press(h, A.PAT, last_card_to(h, A.PAT, M.RECORD_TITLE), R.START)
    assert "Report started" in texts(started)
    await h.flush()
    await at(h, comments_at)
    for who in (*PARTNERS, A.CHRIS):
        asked = last_card_to(h, who, "ready for your comments")
        await press(h, who, asked, R.COMMENT, comment=f"{who.name.split()[0]} has read the draft and agrees.")
    edit = await press(h, A.PAT, await report_card(h, A.PAT), R.EDIT)
    missing = {name: f"Written by the partnership manager for the item {name.replace('_', ' ')}."
               for name, element in inputs(edit).items() if not element.get("value")}
    saved = await press(h, A.PAT, edit, R.SAVE, **missing)
    assert "Report saved" in texts(saved)
    await press(h, A.PAT, saved, R.FINAL)
    await h.flush()
    for who in (A.CHRIS, A.PAT):
        signed = await press(h, who, await press(h, who, last_card_to(h, who, "ready for sign-off"), R.OPEN), R.SIGN)
    assert "Both sign-offs are in" in texts(signed)
    await at(h, sent_at)
    if late_reason is not None:
        refused = await press(h, A.PAT, signed, R.SENT, sent_on=today(h))
        assert "say why it was done later" in texts(refused), texts(refused)
        assert await status(h) is CaseStatus.REPORT_IN_DRAFT
    sent = await press(h, A.PAT, signed, R.SENT, sent_on=today(h), **(
        {"late_reason": late_reason} if late_reason is not None else {}))
    assert "Recorded as sent" in texts(sent)
    assert await status(h) is CaseStatus.REPORT_SUBMITTED
    return sent


async def national_panel_copy(h: BotHarness, card: dict[str, Any]) -> Any:
    """The National Panel's copy by its one-time link, opened in python-docx."""
    link = await press(h, A.PAT, card, R.DOCUMENT)
    [url] = [a["url"] for a in walk(link) if a.get("type") == "Action.OpenUrl"]
    response = await h.client.get(url.removeprefix(LINK_PREFIX))
    assert response.status == 200, response.status
    return Document(io.BytesIO(await response.read()))


def sections(document: Any) -> dict[str, str]:
    """Each heading-1 section's paragraphs, joined."""
    found: dict[str, list[str]] = {}
    current = None
    for paragraph in document.paragraphs:
        if paragraph.style.name == "Heading 1":
            current = paragraph.text
            found[current] = []
        elif current is not None:
            found[current].append(paragraph.text)
    return {title: "\n".join(lines) for title, lines in found.items()}


def assert_every_section_filled(document: Any, expected: tuple[str, ...]) -> None:
    """Each heading-1 section of the document is there, in order, with something written under
    it (a paragraph, or the identifying details' table), and no placeholder left."""
    found = sections(document)
    assert list(found) == list(expected)
    tables = "\n".join(c.text for table in document.tables for row in table.rows[1:] for c in row.cells)
    for title, text in found.items():
        assert text.strip() or (title.startswith("Identifying details") and tables.strip()), f"{title!r} is empty"
        assert "Not recorded" not in text and "{" not in text, (title, text)


async def national_panel_answers(h: BotHarness, card: dict[str, Any], response: str) -> dict[str, Any]:
    answered = await press(h, A.PAT, card, R.RESPONSE, response=response, response_on=today(h), asked_for="")
    return answered


# ---- the local review ---------------------------------------------------------------------------------


SETUP = {"lead_reviewer": "Jo Reviewer, independent lead reviewer",
         "terms_of_reference": "Period under review: the twelve months before the incident; multi-agency practice.",
         "lines_of_enquiry": "1. How agencies shared concerns about injuries\n2. The voice of the child\n"
                             "3. Escalation when agencies disagreed",
         "review_panel": "Police, Health and Education safeguarding leads; children's social care",
         "agencies": "Police,NHS acute trust"}


async def review_card(h: BotHarness) -> dict[str, Any]:
    return await press(h, A.PAT, await say(h, A.PAT, f"timeline {REF}"), K.REVIEW_OPEN)


async def local_review_to_publication(h: BotHarness, sent_on: datetime, published_on: datetime,
                                      **closing: str) -> dict[str, Any]:
    """Set up (lead reviewer, terms, 3 lines of enquiry, panel, agencies), the agencies' reports in,
    a progress check, the report to the National Panel, then publication (with `closing`: Close
    anyway and its reason). Returns the last card."""
    card = await press(h, A.PAT, await review_card(h), V.REVIEW_SETUP, **SETUP)
    for agency in SETUP["agencies"].split(","):
        card = await press(h, A.PAT, card, V.REVIEW_AGENCY_REPORT, agency=agency)
    card = await press(h, A.PAT, card, V.REVIEW_PROGRESS, on_time="yes",
                       quality="Chronologies in on time; the analysis is of good quality.")
    await at(h, sent_on)
    card = await press(h, A.PAT, card, V.REVIEW_REPORT_SENT, sent_on=today(h))
    await at(h, published_on)
    return await press(h, A.PAT, card, V.REVIEW_PUBLISHED, published_on=today(h), **closing)


# ---- the other pathways and the family ---------------------------------------------------------------


async def hand_over(h: BotHarness, process: str, owner: A.Person, agencies: str = "Police") -> None:
    prompt = last_card_to(h, A.PAT, P.HANDOVER)
    said = await press(h, A.PAT, prompt, P.HANDOVER, process=process, owner=owner.aad, agencies=agencies)
    assert "Hand-over recorded" in texts(said)
    await h.flush()


async def confirm_hand_over(h: BotHarness, owner: A.Person) -> dict[str, Any]:
    return await press(h, owner, last_card_to(h, owner, P.CONFIRM), P.CONFIRM, confirmed_on=today(h))


async def family_told(h: BotHarness, teller: A.Person, tell_by: str) -> Any:
    """The chair agrees who tells the family and by when (`pathway RR-…`); the teller gets the
    letter (python-docx) by a link of her own and marks the step done. Returns the letter."""
    agreed = await press(h, A.CHRIS, await say(h, A.CHRIS, f"pathway {REF}"), P.FAMILY, teller=teller.aad,
                         tell_by=tell_by)
    assert f"{teller.name} gets the family letter" in texts(agreed)
    await h.flush()
    card = last_card_to(h, teller, P.LETTER)
    link = await press(h, teller, card, P.LETTER)
    [url] = [a["url"] for a in walk(link) if a.get("type") == "Action.OpenUrl"]
    response = await h.client.get(url.removeprefix(LINK_PREFIX))
    assert response.status == 200, response.status
    letter = Document(io.BytesIO(await response.read()))
    await press(h, teller, card, K.MARK_DONE, done_on=today(h))
    return letter


def assert_letter_filled(letter: Any, *names: str) -> None:
    text = "\n".join(p.text for p in letter.paragraphs)
    assert text.strip() and "{" not in text and "}" not in text, text
    for name in (REF, *names):
        assert name in text, name


# ---- the end --------------------------------------------------------------------------------------------


async def assert_closed_for_good(h: BotHarness) -> dict[str, Any]:
    """Closed through the lifecycle with a reason; every deadline done, stopped or superseded;
    no reminder waiting or ever sent again; the channel's card says Closed; the audit chain
    verifies. Returns the closing move's audit detail."""
    assert await status(h) is CaseStatus.CLOSED
    cid = await case_id(h)
    moves = [e for e in await h.c.stores.cases.events_for_case(cid) if e.kind == "case_moved"]
    closing = moves[-1].detail
    assert closing["to"] == "closed" and closing["why"], closing
    rows = await h.c.stores.deadlines.deadlines(cid)
    assert rows
    assert not [(r.step_id, r.status) for r in rows if r.status not in ("done", "closed", "superseded")]
    assert not [r.step_id for r in rows if r.next_reminder_at is not None]
    await h.flush()
    async with h.c.db.read() as conn:  # no reminder recorded and still waiting to go out
        waiting = (await conn.execute(select(t.outbox.c.key).where(
            t.outbox.c.case_id == cid, t.outbox.c.kind == "reminder", t.outbox.c.status != "sent"))).all()
    assert not waiting, waiting
    assert "Status: Closed" in texts(channel_card(h))
    before = len(h.connector.sent_activities())
    moment = h.clock.now()
    for days in (1, 30, 200, 400):
        h.clock.set(moment + timedelta(days=days))
        assert await deadlines.sweep(h.c.services) == 0
        await h.flush()
    assert [s.conversation_id for s in h.connector.sent_activities()[before:]] == []
    trail = await verify_audit_trail(h.c.db)
    assert trail.intact and trail.rows > 0, trail.broken
    return closing
