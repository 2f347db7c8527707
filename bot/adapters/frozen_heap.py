"""Modules imported after start-up join the frozen heap, so full collections stay short.

Start-up ends with gc.freeze() (bot/__main__.py): what it loaded lives as long as the process,
and a full collection during a turn then walks only what turns allocate. But much of the bot
is imported on first use, to start fast: the dialogs, the Graph and meeting code, the holiday
tables of the `holidays` library (some 13,000 objects, 5 ms of every full collection alone).
Those modules live as long as the process too, yet were imported after the freeze, so every
full collection walked them again: the longest holds of the event loop during votes were such
collections (README, Performance).

So, for the first minutes after start-up, the bot looks every half minute whether modules were
imported since it last looked; when they were, it collects once (so no garbage of that moment
is kept forever) and freezes again. After the first minutes nothing is imported any more in
practice, and it stops looking.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

LOOK_EVERY_SECONDS = 30.0
LOOKS = 20  # the first ten minutes


def freeze_if_imported(modules_seen: int) -> int:
    """Collect and freeze when modules were imported since `modules_seen` were; returns the count
    of modules now, for the next look."""
    now = len(sys.modules)
    if now > modules_seen:
        gc.collect()
        gc.freeze()
        log.debug("late imports frozen", extra={"modules": now, "frozen_objects": gc.get_freeze_count()})
    return now


async def freeze_late_imports(sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """The task that looks (`sleep` injected, so a test need not wait)."""
    seen = len(sys.modules)
    for _ in range(LOOKS):
        await sleep(LOOK_EVERY_SECONDS)
        seen = freeze_if_imported(seen)


_looking: set[asyncio.Task[None]] = set()


def start() -> None:
    """Start looking, on the running loop (the task is kept here until it ends)."""
    task = asyncio.get_running_loop().create_task(freeze_late_imports(), name="freeze-late-imports")
    _looking.add(task)
    task.add_done_callback(_looking.discard)
