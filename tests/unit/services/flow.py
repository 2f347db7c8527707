"""The people of config/partnership.example.toml and the steps of a case, on the
in-memory ServiceContext (tests/support/fakes.py `memory_services`)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from bot.domain.case import Actor, Case
from bot.domain.lifecycle import CaseStatus
from bot.services import deadlines, meeting, panel
from bot.services.channels import seed_members_from_config
from bot.services.context import ServiceContext
from bot.services.referrals import submit_referral
from tests.conftest import make_referral
from tests.support.fakes import memory_services
from tests.support.memory_stores import MemoryDatabase, MemoryState


def _actor(aad_suffix: str, name: str) -> Actor:
    return Actor(aad_object_id=f"00000000-0000-0000-0000-00000000{aad_suffix}", name=name)


RILEY = _actor("a001", "Riley Referrer")  # the referrer: not on the roster
PAT = _actor("a002", "Pat Manager")
CHRIS = _actor("a003", "Chris Chair")
LAURA = _actor("a004", "Laura LocalAuthority")
DAN = _actor("a005", "Dan Police")
NINA = _actor("a006", "Nina Health")
DEE = _actor("a007", "Dee Deputy")  # police deputy
PANEL = (LAURA, DAN, NINA)

RATIONALE = "Unexplained fractures in a child of this age; abuse is suspected."
BASIS = "Serious harm: fractures needing surgery, long-term impairment likely."
QUESTION = "Was the GP told about the earlier bruising?"

GOOD_OUTCOME = {
    "local_cspr": "no", "national_review": "no",
    "rationale": "The agencies' learning is captured by the rapid review itself.",
    "participants": "Laura (LA), Dan (police), Nina (health), Chris (chair)",
    "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true",
}


async def services(**kw: Any) -> ServiceContext:
    ctx = memory_services(**kw)
    await seed_members_from_config(ctx)
    return ctx


def db(ctx: ServiceContext) -> MemoryDatabase:
    return ctx.uow.db  # type: ignore[attr-defined]


def snapshot(ctx: ServiceContext) -> MemoryState:
    return copy.deepcopy(db(ctx).state)


async def submit(ctx: ServiceContext, draft: str = "draft-1", **referral: Any) -> Case:
    submitted = await submit_referral(ctx, RILEY, draft, make_referral(**referral))
    case = await ctx.cases.get_case(submitted.case.reference)
    assert case is not None
    return case


async def vote(ctx: ServiceContext, who: Actor, case: Case, choice: str, **kw: Any) -> tuple[Case, str, Any]:
    return await panel.cast_vote(
        ctx, who, case.reference, choice=choice, rationale=kw.get("rationale", RATIONALE),
        serious_harm_basis=kw.get("serious_harm_basis", BASIS if choice == "rapid_review" else None),
        question=kw.get("question", QUESTION if choice == "queries" else None), card_round=kw.get("card_round"))


async def decided(ctx: ServiceContext, choice: str = "rapid_review", **referral: Any) -> Case:
    """A case the panel decided (all three agree), with its deadlines computed as the
    outbox's refresh would."""
    case = await submit(ctx, **referral)
    for who in PANEL:
        case, _, _ = await vote(ctx, who, case, choice)
    assert case.summary.status is CaseStatus.DECIDED
    await deadlines.refresh_deadlines(ctx, case.id)
    return case


async def scheduled(ctx: ServiceContext) -> Case:
    """A rapid review whose meeting the bot booked (offline provider), with the clock
    moved past the meeting's end."""
    case = await decided(ctx)
    record = await meeting.book(ctx, case.id)
    assert record is not None and record.status == "booked" and record.end_at is not None
    ctx.clock.set(record.end_at + timedelta(minutes=30))  # type: ignore[attr-defined]
    case = await ctx.cases.get_case_by_id(case.id)
    assert case is not None and case.summary.status is CaseStatus.MEETING_SCHEDULED
    return case
