"""The per-conversation pacer keeps to every one of Teams' documented thread limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.teams.notifier import PACER_MARGIN_SECONDS, TEAMS_THREAD_LIMITS, ConversationPacer


def _most_in(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


async def test_a_backlog_is_sent_within_7_per_second_and_8_per_2_seconds() -> None:
    pacer = ConversationPacer()
    times: list[float] = []
    started = time.monotonic()
    for _ in range(17):
        await pacer.wait("19:panel@thread.tacv2")
        times.append(time.monotonic())
    assert _most_in(times, 1.0) <= 7
    assert _most_in(times, 2.0) <= 8
    # 8 in the first 2 s, 8 in the next, the 17th after 4 s: paced, not stalled.
    assert 4.0 <= time.monotonic() - started < 4.0 + 4 * PACER_MARGIN_SECONDS + 1.0


async def test_conversations_are_paced_separately() -> None:
    pacer = ConversationPacer()
    started = time.monotonic()
    await asyncio.gather(*(pacer.wait(f"conversation-{n % 4}") for n in range(28)))
    assert time.monotonic() - started < 0.5, "7 each in 4 conversations go out at once"


async def test_the_hourly_limit_holds_a_thread_that_used_it_up() -> None:
    pacer = ConversationPacer(limits=((3600.0, 3),))
    for _ in range(3):
        await pacer.wait("thread")
    with pytest.raises(TimeoutError):  # a fourth message inside the hour waits
        await asyncio.wait_for(pacer.wait("thread"), timeout=0.3)
    assert (3600.0, 1800) in TEAMS_THREAD_LIMITS and (2.0, 8) in TEAMS_THREAD_LIMITS
