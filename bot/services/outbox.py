"""Delivering what the use cases committed: the transactional outbox.

State is committed first and the Teams side effect follows from it (DESIGN §4, the
reliability brief's I3/I5). A crash between the two loses nothing: the message is
still in the outbox, and its lease runs out so another pass (or another process)
delivers it. Each message has a unique key, so asking twice sends once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.events import Event, EventKind
from bot.domain.partnership import Role
from bot.services.channels import WAITING_FOR_CHANNEL
from bot.services.context import ServiceContext
from bot.services.ports import OutboxItem, OutboxMessage
from bot.services.referrals import PANEL_CHANNEL

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
LEASE_SECONDS = 60


@dataclass
class DeliveryError(Exception):
    """Teams refused or failed. `retry_after` is Teams' own hint when it gave one."""

    reason: str
    retry_after: float | None = None
    permanent: bool = False

    def __str__(self) -> str:
        return self.reason


class OutboxDispatcher:
    def __init__(self, ctx: ServiceContext, *, idle_poll_seconds: float = 5.0) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle_poll = idle_poll_seconds
        self._running = asyncio.Lock()

    # ---- lifecycle -----------------------------------------------------------------------

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle_poll)
            self._wake.clear()
            try:
                await self.dispatch_due()
            except Exception:  # the loop must outlive a bad pass; the item stays in the outbox
                log.exception("outbox pass failed")

    # ---- one pass ------------------------------------------------------------------------

    async def dispatch_due(self, limit: int = 100) -> int:
        """Deliver everything due now; returns how many were delivered."""
        delivered = 0
        async with self._running:
            while True:
                items = await self.ctx.repo.claim_outbox(self.ctx.clock.now(), LEASE_SECONDS, limit)
                if not items:
                    return delivered
                for item in items:
                    delivered += await self._deliver(item)

    async def _deliver(self, item: OutboxItem) -> int:
        handler = {"panel_card": self._panel_card, "person_notice": self._person_notice}.get(item.kind)
        if handler is None:
            await self.ctx.repo.outbox_park(item.id, "failed", f"unknown kind {item.kind}")
            return 0
        try:
            done = await handler(item)
        except DeliveryError as error:
            await self._retry(item, error)
            return 0
        if done:
            await self.ctx.repo.outbox_done(item.id, self.ctx.clock.now())
            return 1
        return 0

    async def _retry(self, item: OutboxItem, error: DeliveryError) -> None:
        give_up = error.permanent or item.attempts >= MAX_ATTEMPTS
        wait = error.retry_after if error.retry_after is not None else min(2**item.attempts, 300)
        not_before = self.ctx.clock.now() + timedelta(seconds=wait)
        await self.ctx.repo.outbox_retry(item.id, not_before, error.reason, give_up)
        log.warning(
            "delivery failed",
            extra={"outbox_kind": item.kind, "attempt": item.attempts, "give_up": give_up, "reason": error.reason},
        )

    # ---- kinds ---------------------------------------------------------------------------

    async def _panel_card(self, item: OutboxItem) -> bool:
        assert self.ctx.notifier is not None and item.case_id is not None
        channel = await self.ctx.repo.channel(PANEL_CHANNEL)
        if channel is None:
            await self._hold_for_channel(item)
            return False
        case = await self.ctx.repo.get_summary_by_id(item.case_id)
        if case is None:
            await self.ctx.repo.outbox_park(item.id, "failed", "case not found")
            return False
        activity_id = await self.ctx.repo.panel_activity(case.id)
        if activity_id:
            await self.ctx.notifier.update_case_card(channel, activity_id, case)
            return True
        activity_id = await self.ctx.notifier.post_case_card(channel, case)
        await self.ctx.repo.set_panel_activity(case.id, activity_id)
        await self.ctx.repo.add_event(
            Event(
                kind=EventKind.CASE_POSTED_TO_PANEL,
                at=self.ctx.clock.now(),
                actor_aad_id=None,
                actor_name="Rapid Review bot",
                case_id=case.id,
                detail={"activity_id": activity_id},
            )
        )
        return True

    async def _hold_for_channel(self, item: OutboxItem) -> None:
        """No panel channel yet: keep the post, and tell the partnership managers once."""
        await self.ctx.repo.outbox_park(item.id, WAITING_FOR_CHANNEL, "no panel channel bound")
        managers = [m for m in await self.ctx.repo.members(Role.MANAGER) if m.aad_object_id]
        case = await self.ctx.repo.get_summary_by_id(item.case_id or "")
        reference = case.reference if case else None
        await self.ctx.repo.enqueue(
            [
                OutboxMessage(
                    key=f"notice:no_panel_channel:{item.case_id}:{m.aad_object_id}",
                    kind="person_notice",
                    case_id=item.case_id,
                    payload={"to": m.aad_object_id, "notice": "no_panel_channel", "reference": reference},
                )
                for m in managers
            ],
            self.ctx.clock.now(),
        )
        await self.ctx.repo.add_event(
            Event(
                kind=EventKind.PANEL_POST_WAITING,
                at=self.ctx.clock.now(),
                actor_aad_id=None,
                actor_name="Rapid Review bot",
                case_id=item.case_id,
                detail={"managers_told": len(managers)},
            )
        )
        self.kick()

    async def _person_notice(self, item: OutboxItem) -> bool:
        assert self.ctx.notifier is not None
        reached = await self.ctx.notifier.notify_person(item.payload["to"], item.payload["notice"], item.payload)
        if not reached:
            raise DeliveryError("person not reachable in personal chat yet")
        return True
