"""The rapid review report's rules (bot/services/report.py) on the in-memory stores: comments
are in when every partner asked and the chair have commented; a change after a sign-off takes
the sign-offs away; two comments saved at once are both kept; a second request for more
information makes the resubmission due again; Surrey's draft and final-draft steps are done by
the report itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.domain.lifecycle import CaseStatus
from bot.domain.report import Stage
from bot.domain.timeline import Anchor
from bot.services import meeting, report
from bot.services.refusals import NotAuthorised, Refused
from tests.unit.services.flow import CHRIS, DAN, DEE, GOOD_OUTCOME, LAURA, NINA, PAT, RILEY, scheduled, services

FILLED = {"dissemination_plan": "A 7-minute briefing.", "additional_learning": "School and GP sharing.",
          "immediate_learning": "Share earlier.", "agencies_involved": "Police, GP, school.",
          "immediate_safeguarding": "Siblings safe.", "no_further_learning": "Covered elsewhere."}


async def _started(ctx, outcome=None):  # noqa: ANN001, ANN202
    case = await scheduled(ctx)
    await meeting.record_outcome(ctx, CHRIS, case.reference, outcome or GOOD_OUTCOME)
    await report.start(ctx, PAT, case.reference)
    return case


async def _rows(ctx, case):  # noqa: ANN001, ANN202
    return {d.step_id: d for d in await ctx.deadlines.deadlines(case.id)}


async def test_comments_are_in_when_every_partner_and_the_chair_have_commented() -> None:
    ctx = await services()
    case = await _started(ctx)
    for who in (LAURA, DAN, NINA):
        await report.comment(ctx, who, case.reference, f"From {who.name}.")
        assert Anchor.COMMENTS_RECEIVED not in await ctx.deadlines.anchors(case.id)
    await report.comment(ctx, DEE, case.reference, "The deputy for the police, again.")  # the police's seat twice
    ctx.clock.advance(hours=3)
    shown = await report.comment(ctx, CHRIS, case.reference, "The chair's view.")
    anchors = await ctx.deadlines.anchors(case.id)
    assert anchors[Anchor.COMMENTS_RECEIVED] == ctx.clock.now()
    assert shown.report is not None and shown.report.comments_closed_at == ctx.clock.now()
    assert (await _rows(ctx, case))["comments_on_draft_report"].status == "done"
    with pytest.raises(Refused, match="Comments on this report are closed"):
        await report.comment(ctx, LAURA, case.reference, "Late.")


async def test_a_second_comment_replaces_the_first_and_strangers_are_refused() -> None:
    ctx = await services()
    case = await _started(ctx)
    await report.comment(ctx, LAURA, case.reference, "First thought.")
    shown = await report.comment(ctx, LAURA, case.reference, "Second thought.")
    assert [c.text for c in shown.report.comments] == ["Second thought."]
    for who in (RILEY, PAT):  # the referrer is not on the roster; a manager does not comment, they edit
        with pytest.raises(NotAuthorised):
            await report.comment(ctx, who, case.reference, "Hello.")


async def test_two_comments_at_once_are_both_kept() -> None:
    ctx = await services()
    case = await _started(ctx)
    await asyncio.gather(report.comment(ctx, LAURA, case.reference, "Local authority."),
                         report.comment(ctx, NINA, case.reference, "Health."))
    stored = await ctx.reports.get(case.id)
    assert stored is not None and sorted(c.text for c in stored[0].comments) == ["Health.", "Local authority."]


async def test_a_change_after_a_sign_off_takes_the_sign_offs_away() -> None:
    ctx = await services()
    case = await _started(ctx)
    await report.save_items(ctx, PAT, case.reference, FILLED)
    await report.send_final(ctx, PAT, case.reference)
    await report.sign_off(ctx, CHRIS, case.reference)
    shown = await report.save_items(ctx, PAT, case.reference, {"dissemination_plan": "A lunch-and-learn."})
    assert shown.report.chair_sign_off is None and shown.report.stage is Stage.SIGN_OFF
    with pytest.raises(Refused, match="Still to sign off: the chair and a partnership manager"):
        await report.record_sent(ctx, PAT, case.reference, "2026-12-03")
    assert (await ctx.cases.get_case(case.reference)).summary.status is CaseStatus.REPORT_IN_DRAFT


async def test_only_a_manager_records_it_sent_and_a_chair_cannot_sign_twice() -> None:
    ctx = await services()
    case = await _started(ctx)
    await report.save_items(ctx, PAT, case.reference, FILLED)
    await report.send_final(ctx, PAT, case.reference)
    await report.sign_off(ctx, CHRIS, case.reference)
    with pytest.raises(Refused, match="already signed off"):
        await report.sign_off(ctx, CHRIS, case.reference)
    await report.sign_off(ctx, PAT, case.reference)
    today = ctx.clock.now().astimezone(ctx.tz).date().isoformat()
    with pytest.raises(Refused, match="Only a partnership manager"):
        await report.record_sent(ctx, CHRIS, case.reference, today)
    await report.record_sent(ctx, PAT, case.reference, today)
    assert (await ctx.cases.get_case(case.reference)).summary.status is CaseStatus.REPORT_SUBMITTED


async def test_asked_for_more_twice_the_resubmission_is_due_again() -> None:
    ctx = await services()
    case = await _started(ctx)
    await report.save_items(ctx, PAT, case.reference, FILLED)

    async def send_round(further: str | None) -> None:
        if further:
            await report.save_items(ctx, PAT, case.reference, {"further_information": further})
        await report.send_final(ctx, PAT, case.reference)
        await report.sign_off(ctx, CHRIS, case.reference)
        await report.sign_off(ctx, PAT, case.reference)
        await report.record_sent(ctx, PAT, case.reference, ctx.clock.now().astimezone(ctx.tz).date().isoformat())

    await send_round(None)
    for n, asked in enumerate(("The chronology.", "The school's records."), start=2):
        ctx.clock.advance(days=1)
        today = ctx.clock.now().astimezone(ctx.tz).date().isoformat()
        shown = await report.record_response(ctx, PAT, case.reference, "more_information", today, asked)
        assert shown.report.round == n
        step = (await _rows(ctx, case))["resubmit_to_national_panel"]
        assert step.status == "open" and step.done_on is None and step.due_at is not None
        await send_round(f"Answer {n}.")
        assert (await _rows(ctx, case))["resubmit_to_national_panel"].status == "done"
    assert (await _rows(ctx, case))["report_to_national_panel"].status == "done"


async def test_surrey_draft_and_final_draft_steps_are_done_by_the_report() -> None:
    ctx = await services(profile="surrey")
    case = await _started(ctx)
    rows = await _rows(ctx, case)
    assert rows["draft_outcome_report"].status == "done"
    assert rows["final_draft_to_chair_and_executive"].due_at is None  # counted from the comments
    await report.save_items(ctx, PAT, case.reference, FILLED)
    ctx.clock.advance(hours=20)
    await report.send_final(ctx, PAT, case.reference)
    rows = await _rows(ctx, case)
    assert rows["comments_on_draft_report"].status == "done"
    assert rows["final_draft_to_chair_and_executive"].status == "done"
    assert rows["final_draft_to_chair_and_executive"].due_at == ctx.clock.now() + timedelta(hours=48)
