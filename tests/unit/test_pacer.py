"""The per-conversation pacer keeps to every one of Teams' documented thread limits.

The pacer reads a fake monotonic clock whose sleep advances it, so these tests take no
real time: an hour of pacing is as fast as a second of it.
"""

from __future__ import annotations

import asyncio
import bisect

from bot.teams.pacer import PACER_MARGIN_SECONDS, TEAMS_THREAD_LIMITS, ConversationPacer
from tests.support.fake_time import FakeMonotonic


def _pacer(clock: FakeMonotonic, **kwargs) -> ConversationPacer:
    return ConversationPacer(monotonic=clock, sleep=clock.sleep, **kwargs)


def _most_in(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


async def test_a_backlog_is_sent_within_7_per_second_and_8_per_2_seconds() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock)
    times: list[float] = []
    started = clock()
    for _ in range(17):
        await pacer.wait("19:panel@thread.tacv2")
        times.append(clock())
    assert _most_in(times, 1.0) <= 7
    assert _most_in(times, 2.0) <= 8
    # 8 in the first 2 s, 8 in the next, the 17th after 4 s: paced, not stalled.
    assert 4.0 <= clock() - started < 4.0 + 4 * PACER_MARGIN_SECONDS + 1.0


async def test_conversations_are_paced_separately() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock)
    started = clock()
    await asyncio.gather(*(pacer.wait(f"conversation-{n % 4}") for n in range(28)))
    assert clock() - started < 0.5, "7 each in 4 conversations go out at once"
    assert clock.sleeps == []


async def test_the_hourly_limit_holds_a_thread_that_used_it_up() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock, limits=((3600.0, 3),))
    for _ in range(3):
        await pacer.wait("thread")
    first = clock()
    # A fourth message inside the hour waits: it does not go out before the hour (and the
    # margin) has passed, and it is held by sleeping, not by spinning.
    await pacer.wait("thread")
    assert clock() - first >= 3600.0 + PACER_MARGIN_SECONDS
    assert clock() - first < 3600.0 + PACER_MARGIN_SECONDS + 1.0
    assert clock.sleeps and min(clock.sleeps) > PACER_MARGIN_SECONDS
    assert (3600.0, 1800) in TEAMS_THREAD_LIMITS and (2.0, 8) in TEAMS_THREAD_LIMITS


async def test_a_long_backlog_keeps_every_limit_60_per_30_seconds_and_1800_an_hour() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock)
    times: list[float] = []
    for _ in range(1801):
        await pacer.wait("19:panel@thread.tacv2")
        times.append(clock())
    for window, limit in TEAMS_THREAD_LIMITS:
        assert _most_in(times, window) <= limit, (window, limit)
    assert _most_in(times, 30.0) == 60  # at the limit, not below it
    # The 1,801st waits for the hour since the first to pass, plus the margin.
    assert times[-1] - times[0] >= 3600.0 + PACER_MARGIN_SECONDS
    assert times[-1] - times[0] < 3600.0 + PACER_MARGIN_SECONDS + 1.0


async def test_a_channels_reply_chains_count_together_unless_each_is_paced_alone() -> None:
    clock = FakeMonotonic()
    together = _pacer(clock)
    started = clock()
    for n in range(8):  # 8 replies in 8 case threads of one channel: the 8th waits, as in one thread
        await together.wait(f"19:panel@thread.tacv2;messageid={n}")
    assert clock() - started >= 1.0
    clock = FakeMonotonic()
    alone = _pacer(clock, each_reply_chain=True)
    started = clock()
    for n in range(8):
        await alone.wait(f"19:panel@thread.tacv2;messageid={n}")
    assert clock() - started == 0.0 and clock.sleeps == []


async def test_the_tenant_gets_at_most_50_per_second_across_all_threads() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock)
    times: list[float] = []

    async def send(n: int) -> None:
        await pacer.wait(f"a:personal-{n % 40}", "tenant")
        times.append(clock())

    await asyncio.gather(*(send(n) for n in range(160)))
    assert _most_in(times, 1.0) <= 50
    assert max(times) - min(times) >= 3.0, "160 sends at 50 per second take over 3 s"


async def test_retry_after_holds_back_only_the_refused_thread() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock)
    await pacer.wait("a:alice")
    pacer.hold("a:alice", 5.0)
    started = clock()
    await pacer.wait("a:bob")  # another conversation is not held
    assert clock() == started
    await pacer.wait("a:alice")
    assert clock() - started >= 5.0


async def test_a_send_is_counted_from_its_answer_so_a_slow_one_cannot_be_overtaken() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock, limits=((2.0, 2),))
    first = await pacer.wait("thread")
    second = await pacer.wait("thread")
    await clock.sleep(0.5)  # both took half a second to be answered
    pacer.sent("thread", first)
    pacer.sent("thread", second)
    started = clock()
    await pacer.wait("thread")  # two in 2 s: the third waits for 2 s after their ANSWERS, not their start
    assert clock() - started >= 2.0 + PACER_MARGIN_SECONDS


async def test_a_post_that_can_wait_lets_a_later_send_to_the_same_thread_go_first() -> None:
    """An escalation's record waiting for the panel channel's 60 per 30 s does not hold back the
    reminder that comes after it (a reminder nobody owns is posted in the case's thread)."""
    clock = FakeMonotonic()
    slept = asyncio.Event()
    time_passes = asyncio.Event()

    async def sleep(seconds: float) -> None:
        """The pacer's wait in this test: it returns once the test sets `time_passes`, so the
        reminder can arrive while the escalation waits; then the fake clock moves on."""
        slept.set()
        await time_passes.wait()
        clock.now += seconds

    pacer = ConversationPacer(limits=((30.0, 2),), monotonic=clock, sleep=sleep)
    for _ in range(2):
        await pacer.wait("19:panel@thread.tacv2;messageid=1")
    order: list[str] = []

    async def send(name: str, conversation: str, can_wait: bool) -> None:
        await pacer.wait(conversation, can_wait=can_wait)
        order.append(name)

    escalation = asyncio.create_task(send("escalation", "19:panel@thread.tacv2;messageid=2", True))
    for _ in range(3):
        await asyncio.sleep(0)
    assert slept.is_set() and not escalation.done(), "the escalation waits for the window"
    reminder = asyncio.create_task(send("reminder", "19:panel@thread.tacv2;messageid=3", False))
    for _ in range(3):
        await asyncio.sleep(0)
    time_passes.set()
    await asyncio.gather(escalation, reminder)
    assert order == ["reminder", "escalation"]


async def test_sends_that_cannot_wait_keep_their_order_and_a_cancelled_one_frees_its_turn() -> None:
    clock = FakeMonotonic()
    pacer = _pacer(clock, limits=((2.0, 1),))
    order: list[int] = []

    async def send(n: int) -> None:
        await pacer.wait("thread")
        order.append(n)

    tasks = [asyncio.create_task(send(n)) for n in range(5)]
    await asyncio.sleep(0)
    tasks[1].cancel()  # waiting for its turn: the others still go, in order
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [0, 2, 3, 4]
    assert pacer._waiting == {}, "nothing left waiting"  # noqa: SLF001 - no ticket outlives its send
