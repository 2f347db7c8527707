"""The case lifecycle (bot/domain/lifecycle.py) through `CaseStore.move`, and the
atomicity of the use cases that write several stores in one unit of work: a crash
injected before each write in turn leaves nothing half-written."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.domain.events import EventKind
from bot.domain.lifecycle import MOVES, CaseStatus, Move, Mover
from bot.services import deadlines, meeting
from bot.services.context import ServiceContext
from bot.services.ports import OutboxMessage
from bot.services.refusals import IllegalMove
from tests.support.memory_stores import InjectedCrash
from tests.unit.services.flow import CHRIS, GOOD_OUTCOME, LAURA, db, decided, scheduled, services, snapshot, submit


async def _case_in(ctx: ServiceContext, status: CaseStatus) -> str:
    """A case put straight into `status` (the memory store's row, as a fixture would)."""
    case = await submit(ctx)
    db(ctx).state.cases[case.id]["status"] = status.value
    return case.id


def _move_id(move: Move) -> str:
    return f"{move.source.value}->{move.target.value}"


@pytest.mark.parametrize("move", MOVES, ids=_move_id)
async def test_every_move_of_the_table_works_for_each_of_its_movers(move: Move) -> None:
    for mover in move.by:
        ctx = await services()
        case_id = await _case_in(ctx, move.source)
        source = await ctx.cases.move(case_id, move.target, mover, CHRIS, ctx.clock.now(),
                                      outbox=[OutboxMessage(key="after", kind="panel_card", case_id=case_id)])
        assert source is move.source
        case = await ctx.cases.get_case_by_id(case_id)
        assert case is not None and case.summary.status is move.target and case.version == 2
        event = db(ctx).events(case_id, EventKind.CASE_MOVED)
        assert len(event) == 1 and event[0].detail == {"from": move.source.value, "to": move.target.value,
                                                       "why": move.why}
        assert "after" in db(ctx).outbox_keys(case_id)
        closed_at = db(ctx).state.cases[case_id]["closed_at"]
        assert (closed_at is None) is move.target.is_open


@pytest.mark.parametrize("move", MOVES, ids=_move_id)
async def test_every_move_of_the_table_is_refused_to_everyone_else(move: Move) -> None:
    others = set(Mover) - move.by
    if not others:
        pytest.skip("everyone may make this move")
    for mover in others:
        ctx = await services()
        case_id = await _case_in(ctx, move.source)
        before = snapshot(ctx)
        with pytest.raises(IllegalMove, match="Only"):
            await ctx.cases.move(case_id, move.target, mover, CHRIS, ctx.clock.now(),
                                 outbox=[OutboxMessage(key="never", kind="panel_card")])
        assert db(ctx).state == before


ILLEGAL = [(s, t) for s, t in itertools.product(CaseStatus, CaseStatus)
           if not any(m.source is s and m.target is t for m in MOVES)]


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=[f"{s.value}->{t.value}" for s, t in ILLEGAL])
async def test_a_move_not_in_the_table_is_refused_to_everyone_and_writes_nothing(source: CaseStatus,
                                                                                 target: CaseStatus) -> None:
    ctx = await services()
    case_id = await _case_in(ctx, source)
    before = snapshot(ctx)
    with pytest.raises(IllegalMove, match="cannot become"):
        await ctx.cases.move(case_id, target, frozenset(Mover), CHRIS, ctx.clock.now(),
                             outbox=[OutboxMessage(key="never", kind="panel_card")])
    assert db(ctx).state == before


async def test_a_closed_case_is_not_open_and_leaves_the_status_overview() -> None:
    ctx = await services()
    case = await submit(ctx)
    assert case.summary.status.is_open
    assert (await ctx.deadlines.status_rows(10))[1] == 1
    await ctx.cases.move(case.id, CaseStatus.CLOSED, Mover.MANAGER, None, ctx.clock.now())
    closed = await ctx.cases.get_case_by_id(case.id)
    assert closed is not None and closed.summary.status is CaseStatus.CLOSED and not closed.summary.status.is_open
    assert await ctx.deadlines.status_rows(10) == ([], 0)
    with pytest.raises(IllegalMove):  # closed is the end
        await ctx.cases.move(case.id, CaseStatus.REFERRED, frozenset(Mover), None, ctx.clock.now())


async def test_expect_refuses_a_move_from_a_status_the_caller_did_not_see() -> None:
    ctx = await services()
    case = await submit(ctx)
    before = snapshot(ctx)
    with pytest.raises(IllegalMove, match="now referred"):
        await ctx.cases.move(case.id, CaseStatus.MEETING_SCHEDULED, Mover.BOT, None, ctx.clock.now(),
                             expect=CaseStatus.DECIDED)
    assert db(ctx).state == before


# ---- atomicity: a crash before each write of the unit of work, in turn ----------------------------


async def _crash_each_write(prepare: Callable[[], Awaitable[tuple[ServiceContext, Any]]],
                            act: Callable[[ServiceContext, Any], Awaitable[Any]]) -> list[str]:
    """For n = 0, 1, 2 …: a fresh case, a crash armed before the unit of work's (n+1)-th
    write; the state must be exactly as before. Stops when the use case completes (all
    its writes done); returns those writes. A retry after each crash must then succeed."""
    for n in itertools.count():
        ctx, subject = await prepare()
        before = snapshot(ctx)
        ctx.uow.crash_after_writes(n)  # type: ignore[attr-defined]
        try:
            await act(ctx, subject)
        except InjectedCrash:
            assert db(ctx).state == before, f"half-written after {ctx.uow.last_writes}"  # type: ignore[attr-defined]
            await act(ctx, subject)  # the same action again, now uninterrupted
            continue
        writes = ctx.uow.last_writes  # type: ignore[attr-defined]
        assert n >= len(writes)
        return writes
    raise AssertionError("unreachable")


async def test_record_outcome_is_all_or_nothing() -> None:
    async def prepare() -> tuple[ServiceContext, Any]:
        ctx = await services()
        return ctx, await scheduled(ctx)

    async def act(ctx: ServiceContext, case: Any) -> None:
        await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME | {"local_cspr": "yes"})

    writes = await _crash_each_write(prepare, act)
    assert writes[:3] == ["meetings.save", "deadlines.set_anchor", "deadlines.set_anchor"]
    assert "cases.move" in writes and "deadlines.sync" in writes


async def test_record_outcome_crashing_after_the_first_write_leaves_the_meeting_booked() -> None:
    ctx = await services()
    case = await scheduled(ctx)
    ctx.uow.crash_after_writes(1)  # type: ignore[attr-defined]
    with pytest.raises(InjectedCrash):
        await meeting.record_outcome(ctx, CHRIS, case.reference, GOOD_OUTCOME)
    assert (await ctx.meeting_store.get(case.id)).status == "booked"
    assert (await ctx.cases.get_case_by_id(case.id)).summary.status is CaseStatus.MEETING_SCHEDULED
    assert db(ctx).events(case.id, EventKind.MEETING_OUTCOME_RECORDED) == []
    assert not any(k.startswith("outcome_summary:") for k in db(ctx).outbox_keys(case.id))


async def test_mark_done_with_an_anchor_is_all_or_nothing() -> None:
    async def prepare() -> tuple[ServiceContext, Any]:
        ctx = await services()
        case = await decided(ctx)
        step = next(d for d in await ctx.deadlines.deadlines(case.id) if d.step_id == "send_information_requests")
        return ctx, (case, step)

    async def act(ctx: ServiceContext, subject: Any) -> None:
        case, step = subject
        await deadlines.mark_done(ctx, LAURA, case.reference, step.id, "2026-11-23")

    writes = await _crash_each_write(prepare, act)
    assert writes[:3] == ["deadlines.mark_done", "cases.add_event", "deadlines.set_anchor"]
    assert "deadlines.sync" in writes


async def test_mark_done_crashing_after_the_first_write_leaves_the_step_open() -> None:
    ctx = await services()
    case = await decided(ctx)
    step = next(d for d in await ctx.deadlines.deadlines(case.id) if d.step_id == "send_information_requests")
    ctx.uow.crash_after_writes(1)  # type: ignore[attr-defined]
    with pytest.raises(InjectedCrash):
        await deadlines.mark_done(ctx, LAURA, case.reference, step.id, "2026-11-23")
    assert (await ctx.deadlines.deadline(step.id)).status == "open"
    assert db(ctx).events(case.id, EventKind.DEADLINE_DONE) == []
    assert "requests_sent" not in {a.value for a in await ctx.deadlines.anchors(case.id)}


async def test_the_deciding_vote_is_all_or_nothing() -> None:
    from tests.unit.services.flow import DAN, NINA, vote

    async def prepare() -> tuple[ServiceContext, Any]:
        ctx = await services()
        case = await submit(ctx)
        await vote(ctx, LAURA, case, "rapid_review")
        await vote(ctx, DAN, case, "rapid_review")
        return ctx, case

    async def act(ctx: ServiceContext, case: Any) -> None:
        await vote(ctx, NINA, case, "rapid_review")

    writes = await _crash_each_write(prepare, act)
    assert writes[0] == "panel.lock_case" and "cases.move" in writes and "panel.record_decision" in writes
