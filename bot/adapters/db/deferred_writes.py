"""Writes that follow a turn and need not hold it up, carried by the process's next write.

Two small writes followed every vote, each a write transaction of its own: the answer stored
for Teams' retry of the activity, and the `sent` mark of the card update the vote handed to
the outbox. On SQLite a write transaction (BEGIN IMMEDIATE, the UPDATE, COMMIT) cost more
CPU than the row it wrote, about a tenth of a vote's (README, Performance). Here they wait,
in memory, for the next write transaction this process opens to claim an activity (the next
turn's, usually within milliseconds) and are written inside it, one statement per kind; when
no turn comes, a timer writes them in a transaction of their own after `FLUSH_SECONDS`.

What a crash can lose is the last `FLUSH_SECONDS` of them, and neither loses work:
- a stored answer is what a retried activity gets back. Without it the retry is still
  stopped by the activity's claim (written before the turn ran), and is told the click is
  being handled;
- a card update's `sent` mark only stops the outbox from putting the same view on the
  card again when its lease runs out; putting it again changes nothing anyone sees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05  # an idle process writes what is waiting this long after it came
RETRY_SECONDS = 1.0  # after a failed write (the database locked or unreachable), the next try


class Handle(Protocol):
    """The database handle the writes belong to (bot/adapters/db/database.py)."""

    keyring: Any

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


@dataclass(frozen=True, eq=False)
class DeferredKind:
    """One kind of deferred write: `write(db, conn, entries)` writes every (key, value) waiting,
    inside the caller's transaction. A later value for a key replaces the earlier one."""

    name: str
    write: Callable[[Handle, AsyncConnection, list[tuple[Hashable, Any]]], Awaitable[None]]


Taken = dict[DeferredKind, dict[Hashable, Any]]


class DeferredWrites:
    """The writes waiting in this process (one per database handle, so one per process)."""

    def __init__(self, db: Handle, *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._db = db
        self._flush_seconds = flush_seconds
        self._waiting: Taken = {}
        self._in_flight: set[tuple[DeferredKind, Hashable]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    def add(self, kind: DeferredKind, key: Hashable, value: Any) -> None:
        self._waiting.setdefault(kind, {})[key] = value
        self._flush_later(self._flush_seconds)

    def waiting(self) -> int:
        return sum(len(entries) for entries in self._waiting.values())

    def _nothing_to_take(self) -> bool:
        return all((kind, key) in self._in_flight for kind, entries in self._waiting.items() for key in entries)

    @asynccontextmanager
    async def carried_by(
        self, transaction: AbstractAsyncContextManager[AsyncConnection]
    ) -> AsyncIterator[AsyncConnection]:
        """`transaction`, with what is waiting written first inside it: settled when it commits,
        kept waiting when it does not."""
        taken: Taken = {}
        try:
            async with transaction as conn:
                taken = await self._write_in(conn)
                yield conn
        except BaseException:
            self._give_back(taken)
            raise
        self._settle(taken)

    async def _write_alone(self) -> None:
        """What is waiting, in a write transaction that carries nothing else."""
        taken: Taken = {}
        try:
            async with self._db.write() as conn:
                taken = await self._write_in(conn)
        except BaseException:
            self._give_back(taken)
            raise
        self._settle(taken)

    async def flush(self) -> None:
        """Write what is waiting now, in a transaction of its own (the timer, and shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._nothing_to_take():
            return
        try:
            await self._write_alone()
        except Exception as error:  # noqa: BLE001 - kept, and tried again: a turn never sees this
            log.warning(
                "deferred writes failed; trying again", extra={"error": type(error).__name__, "waiting": self.waiting()}
            )
            self._flush_later(RETRY_SECONDS)

    async def close(self) -> None:
        """At shutdown: let a write under way end, write what is waiting, once, and stop the timer."""
        if self._flushing is not None and not self._flushing.done():
            await self._flushing
        await self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- inside -----------------------------------------------------------------------------

    async def _write_in(self, conn: AsyncConnection) -> Taken:
        taken: Taken = {}
        for kind, entries in self._waiting.items():
            fresh = {key: value for key, value in entries.items() if (kind, key) not in self._in_flight}
            if fresh:
                taken[kind] = fresh
                self._in_flight.update((kind, key) for key in fresh)
        for kind, entries in taken.items():
            await kind.write(self._db, conn, list(entries.items()))
        return taken

    def _give_back(self, taken: Taken) -> None:
        for kind, entries in taken.items():
            self._in_flight.difference_update((kind, key) for key in entries)
        if taken:
            self._flush_later(RETRY_SECONDS)

    def _settle(self, taken: Taken) -> None:
        """Written: forget each entry unless a newer value came for its key meanwhile."""
        for kind, entries in taken.items():
            self._in_flight.difference_update((kind, key) for key in entries)
            waiting = self._waiting.get(kind, {})
            for key, value in entries.items():
                if waiting.get(key) is value:
                    del waiting[key]
            if not waiting:
                self._waiting.pop(kind, None)
        if not self._waiting and self._timer is not None:  # all written: the next add sets it again
            self._timer.cancel()
            self._timer = None

    def _flush_later(self, seconds: float) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): written with the next write, or at shutdown
            return
        self._timer = loop.call_later(seconds, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self.flush())
        else:  # one is running: look again after it
            self._flush_later(self._flush_seconds)
