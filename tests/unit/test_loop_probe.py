"""The benchmark's event-loop probe (bot/adapters/loop_probe.py): the longest hold of the loop
by one callback, per kind of conversation the turn came from, written on SIGUSR1."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import time

import pytest

from bot.adapters import loop_probe
from bot.domain import trace


def _hold(ms: float) -> None:
    until = time.thread_time() + ms / 1000
    while time.thread_time() < until:
        pass


async def _turn(kind: str, ms: float) -> None:
    token = trace.begin(kind, "a:chat")
    try:
        await asyncio.sleep(0)
        _hold(ms)  # one callback of this task holds the loop this long
    finally:
        trace.end(token)


@pytest.fixture
def probe(tmp_path):
    installed = loop_probe.install(tmp_path / "loop.json")
    os.kill(os.getpid(), signal.SIGUSR1)  # start timing (the handler runs before kill returns)
    yield installed
    loop_probe.uninstall()


def test_the_longest_hold_is_kept_per_kind_of_conversation(probe) -> None:
    async def run() -> None:
        await asyncio.gather(_turn("personal", 8), _turn("channel", 2))
        _hold(0.5)  # outside any turn

    asyncio.run(run())
    os.kill(os.getpid(), signal.SIGUSR1)
    found = json.loads(probe.path.read_text())
    kinds = found["kinds"]
    assert found["dump"] == 2
    assert kinds["personal"]["max_ms"] >= 8 and kinds["personal"]["above"]["5"] == 1
    assert 2 <= kinds["channel"]["max_ms"] < 5 and kinds["channel"]["above"]["5"] == 0
    assert found["short_callbacks"] > 0


def test_a_dump_starts_the_figures_again(probe) -> None:
    asyncio.run(_turn("personal", 3))
    probe.dump()
    asyncio.run(asyncio.sleep(0))
    probe.dump()
    found = json.loads(probe.path.read_text())
    assert found["dump"] == 3
    assert "personal" not in found["kinds"]


def test_the_loop_is_timed_only_between_the_signals(tmp_path) -> None:
    untimed = asyncio.events.Handle._run
    loop_probe.install(tmp_path / "loop.json")
    try:
        assert asyncio.events.Handle._run is untimed
        os.kill(os.getpid(), signal.SIGUSR1)
        assert asyncio.events.Handle._run is not untimed
        os.kill(os.getpid(), signal.SIGUSR2)
        assert asyncio.events.Handle._run is untimed
    finally:
        loop_probe.uninstall()
    assert asyncio.events.Handle._run is untimed


def test_a_collection_inside_a_hold_is_told_apart_from_the_turns_own_work(probe) -> None:
    async def collecting() -> None:
        token = trace.begin("personal", "a:chat")
        try:
            await asyncio.sleep(0)
            garbage = [[object() for _ in range(50)] for _ in range(20_000)]  # something for the collector to walk
            _hold(1)
            gc.collect()  # what a full generation does inside whichever callback allocates
            del garbage
        finally:
            trace.end(token)

    asyncio.run(collecting())
    os.kill(os.getpid(), signal.SIGUSR1)
    found = json.loads(probe.path.read_text())
    personal = found["kinds"]["personal"]
    assert found["collections"]["2"]["count"] >= 1 and found["collections"]["2"]["max_ms"] > 0
    assert 1 <= personal["max_without_gc_ms"] < personal["max_ms"]


def test_the_longest_hold_is_named_by_where_its_task_stopped(probe) -> None:
    async def holds_then_waits() -> None:
        token = trace.begin("personal", "a:chat")
        try:
            await asyncio.sleep(0)
            _hold(6)
            await asyncio.sleep(0.001)  # the hold ends here
        finally:
            trace.end(token)

    asyncio.run(holds_then_waits())
    os.kill(os.getpid(), signal.SIGUSR1)
    ended_at = json.loads(probe.path.read_text())["kinds"]["personal"]["max_ended_at"]
    assert "test_loop_probe.py" in ended_at and "holds_then_waits" in ended_at and "sleep" in ended_at


def test_a_whole_turn_in_one_callback_counts_as_that_turn_and_is_named(probe) -> None:
    """A turn that never waits (every statement in place) begins and ends inside one callback: its
    hold is the turn's kind, not "outside turns", and the task that finished is named."""
    async def whole_turn() -> None:
        token = trace.begin("channel", "a:channel")
        try:
            _hold(6)
        finally:
            trace.end(token)

    async def run() -> None:
        await asyncio.create_task(whole_turn())

    asyncio.run(run())
    os.kill(os.getpid(), signal.SIGUSR1)
    kinds = json.loads(probe.path.read_text())["kinds"]
    assert kinds["channel"]["max_ms"] >= 6 and "none" not in kinds
    assert kinds["channel"]["max_ended_at"].startswith("finished ") and kinds["channel"]["max_ended_at"].endswith(".whole_turn")
