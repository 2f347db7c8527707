"""The real process's scheduler tries for the lead once the first turn has been answered
(scheduler/runtime.py, `start(after=...)`), so the job store, APScheduler and the catch-up
sweep do not compete with the first turn; started without an event it tries at once."""

from __future__ import annotations

import asyncio

from scheduler.runtime import SchedulerRuntime


class _Leadership:
    """Never granted: only the tries are counted (no APScheduler starts)."""

    held = False

    def __init__(self) -> None:
        self.tries = 0

    async def try_acquire(self) -> bool:
        self.tries += 1
        return False

    async def still_held(self) -> bool:
        return False

    async def release(self) -> None:
        return None


async def _nothing() -> int:
    return 0


async def _let_the_loop_run() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_the_lead_is_tried_only_once_the_first_turn_is_answered() -> None:
    leadership, answered = _Leadership(), asyncio.Event()
    runtime = SchedulerRuntime("sqlite://", leadership, _nothing, leader_retry_seconds=3600, first_attempt_after=3600)
    runtime.start(after=answered)
    try:
        await _let_the_loop_run()
        assert leadership.tries == 0
        answered.set()
        await _let_the_loop_run()
        assert leadership.tries == 1
    finally:
        await runtime.stop()


async def test_without_an_event_the_lead_is_tried_at_once() -> None:
    leadership = _Leadership()
    runtime = SchedulerRuntime("sqlite://", leadership, _nothing, leader_retry_seconds=3600, first_attempt_after=3600)
    runtime.start()
    try:
        await _let_the_loop_run()
        assert leadership.tries == 1
    finally:
        await runtime.stop()
