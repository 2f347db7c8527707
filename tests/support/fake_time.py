"""A monotonic clock for tests that moves only when the code under test sleeps on it."""

from __future__ import annotations

import asyncio


class FakeMonotonic:
    """Call it for the time (like time.monotonic); await its `sleep` (like asyncio.sleep) to
    advance it by that much at once. `sleeps` records every wait asked for. It is read, never
    advanced, from other threads (the fake connector's), so it needs no lock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)  # still a suspension point, as the real sleep is
