"""Submissions at the same moment, through the real use case and the real store.

Every case needs a reference number and a pseudonym no other open case has, allocated
atomically; submitting one draft twice (a double click, Teams retrying, two bot
processes) must create one case. On PostgreSQL two `Database` instances stand for two
bot processes sharing the database.

No Teams edge here: both edges' referral forms submit through this one use case (the form's
HTTP path on each edge is tests/integration/test_http_referral.py's), so these tests have no
`edge` parameter. The panel's race
runs through both edges' HTTP paths in tests/integration/test_panel_concurrency.py.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.adapters.clock import FixedClock
from bot.adapters.db import schema as t
from bot.adapters.db.database import Database
from bot.adapters.meetings import OfflineMeetingProvider
from bot.app import build_services, sql_stores
from bot.domain.case import Actor
from bot.services.referrals import Submitted, submit_referral
from bot.settings import DEFAULT_PARTNERSHIP_FILE, load_partnership
from scheduler.profiles import load_profile
from tests.support.fakes import RecordingNotifier

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RILEY = Actor(aad_object_id="00000000-0000-0000-0000-00000000a001", name="Riley Referrer")


@pytest.fixture(scope="module")
def partnership():
    return load_partnership(DEFAULT_PARTNERSHIP_FILE)


class Process:
    """What one bot process has: its own engine, repository and service context."""

    def __init__(self, url: str, partnership, seed: int | None = None) -> None:  # noqa: ANN001
        self.db = Database(url)
        # The same seed in two processes makes both pick the same "random" free letter
        # first: the worst case for pseudonym clashes.
        self.stores = sql_stores(self.db, rng=random.Random(seed) if seed is not None else None)
        self.ctx = build_services(self.stores, partnership, FixedClock(NOW), RecordingNotifier(),
                                  profile=load_profile("national_minimum"), meetings=OfflineMeetingProvider())

    async def submit(self, draft_id: str, referral) -> Submitted:  # noqa: ANN001
        return await submit_referral(self.ctx, RILEY, draft_id, referral)


@pytest.fixture
async def processes(database_url, partnership):
    made: list[Process] = []

    async def make(seed: int | None = None) -> Process:
        process = Process(database_url, partnership, seed)
        if not made:
            await process.db.migrate()
        made.append(process)
        return process

    yield make
    for process in made:
        await process.db.dispose()


async def _stored(process: Process) -> tuple[int, int, int]:
    async with process.db.read() as conn:
        cases = (await conn.execute(select(func.count()).select_from(t.cases))).scalar_one()
        events = (await conn.execute(select(func.count()).select_from(t.events))).scalar_one()
        outbox = (await conn.execute(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.kind == "panel_card"))).scalar_one()
    return cases, events, outbox


def _assert_distinct(results: list[Submitted], count: int) -> None:
    assert all(r.created for r in results)
    references = sorted(r.case.reference for r in results)
    assert references == [f"RR-2026-{n:04d}" for n in range(1, count + 1)]
    pseudonyms = [r.case.pseudonym for r in results]
    assert len(set(pseudonyms)) == count, pseudonyms
    assert len({r.case.id for r in results}) == count


@pytest.mark.parametrize("count", [2, 20])
async def test_simultaneous_submissions_get_distinct_references_and_pseudonyms(processes, referral_factory, count):
    one = await processes(seed=1)
    referral = referral_factory()
    results = await asyncio.gather(*(one.submit(f"draft-{i}", referral) for i in range(count)))
    _assert_distinct(list(results), count)
    assert await _stored(one) == (count, count, count)  # one case, one audit event, one channel post each


async def test_the_same_draft_submitted_twice_at_once_creates_one_case(processes, referral_factory):
    one = await processes()
    referral = referral_factory()
    first, second = await asyncio.gather(one.submit("draft-x", referral), one.submit("draft-x", referral))
    assert sorted([first.created, second.created]) == [False, True]
    assert first.case == second.case
    assert first.case.reference == "RR-2026-0001"
    assert await _stored(one) == (1, 1, 1)


async def test_two_processes_submitting_at_once_get_distinct_references_and_pseudonyms(
    processes, referral_factory
):
    a, b = await processes(seed=3), await processes(seed=3)
    referral = referral_factory()
    results = await asyncio.gather(*((a if i % 2 else b).submit(f"draft-{i}", referral) for i in range(20)))
    _assert_distinct(list(results), 20)
    assert await _stored(a) == (20, 20, 20)


async def test_two_processes_submitting_the_same_draft_create_one_case(processes, referral_factory):
    a, b = await processes(), await processes()
    referral = referral_factory()
    for round_ in range(5):
        draft = f"draft-{round_}"
        first, second = await asyncio.gather(a.submit(draft, referral), b.submit(draft, referral))
        assert sorted([first.created, second.created]) == [False, True], round_
        assert first.case == second.case
        assert first.case.reference == f"RR-2026-{round_ + 1:04d}"  # the loser did not burn a number
    assert await _stored(a) == (5, 5, 5)
