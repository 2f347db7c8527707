"""The rapid review after the meeting, end to end through /api/messages on both databases: the
report started from the meeting's outcome, comments per partner, the final draft, the chair's
and a partnership manager's sign-off, the National Panel's copy as a Word document, "sent", the
National Panel asking for more, the resubmission, its agreement and the case closed — then no
reminder ever again (docs/architecture.md, Lifecycle; bot/services/report.py).

Dates (Europe/London, GMT): the panel decides on Mon 23 Nov 2026; the stockport profile books
the meeting on Wed 2 Dec 10:00–12:00; the report's comments are due 2 working days after it
is started; the report is due with the National Panel 15 working days from the referral (Mon
14 Dec).
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.documents import SUBMISSION_SECTIONS
from bot.domain.case import CaseStatus
from bot.domain.events import EventKind
from bot.domain.report import Stage
from bot.domain.timeline import Anchor
from bot.services import deadlines
from cards import meeting_cards as M
from cards import report_cards as R
from cards.clock_cards import AGENCIES_RECORD
from cards.file_cards import FILE_CONSENT
from tests.integration.test_meeting_graph import (
    CANARIES,
    REF,
    cards_to,
    deadline_rows,
    decide,
    meeting_of,
    path_of,
    walk_to_outcome_card,
)
from tests.support import activities as A
from tests.support.harness import CANARY_CHILD, BotHarness, find_action, texts, walk, without_reference
from tests.support.whole_case import sections

LONDON = ZoneInfo("Europe/London")
OUTCOME = {"local_cspr": "no", "national_review": "no",
           "rationale": "The agencies' learning is already identified; the criteria for a local review are not met.",
           "participants": "Laura LocalAuthority, Dan Police, Nina Health, Chris Chair",
           "immediate_actions": "Safety plan in place for siblings.",
           "learning": "Information sharing between school and GP was slow.",
           "agencies_involved": "Children's social care, police, the GP practice and the school.",
           "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}
DISSEMINATION = "A 7-minute briefing to every partner agency by 31 January."
ADDITIONAL = "How the school shares concerns with the GP out of hours."
NO_FURTHER = "The single-agency reviews already cover the learning; a local review would add nothing."
FURTHER = "The GP practice's chronology is attached as the National Panel asked."


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


async def press(h: BotHarness, who: A.Person, verb: str, **data: Any) -> dict[str, Any]:
    return await h.press(who, verb, {"verb": verb, "action": verb, "ref": REF, **data})


def refusal(body: dict[str, Any]) -> str:
    assert body["statusCode"] != 200 or isinstance(body["value"], str), body
    value = body["value"]
    return without_reference(value["message"] if isinstance(value, dict) else value)


async def status(h: BotHarness) -> CaseStatus:
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    return case.summary.status


async def stored(h: BotHarness, case_id: str) -> Any:
    found = await h.c.services.reports.get(case_id)
    assert found is not None
    return found[0]


async def docx_of(h: BotHarness, who: A.Person) -> Any:
    body = await press(h, who, R.DOCUMENT)
    urls = [a["url"] for a in walk(body["value"]) if a.get("type") == "Action.OpenUrl"]
    assert len(urls) == 1, body
    response = await h.client.get(path_of(urls[0]))
    assert response.status == 200
    assert response.headers["Content-Disposition"].endswith('-rapid-review-report.docx"')
    return Document(io.BytesIO(await response.read()))


def channel_texts(h: BotHarness) -> str:
    return json.dumps([a.activity for a in h.connector.activities_to(A.PANEL_CHANNEL_ID, include_updates=True)],
                      ensure_ascii=False)


async def test_report_comments_sign_off_national_panel_resubmission_and_closure(tmp_path: Path,
                                                                               database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await decide(h)
        for person in (A.LAURA, A.DAN, A.DEE, A.NINA, A.MALLORY):  # their personal chats with the bot
            await h.say(person, "help")
        outcome_card = await walk_to_outcome_card(h, case_id)
        body = await h.press(A.CHRIS, M.OUTCOME, {**find_action(outcome_card, M.OUTCOME), **OUTCOME})
        assert body["statusCode"] == 200, body
        await h.flush()
        assert await status(h) is CaseStatus.MEETING_HELD

        # ---- the report is started from the record card the meeting's outcome sent ------------------
        [record_card] = cards_to(h, A.PAT.chat, M.RECORD_TITLE)
        start = find_action(record_card, R.START)
        stranger = await h.press(A.MALLORY, R.START, start)
        assert stranger["statusCode"] == 403
        laura = await h.press(A.LAURA, R.START, start)
        assert laura["statusCode"] == 403 and "chair or a partnership manager" in refusal(laura)
        assert await status(h) is CaseStatus.MEETING_HELD and await h.c.services.reports.get(case_id) is None

        h.clock.set(london(2026, 12, 2, 14))
        body = await h.press(A.PAT, R.START, start)
        assert body["statusCode"] == 200, body
        assert "Report started" in texts(body["value"])
        assert await status(h) is CaseStatus.REPORT_IN_DRAFT
        rows = await deadline_rows(h, case_id)
        assert rows["comments_on_draft_report"].due_at == london(2026, 12, 4, 17)  # 2 working days
        assert rows["comments_on_draft_report"].status == "open"
        report = await stored(h, case_id)
        assert report.seats == ["local_authority", "police", "health", "chair"]
        assert report.comments_due_at == london(2026, 12, 4, 17)

        # `timeline RR-…` brings the report card back
        timeline = await h.say(A.PAT, f"timeline {REF}")
        assert isinstance(timeline, dict)
        reopened = await h.press(A.PAT, R.OPEN, find_action(timeline, R.OPEN))
        assert "Rapid review report: " + REF in texts(reopened["value"])

        # ---- comments, per partner: each asked in personal chat with the draft ----------------------
        await h.flush()
        for person in (A.LAURA, A.DAN, A.DEE, A.NINA, A.CHRIS):
            [asked] = cards_to(h, person.chat, "ready for your comments")
            assert "Fri 04 Dec 2026, 17:00" in texts(asked)
        assert not cards_to(h, A.MALLORY.chat, "ready for your comments")
        [asked] = cards_to(h, A.LAURA.chat, "ready for your comments")
        comment = find_action(asked, R.COMMENT)
        h.clock.set(london(2026, 12, 3, 9))
        refused = await h.press(A.NINA, R.COMMENT, {**comment, "comment": "Call the mother on 07700 900123."})
        assert "phone number" in texts(refused["value"])  # on the card, next to the box, with what was typed
        assert (await stored(h, case_id)).comments == []
        assert (await h.press(A.LAURA, R.COMMENT, {**comment, "comment": "Add the school's view."}))["statusCode"] == 200
        assert (await h.press(A.DAN, R.COMMENT, {**comment, "comment": "Police disclosure dates are right."})
                )["statusCode"] == 200
        report = await stored(h, case_id)
        assert [(c.seat, c.author_name, c.text) for c in report.comments] == [
            ("local_authority", "Laura LocalAuthority", "Add the school's view."),
            ("police", "Dan Police", "Police disclosure dates are right.")]
        assert Anchor.COMMENTS_RECEIVED not in await h.c.services.deadlines.anchors(case_id)  # health, chair to come
        stranger = await h.press(A.MALLORY, R.COMMENT, {**comment, "comment": "Hello"})
        assert stranger["statusCode"] == 403

        # ---- the items nothing on the case gives are asked for on the card ---------------------------
        assert "fill in" in refusal(await press(h, A.PAT, R.FINAL)).lower()
        edit = (await press(h, A.PAT, R.EDIT))["value"]
        save = find_action(edit, R.SAVE)
        body = await h.press(A.PAT, R.SAVE, {**save, "dissemination_plan": DISSEMINATION,
                                              "additional_learning": ADDITIONAL, "no_further_learning": NO_FURTHER})
        assert body["statusCode"] == 200 and "Report saved" in texts(body["value"])

        # a panel member cannot sign off; nobody signs before the final draft
        laura = await press(h, A.LAURA, R.SIGN)
        assert laura["statusCode"] == 403 and "chair and a partnership manager sign off" in refusal(laura)
        assert "once the partnership manager has sent the final draft" in refusal(await press(h, A.CHRIS, R.SIGN))

        # ---- the final draft: comments closed by the manager, the anchor dated ------------------------
        h.clock.set(london(2026, 12, 3, 15))
        body = await press(h, A.PAT, R.FINAL)
        assert body["statusCode"] == 200, body
        anchors = await h.c.services.deadlines.anchors(case_id)
        assert anchors[Anchor.COMMENTS_RECEIVED] == london(2026, 12, 3, 15)
        rows = await deadline_rows(h, case_id)
        assert rows["comments_on_draft_report"].status == "done"
        assert (await stored(h, case_id)).stage is Stage.SIGN_OFF
        # the comment request is no longer live: pressing it says so and shows the report as it stands
        late = await h.press(A.NINA, R.COMMENT, {**comment, "comment": "Late comment."})
        assert late["statusCode"] == 200, late
        shown = texts(late["value"])
        assert "Comments on this report are closed" in shown and "your comment was not recorded" in shown
        assert "Report: Final draft — with the chair and a partnership manager for sign-off" in shown
        assert R.COMMENT not in json.dumps(late["value"]) and "Late comment." not in json.dumps(late["value"])
        assert "Late comment." not in [c.text for c in (await stored(h, case_id)).comments]

        # sending before both sign-offs is refused, and nothing is lost
        sent = await press(h, A.PAT, R.SENT, sent_on="2026-12-03")
        assert "Still to sign off: the chair and a partnership manager" in texts(sent["value"]) + refusal(sent)
        assert (await stored(h, case_id)).stage is Stage.SIGN_OFF and await status(h) is CaseStatus.REPORT_IN_DRAFT

        await h.flush()
        assert cards_to(h, A.CHRIS.chat, "ready for sign-off") and cards_to(h, A.PAT.chat, "ready for sign-off")
        h.clock.set(london(2026, 12, 3, 16))
        assert (await press(h, A.CHRIS, R.SIGN))["statusCode"] == 200
        again = await press(h, A.CHRIS, R.SIGN)
        assert "already signed off" in refusal(again)
        sent = await press(h, A.PAT, R.SENT, sent_on="2026-12-03")
        assert "Still to sign off: a partnership manager" in texts(sent["value"]) + refusal(sent)
        h.clock.set(london(2026, 12, 3, 16, 30))
        body = await press(h, A.PAT, R.SIGN)
        assert "Both sign-offs are in" in texts(body["value"])
        report = await stored(h, case_id)
        assert (report.chair_sign_off.name, report.chair_sign_off.at) == ("Chris Chair", london(2026, 12, 3, 16))
        assert (report.manager_sign_off.name, report.manager_sign_off.at) == ("Pat Manager",
                                                                              london(2026, 12, 3, 16, 30))

        # ---- the National Panel's copy: every section from its source on the case --------------------
        shown = sections(await docx_of(h, A.PAT))
        assert list(shown) == list(SUBMISSION_SECTIONS[:12]) + [SUBMISSION_SECTIONS[12], SUBMISSION_SECTIONS[13]]
        assert "To: the Child Safeguarding Practice Review Panel." in shown["Covering letter"]
        assert "rapid review meeting: 02 December 2026" in shown["Covering letter"]
        assert "serious incident of 20 November 2026 (serious harm)" in shown["Covering letter"]
        assert "Working Together to Safeguard Children (2023)" in shown["Criteria considered"]
        assert shown["Immediate safeguarding arrangements"] == OUTCOME["immediate_actions"]
        assert shown["Summary of the facts"] == "Admitted to hospital with unexplained injuries."
        assert shown["Decision on a local child safeguarding practice review"] == (
            "Criteria for a local child safeguarding practice review met: No.\nGrounds: " + OUTCOME["rationale"])
        assert shown["Recommendation on a national review"] == "National review recommended: No."
        assert shown["Immediate learning and plans for its dissemination"] == (
            f"Immediate learning: {OUTCOME['learning']}\nDissemination: {DISSEMINATION}")
        assert shown["Potential for additional learning"] == ADDITIONAL  # the panel's view, not the referrer's
        assert "Missed signs" not in json.dumps(shown)  # the referrer's key issues are not the panel's view
        assert shown["Why no further learning is expected"] == NO_FURTHER
        assert shown["Further information the National Panel asked for"] == (
            "Not applicable: this is the first submission.")
        assert shown["Agencies involved"] == OUTCOME["agencies_involved"]
        assert OUTCOME["participants"] in shown["Who took part in the decision"]
        assert "Laura LocalAuthority" in shown["Who took part in the decision"].split("Virtual panel decision:")[1]
        assert shown["Sign-off"] == ("Chair: Chris Chair, 03 December 2026 at 16:00\n"
                                     "Partnership manager: Pat Manager, 03 December 2026 at 16:30")
        table = (await docx_of(h, A.CHRIS)).tables[0]
        assert table.rows[1].cells[0].text == CANARY_CHILD
        marked = await docx_of(h, A.PAT)
        assert marked.sections[0].header.paragraphs[0].text.startswith("OFFICIAL-SENSITIVE — " + REF)
        assert marked.sections[0].footer.paragraphs[0].text.startswith("OFFICIAL-SENSITIVE. " + REF)
        laura = await press(h, A.LAURA, R.DOCUMENT)
        assert laura["statusCode"] == 403
        # or as a file in the manager's own OneDrive: Teams' file consent card, to her chat only
        offered = await press(h, A.PAT, R.DOCUMENT_FILE)
        assert offered["statusCode"] == 200 and "Press **Allow**" in texts(offered["value"])
        await h.flush()
        consents = [(s.conversation_id, a) for s in h.connector.sent_activities() for a in s.attachments
                    if a.get("contentType") == FILE_CONSENT]
        assert [c for c, _ in consents] == [A.PAT.chat]
        assert consents[0][1]["name"] == f"{REF}-rapid-review-report.docx"
        assert (await press(h, A.LAURA, R.DOCUMENT_FILE))["statusCode"] == 403

        # ---- sent: the 15-working-day step done by the manager, the case moves ------------------------
        h.clock.set(london(2026, 12, 4, 10))
        assert "in the future" in texts((await press(h, A.PAT, R.SENT, sent_on="2026-12-05"))["value"])
        body = await press(h, A.PAT, R.SENT, sent_on="2026-12-04")
        assert body["statusCode"] == 200 and "Recorded as sent" in texts(body["value"])
        assert await status(h) is CaseStatus.REPORT_SUBMITTED
        rows = await deadline_rows(h, case_id)
        step = rows["report_to_national_panel"]
        assert (step.status, step.done_on, step.done_by_name) == ("done", date(2026, 12, 4), "Pat Manager")
        assert (await h.c.services.deadlines.anchors(case_id))[Anchor.REPORT_SUBMITTED] == london(2026, 12, 4)

        # ---- the National Panel asks for more: the report reopens with its own deadline ---------------
        h.clock.set(london(2026, 12, 9, 11))
        body = await press(h, A.PAT, R.RESPONSE, response="more_information", response_on="2026-12-08",
                           asked_for="")
        assert "Say what the National Panel asked for" in texts(body["value"])
        assert await status(h) is CaseStatus.REPORT_SUBMITTED
        body = await press(h, A.PAT, R.RESPONSE, response="more_information", response_on="2026-12-08",
                           asked_for="The GP practice's chronology.")
        assert "reopened" in texts(body["value"])
        assert await status(h) is CaseStatus.REPORT_IN_DRAFT
        rows = await deadline_rows(h, case_id)
        assert rows["resubmit_to_national_panel"].due_at == london(2026, 12, 15, 17)  # 5 WD from Tue 8 Dec
        assert rows["resubmit_to_national_panel"].status == "open"
        report = await stored(h, case_id)
        assert (report.round, report.stage, report.chair_sign_off) == (2, Stage.DRAFT, None)

        edit = (await press(h, A.PAT, R.EDIT))["value"]
        assert "further_information" in {e.get("id") for e in walk(edit)}
        assert "fill in" in refusal(await press(h, A.PAT, R.FINAL)).lower()
        await h.press(A.PAT, R.SAVE, {**find_action(edit, R.SAVE), "further_information": FURTHER})
        assert (await press(h, A.PAT, R.FINAL))["statusCode"] == 200
        assert (await press(h, A.CHRIS, R.SIGN))["statusCode"] == 200
        assert (await press(h, A.PAT, R.SIGN))["statusCode"] == 200
        resubmitted = sections(await docx_of(h, A.PAT))
        assert resubmitted["Further information the National Panel asked for"] == (
            f"Asked on 08 December 2026: The GP practice's chronology.\n{FURTHER}")
        h.clock.set(london(2026, 12, 10, 10))
        assert (await press(h, A.PAT, R.SENT, sent_on="2026-12-10"))["statusCode"] == 200
        assert await status(h) is CaseStatus.REPORT_SUBMITTED
        rows = await deadline_rows(h, case_id)
        assert (rows["resubmit_to_national_panel"].status, rows["resubmit_to_national_panel"].done_on) == (
            "done", date(2026, 12, 10))

        # ---- it agrees; the case closes with a reason ------------------------------------------------
        early = await press(h, A.PAT, R.CLOSE, closure="no_further_review", reason="Agreed.")
        assert "Record the National Panel's response first" in refusal(early)
        h.clock.set(london(2026, 12, 14, 10))
        assert (await press(h, A.PAT, R.RESPONSE, response="agrees", response_on="2026-12-11",
                            asked_for=""))["statusCode"] == 200
        assert "Give the reason" in texts((await press(h, A.PAT, R.CLOSE, closure="no_further_review",
                                                        reason=""))["value"])
        laura = await press(h, A.LAURA, R.CLOSE, closure="no_further_review", reason="Done.")
        assert laura["statusCode"] == 403
        # the desk-top reviews, the family step and the notification are still open: closed anyway
        body = await press(h, A.PAT, R.CLOSE, closure="no_further_review",
                           reason="The National Panel agrees no further review is needed.")
        assert "Closing now would stop work still open" in texts(body["value"])
        assert await status(h) is CaseStatus.REPORT_SUBMITTED
        body = await press(h, A.PAT, R.CLOSE, closure="no_further_review", close_anyway="true",
                           reason="The National Panel agrees no further review is needed.")
        assert body["statusCode"] == 200, body
        assert await status(h) is CaseStatus.CLOSED
        report = await stored(h, case_id)
        assert report.closure_reason == "The National Panel agrees no further review is needed."
        rows = await deadline_rows(h, case_id)
        assert not [r.step_id for r in rows.values() if r.status in ("open", "pending")]
        assert all(r.next_reminder_at is None for r in rows.values())

        # the channel's case card shows the closed state; every notice there is status only
        await h.flush()
        assert cards_to(h, A.PANEL_CHANNEL_ID, "no further review. Every deadline and reminder for it has stopped")
        cards = [a.activity["attachments"][0]["content"] for a in h.connector.updates()
                 if a.conversation_id.startswith(A.PANEL_CHANNEL_ID) and a.activity.get("attachments")]
        assert "Status: Closed" in texts(cards[-1])
        channel = channel_texts(h)
        for canary in CANARIES + ("Add the school's view", DISSEMINATION, "chronology", "agrees no further"):
            assert canary not in channel, canary
        for said in ("report signed off by the chair", "report sent to the National Panel",
                     "asks for more information; the report is reopened"):
            assert said in channel.replace("Report signed", "report signed").replace("Report sent", "report sent"), said

        # every change audited: who, when, kinds, seats and dates — never the texts
        async with h.c.db.read() as conn:
            audited = (await conn.execute(select(t.events.c.kind, t.events.c.actor_name, t.events.c.detail)
                                          .where(t.events.c.case_id == case_id).order_by(t.events.c.id))).all()
        kinds = [row.kind for row in audited]
        for kind, count in ((EventKind.REPORT_STARTED, 1), (EventKind.REPORT_COMMENTED, 2),
                            (EventKind.REPORT_FINAL_DRAFT, 2), (EventKind.REPORT_SIGNED_OFF, 4),
                            (EventKind.REPORT_SENT, 2), (EventKind.NATIONAL_PANEL_RESPONDED, 2),
                            (EventKind.CASE_CLOSED, 1)):
            assert kinds.count(kind.value) == count, kind
        moves = [row.detail["to"] for row in audited if row.kind == EventKind.CASE_MOVED.value]
        assert moves[-5:] == ["report_in_draft", "report_submitted", "report_in_draft", "report_submitted", "closed"]
        written = json.dumps([list(row) for row in audited], default=str)
        for text in ("Add the school's view", DISSEMINATION, ADDITIONAL, NO_FURTHER, FURTHER, "chronology",
                     "agrees no further", "07700"):
            assert text not in written, text

        # ---- no reminder fires afterwards, whatever the clock says ------------------------------------
        before = len(h.connector.activities_to(A.PANEL_CHANNEL_ID))
        for days in (1, 30, 200, 400):
            h.clock.set(london(2026, 12, 14, 10) + timedelta(days=days))
            assert await deadlines.sweep(h.c.services) == 0
            await h.flush()
        assert len(h.connector.activities_to(A.PANEL_CHANNEL_ID)) == before
        assert (await meeting_of(h, case_id)).status == "held"

        # `timeline RR-…` of the closed case: every step done or stopped — none shown as due or
        # pending, and no agency asked for anything (as the browser walk found them)
        timeline = await h.say(A.PAT, f"timeline {REF}")
        assert isinstance(timeline, dict)
        shown = texts(timeline)
        assert "Closed" in shown and "stopped: the case is closed" in shown
        for word in ("due ", "pending", "overdue", "No information requests to agencies"):
            assert word not in shown, word
        assert AGENCIES_RECORD not in json.dumps(timeline)


async def test_review_commissioned_after_the_national_panel_answers(tmp_path: Path) -> None:
    """"Review commissioned" is the other end of a rapid review: the case moves on (the local
    review itself is not built here), the REVIEW_COMMISSIONED anchor is dated and the local review's
    6-month step appears."""
    async with BotHarness(tmp_path) as h:
        case_id = await decide(h)
        outcome_card = await walk_to_outcome_card(h, case_id)
        await h.press(A.CHRIS, M.OUTCOME, {**find_action(outcome_card, M.OUTCOME), **OUTCOME})
        await press(h, A.CHRIS, R.START)
        edit = (await press(h, A.CHRIS, R.EDIT))["value"]
        await h.press(A.CHRIS, R.SAVE, {**find_action(edit, R.SAVE), "dissemination_plan": DISSEMINATION,
                                        "additional_learning": ADDITIONAL, "no_further_learning": NO_FURTHER})
        chair_final = await press(h, A.CHRIS, R.FINAL)
        assert chair_final["statusCode"] == 403  # the partnership manager sends the final draft
        assert (await press(h, A.PAT, R.FINAL))["statusCode"] == 200
        await press(h, A.CHRIS, R.SIGN)
        await press(h, A.PAT, R.SIGN)
        today = h.clock.now().astimezone(LONDON).date().isoformat()
        assert (await press(h, A.PAT, R.SENT, sent_on=today))["statusCode"] == 200
        await press(h, A.PAT, R.RESPONSE, response="disagrees", response_on=today, asked_for="")
        body = await press(h, A.CHRIS, R.CLOSE, closure="review_commissioned",
                           reason="The National Panel asked us to reconsider; the partners commission a review.")
        assert body["statusCode"] == 200, body
        assert await status(h) is CaseStatus.REVIEW_COMMISSIONED
        anchors = await h.c.services.deadlines.anchors(case_id)
        assert Anchor.REVIEW_COMMISSIONED in anchors
        rows = await deadline_rows(h, case_id)
        assert rows["local_cspr_report"].status == "open" and rows["local_cspr_report"].due_at is not None
