"""How long one callback holds the event loop: a measurement for the benchmark, off by default.

Why: the embedded SQLite runs its statements on the event loop (bot/adapters/db/inline_sqlite.py),
so a slow statement makes every other request wait for as long as it runs. The benchmark
(tests/bench/bench.py) checks that no request waits behind a `status` call for more than a few
milliseconds: with LOOP_PROBE_FILE set, every callback the loop runs is timed, in the loop thread's
CPU time (on a shared machine, wall time would also count the moments the OS gave the core to
another process, which no request of this bot waits for), and the longest hold is kept per kind
of conversation the turn came from (`personal`, `channel`, … or `none` outside a turn: the outbox,
the scheduler). SIGUSR1 starts the timing and writes the figures since the last signal to that file
as JSON; SIGUSR2 stops it. Without the setting nothing is patched and nothing is timed.

The garbage collector runs inside whichever callback allocates when a generation fills up, so a
hold is also told without the collections it ran (`max_without_gc_ms`), and each generation's
collections are counted with their longest pause: which holds are the turn's own work and which
are the collector's.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.domain import trace

# Holds counted, in milliseconds of the loop thread's CPU time. Shorter ones are counted but not
# attributed to a kind of conversation (that costs a look into the callback's context).
COUNTED_ABOVE_MS = (1.0, 5.0)
ATTRIBUTED_ABOVE_MS = 0.2


@dataclass
class KindFigures:
    callbacks: int = 0
    max_ms: float = 0.0
    max_wall_ms: float = 0.0
    max_without_gc_ms: float = 0.0
    max_ended_at: str = ""  # where the longest hold's task stopped (its next await), to find it in the code
    above: dict[str, int] = field(default_factory=lambda: {f"{ms:g}": 0 for ms in COUNTED_ABOVE_MS})


class LoopProbe:
    """The figures since the last dump, by conversation kind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kinds: dict[str, KindFigures] = {}
        self.short = 0
        self.since = time.time()
        self.dumps = 0
        self.loop_thread = threading.get_ident()  # the signals arm the probe from the main thread, the loop's
        self.gc_started = 0.0
        self.gc_ms_in_callback = 0.0  # collections during the callback being timed
        self.collections: dict[str, dict[str, float]] = {}  # generation -> count, longest pause

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """gc.callbacks: the collector's pauses in the loop thread, in its CPU time like the holds."""
        if threading.get_ident() != self.loop_thread:
            return
        if phase == "start":
            self.gc_started = time.thread_time()
            return
        pause_ms = (time.thread_time() - self.gc_started) * 1000
        self.gc_ms_in_callback += pause_ms
        figures = self.collections.setdefault(str(info.get("generation")), {"count": 0, "max_ms": 0.0})
        figures["count"] += 1
        figures["max_ms"] = round(max(figures["max_ms"], pause_ms), 3)

    def note(self, kind: str, cpu_ms: float, wall_ms: float, gc_ms: float = 0.0,
             ended_at: Callable[[], str] | None = None) -> None:
        figures = self.kinds.get(kind)
        if figures is None:
            figures = self.kinds[kind] = KindFigures()
        figures.callbacks += 1
        if cpu_ms > figures.max_ms and ended_at is not None:
            figures.max_ended_at = ended_at()
        figures.max_ms = max(figures.max_ms, cpu_ms)
        figures.max_wall_ms = max(figures.max_wall_ms, wall_ms)
        figures.max_without_gc_ms = max(figures.max_without_gc_ms, cpu_ms - gc_ms)
        for limit in COUNTED_ABOVE_MS:
            if cpu_ms > limit:
                figures.above[f"{limit:g}"] += 1

    def dump(self) -> None:
        """Write the figures (atomically: the benchmark reads the file as soon as it changes) and reset."""
        self.dumps += 1
        report: dict[str, Any] = {
            "dump": self.dumps,
            "seconds": round(time.time() - self.since, 3),
            "short_callbacks": self.short,
            "kinds": {k: vars(v) for k, v in self.kinds.items()},
            "collections": self.collections,
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(report))
        os.replace(partial, self.path)
        self.kinds = {}
        self.short = 0
        self.collections = {}
        self.since = time.time()


def _suspended_at(handle: asyncio.Handle) -> str:
    """The innermost frames a task's coroutine waits in after this step ("dir/file:line function",
    the outer of the two first), "finished" and the coroutine's name when it ended, or the callback's name when it is not a
    task's step: the end of a hold, named in the code."""
    task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    if not isinstance(task, asyncio.Task):
        return getattr(handle._callback, "__qualname__", repr(handle._callback))  # type: ignore[attr-defined]
    coro: Any = task.get_coro()
    frames: list[str] = []
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        frame = coro.cr_frame
        frames.append(f"{'/'.join(frame.f_code.co_filename.rsplit('/', 2)[-2:])}:{frame.f_lineno} "
                      f"{frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None)
    return " > ".join(frames[-2:]) or f"finished {getattr(task.get_coro(), '__qualname__', '')}".rstrip()


def _kind_of(turn: trace.Turn | None) -> str:
    if turn is None:
        return "none"
    return turn.conversation_kind or "unknown"


def install(path: Path) -> LoopProbe:
    """Arm the probe by signal: the first SIGUSR1 starts timing every callback of the loop, each
    later one writes the figures since the previous and starts again, and SIGUSR2 stops timing.
    Timing costs a few microseconds per callback (the thread's CPU clock is a system call), so the
    benchmark times only the rounds it measures the loop in. (`uninstall` undoes it: for tests.)"""
    probe = LoopProbe(path)
    untimed: Callable[[asyncio.Handle], None] = asyncio.events.Handle._run  # type: ignore[attr-defined]
    thread_time, perf_counter = time.thread_time, time.perf_counter

    def timed_run(handle: asyncio.Handle) -> None:
        # The turn as the callback starts (its last step ends the turn), else as it ends (its first
        # begins it), else the turn it began and ended (a whole turn in one callback).
        context = handle._context  # type: ignore[attr-defined]
        turn = trace.current_in(context)
        trace.forget_ended()
        probe.gc_ms_in_callback = 0.0
        cpu, wall = thread_time(), perf_counter()
        untimed(handle)
        cpu_ms = (thread_time() - cpu) * 1000
        if cpu_ms < ATTRIBUTED_ABOVE_MS:
            probe.short += 1
        else:
            probe.note(_kind_of(turn or trace.current_in(context) or trace.ended_last()), cpu_ms, (perf_counter() - wall) * 1000,
                       probe.gc_ms_in_callback, lambda: _suspended_at(handle))

    def dump_and_time(_signum: int, _frame: object) -> None:
        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        if probe.on_gc not in gc.callbacks:
            gc.callbacks.append(probe.on_gc)
        probe.dump()

    def stop_timing(_signum: int, _frame: object) -> None:
        asyncio.events.Handle._run = untimed  # type: ignore[method-assign,assignment]
        if probe.on_gc in gc.callbacks:
            gc.callbacks.remove(probe.on_gc)

    _installed.append((untimed, signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGUSR2)))
    signal.signal(signal.SIGUSR1, dump_and_time)
    signal.signal(signal.SIGUSR2, stop_timing)
    return probe


_installed: list[tuple[Callable[[asyncio.Handle], None], Any, Any]] = []


def uninstall() -> None:
    """Put back what `install` replaced."""
    untimed, on_usr1, on_usr2 = _installed.pop()
    asyncio.events.Handle._run = untimed  # type: ignore[method-assign,assignment]
    gc.callbacks[:] = [c for c in gc.callbacks if not isinstance(getattr(c, "__self__", None), LoopProbe)]
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
