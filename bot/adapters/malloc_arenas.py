"""One malloc arena for the whole process, on glibc.

glibc gives a thread that allocates while another holds the main heap an arena of its own (up to
eight per core), and memory freed in one arena is never reused by another. The bot's threads are
few and mostly idle: the worker threads that run `status`'s aggregate away from the event loop
(Database.read_off_loop) and the scheduler's. But the aggregate's SQLite page cache and rows then
live in a second heap beside the main one, and the process kept both: in `make bench` the bot's
RSS grew by about 4 MiB over the `status` rounds with the default, and by 1 to 1.5 MiB with one
arena, for the same throughput (three short runs each on the project's 2-core VM, peak RSS
122.3-124.4 against 119.1-120.5 MiB).

The threads rarely allocate at the same moment, so the lock one arena needs costs nothing we
could measure. An operator's own `MALLOC_ARENA_MAX` (read by glibc itself) is left as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's malloc.h


def use_one_arena() -> bool:
    """Before any thread starts. True when glibc took the setting."""
    if "MALLOC_ARENA_MAX" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError) as error:  # not the C library we expected: leave malloc as it is
        log.info("malloc arenas left as they are", extra={"error": type(error).__name__})
        return False
