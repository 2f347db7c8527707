"""Clocks. The system one for production; tests move a FixedClock; training mode adds an offset."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.services.ports import Clock


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = at

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


class TrainingClock:
    """Training mode's clock: the base clock plus an offset kept in the database, so every
    process and a restart agree on the training date. `now()` is synchronous (the Clock
    port), so the offset is read into memory by `refresh()` (at start, before each turn and
    each sweep) and written through by `move_to()`."""

    def __init__(self, base: Clock, load: Callable[[], Awaitable[float]],
                 save: Callable[[float], Awaitable[None]]) -> None:
        self._base = base
        self._load = load
        self._save = save
        self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        return self._base.now() + self._offset

    async def refresh(self) -> None:
        self._offset = timedelta(seconds=await self._load())

    async def move_to(self, moment: datetime) -> None:
        await self.refresh()
        if moment < self.now():
            raise ValueError("the training clock only moves forwards")
        offset = moment - self._base.now()
        await self._save(offset.total_seconds())
        self._offset = offset
