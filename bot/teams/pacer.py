"""Keeping the bot's posts inside Teams' rate limits, so a backlog goes out at the documented
pace instead of bouncing off 429s.

Teams limits one bot in one thread to 7 messages per second, 8 per 2 s, 60 per 30 s and
1,800 per hour, and one app to 50 requests per second per tenant across all threads
(https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit). That page
defines a thread as a 1:1 chat, a group chat or a channel, so by default every reply chain of a
channel counts together against the channel; `each_reply_chain=True` (PACE_EACH_REPLY_CHAIN)
paces each reply chain on its own instead. A 429's Retry-After holds back the one thread that
was refused, not every other conversation.

The sends waiting for one thread go in the order they asked, except that a send that can wait
(an escalation's record in a case's thread) lets every other send waiting for the same thread go
first: when more posts fall due in the panel channel than Teams allows in 30 s, the reminders
nobody on the roster owns, which are posted there, are not held behind the escalations.

`monotonic` and `sleep` are the clock it reads and the wait it awaits (the real ones by
default); tests pass a fake clock whose sleep advances it, so no test waits in real time.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from bot.services.ports import THREAD_MARK

# Teams counts a message when it arrives, we count it when we decide to send it: sending exactly
# at the limit, a little jitter in request latency makes Teams see 8 in a second and answer 429
# (0.1 s was not enough on a loaded 2-core machine: the benchmark's connector saw 9 in 2 s).
PACER_MARGIN_SECONDS = 0.25

# Teams' documented limits for one bot in one conversation thread, as (window seconds, messages).
TEAMS_THREAD_LIMITS = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
# ... and for one app in one tenant, across all its threads.
TEAMS_TENANT_LIMITS = ((1.0, 50),)

Limits = tuple[tuple[float, int], ...]


def _delay(sent: list[float], limits: Limits, now: float) -> float:
    """How long until one more send fits in every window (0: it fits now)."""
    delay = 0.0
    for window, limit in limits:
        in_window = len(sent) - bisect.bisect_right(sent, now - window)
        if in_window >= limit:
            delay = max(delay, window - (now - sent[-limit]) + PACER_MARGIN_SECONDS)
    return delay


def _forget_before(sent: list[float], moment: float) -> None:
    expired = bisect.bisect_right(sent, moment)
    if expired:
        del sent[:expired]


class ConversationPacer:
    """Waits, before each send, until it fits the thread's limits, the tenant's limit and any
    Retry-After Teams gave for the thread."""

    def __init__(
        self,
        limits: Limits = TEAMS_THREAD_LIMITS,
        *,
        tenant_limits: Limits = TEAMS_TENANT_LIMITS,
        each_reply_chain: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = limits
        self._tenant_limits = tenant_limits
        self._each_reply_chain = each_reply_chain
        self._monotonic = monotonic
        self._sleep = sleep
        self._longest = max(window for window, _ in limits)
        self._tenant_longest = max((window for window, _ in tenant_limits), default=0.0)
        self._sent: dict[str, list[float]] = defaultdict(list)  # per thread: send times, oldest first
        self._tenant_sent: dict[str, list[float]] = defaultdict(list)  # per tenant
        self._held_until: dict[str, float] = {}  # per thread: Teams' Retry-After
        # per thread: the sends waiting, as (can wait, arrival) tickets; the least goes next
        self._waiting: dict[str, list[tuple[bool, int]]] = defaultdict(list)
        self._turn_moved: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._arrivals = itertools.count()

    def thread_of(self, conversation_id: str) -> str:
        """The thread whose limits a send to this conversation counts against."""
        return conversation_id if self._each_reply_chain else conversation_id.split(THREAD_MARK, 1)[0]

    async def wait(self, conversation_id: str, tenant_id: str | None = None, *, can_wait: bool = False) -> float:
        """Until one more send fits and no send ahead of it is waiting for the thread; returns the
        moment it was counted at (give it to `sent`). `can_wait`: every other send waiting for
        the thread, or arriving while this one waits, goes first."""
        thread = self.thread_of(conversation_id)
        tenant = tenant_id or ""
        waiting = self._waiting[thread]
        ticket = (can_wait, next(self._arrivals))
        heapq.heappush(waiting, ticket)
        self._move_turn(thread)  # a send now ahead of the one that was next: it looks again
        try:
            sent, tenant_sent = self._sent[thread], self._tenant_sent[tenant]
            while True:
                if waiting[0] != ticket:
                    await self._turn_moved[thread].wait()
                    continue
                now = self._monotonic()
                _forget_before(sent, now - self._longest)
                _forget_before(tenant_sent, now - self._tenant_longest)
                held = self._held_until.get(thread, 0.0) - now
                delay = max(_delay(sent, self._limits, now), _delay(tenant_sent, self._tenant_limits, now), held)
                if delay <= 0:  # no await between the check and the record: no other send slips in
                    sent.append(now)
                    tenant_sent.append(now)
                    return now
                await self._sleep(delay)  # then looks again: a send that came meanwhile may be ahead
        finally:
            waiting.remove(ticket)
            heapq.heapify(waiting)
            if not waiting:
                del self._waiting[thread]
            self._move_turn(thread)

    def _move_turn(self, thread: str) -> None:
        """Wake the sends waiting for `thread` to see which of them is next."""
        moved = self._turn_moved.pop(thread, None)
        if moved is not None:
            moved.set()

    def sent(self, conversation_id: str, counted_at: float, tenant_id: str | None = None) -> None:
        """The send counted at `counted_at` has been answered: count it from now instead. Teams
        counts a message when it arrives, which is before it answers; counting from the answer,
        a later send can never arrive inside the window of an earlier one that was slow on the
        way (on a busy machine requests overtake each other)."""
        now = self._monotonic()
        for times in (self._sent[self.thread_of(conversation_id)], self._tenant_sent[tenant_id or ""]):
            where = bisect.bisect_left(times, counted_at)
            if where < len(times) and times[where] == counted_at:
                del times[where]
                bisect.insort(times, now)

    def hold(self, conversation_id: str, seconds: float) -> None:
        """Teams refused a send to this conversation with Retry-After: nothing more goes to its
        thread before then (other conversations are not held)."""
        thread = self.thread_of(conversation_id)
        until = self._monotonic() + seconds
        self._held_until[thread] = max(self._held_until.get(thread, 0.0), until)
