"""The retention job is one of the leader's scheduled jobs: once a day at 07:00 in the
partnership's time zone, stored in the job store like the sweep (a run missed while no process
led runs when one does), and it calls the use case the composition root registered."""

from __future__ import annotations

import asyncio
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

from bot.adapters.db.database import Database, sync_url
from bot.adapters.db.leader import LeaderLock
from scheduler import jobs
from scheduler.runtime import DAILY_JOB_ID, SWEEP_JOB_ID, SchedulerRuntime


async def test_the_leader_schedules_the_daily_retention_job(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    await db.migrate()
    runs: list[str] = []

    async def sweep() -> int:
        return 0

    async def daily() -> int:
        runs.append("daily")
        return 3

    runtime = SchedulerRuntime(sync_url(db.url), LeaderLock(db), sweep, leader_retry_seconds=0.1,
                               time_zone="Europe/London", daily=daily)
    runtime.start()
    try:
        for _ in range(100):
            if runtime.is_leader:
                break
            await asyncio.sleep(0.05)
        assert runtime.is_leader
        scheduler = runtime._scheduler
        assert scheduler is not None
        job = scheduler.get_job(DAILY_JOB_ID)
        assert job is not None and scheduler.get_job(SWEEP_JOB_ID) is not None
        assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Europe/London"
        fields = {f.name: str(f) for f in job.trigger.fields}
        assert (fields["hour"], fields["minute"]) == ("7", "0")
        assert job.misfire_grace_time is None and job.coalesce
        assert await jobs.retention_daily() == 3 and runs == ["daily"]
    finally:
        await runtime.stop()
        await db.dispose()
    assert await jobs.retention_daily() == 0  # stood down: nothing registered
