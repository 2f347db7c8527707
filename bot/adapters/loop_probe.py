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
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
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
    above: dict[str, int] = field(default_factory=lambda: {f"{ms:g}": 0 for ms in COUNTED_ABOVE_MS})


class LoopProbe:
    """The figures since the last dump, by conversation kind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.kinds: dict[str, KindFigures] = {}
        self.short = 0
        self.since = time.time()
        self.dumps = 0

    def note(self, kind: str, cpu_ms: float, wall_ms: float) -> None:
        figures = self.kinds.get(kind)
        if figures is None:
            figures = self.kinds[kind] = KindFigures()
        figures.callbacks += 1
        figures.max_ms = max(figures.max_ms, cpu_ms)
        figures.max_wall_ms = max(figures.max_wall_ms, wall_ms)
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
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(report))
        os.replace(partial, self.path)
        self.kinds = {}
        self.short = 0
        self.since = time.time()


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
        # The turn as the callback starts (its last step ends the turn), else as it ends (its first begins it).
        context = handle._context  # type: ignore[attr-defined]
        turn = trace.current_in(context)
        cpu, wall = thread_time(), perf_counter()
        untimed(handle)
        cpu_ms = (thread_time() - cpu) * 1000
        if cpu_ms < ATTRIBUTED_ABOVE_MS:
            probe.short += 1
        else:
            probe.note(_kind_of(turn or trace.current_in(context)), cpu_ms, (perf_counter() - wall) * 1000)

    def dump_and_time(_signum: int, _frame: object) -> None:
        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        probe.dump()

    def stop_timing(_signum: int, _frame: object) -> None:
        asyncio.events.Handle._run = untimed  # type: ignore[method-assign,assignment]

    _installed.append((untimed, signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGUSR2)))
    signal.signal(signal.SIGUSR1, dump_and_time)
    signal.signal(signal.SIGUSR2, stop_timing)
    return probe


_installed: list[tuple[Callable[[asyncio.Handle], None], Any, Any]] = []


def uninstall() -> None:
    """Put back what `install` replaced."""
    untimed, on_usr1, on_usr2 = _installed.pop()
    asyncio.events.Handle._run = untimed  # type: ignore[method-assign,assignment]
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
