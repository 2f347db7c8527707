"""SQLite's WAL checkpoints, run in a worker thread instead of inside a commit on the event loop.

With `journal_mode=WAL` a commit appends to the write-ahead log, and by default the commit that
takes the log past 1,000 pages also copies the log back into the database file and fsyncs it (an
automatic checkpoint). The embedded SQLite runs its statements on the event loop
(inline_sqlite.py), so that fsync held every request of the process: measured on the project's
VM, on a 100,000-case database, 3,000 small write transactions had 4 commits over 5 ms, the
longest 958 ms when the file had pages not yet on disk and 22.7 ms while another process wrote to
the disk; with the checkpoints elsewhere the longest was 0.5 ms.

So the bot's connections have automatic checkpoints off, and every `EVERY_WRITES` write
transactions of this process a PASSIVE checkpoint runs on a connection of its own in a worker
thread (sqlite3 lets go of the GIL while it copies and syncs). PASSIVE never waits for, and never
blocks, readers or writers: what it cannot copy now the next one does.

SQLite starts the log again from its beginning only when a writer finds every frame copied. Under
a steady stream of writes a checkpoint in another thread never gets there (frames come in while it
copies), and the log would grow without end. So when the log has passed `LOG_LIMIT_FRAMES`, the
checkpoint copies the rest while this process's writers wait for it (they wait on the loop, which
goes on serving everything else), and the next write starts the log again. That is one short wait
for writers every few thousand pages, where the automatic checkpoint held the whole process every
thousand. Only a process that writes through `Database.write` turns automatic checkpoints off
(Database's `checkpoint_off_loop`); every other connection (the admin commands, the job store)
keeps SQLite's own, and closing the last connection checkpoints what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sqlite3

log = logging.getLogger(__name__)

EVERY_WRITES = 100  # write transactions between checkpoints: a few pages each, well under SQLite's 1,000
LOG_LIMIT_FRAMES = 4000  # past this the checkpoint finishes with this process's writers held (16 MiB of 4 KiB pages)


class WalCheckpoints:
    def __init__(
        self,
        database_path: str,
        writers: asyncio.Lock,
        every_writes: int = EVERY_WRITES,
        log_limit_frames: int = LOG_LIMIT_FRAMES,
    ) -> None:
        """`writers`: the lock this process's SQLite writers take turns on (Database.write)."""
        self._path = database_path
        self._writers = writers
        self._every = every_writes
        self._log_limit = log_limit_frames
        self._writes = 0
        self._running: asyncio.Task[None] | None = None
        self._connection: sqlite3.Connection | None = None
        self.completed = 0  # checkpoints that ran (tests, and the debug log)
        self.finished_with_writers_held = 0

    def after_write(self) -> None:
        """Called after each committed write transaction, on the event loop."""
        self._writes += 1
        if self._writes >= self._every and self._running is None:
            self._writes = 0
            # In a context of its own: the write that happened to start it is some turn's, and the
            # checkpoint is no part of that turn (its log line must not carry the turn's correlation).
            self._running = asyncio.get_running_loop().create_task(
                self._checkpoint(), name="wal-checkpoint", context=contextvars.Context()
            )

    async def _checkpoint(self) -> None:
        try:
            busy, frames, copied = await asyncio.to_thread(self._passive)
            if frames >= self._log_limit:  # the rest, with no write of ours coming in meanwhile
                async with self._writers:
                    busy, frames, copied = await asyncio.to_thread(self._passive)
                self.finished_with_writers_held += 1
            self.completed += 1
            log.debug("WAL checkpoint", extra={"busy": busy, "frames": frames, "copied": copied})
        except Exception as error:  # noqa: BLE001 - the next one tries again; nothing is lost meanwhile
            log.warning("WAL checkpoint failed", extra={"error": type(error).__name__})
            self._close_connection()
        finally:
            self._running = None

    def _passive(self) -> tuple[int, int, int]:
        """In the worker thread: one PASSIVE checkpoint (busy flag, log frames, frames copied)."""
        if self._connection is None:
            # One thread at a time uses it (`_running`), though not always the same one; a busy
            # wait here holds a worker thread, never the loop.
            self._connection = sqlite3.connect(self._path, timeout=1.0, isolation_level=None, check_same_thread=False)
            self._connection.execute("PRAGMA synchronous=NORMAL")
        busy, frames, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(copied)

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()

    async def close(self) -> None:
        """Waits for a checkpoint under way, then closes its connection."""
        if self._running is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._running)
        self._close_connection()
