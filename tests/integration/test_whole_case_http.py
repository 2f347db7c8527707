"""A whole case from the referral dialog to `closed`, once per pathway, on each Teams edge
(botbuilder and the Microsoft 365 Agents SDK), on SQLite and PostgreSQL:
every step a message or a press on a card the bot sent, posted to /api/messages; the clock
moved only by the injected clock; the store read, never written, by the test
(tests/support/whole_case.py).

Dates (Europe/London, the example partnership's Stockport profile): Riley refers on Mon 23 Nov
2026 and the panel decides that day; a rapid review meeting is booked for Wed 2 Dec 10:00–12:00;
the report is due with the National Panel 15 working days from the referral (Mon 14 Dec); a
local review commissioned at the meeting is due to be published by Wed 2 Jun 2027; a hand-over
is due 10 working days from the decision (Mon 7 Dec), when a "no further action" decision's
challenge period also ends.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.adapters.documents import SUBMISSION_SECTIONS
from bot.domain.lifecycle import CaseStatus
from bot.services.closing import TOGGLE
from cards import report_cards as R
from cards import review_cards as V
from tests.support import activities as A
from tests.support import whole_case as W
from tests.support.harness import CANARY_CHILD, BotHarness, texts, walk


async def test_rapid_review_without_a_local_review_closes_after_the_desk_top_reviews(
        tmp_path: Path, database_url: str, edge: str) -> None:
    """The National Panel agrees; the case waits for the partnership manager's desk-top reviews
    at 6 and 12 months (Stockport Rapid Review Process (2019), 'Scrutiny & Challenge') before it
    closes: closing earlier lists them and does not close."""
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await W.refer(h)
        await W.decide(h, "rapid_review")
        await W.national_panel_notified(h, "2026-11-23")
        await W.hold_meeting(h, local_review=False)
        letter = await W.family_told(h, A.NINA, "2026-12-04")
        W.assert_letter_filled(letter, CANARY_CHILD, "Nina Health")
        sent = await W.report_sent(h, comments_at=W.london(2026, 12, 3, 9), sent_at=W.london(2026, 12, 4))
        W.assert_every_section_filled(await W.national_panel_copy(h, sent), SUBMISSION_SECTIONS)
        await W.at(h, W.london(2026, 12, 9))
        answered = await W.national_panel_answers(h, sent, "agrees")
        reason = "The National Panel agrees no further review is needed."

        early = await W.press(h, A.PAT, answered, R.CLOSE, closure="no_further_review", reason=reason)
        said = texts(early)
        assert "Closing now would stop work still open" in said
        assert "Desk-top review of the rapid review decision (6 months), due Fri 21 May 2027" in said
        assert "(12 months), due Tue 23 Nov 2027" in said
        assert await W.status(h) is CaseStatus.REPORT_SUBMITTED
        assert TOGGLE in {e.get("id") for e in walk(early)}  # the card offers Close anyway

        for moment, step in ((W.london(2027, 5, 21), "desk_top_review_6_months"),
                             (W.london(2027, 11, 23), "desk_top_review_12_months")):
            await W.at(h, moment)
            assert (await W.mark_done(h, A.PAT, step))["statusCode"] == 200
        card = await W.report_card(h, A.PAT)
        assert "Still open" not in texts(card) and TOGGLE not in {e.get("id") for e in walk(card)}
        closed = await W.press(h, A.PAT, card, R.CLOSE, closure="no_further_review", reason=reason)
        assert reason in texts(closed)
        closing = await W.assert_closed_for_good(h)
        assert closing["closure"] == "no_further_review" and "closed_anyway" not in closing


async def test_rapid_review_with_a_local_review_closes_when_the_review_is_published(
        tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await W.refer(h)
        await W.decide(h, "rapid_review")
        await W.hold_meeting(h, local_review=True)
        sent = await W.report_sent(h, comments_at=W.london(2026, 12, 3, 9), sent_at=W.london(2026, 12, 4))
        W.assert_every_section_filled(await W.national_panel_copy(h, sent), SUBMISSION_SECTIONS)
        await W.at(h, W.london(2026, 12, 9))
        answered = await W.national_panel_answers(h, sent, "agrees")
        await W.press(h, A.PAT, answered, R.CLOSE, closure="review_commissioned",
                      reason="The partners commission a local review, as the meeting recommended.")
        assert await W.status(h) is CaseStatus.REVIEW_COMMISSIONED
        # Published within the six months; the desk-top reviews (6 and 12 months from the decision)
        # and the National Panel notification nobody marked are still open: closed anyway, with why.
        refused = await W.local_review_to_publication(h, sent_on=W.london(2027, 5, 10),
                                                      published_on=W.london(2027, 5, 20))
        said = texts(refused)
        assert "Closing now would stop work still open" in said and "(12 months), due Tue 23 Nov 2027" in said
        assert "Local authority notifies the National Panel" in said
        assert await W.status(h) is CaseStatus.REVIEW_COMMISSIONED
        why = "The desk-top reviews are carried out in the partnership's review tracker."
        published = await W.press(h, A.PAT, refused, V.REVIEW_PUBLISHED, published_on=W.today(h),
                                  close_anyway="true", close_reason=why)
        assert "Closed" in texts(published)
        closing = await W.assert_closed_for_good(h)
        assert closing["from"] == "review_commissioned" and closing["late"] is False
        assert closing["closed_anyway"] is True
        assert {"desk_top_review_6_months", "desk_top_review_12_months", "notify_national_panel"} <= set(
            closing["stopped"])
        audited = json.dumps([e.detail for e in await h.c.stores.cases.events_for_case(await W.case_id(h))])
        assert why not in audited  # the reason is kept sealed with the case, audited without its text
        kept = await h.c.stores.deadlines.case_records(await W.case_id(h), "closed_anyway")
        assert kept[""]["reason"] == why and kept[""]["by"] == "Pat Manager"


async def test_practice_review_closes_when_its_owner_confirms_the_hand_over(tmp_path: Path,
                                                                             database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await W.refer(h)
        await W.decide(h, "practice_review")
        await W.hand_over(h, "learning_review", A.NINA, "Police,GP / primary care")
        assert await W.status(h) is CaseStatus.HANDED_OVER
        letter = await W.family_told(h, A.LAURA, "2026-11-30")
        W.assert_letter_filled(letter, CANARY_CHILD, "Laura LocalAuthority")
        await W.at(h, W.london(2026, 12, 3))
        confirmed = await W.confirm_hand_over(h, A.NINA)
        assert "The case is closed." in texts(confirmed)
        closing = await W.assert_closed_for_good(h)
        assert closing["because"] == "handover_confirmed"


async def test_escalation_closes_when_its_owner_confirms_the_hand_over(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await W.refer(h)
        await W.decide(h, "escalation")
        await W.hand_over(h, "escalation", A.DAN)
        await W.at(h, W.london(2026, 12, 8, 9, 1))  # overdue: reminded to Dan and the chair
        confirmed = await W.confirm_hand_over(h, A.DAN)
        assert "The case is closed." in texts(confirmed)
        closing = await W.assert_closed_for_good(h)
        assert closing["because"] == "handover_confirmed"


async def test_no_further_action_closes_after_the_challenge_period(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await W.refer(h)
        await W.decide(h, "no_further_action")
        await W.at(h, W.london(2026, 12, 7, 16, 59))
        assert await W.status(h) is CaseStatus.DECIDED
        await W.at(h, W.london(2026, 12, 7, 17, 0))
        closing = await W.assert_closed_for_good(h)
        assert closing["because"] == "challenge_period_passed" and closing["from"] == "decided"


async def test_a_query_answered_by_the_referrer_then_decided_and_closed(tmp_path: Path, database_url: str, edge: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url, edge=edge) as h:
        await W.refer(h)
        await W.query_answered_then_decided(h, "practice_review",
                                            question="When did the GP last see the child before the admission?",
                                            answer="At the surgery on 17 November; nothing was recorded then.")
        await W.hand_over(h, "action_learning", A.LAURA)
        confirmed = await W.confirm_hand_over(h, A.LAURA)
        assert "The case is closed." in texts(confirmed)
        closing = await W.assert_closed_for_good(h)
        assert closing["because"] == "handover_confirmed"
        kinds = [e.kind for e in await h.c.stores.cases.events_for_case(await W.case_id(h))]
        assert "query_answered" in kinds
