"""Reminders are never lost, never doubled, and kind to Teams (README, The statutory clock).

The real bot stack (bootstrap, the outbox dispatcher, the SchedulerRuntime with its
APScheduler job store and leader lock) over a real database, with Teams replaced by the
fake Bot Connector on 127.0.0.1. The business clock is a FixedClock moved by the tests;
APScheduler, the leader retries and the Teams pacer run on real time.

A reminder is identified at the connector by the deadline id on its "Mark done" button
and its headline ("Due in 2 working days", "**Due today**", "**Overdue** by 1 working
day"): two posts with the same pair are the same reminder posted twice.

Dates (Europe/London, GMT in November): the case is decided on Mon 23 Nov 2026 at 10:00;
the stockport profile then has the National Panel notification due Fri 27 Nov (heads-up
Wed 25 Nov) and the agency template due Wed 25 Nov (heads-up Mon 23 Nov, overdue from
Thu 26 Nov), reminders at 09:00.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import column, func, select, table, update

from bot import app
from bot.adapters.db import schema as t
from bot.adapters.db.database import sync_url
from bot.adapters.db.leader import LeaderLock
from bot.app import Components
from bot.domain.case import Actor
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.partnership import Role
from bot.services import deadlines
from bot.services.outbox import LEASE_SECONDS
from bot.services.referrals import submit_referral
from bot.services.reminder_delivery import DIGEST_MOST
from bot.settings import DEFAULT_PARTNERSHIP_FILE, Settings
from scheduler import jobs
from scheduler.runtime import DAILY_JOB_ID, JOBS_TABLE, SWEEP_JOB_ID, SchedulerRuntime
from tests.conftest import make_referral
from tests.support import activities as A
from tests.support import reminders as sent_reminders
from tests.support.harness import BotHarness, fill_referral, find_action, texts

LONDON = ZoneInfo("Europe/London")
REF = "RR-2026-0001"
NOTIFY, SEND = "notify_national_panel", "send_information_requests"
PAT = Actor(aad_object_id=A.PAT.aad, name=A.PAT.name)
RILEY = Actor(aad_object_id=A.RILEY.aad, name=A.RILEY.name)
LATE = "This reminder is late"


def london(day: int, hour: int = 9, minute: int = 5, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


# ---- what reached Teams --------------------------------------------------------------------------


def reminder_posts(h: BotHarness) -> list[dict[str, Any]]:
    """Every reminder the connector accepted, in order: one entry per reminder however many of its
    owners' personal chats it reached (the same reminder twice in one chat fails at once;
    tests/support/reminders.py)."""
    found = []
    for card in sent_reminders.merged(h.connector.sent_activities()):
        lines = texts(card).splitlines()
        found.append({"ref": lines[0].split(" · ")[1], "deadline_id": find_action(card, "deadline.done")["step"],
                      "headline": lines[1].split(":")[0], "late": LATE in texts(card), "at": card["at"],
                      "reached": card["reached"]})
    return found


def post_keys(posts: list[dict[str, Any]]) -> Counter[tuple[int, str]]:
    return Counter((p["deadline_id"], p["headline"]) for p in posts)


def assert_each_posted_once(posts: list[dict[str, Any]]) -> None:
    doubled = {key: n for key, n in post_keys(posts).items() if n > 1}
    assert not doubled, f"posted more than once: {doubled}"


async def reminder_rows(c: Components, case_id: str | None = None) -> list[dict[str, Any]]:
    async with c.db.read() as conn:
        query = select(t.reminders).order_by(t.reminders.c.id)
        if case_id is not None:
            query = query.where(t.reminders.c.case_id == case_id)
        return [dict(r._mapping) for r in await conn.execute(query)]


async def outbox_counts(c: Components, kind: str = "reminder", *, per_person: bool = False) -> dict[str, int]:
    """Outbox rows by status: the reminders' own rows, or (`per_person`) the rows each is split
    into when delivered, one per person who owns the step (`<key>><aad object id>`)."""
    split = t.outbox.c.key.contains(">")
    async with c.db.read() as conn:
        result = await conn.execute(select(t.outbox.c.status, func.count())
                                    .where(t.outbox.c.kind == kind, split if per_person else ~split)
                                    .group_by(t.outbox.c.status))
        return {status: n for status, n in result}


async def steps(c: Components, case_id: str) -> dict[str, Any]:
    assert c.services.deadlines is not None
    return {r.step_id: r for r in await c.services.deadlines.deadlines(case_id)}


async def job_rows(c: Components) -> list[tuple[str, float | None]]:
    async with c.db.read() as conn:
        jobs_table = table(JOBS_TABLE, column("id"), column("next_run_time"))
        return [(r.id, r.next_run_time) for r in await conn.execute(select(jobs_table))]


async def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> float:
    """Poll (real time) until `condition()` is truthy; returns how long it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


# ---- driving the bot -----------------------------------------------------------------------------


async def decided_case(h: BotHarness) -> str:
    """Channel bound, one referral, three rapid-review votes: the case has its deadlines.
    Everything the decision sends is delivered (Mon 23 Nov, 10:00)."""
    status, _ = await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
    assert status in (200, 201)
    for person in (A.PAT, A.CHRIS, A.LAURA):
        await h.say(person, "hello")
    await fill_referral(h)
    await h.flush()
    ballot = {"verb": "panel.vote", "action": "panel.vote", "ref": REF, "v": 1, "choice": "rapid_review",
              "rationale": "Serious injuries and suspected abuse by a carer.",
              "serious_harm_basis": "Long-term impairment of the child's physical health is likely."}
    for person in (A.LAURA, A.DAN, A.NINA):
        body = await h.press(person, "panel.vote", ballot, channel=True)
        assert body["statusCode"] == 200, body
    await h.flush()
    case = await h.c.stores.cases.get_case(REF)
    assert case is not None
    rows = await steps(h.c, case.id)
    assert rows[NOTIFY].status == "open" and rows[SEND].status == "open"
    return case.id


def settings_for(url: str) -> Settings:
    settings = Settings.model_validate({"database_url": url, "partnership_file": str(DEFAULT_PARTNERSHIP_FILE)})
    settings.check()
    return settings


def start_process(c: Components, *, interval: int = 60, retry: float = 0.3) -> SchedulerRuntime:
    """What `app.start(run_outbox=True)` starts, with a short leader retry for the tests."""
    c.outbox.start()
    c.outbox.kick()
    runtime = SchedulerRuntime(sync_url(c.db.url), LeaderLock(c.db), lambda: deadlines.sweep(c.services),
                               interval_seconds=interval, leader_retry_seconds=retry,
                               time_zone=c.partnership.time_zone)
    runtime.start()
    c.extras["scheduler"] = runtime  # app.stop() stops it
    return runtime


async def kill(c: Components) -> None:
    """The process goes away: no more scheduling, no more deliveries (its lock is released)."""
    runtime = c.extras.pop("scheduler")
    await runtime.stop()
    await c.outbox.stop()


# ---- 1. a restart with reminders due -------------------------------------------------------------


async def test_a_reminder_that_fell_due_while_the_bot_was_down_is_posted_once_at_start_marked_late(
        tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await decided_case(h)
        before = {r["key"] for r in await reminder_rows(h.c, case_id)}
        # The template's heads-up slot (Mon 09:00) passed before the 10:00 decision created the
        # step: it is posted at once, and is not "late" (the bot was not down).
        assert [(p["headline"], p["late"]) for p in reminder_posts(h)] == [("Due in 2 working days", False)]
        assert [r["delayed"] for r in await reminder_rows(h.c, case_id)] == [False]

        # Down from Monday until Wednesday 09:30: the 09:00 reminders fell due while no process ran.
        h.clock.set(london(25, 9, 30))
        await h.restart()
        assert h.connector.sent_activities() == []
        await app.start(h.c, run_outbox=True)  # the real outbox loop and scheduler (leader lock, job store)
        runtime = h.c.extras["scheduler"]
        await wait_until(lambda: len(reminder_posts(h)) >= 2, what="the missed reminders posted")
        await asyncio.sleep(0.5)  # time for a second post, if there were to be one
        await h.flush()
        assert runtime.is_leader

        posts = reminder_posts(h)
        rows = await steps(h.c, case_id)
        assert post_keys(posts) == Counter({(rows[NOTIFY].id, "Due in 2 working days"): 1,
                                            (rows[SEND].id, "**Due today**"): 1})
        assert all(p["late"] for p in posts)
        new = [r for r in await reminder_rows(h.c, case_id) if r["key"] not in before]
        assert sorted(r["key"] for r in new) == sorted([f"reminder:{rows[NOTIFY].id}:heads_up:2026-11-25",
                                                        f"reminder:{rows[SEND].id}:due:2026-11-25"])
        assert all(r["delayed"] and r["sent_at"] is not None for r in new)
        assert all(r["scheduled_for"] == london(25, 9, 0) for r in new)

        # A later sweep (the interval job, or any other) posts nothing more.
        for minutes in (0, 1, 20):
            h.clock.set(london(25, 9, 30) + timedelta(minutes=minutes))
            assert await deadlines.sweep(h.c.services) == 0
            await h.flush()
        assert len(reminder_posts(h)) == 2

        # The sweep job (and the daily retention job) is persisted in the database, and the same jobs
        # after another restart.
        assert sorted(job_id for job_id, _ in await job_rows(h.c)) == [DAILY_JOB_ID, SWEEP_JOB_ID]
        await h.restart()
        assert sorted(job_id for job_id, _ in await job_rows(h.c)) == [DAILY_JOB_ID, SWEEP_JOB_ID]  # kept while none runs
        await app.start(h.c, run_outbox=True)
        await wait_until(lambda: h.c.extras["scheduler"].is_leader, what="leadership after the second restart")
        await asyncio.sleep(0.5)
        await h.flush()
        jobs_now = await job_rows(h.c)
        assert sorted(job_id for job_id, _ in jobs_now) == [DAILY_JOB_ID, SWEEP_JOB_ID]
        assert all(next_run is not None for _, next_run in jobs_now)
        assert reminder_posts(h) == []  # nothing posted again after the second restart
        assert len(await reminder_rows(h.c, case_id)) == len(before) + 2


# ---- 2. several slots missed ---------------------------------------------------------------------


async def test_after_missing_several_slots_only_the_latest_reminder_is_posted_marked_late(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        case_id = await decided_case(h)
        before = {r["key"] for r in await reminder_rows(h.c, case_id)}

        # Down from Monday until Friday 09:30. The notification missed its heads-up (Wed) and
        # is due today; the template missed its due day (Wed) and Thursday's overdue reminder.
        h.clock.set(london(27, 9, 30))
        await h.restart()
        await app.start(h.c, run_outbox=True)
        await wait_until(lambda: len(reminder_posts(h)) >= 2, what="the missed reminders posted")
        await asyncio.sleep(0.5)
        await h.flush()  # waits for the outbox loop's pass to finish

        rows = await steps(h.c, case_id)
        new = [r for r in await reminder_rows(h.c, case_id) if r["key"] not in before]
        per_deadline = Counter(r["deadline_id"] for r in new)
        assert set(per_deadline.values()) == {1}, "one reminder per deadline, however many slots were missed"
        kinds = {r["deadline_id"]: (r["kind"], r["scheduled_for"]) for r in new}
        assert kinds[rows[NOTIFY].id] == ("due", london(27, 9, 0))
        assert kinds[rows[SEND].id] == ("overdue", london(27, 9, 0))
        assert all(r["delayed"] for r in new)
        assert not [r for r in new if r["scheduled_for"] < london(27, 9, 0)]  # nothing earlier sent on top

        posts = reminder_posts(h)
        assert_each_posted_once(posts)
        assert len(posts) == len(new) and all(p["late"] for p in posts)
        assert (rows[SEND].id, "**Overdue** by 2 working days") in post_keys(posts)
        assert (rows[NOTIFY].id, "**Due today**") in post_keys(posts)
        assert (rows[NOTIFY].id, "Due in 2 working days") not in post_keys(posts)


# ---- 3. two processes, one database --------------------------------------------------------------


@pytest.mark.postgres
async def test_two_processes_on_one_database_post_each_reminder_once_and_fail_over(
        tmp_path: Path, pg_url: str) -> None:
    async with BotHarness(tmp_path, database_url=pg_url) as h:
        case_id = await decided_case(h)
        posts_before = len(reminder_posts(h))
        h.clock.set(london(25, 9, 5))  # one business clock, read by both processes
        other = app.bootstrap(settings_for(pg_url), clock=h.clock)
        await app.start(other, run_outbox=False)  # migrate, seed: then its outbox and scheduler below
        stacks = [h.c, other]
        try:
            runtimes = [start_process(c) for c in stacks]

            # Exactly one leader, and it stays one.
            await wait_until(lambda: any(r.is_leader for r in runtimes), what="a leader")
            for _ in range(8):  # over several retry intervals
                assert [r.is_leader for r in runtimes].count(True) == 1
                await asyncio.sleep(0.1)
            leader_index = next(i for i, r in enumerate(runtimes) if r.is_leader)

            # The leader's start-up sweep recorded Wednesday's two reminders; both outboxes deliver.
            await wait_until(lambda: len(reminder_posts(h)) >= posts_before + 2, what="Wednesday's reminders")
            await asyncio.sleep(1.0)
            assert_each_posted_once(reminder_posts(h))
            assert len(reminder_posts(h)) == posts_before + 2

            # Thursday: both processes sweep several times at once and flush at once.
            h.clock.set(london(26, 9, 5))
            recorded = await asyncio.gather(*(deadlines.sweep(c.services) for c in stacks for _ in range(3)))
            assert sum(recorded) == 1  # the template's first overdue reminder, recorded by one sweep only
            await asyncio.gather(*(c.outbox.dispatch_due() for c in stacks))
            await asyncio.sleep(0.5)
            assert_each_posted_once(reminder_posts(h))
            assert len(reminder_posts(h)) == posts_before + 3

            # The leader dies; the other takes over within its retry interval and reposts nothing.
            h.clock.set(london(27, 9, 5))  # Friday: due while the leader is gone
            leader, survivor = stacks[leader_index], stacks[1 - leader_index]
            survivor_runtime = runtimes[1 - leader_index]
            await kill(leader)
            took = await wait_until(lambda: survivor_runtime.is_leader, timeout=5, what="the takeover")
            assert took < 2.0
            # Its takeover sweep records Friday's reminders and its outbox posts them.
            await wait_until(lambda: len(reminder_posts(h)) >= posts_before + 5, what="Friday's reminders")
            await asyncio.sleep(1.0)
            # Both processes ran in this one test process, so they shared scheduler.jobs' module-level
            # registration, which the dead leader's stop() cleared; a real survivor has its own.
            jobs.register_sweep(lambda: deadlines.sweep(survivor.services))
            assert await deadlines.sweep(survivor.services) == 0
            await survivor.outbox.dispatch_due()

            posts = reminder_posts(h)
            assert_each_posted_once(posts)
            rows = await steps(h.c, case_id)
            assert (rows[NOTIFY].id, "**Due today**") in post_keys(posts)
            assert (rows[SEND].id, "**Overdue** by 2 working days") in post_keys(posts)
            # Every reminder recorded is posted, and only those.
            recorded_rows = await reminder_rows(h.c, case_id)
            assert len(posts) == len(recorded_rows)
            assert all(r["sent_at"] is not None for r in recorded_rows)
            assert await outbox_counts(h.c) == {"sent": len(recorded_rows)}
            assert [job_id for job_id, _ in await job_rows(h.c)] == [SWEEP_JOB_ID]
        finally:
            await app.stop(other)


# ---- 4. a crash mid-send -------------------------------------------------------------------------


async def test_a_reminder_claimed_by_a_process_that_died_is_delivered_once_after_the_lease(
        tmp_path: Path, database_url: str) -> None:
    async with BotHarness(tmp_path, database_url=database_url) as h:
        case_id = await decided_case(h)
        h.clock.set(london(25, 9, 5))
        assert await deadlines.sweep(h.c.services) == 2
        posts_before = len(reminder_posts(h))

        # A process claims the reminders and dies before sending them (its lease stays in the row).
        claimed = await h.c.stores.outbox.claim(h.clock.now(), LEASE_SECONDS, 100)
        keys = {i.key for i in claimed if i.kind == "reminder"}
        assert len(keys) == 2

        await h.flush()  # leased to the dead process: not delivered yet, not doubled
        assert len(reminder_posts(h)) == posts_before
        h.clock.advance(seconds=LEASE_SECONDS - 1)
        await h.flush()
        assert len(reminder_posts(h)) == posts_before

        h.clock.advance(seconds=2)  # the lease has run out
        await h.flush()
        await h.flush()
        posts = reminder_posts(h)
        assert len(posts) == posts_before + 2
        assert_each_posted_once(posts)
        rows = {r["key"]: r for r in await reminder_rows(h.c, case_id)}
        assert all(rows[k]["sent_at"] is not None for k in keys)
        async with h.c.db.read() as conn:
            result = await conn.execute(select(t.outbox.c.status, t.outbox.c.attempts).where(t.outbox.c.key.in_(keys)))
            assert sorted(tuple(r) for r in result) == [("sent", 2), ("sent", 2)]


# ---- 5. done steps and closed cases --------------------------------------------------------------


async def _sweep_on(h: BotHarness, *moments: datetime) -> None:
    for moment in moments:
        h.clock.set(moment)
        await deadlines.sweep(h.c.services)
        await h.flush()


LATER = (london(25), london(26), london(27), london(30), london(1, month=12), london(14, month=12))


async def test_a_done_step_has_no_pending_reminders(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        case_id = await decided_case(h)
        rows = await steps(h.c, case_id)
        notify_id, send_id = rows[NOTIFY].id, rows[SEND].id

        # The notification is marked done on Tuesday, before any of its reminders.
        h.clock.set(london(24, 11, 0))
        done = await deadlines.mark_done(h.c.services, PAT, REF, notify_id, "2026-11-24")
        assert done.status == "done" and done.next_reminder_at is None

        # Wednesday 09:05: the template's due reminder is recorded; it is marked done before the
        # outbox gets to it, so it is never posted.
        h.clock.set(london(25, 9, 5))
        await deadlines.sweep(h.c.services)
        assert any(r["deadline_id"] == send_id and r["sent_at"] is None for r in await reminder_rows(h.c, case_id))
        await deadlines.mark_done(h.c.services, PAT, REF, send_id, "2026-11-25")
        await h.flush()

        await _sweep_on(h, *LATER)
        rows = await steps(h.c, case_id)
        for step_id in (NOTIFY, SEND):
            assert rows[step_id].status == "done" and rows[step_id].next_reminder_at is None
        posts = reminder_posts(h)
        posted_for = {p["deadline_id"] for p in posts}
        assert notify_id not in posted_for
        # Only the template's heads-up, posted on Monday when the case was decided.
        assert [p["headline"] for p in posts if p["deadline_id"] == send_id] == ["Due in 2 working days"]
        assert not [r for r in await reminder_rows(h.c, case_id) if r["deadline_id"] == notify_id]
        # The other steps kept their reminders (the sweeps did run).
        assert posted_for - {notify_id, send_id}


async def test_a_closed_case_has_no_pending_reminders(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        case_id = await decided_case(h)
        h.clock.set(london(25, 9, 5))
        assert await deadlines.sweep(h.c.services) == 2  # recorded, not yet delivered
        posts_before = len(reminder_posts(h))

        # The case is closed (no use case closes one yet: the row is set as one would) and its
        # deadlines recomputed, as after any change of state.
        async with h.c.db.write() as conn:
            await conn.execute(update(t.cases).where(t.cases.c.id == case_id)
                               .values(status="closed", closed_at=h.clock.now()))
        await deadlines.refresh_deadlines(h.c.services, case_id)
        rows = await steps(h.c, case_id)
        assert {r.status for r in rows.values()} <= {"closed", "done", "pending"}
        assert all(r.next_reminder_at is None for r in rows.values())

        await h.flush()  # the reminders recorded before it closed are not posted
        await _sweep_on(h, *LATER)
        assert len(reminder_posts(h)) == posts_before
        assert await outbox_counts(h.c) == {"sent": len(await reminder_rows(h.c, case_id))}

        # Closing through the lifecycle (the only way a use case closes a case) stops them too:
        # the case is put back to decided with its reminders running, then handed over and closed.
        async with h.c.db.write() as conn:
            await conn.execute(update(t.cases).where(t.cases.c.id == case_id)
                               .values(status="decided", closed_at=None))
        await deadlines.refresh_deadlines(h.c.services, case_id)
        assert any(r.next_reminder_at is not None for r in (await steps(h.c, case_id)).values())
        await h.c.stores.cases.move(case_id, CaseStatus.HANDED_OVER, Mover.MANAGER, None, h.clock.now())
        await h.c.stores.cases.move(case_id, CaseStatus.CLOSED, Mover.MANAGER, None, h.clock.now())
        rows = await steps(h.c, case_id)
        assert {r.status for r in rows.values()} <= {"closed", "done", "pending"}
        assert all(r.next_reminder_at is None for r in rows.values())
        assert not (await h.c.stores.cases.get_case_by_id(case_id)).summary.status.is_open


# ---- 6. a backlog, paced under Teams' limits -----------------------------------------------------

# A backlog after downtime: 150 panel votes due at once, each reminder for the three panel
# members who have not voted. Each goes to the owner's personal chat, the ones due for one person
# at once as digests (bot/services/reminder_delivery.py): 150 reminders to 3 people are some forty
# messages, not 450, and no chat comes near Teams' limits. The connector enforces every Teams limit
# (per thread and per tenant) and counts any request over one; the pacer and the connector share
# the harness's fake monotonic clock, so the test takes a second or two of real time.
BACKLOG = 150


async def test_a_backlog_of_reminders_goes_out_as_digests_retried_none_dropped_no_limit_exceeded(
        tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as h:
        status, _ = await h.post(A.channel_message(h.url, A.PAT, "use this channel for the panel"))
        assert status in (200, 201)
        ctx = h.c.services

        # 150 referrals on Monday 10:00, through the use case; their panel vote is due on Wednesday.
        case_ids = []
        for n in range(BACKLOG):
            submitted = await submit_referral(ctx, RILEY, f"draft-{n}", make_referral())
            case_ids.append(submitted.case.id)
        for case_id in case_ids:
            await deadlines.refresh_deadlines(ctx, case_id)
        async with h.c.db.write() as conn:  # their panel cards are not what this test is about
            await conn.execute(update(t.outbox).values(status="sent"))

        # Nobody voted and the bot was down on Wednesday morning: 150 reminders due at once.
        h.clock.set(london(25, 9, 30))
        assert await deadlines.sweep(ctx) == BACKLOG
        h.connector.clear()
        h.connector.enforce_teams_limits()
        h.connector.fail_next(20, status=429, retry_after=1, route_kind="send")
        monotonic = h.monotonic  # the pacer waits on it; the connector stamps arrivals with it

        started = monotonic()
        for _ in range(30):
            await h.flush()
            counts = {**await outbox_counts(h.c), **await outbox_counts(h.c, per_person=True)}
            if set(counts) == {"sent"} or monotonic() - started > 100:
                break
            h.clock.advance(seconds=2)  # past the Retry-After of what was refused
        took = monotonic() - started

        posts = reminder_posts(h)
        assert len(posts) == BACKLOG
        assert {p["ref"] for p in posts} == {f"RR-2026-{n:04d}" for n in range(1, BACKLOG + 1)}
        assert all(p["late"] for p in posts)
        panel_members = {m.aad_object_id for m in await ctx.roster.members(Role.PANEL) if m.aad_object_id}
        assert all(len(p["reached"]) == len(panel_members) for p in posts)  # each owner, once
        assert await outbox_counts(h.c) == {"sent": BACKLOG}
        assert await outbox_counts(h.c, per_person=True) == {"sent": BACKLOG * len(panel_members)}
        assert all(r["sent_at"] is not None for r in await reminder_rows(h.c))

        stats = h.connector.stats()
        assert stats["faulted"] == 20
        assert stats["violations"] == 0, stats["violations_by_limit"]
        chats = {chat for p in posts for chat in p["reached"]}
        messages = sum(stats["by_conversation"][chat]["sends"] for chat in chats)
        most = -(-BACKLOG // DIGEST_MOST)  # digests of at most DIGEST_MOST reminders
        assert messages <= len(chats) * most + 20, messages
        assert A.PANEL_CHANNEL_ID not in stats["by_conversation"]  # nothing in the channel
        assert took < 30, f"{BACKLOG} reminders took {took:.0f} s"
