"""After the meeting, end to end through real Bot Framework activities on both databases: the
local child safeguarding practice review, the actions and the learning (bot/services/review.py).

Dates (Europe/London): the panel decides on Mon 23 Nov 2026; the meeting is on Wed 2 Dec 2026
10:00–12:00 and its outcome (a local review recommended) is recorded at 12:00, which starts
the review's clock (the `review_commissioned` anchor). Until the report, sign-off and National
Panel steps land (another branch), the case reaches `review_commissioned` through the case
store's lifecycle move (meeting_held → report_in_draft → report_submitted → review_commissioned),
as those use cases will. Stockport profile (the example partnership), so:

- agencies' reports (IMRs): 28 days → Wed 30 Dec 2026, overdue on Mon 4 Jan 2027 (the partnership
  closes 29–31 Dec; 1 Jan is a bank holiday);
- lead reviewer and terms of reference: 20 working days → Thu 7 Jan 2027;
- progress check: 20 working days from the decision, then from each check;
- published: 6 months → Wed 2 Jun 2027;
- desk-top reviews: 6 and 12 months from the decision (23 May 2027 is a Sunday → Fri 21 May).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.documents import BRIEFING_SECTIONS
from bot.domain.case import Actor
from bot.domain.lifecycle import CaseStatus, Mover
from bot.services import deadlines
from cards import clock_cards
from cards import review_cards as R
from cards.file_cards import FILE_CONSENT
from tests.integration.test_meeting_graph import CANARIES, OUTCOME, cards_to, decide, open_urls, walk_to_outcome_card
from tests.support import activities as A
from tests.support import reminders as sent_reminders
from tests.support.harness import BotHarness, errors, find_action, inputs, texts, without_reference
from tests.support.whole_case import SETUP

LONDON = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
PAT = Actor(aad_object_id=A.PAT.aad, name=A.PAT.name)
LEARNING = ("Schools and GPs did not share concerns about repeated injuries; a shared chronology would have "
            "shown the pattern sooner.")
IMR_LABEL = "Agencies' reports (IMRs) and chronologies for the local review"


def london(year: int, month: int, day: int, hour: int = 9, minute: int = 5) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


async def press(h: BotHarness, who: A.Person, verb: str, *, channel: bool = False, **data: Any) -> dict[str, Any]:
    return await h.press(who, verb, {"verb": verb, "action": verb, "ref": REF, **data}, channel=channel)


def card_of(body: dict[str, Any]) -> dict[str, Any]:
    assert body["statusCode"] == 200, body
    assert isinstance(body["value"], dict), body
    return body["value"]


def refusal(body: dict[str, Any]) -> str:
    assert body["statusCode"] == 403, body
    return without_reference(body["value"]["message"])


async def rows(h: BotHarness, case_id: str) -> dict[str, Any]:
    return {r.step_id: r for r in await h.c.services.deadlines.deadlines(case_id)}


async def reminders_at(h: BotHarness, moment: datetime) -> list[dict[str, Any]]:
    """Move the clock, sweep, deliver; the reminders sent meanwhile, to the owners' personal
    chats, one card per reminder mentioning everyone it reached (tests/support/reminders.py)."""
    h.clock.set(moment)
    before = len(h.connector.sent_activities())
    await deadlines.sweep(h.c.services)
    await h.flush()
    return sent_reminders.merged(h.connector.sent_activities()[before:])


def mentioned(card: dict[str, Any]) -> set[str]:
    return {e["mentioned"]["id"] for e in card.get("msteams", {}).get("entities", [])}


async def held(h: BotHarness, **extra: str) -> str:
    """Decided, met, and the outcome recorded by the chair (a local review recommended)."""
    case_id = await decide(h)
    card = await walk_to_outcome_card(h, case_id)
    body = await h.press(A.CHRIS, "meeting.outcome", {**find_action(card, "meeting.outcome"), **OUTCOME, **extra})
    assert body["statusCode"] == 200, body
    await h.flush()
    return case_id


async def commissioned(h: BotHarness) -> str:
    case_id = await held(h)
    now = h.clock.now()
    for status in (CaseStatus.REPORT_IN_DRAFT, CaseStatus.REPORT_SUBMITTED, CaseStatus.REVIEW_COMMISSIONED):
        await h.c.stores.cases.move(case_id, status, Mover.MANAGER, PAT, now)
    await deadlines.refresh_deadlines(h.c.services, case_id)
    return case_id


# ---- the local review, from commissioning to publication and closure -----------------------------


async def test_a_local_review_from_commissioning_to_publication_late_with_a_reason_then_closed(
        tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await commissioned(h)
        steps = await rows(h, case_id)
        assert steps["agency_information_management_reports"].due_at == london(2026, 12, 30, 17, 0)
        assert steps["lcspr_lead_reviewer_and_terms"].due_at == london(2027, 1, 7, 17, 0)
        assert steps["lcspr_progress_check"].due_at == london(2027, 1, 7, 17, 0)
        assert steps["lcspr_published"].due_at == london(2027, 6, 2, 17, 0)

        # Reachable again from `timeline RR-…`: the timeline offers the review and actions card.
        timeline = await h.say(A.PAT, f"timeline {REF}")
        assert isinstance(timeline, dict)
        find_action(timeline, clock_cards.REVIEW_OPEN)
        # the review's steps are recorded on that card, not by "Mark done"
        imr = steps["agency_information_management_reports"]
        said = await press(h, A.PAT, clock_cards.MARK_DONE, step=imr.id)
        assert "review and actions card" in said["value"]
        card = card_of(await press(h, A.PAT, R.REVIEW_OPEN))
        assert "Local child safeguarding practice review" in texts(card)
        assert {"lead_reviewer", "terms_of_reference", "lines_of_enquiry", "review_panel", "agencies"} <= set(
            inputs(card))

        # Only a partnership manager records the review: the chair and a panel member are refused.
        for who in (A.LAURA, A.CHRIS):
            assert refusal(await press(h, who, R.REVIEW_SETUP, **SETUP)) == "Only a partnership manager can record " \
                                                                             "the local review."
        # Two lines of enquiry are not enough; an identifier in the terms is refused; nothing is saved.
        body = card_of(await press(h, A.PAT, R.REVIEW_SETUP, **{**SETUP, "lines_of_enquiry": "One line\nTwo lines"}))
        assert errors(body) and "3 or 4 key lines of enquiry" in errors(body)[0]
        body = card_of(await press(h, A.PAT, R.REVIEW_SETUP,
                                   **{**SETUP, "terms_of_reference": "Call the family on 0161 496 0000 first."}))
        assert "phone number" in errors(body)[0]
        assert inputs(body)["terms_of_reference"]["value"] == "Call the family on 0161 496 0000 first."
        assert await h.c.services.reviews.review(case_id) is None

        card = card_of(await press(h, A.PAT, R.REVIEW_SETUP, **SETUP))
        shown = texts(card)
        assert "Jo Reviewer, independent lead reviewer" in shown
        assert "2. The voice of the child" in shown
        assert "Police — outstanding" in shown
        assert (await rows(h, case_id))["lcspr_lead_reviewer_and_terms"].status == "done"

        # One agency's report comes in; the other is chased when the 28 days have passed.
        card = card_of(await press(h, A.PAT, R.REVIEW_AGENCY_REPORT, agency="NHS acute trust"))
        assert "NHS acute trust — received" in texts(card)
        overdue = [c for c in await reminders_at(h, london(2027, 1, 4)) if IMR_LABEL in texts(c)]
        assert len(overdue) == 1
        reminder = texts(overdue[0])
        assert "**Overdue**" in reminder and "Still outstanding: Police" in reminder
        assert "NHS acute trust" not in reminder
        assert A.PAT.aad in mentioned(overdue[0])
        find_action(overdue[0], clock_cards.REVIEW_OPEN)  # the reminder leads to the card that records it

        # A progress check (regulation 14: time and quality) moves the next one on 20 working days.
        card = card_of(await press(h, A.PAT, R.REVIEW_PROGRESS, on_time="no",
                                   quality="Chronologies late from police; analysis of good quality so far."))
        assert "behind time" in texts(card)
        assert (await rows(h, case_id))["lcspr_progress_check"].due_at == london(2027, 2, 1, 17, 0)

        await press(h, A.PAT, R.REVIEW_AGENCY_REPORT, agency="Police")
        assert (await rows(h, case_id))["agency_information_management_reports"].status == "done"

        # Published before the report is recorded as sent: refused.
        h.clock.set(london(2027, 6, 20, 10, 0))
        said = await press(h, A.PAT, R.REVIEW_PUBLISHED, published_on="2027-06-15",
                           late_reason="The police chronology waited for the criminal trial to end.")
        assert "National Panel first" in said["value"]
        card_of(await press(h, A.PAT, R.REVIEW_REPORT_SENT, sent_on="2027-06-10"))
        assert (await rows(h, case_id))["local_cspr_report"].status == "done"

        # Published after the six months: a reason is required, then the case closes.
        body = card_of(await press(h, A.PAT, R.REVIEW_PUBLISHED, published_on="2027-06-15"))
        assert "due to be published by 02 Jun 2027" in errors(body)[0]
        assert (await h.c.stores.cases.get_case(REF)).summary.status is CaseStatus.REVIEW_COMMISSIONED
        card = card_of(await press(h, A.PAT, R.REVIEW_PUBLISHED, published_on="2027-06-15",
                                   late_reason="The police chronology waited for the criminal trial to end.",
                                   close_anyway="true",
                                   close_reason="The 12-month desk-top review is kept in the partnership's tracker."))
        assert "Why it was published after the six months" in texts(card)
        case = await h.c.stores.cases.get_case(REF)
        assert case is not None and case.summary.status is CaseStatus.CLOSED
        published = (await rows(h, case_id))["lcspr_published"]
        assert published.status == "done" and published.done_on == date(2027, 6, 15)
        assert all(r.status in ("done", "closed", "superseded") and r.next_reminder_at is None
                   for r in (await rows(h, case_id)).values())

        # Nothing more is ever reminded about the case.
        for moment in (london(2027, 6, 21), london(2027, 11, 23), london(2027, 12, 1)):
            assert [c for c in await reminders_at(h, moment) if REF in texts(c)] == []

        async with h.c.db.read() as conn:
            kinds = [r.kind for r in await conn.execute(select(t.events).where(t.events.c.case_id == case_id))]
            denied = [r.detail for r in await conn.execute(select(t.events).where(t.events.c.kind == "access_denied"))]
            setup = (await conn.execute(select(t.reviews.c.setup, t.reviews.c.late_reason))).one()
        assert {"review_set_up", "review_agency_report", "review_progress_checked", "review_report_sent",
                "review_published"} <= set(kinds)
        assert denied.count({"action": "review_setup"}) == 2
        # Free text and names sealed at rest.
        assert "Jo Reviewer" not in str(setup.setup) and "criminal trial" not in str(setup.late_reason)


# ---- actions: reminded to the owner, escalated when overdue, done with evidence ------------------


async def test_an_action_is_reminded_to_its_owner_escalated_when_overdue_and_done_with_evidence(
        tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await held(h)
        for person in (A.DAN, A.LAURA):
            await h.say(person, "hello")
        card = card_of(await press(h, A.CHRIS, R.REVIEW_OPEN))
        owner = inputs(card)["owner_aad_id"]
        assert A.DAN.aad in {c["value"] for c in owner["choices"]}
        action = {"description": "Police to add a flag for repeat injuries to the child protection checklist.",
                  "owner_agency": "Police", "owner_aad_id": A.DAN.aad, "due_on": "2026-12-09",
                  "origin": "meeting"}
        # The referrer (not on the roster) may open their case but not add an action.
        assert refusal(await press(h, A.RILEY, R.ACTION_ADD, **action)) == "Only a partnership manager or the " \
                                                                            "chair can do that."
        # An owner who is not on the roster is refused, on the card.
        body = card_of(await press(h, A.CHRIS, R.ACTION_ADD, **{**action, "owner_aad_id": A.MALLORY.aad}))
        assert "roster" in errors(body)[0]
        card = card_of(await press(h, A.CHRIS, R.ACTION_ADD, **action))
        assert "Action 1 · Rapid review meeting" in texts(card)
        [row] = [r for r in (await rows(h, case_id)).values() if r.step_id.startswith("action_")]
        assert row.due_at == london(2026, 12, 9, 17, 0) and row.label == "Action 1 (Police)"

        due = [c for c in await reminders_at(h, london(2026, 12, 9)) if "Action 1" in texts(c)]
        assert len(due) == 1 and "**Due today**" in texts(due[0])
        assert mentioned(due[0]) == {A.DAN.aad}  # the owner only
        assert "flag for repeat injuries" not in texts(due[0])  # the action's text stays off the channel
        overdue = [c for c in await reminders_at(h, london(2026, 12, 10)) if "Action 1" in texts(c)]
        assert len(overdue) == 1 and "Escalated to" in texts(overdue[0])
        assert mentioned(overdue[0]) == {A.DAN.aad, A.PAT.aad}  # to the partnership manager

        data = find_action(card, R.ACTION_DONE)
        assert refusal(await h.press(A.LAURA, R.ACTION_DONE, {**data, "evidence": "Checklist updated."})) == (
            f"Only {A.DAN.name}, who owns this action, or a partnership manager can mark it done.")
        body = card_of(await h.press(A.DAN, R.ACTION_DONE, {**data, "evidence": "Done; call 0161 496 0000."}))
        assert "phone number" in errors(body)[0]
        card = card_of(await h.press(A.DAN, R.ACTION_DONE, {
            **data, "evidence": "Checklist version 4 issued to all response officers on 10 December."}))
        assert "Checklist version 4 issued" in texts(card)
        assert (await rows(h, case_id))[row.step_id].status == "done"
        assert [c for c in await reminders_at(h, london(2026, 12, 11)) if "Action 1" in texts(c)] == []
        async with h.c.db.read() as conn:
            stored = (await conn.execute(select(t.case_actions.c.description, t.case_actions.c.evidence))).one()
        assert "Checklist" not in str(stored.evidence) and "flag" not in str(stored.description)


# ---- the desk-top reviews and the 7-minute briefing ---------------------------------------------------


async def test_desk_top_reviews_at_6_and_12_months_never_fall_after_the_month_mark(
        tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await decide(h)
        steps = await rows(h, case_id)
        six, twelve = steps["desk_top_review_6_months"], steps["desk_top_review_12_months"]
        decided_on = six.anchor_at.astimezone(LONDON).date()
        assert decided_on == date(2026, 11, 23)
        # 23 May 2027 is a Sunday: the working day before, never the Monday after.
        assert six.due_at == london(2027, 5, 21, 17, 0)
        assert twelve.due_at == london(2027, 11, 23, 17, 0)
        for row, months in ((six, 6), (twelve, 12)):
            mark = h.c.services.calendar.add_months(decided_on, months)
            assert row.due_at.astimezone(LONDON).date() <= mark
        timeline = await h.say(A.PAT, f"timeline {REF}")
        assert "Desk-top review of the rapid review decision (6 months)" in texts(timeline)


async def test_the_7_minute_briefing_opens_in_word_with_the_learning_in_it(tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        await held(h)
        card = card_of(await press(h, A.PAT, R.REVIEW_OPEN))
        assert LEARNING not in texts(card)
        assert refusal(await press(h, A.LAURA, R.LEARNING_RECORD, learning=LEARNING)) == (
            "Only a partnership manager or the chair can do that.")
        card = card_of(await press(h, A.PAT, R.LEARNING_RECORD, learning=LEARNING))
        assert LEARNING in texts(card)
        card_of(await press(h, A.PAT, R.ACTION_ADD, description="Health to audit GP sharing of injury concerns.",
                            owner_agency="NHS acute trust", owner_aad_id=A.NINA.aad,
                            due_on="2027-01-29", origin="meeting"))

        # In the channel: the link is not shown there (refused and audited, like every file and link).
        assert "personal chat" in refusal(await press(h, A.PAT, R.LEARNING_BRIEFING, channel=True))
        link = card_of(await press(h, A.PAT, R.LEARNING_BRIEFING))
        url = open_urls(link)["Open the 7-minute briefing (.docx)"]
        path = url.removeprefix("http://localhost:3978")
        response = await h.client.get(path)
        assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
        doc = Document(io.BytesIO(await response.read()))
        headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
        assert list(BRIEFING_SECTIONS) == headings
        text = "\n".join(p.text for p in doc.paragraphs)
        assert LEARNING in text and OUTCOME["rationale"] in text and OUTCOME["immediate_actions"] in text
        cells = "\n".join(c.text for table in doc.tables for r in table.rows for c in r.cells)
        assert "Health to audit GP sharing of injury concerns." in cells
        assert "OFFICIAL-SENSITIVE" in doc.sections[0].header.paragraphs[0].text
        everything = text + cells + doc.sections[0].footer.paragraphs[0].text
        assert not [c for c in CANARIES if c.lower() in everything.lower()]
        assert (await h.client.get(path)).status == 410  # a link works once
        # or as a file to save in her own OneDrive: Teams' file consent card, in her chat only
        offered = card_of(await press(h, A.PAT, R.LEARNING_BRIEFING_FILE))
        assert "Press **Allow**" in texts(offered)
        find_action(offered, R.LEARNING_BRIEFING)  # the one-time link stays the fallback
        await h.flush()
        consents = [(s.conversation_id, a) for s in h.connector.sent_activities() for a in s.attachments
                    if a.get("contentType") == FILE_CONSENT]
        assert [(c, a["name"]) for c, a in consents] == [(A.PAT.chat, f"{REF}-7-minute-briefing.docx")]
        assert "personal chat" in refusal(await press(h, A.PAT, R.LEARNING_BRIEFING_FILE, channel=True))
        assert refusal(await press(h, A.LAURA, R.LEARNING_BRIEFING_FILE)) == (
            "Only a partnership manager or the chair can do that.")
        async with h.c.db.read() as conn:
            kinds = [r.kind for r in await conn.execute(select(t.events.c.kind))]
        assert "briefing_downloaded" in kinds and "learning_recorded" in kinds


async def test_a_briefing_without_learning_is_refused_and_the_referrer_cannot_get_one(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        await held(h, learning="")
        body = await press(h, A.PAT, R.LEARNING_BRIEFING)
        assert "no learning recorded yet" in body["value"]
        assert refusal(await press(h, A.RILEY, R.LEARNING_BRIEFING)) == (
            "Only a partnership manager or the chair can do that.")
        assert cards_to(h, A.PAT.chat, "7-minute briefing:") == []
