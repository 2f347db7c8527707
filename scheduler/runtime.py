"""APScheduler 3 on the bot's event loop, with its job store in the bot's database.

The deadline and reminder rows are the record of what is due; APScheduler is only the
trigger. One interval job, `sweep`, looks for due reminders every minute. It is stored
with `misfire_grace_time=None` and `coalesce=True`: APScheduler's default grace of one
second would silently drop a run that fell due while the process was down. The sweep
also runs once as soon as this process becomes leader, so a reminder missed during
downtime is posted (once, marked delayed) at start.

Only the leader (see bot/adapters/db/leader.py) runs a scheduler; the others try to
take over every `leader_retry_seconds`. A leader whose scheduler has stopped sweeping (its job
store could not be written while the database was locked) starts it again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler import jobs

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "rapid-review-sweep"
DAILY_JOB_ID = "rapid-review-retention"  # once a day, at DAILY_AT in the partnership's time zone
DAILY_AT = (7, 0)
JOBS_TABLE = "apscheduler_jobs"
STALLED_INTERVALS = 3
# The job store's SQLite lock wait, in seconds. Its writes run on the event loop (APScheduler 3
# updates a job there after each run), so a locked database must not hold the loop — and every
# turn's answer — for sqlite3's default 5 s; a write that gives up is caught by `_stalled`.
JOB_STORE_SQLITE_TIMEOUT = 0.25


def _job_store_engine_options(url: str) -> dict[str, object]:
    return {"connect_args": {"timeout": JOB_STORE_SQLITE_TIMEOUT}} if url.startswith("sqlite") else {}


class Leadership(Protocol):
    held: bool

    async def try_acquire(self) -> bool: ...
    async def still_held(self) -> bool: ...
    async def release(self) -> None: ...


class SchedulerRuntime:
    def __init__(self, sync_database_url: str, leadership: Leadership, sweep: Callable[[], Awaitable[int]], *,
                 interval_seconds: int = 60, leader_retry_seconds: float = 15.0, time_zone: str = "Europe/London",
                 daily: Callable[[], Awaitable[int]] | None = None, first_attempt_after: float = 0.0) -> None:
        self._url = sync_database_url
        # At most this many seconds before the first try for the lead when `start` is given an
        # event to wait for (the real process's first answered turn): the job store, APScheduler
        # and the catch-up sweep then do not compete with the first turn for the loop.
        self._first_attempt_after = first_attempt_after
        self._leadership = leadership
        self._sweep = sweep
        self._daily = daily
        self._interval = interval_seconds
        self._retry = leader_retry_seconds
        self._tz = time_zone
        self._scheduler: AsyncIOScheduler | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        self._sweeping = 0  # sweeps running now (a long one is not a stall)

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None

    def start(self, after: asyncio.Event | None = None) -> None:
        """Start trying for the lead: at once, or once `after` is set (at most
        `first_attempt_after` seconds later). Nothing due is lost by waiting: the catch-up sweep
        runs when the lead is taken."""
        jobs.register_sweep(self._timed_sweep)
        jobs.register_daily(self._daily)
        self._task = asyncio.create_task(self._lead(after), name="scheduler-leadership")

    async def _timed_sweep(self) -> int:
        self._last_sweep = asyncio.get_running_loop().time()
        self._sweeping += 1
        try:
            return await self._sweep()
        finally:
            self._sweeping -= 1
            self._last_sweep = asyncio.get_running_loop().time()

    def _stalled(self) -> bool:
        """No sweep for three intervals: APScheduler stops waking up for good when its job store
        cannot be written after a run (a database locked past the store's timeout), so the
        leader starts it again rather than never sweeping again."""
        idle = asyncio.get_running_loop().time() - self._last_sweep
        return not self._sweeping and idle > STALLED_INTERVALS * self._interval

    async def _lead(self, after: asyncio.Event | None = None) -> None:
        if after is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(after.wait(), self._first_attempt_after)
        while True:
            try:
                if self._scheduler is None and await self._leadership.try_acquire():
                    await self._become_leader()
                elif self._scheduler is not None and not await self._leadership.still_held():
                    self._stand_down()
                elif self._scheduler is not None and self._stalled():
                    log.warning("scheduler stalled (no sweep for %d intervals): starting it again", STALLED_INTERVALS)
                    self._stand_down()
                    continue
            except Exception:  # keep trying: a database blip must not end scheduling for good
                log.exception("scheduler leadership check failed")
                self._stand_down()  # never leave a half-started scheduler running beside the next one
            await asyncio.sleep(self._retry)

    async def _become_leader(self) -> None:
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=self._url, tablename=JOBS_TABLE,
                                                     engine_options=_job_store_engine_options(self._url))},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            timezone=self._tz,
            # Its start() below runs in a worker thread, where it cannot find this loop itself.
            event_loop=asyncio.get_running_loop(),
        )
        try:
            # The job store is synchronous SQLAlchemy: create its table off the event loop.
            await asyncio.to_thread(scheduler.start, paused=True)
            await asyncio.to_thread(
                scheduler.add_job, jobs.sweep, "interval", seconds=self._interval, id=SWEEP_JOB_ID,
                replace_existing=True,
            )
            if self._daily is not None:  # a run missed while no process led runs when one does (no grace limit)
                await asyncio.to_thread(
                    scheduler.add_job, jobs.retention_daily, "cron", hour=DAILY_AT[0], minute=DAILY_AT[1],
                    id=DAILY_JOB_ID, replace_existing=True,
                )
        except BaseException:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            raise
        scheduler.resume()
        self._scheduler = scheduler
        log.info("scheduler started: this process is the leader")
        await self._timed_sweep()  # anything that fell due while no process was leading

    def _stand_down(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._stand_down()
        await self._leadership.release()
        jobs.register_sweep(None)
        jobs.register_daily(None)
