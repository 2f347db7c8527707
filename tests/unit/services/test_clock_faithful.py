"""The case's clock read faithfully, on the in-memory stores: steps counted from awareness
exist (provisionally) from the referral on, the meeting supersedes the steps it makes moot,
and `status` ranks the statutory steps first."""

from __future__ import annotations

from datetime import date, timedelta

from bot.services import deadlines, meeting
from tests.unit.services.flow import CHRIS, GOOD_OUTCOME, PANEL, PAT, db, decided, scheduled, services, submit, vote


async def _steps(ctx, case):  # noqa: ANN001, ANN202
    return {d.step_id: d for d in await ctx.deadlines.deadlines(case.id)}


async def test_surreys_day_one_steps_exist_from_the_referral_on_and_are_provisional() -> None:
    ctx = await services(profile="surrey")
    case = await submit(ctx)
    await deadlines.refresh_deadlines(ctx, case.id)
    steps = await _steps(ctx, case)
    # Counted from awareness (no date given: the referral's receipt, Mon 23 Nov 2026): dated now,
    # so they are due in the future and remind, not first seen already overdue after the vote.
    for step_id in ("notify_national_panel", "set_meeting_date", "send_information_requests",
                    "rapid_review_meeting", "report_to_national_panel"):
        assert steps[step_id].status == "open", step_id
        assert steps[step_id].due_at is not None and steps[step_id].due_at > ctx.clock.now()
        assert steps[step_id].next_reminder_at is not None
    assert steps["set_meeting_date"].due_at.astimezone(ctx.tz).date() == date(2026, 11, 24)
    # Steps counted from something the referral cannot date wait for the decision.
    assert "papers_to_panel" not in steps and "agencies_return_information" not in steps
    assert steps["panel_vote"].label.endswith("(local policy)")

    timeline = await deadlines.timeline(ctx, PAT, case.reference)
    assert timeline.provisional


async def test_the_panels_decision_confirms_the_provisional_steps_and_adds_the_rest() -> None:
    ctx = await services(profile="surrey")
    case = await decided(ctx)
    steps = await _steps(ctx, case)
    assert steps["notify_national_panel"].status == "open"
    assert steps["papers_to_panel"].status == "pending"  # the meeting is not booked yet
    assert not (await deadlines.timeline(ctx, PAT, case.reference)).provisional


async def test_another_pathways_provisional_steps_go_when_the_panel_decides_otherwise() -> None:
    ctx = await services(profile="surrey")
    case = await submit(ctx)
    await deadlines.refresh_deadlines(ctx, case.id)
    assert "notify_national_panel" in await _steps(ctx, case)
    for who in PANEL:
        case, _, _ = await vote(ctx, who, case, "practice_review")
    await deadlines.refresh_deadlines(ctx, case.id)
    steps = await _steps(ctx, case)
    assert "notify_national_panel" not in steps and "set_meeting_date" not in steps
    assert steps["panel_vote"].status == "done"


async def test_the_held_meeting_supersedes_the_papers_and_the_agencies_returns() -> None:
    ctx = await services()  # Stockport
    case = await scheduled(ctx)
    steps = await _steps(ctx, case)
    assert steps["papers_to_panel"].status == "open"
    await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME)
    steps = await _steps(ctx, case)
    for step_id in ("papers_to_panel", "agencies_return_information", "send_information_requests"):
        assert steps[step_id].status == "superseded", step_id
        assert steps[step_id].next_reminder_at is None
    assert steps["report_to_national_panel"].status == "open"
    # A sweep long after posts nothing for the superseded steps.
    ctx.clock.set(ctx.clock.now() + timedelta(days=20))  # type: ignore[attr-defined]
    await deadlines.sweep(ctx)
    reminded = {db(ctx).state.deadlines[r["deadline_id"]]["step_id"]
                for r in db(ctx).state.reminders.values() if r["created_at"] > ctx.clock.now() - timedelta(days=19)}
    assert not reminded & {"papers_to_panel", "agencies_return_information", "send_information_requests"}


async def test_status_shows_the_statutory_step_before_an_earlier_local_one() -> None:
    ctx = await services(profile="surrey")
    case = await decided(ctx)
    steps = await _steps(ctx, case)
    # Surrey's set-the-meeting-date step (local, day 1) falls before the notification (day 5).
    assert steps["set_meeting_date"].due_at < steps["notify_national_panel"].due_at
    lines, _ = await deadlines.status(ctx, PAT)
    row = next(line.row for line in lines if line.row.reference == case.reference)
    assert row.next_statutory and row.next_label == steps["notify_national_panel"].label
