"""The jobs APScheduler runs. Its job store pickles the job, so a job is a module-level
function with no arguments; what it does is registered here by the composition root
at start-up. No rules live here: the sweep is a use case (bot/services/deadlines.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

_sweep: Callable[[], Awaitable[int]] | None = None


def register_sweep(sweep: Callable[[], Awaitable[int]] | None) -> None:
    global _sweep
    _sweep = sweep


async def sweep() -> int:
    """Record and send whatever reminders are due now."""
    if _sweep is None:  # a job restored from the store before the app registered: nothing to do yet
        return 0
    return await _sweep()


_daily: Callable[[], Awaitable[int]] | None = None


def register_daily(daily: Callable[[], Awaitable[int]] | None) -> None:
    global _daily
    _daily = daily


async def retention_daily() -> int:
    """Once a day: the cases past their retention period listed for the data protection officer
    (bot/services/retention.py)."""
    if _daily is None:
        return 0
    return await _daily()
