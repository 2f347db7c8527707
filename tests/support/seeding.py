"""Cases put into a database through the real use cases, for tests that need some before the
bot (or an admin command) runs: submitted by Riley, and optionally decided by the panel."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.adapters.clock import FixedClock
from bot.adapters.db.database import Database
from bot.adapters.meetings import OfflineMeetingProvider
from bot.app import build_services, sql_stores
from bot.domain.case import Actor
from bot.services import deadlines
from bot.services.channels import seed_members_from_config
from bot.services.panel import cast_vote
from bot.services.referrals import submit_referral
from bot.settings import DEFAULT_PARTNERSHIP_FILE, load_partnership
from scheduler.profiles import load_profile
from tests.conftest import make_referral
from tests.support import activities as A
from tests.support.fakes import RecordingNotifier

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
CHILD = "Zebedee Quillfeather"  # a child's name that must never be printed or audited
RATIONALE = "Unexplained fractures in a child of this age; abuse is suspected."
BASIS = "Serious harm: fractures needing surgery, and long-term impairment is likely."


def actor(person: A.Person) -> Actor:
    return Actor(aad_object_id=person.aad, name=person.name)


async def seed(url: str, cases: int = 2, *, decide_first: bool = True, now: datetime = NOW) -> list[str]:
    """Cases submitted through the real use cases (the first one decided by three votes, which
    gives it the profile's deadlines); returns their references."""
    db = Database(url)
    try:
        await db.migrate()
        partnership = load_partnership(DEFAULT_PARTNERSHIP_FILE)
        ctx = build_services(sql_stores(db), partnership, FixedClock(now), RecordingNotifier(),
                             profile=load_profile("national_minimum"), meetings=OfflineMeetingProvider())
        await seed_members_from_config(ctx)
        references, ids = [], []
        for number in range(cases):
            submitted = await submit_referral(ctx, actor(A.RILEY), f"draft-{number}",
                                              make_referral(child_name=f"{CHILD} {number}"))
            references.append(submitted.case.reference)
            ids.append(submitted.case.id)
        if decide_first:
            for voter in (A.LAURA, A.DAN, A.NINA):
                await cast_vote(ctx, actor(voter), references[0], choice="rapid_review", rationale=RATIONALE,
                                serious_harm_basis=BASIS, question=None, card_round=None)
        for case_id in ids:  # what the outbox's refresh_deadlines message does in a running bot
            await deadlines.refresh_deadlines(ctx, case_id)
    finally:
        await db.dispose()
    return references
