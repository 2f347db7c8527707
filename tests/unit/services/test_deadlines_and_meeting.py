"""Marking a step of the statutory clock done (bot/services/deadlines.py) and the rapid
review meeting's outcome (bot/services/meeting.py), on the in-memory stores."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.domain.events import EventKind
from bot.domain.lifecycle import CaseStatus
from bot.domain.outbox import OutboxKind
from bot.domain.timeline import Anchor
from bot.services import deadlines, meeting
from bot.services.refusals import ClockRefused, MeetingRefused, NotAuthorised
from tests.unit.services.flow import (
    CHRIS,
    GOOD_OUTCOME,
    LAURA,
    NINA,
    PAT,
    RILEY,
    db,
    decided,
    scheduled,
    services,
    snapshot,
)


async def _step(ctx, case, step_id: str):  # noqa: ANN001, ANN202
    return next(d for d in await ctx.deadlines.deadlines(case.id) if d.step_id == step_id)


async def test_marking_a_step_done_records_who_and_when_and_stops_its_reminders() -> None:
    ctx = await services()
    case = await decided(ctx)
    step = await _step(ctx, case, "desk_top_review_6_months")
    assert step.status == "open" and step.next_reminder_at is not None and not step.asks_for_date
    done = await deadlines.mark_done(ctx, PAT, case.reference, step.id, None)
    assert done.status == "done" and done.done_by_name == "Pat Manager"
    assert done.done_at == ctx.clock.now() and done.done_on == date(2026, 11, 23)
    assert done.next_reminder_at is None
    event = db(ctx).events(case.id, EventKind.DEADLINE_DONE)
    assert len(event) == 1 and event[0].detail == {"step": "desk_top_review_6_months", "done_on": "2026-11-23"}
    assert event[0].actor_aad_id == PAT.aad_object_id


async def test_a_step_that_records_an_anchor_moves_the_deadlines_counted_from_it() -> None:
    ctx = await services()
    case = await decided(ctx)
    returns = await _step(ctx, case, "agencies_return_information")
    assert returns.status == "pending" and returns.due_at is None  # counted from the requests being sent
    send = await _step(ctx, case, "send_information_requests")
    assert send.asks_for_date and send.records == Anchor.REQUESTS_SENT.value

    await deadlines.mark_done(ctx, LAURA, case.reference, send.id, "2026-11-23")

    anchors = await ctx.deadlines.anchors(case.id)
    assert anchors[Anchor.REQUESTS_SENT].astimezone(ctx.tz).date() == date(2026, 11, 23)
    returns = await _step(ctx, case, "agencies_return_information")
    assert returns.status == "open"  # 8 working days from Monday 23 November: Thursday 3 December
    assert returns.due_at is not None and returns.due_at.astimezone(ctx.tz).date() == date(2026, 12, 3)
    assert returns.next_reminder_at is not None


async def test_the_national_panel_notification_date_is_the_date_given() -> None:
    ctx = await services()
    case = await decided(ctx)
    notify = await _step(ctx, case, "notify_national_panel")
    ctx.clock.advance(days=1)
    done = await deadlines.mark_done(ctx, LAURA, case.reference, notify.id, "2026-11-23")
    assert done.done_on == date(2026, 11, 23) and done.done_at == ctx.clock.now()
    anchors = await ctx.deadlines.anchors(case.id)
    assert anchors[Anchor.NATIONAL_PANEL_NOTIFIED].astimezone(ctx.tz).date() == date(2026, 11, 23)


async def test_a_step_marked_done_twice_is_refused() -> None:
    ctx = await services()
    case = await decided(ctx)
    step = await _step(ctx, case, "desk_top_review_6_months")
    await deadlines.mark_done(ctx, PAT, case.reference, step.id, None)
    before = snapshot(ctx)
    with pytest.raises(ClockRefused, match="Already marked done by Pat Manager"):
        await deadlines.mark_done(ctx, NINA, case.reference, step.id, None)
    assert db(ctx).state == before


@pytest.mark.parametrize(("done_on", "words"), [
    (None, "Give the date"), ("next tuesday", "Give the date"), ("2026-11-24", "in the future"),
    ("2025-11-23", "before the incident"),
])
async def test_a_step_that_asks_for_a_date_refuses_a_bad_one(done_on, words) -> None:  # noqa: ANN001
    ctx = await services()
    case = await decided(ctx)
    notify = await _step(ctx, case, "notify_national_panel")
    before = snapshot(ctx)
    with pytest.raises(ClockRefused, match=words) as refused:
        await deadlines.mark_done(ctx, LAURA, case.reference, notify.id, done_on)
    assert refused.value.field == "done_on"
    assert db(ctx).state == before


async def test_marking_done_needs_a_panel_member_chair_or_manager_and_a_step_of_this_case() -> None:
    ctx = await services()
    case = await decided(ctx)
    step = await _step(ctx, case, "desk_top_review_6_months")
    with pytest.raises(NotAuthorised):
        await deadlines.mark_done(ctx, RILEY, case.reference, step.id, None)
    with pytest.raises(ClockRefused, match="could not be found"):
        await deadlines.mark_done(ctx, PAT, "RR-2026-0999", step.id, None)
    with pytest.raises(ClockRefused, match="could not be found"):
        await deadlines.mark_done(ctx, PAT, case.reference, 10_000, None)
    assert (await _step(ctx, case, "desk_top_review_6_months")).status == "open"


# ---- the meeting's outcome -----------------------------------------------------------------------


async def test_booking_schedules_the_meeting_through_the_lifecycle() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    moved = db(ctx).events(case.id, EventKind.CASE_MOVED)
    assert [(e.detail["from"], e.detail["to"]) for e in moved] == [("referred", "decided"),
                                                                  ("decided", "meeting_scheduled")]
    record = await ctx.meeting_store.get(case.id)
    assert record is not None and record.start_at is not None
    assert record.start_at.astimezone(ctx.tz).time() == ctx.meeting_settings.default_time
    assert (await ctx.deadlines.anchors(case.id))[Anchor.MEETING] == record.start_at


async def test_recording_the_outcome_holds_the_meeting_and_sends_the_outcome_messages() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    updated, outcome = await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME)

    assert updated.summary.status is CaseStatus.MEETING_HELD and outcome.quorate
    record = await ctx.meeting_store.get(case.id)
    assert record is not None and record.status == "held" and record.outcome["rationale"] == GOOD_OUTCOME["rationale"]
    moved = db(ctx).events(case.id, EventKind.CASE_MOVED)[-1]
    assert (moved.detail["from"], moved.detail["to"]) == ("meeting_scheduled", "meeting_held")
    assert moved.actor_aad_id == CHRIS.aad_object_id
    assert len(db(ctx).events(case.id, EventKind.MEETING_OUTCOME_RECORDED)) == 1
    keys = db(ctx).outbox_keys(case.id)
    for kind in (OutboxKind.OUTCOME_SUMMARY, OutboxKind.OUTCOME_REFERRER, OutboxKind.RECORD_LINKS):
        assert f"{kind.value}:{case.id}" in keys
    anchors = await ctx.deadlines.anchors(case.id)
    assert anchors[Anchor.MEETING_HELD] == record.start_at and Anchor.REVIEW_COMMISSIONED not in anchors
    held = await _step(ctx, case, "rapid_review_meeting")  # the step that records the meeting is done
    assert held.status == "done" and held.done_on == record.start_at.astimezone(ctx.tz).date()


async def test_a_local_review_recommended_commissions_it() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME | {"local_cspr": "yes"})
    assert Anchor.REVIEW_COMMISSIONED in await ctx.deadlines.anchors(case.id)
    assert (await _step(ctx, case, "local_cspr_report")).due_at is not None


@pytest.mark.parametrize("missing", ["quorum_local_authority", "quorum_police", "quorum_health"])
async def test_an_inquorate_outcome_is_refused_with_nothing_written(missing: str) -> None:
    ctx = await services()
    case = await scheduled(ctx)
    before = snapshot(ctx)
    with pytest.raises(MeetingRefused, match="only quorate") as refused:
        await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME | {missing: "false"})
    assert refused.value.field == "quorum"
    assert db(ctx).state == before


@pytest.mark.parametrize(("change", "field"), [({"rationale": "short"}, "rationale"),
                                                ({"participants": ""}, "participants"),
                                                ({"local_cspr": "perhaps"}, "local_cspr")])
async def test_an_incomplete_outcome_is_refused_next_to_its_field(change, field) -> None:  # noqa: ANN001
    ctx = await services()
    case = await scheduled(ctx)
    before = snapshot(ctx)
    with pytest.raises(MeetingRefused) as refused:
        await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME | change)
    assert refused.value.field == field
    assert db(ctx).state == before


@pytest.mark.parametrize("who", [PAT, LAURA, RILEY], ids=["manager", "panel_member", "referrer"])
async def test_only_the_chair_records_the_outcome(who) -> None:  # noqa: ANN001
    ctx = await services()
    case = await scheduled(ctx)
    with pytest.raises(NotAuthorised, match="Only the chair can"):
        await meeting.record_outcome(ctx, who, case.reference, GOOD_OUTCOME)
    assert (await ctx.cases.get_case_by_id(case.id)).summary.status is CaseStatus.MEETING_SCHEDULED
    assert (await ctx.meeting_store.get(case.id)).status == "booked"
    assert [e.detail["action"] for e in db(ctx).events(kind=EventKind.ACCESS_DENIED)] == ["meeting_outcome"]


async def test_the_outcome_is_recorded_once() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME)
    before = snapshot(ctx)
    with pytest.raises(MeetingRefused, match="already recorded"):
        await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME)
    assert db(ctx).state == before


async def test_no_outcome_without_a_booked_meeting() -> None:
    ctx = await services()
    case = await decided(ctx)
    with pytest.raises(MeetingRefused, match="no meeting"):
        await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME)


async def test_cancelling_moves_the_case_back_to_decided() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    cancelled = await meeting.cancel(ctx, CHRIS, case.reference)
    assert cancelled.status == "cancelled"
    assert (await ctx.cases.get_case_by_id(case.id)).summary.status is CaseStatus.DECIDED
    assert Anchor.MEETING not in await ctx.deadlines.anchors(case.id)
    moved = db(ctx).events(case.id, EventKind.CASE_MOVED)[-1]
    assert (moved.detail["from"], moved.detail["to"]) == ("meeting_scheduled", "decided")


async def test_the_chair_can_move_the_meeting_and_its_deadlines_follow() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    ctx.clock.set(ctx.clock.now() - timedelta(days=10))  # back before the meeting
    record = await ctx.meeting_store.get(case.id)
    papers_before = (await _step(ctx, case, "papers_to_panel")).due_at
    new_start = record.start_at + timedelta(days=1)
    moved = await meeting.choose_time(ctx, CHRIS, case.reference, start_iso=new_start.isoformat())
    assert moved.start_at == new_start and moved.attempt == record.attempt + 1
    assert (await _step(ctx, case, "papers_to_panel")).due_at == papers_before + timedelta(days=1)
    assert (await ctx.cases.get_case_by_id(case.id)).summary.status is CaseStatus.MEETING_SCHEDULED
