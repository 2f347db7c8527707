"""Delivering what the use cases committed: the transactional outbox.

State is committed first and the Teams side effect follows from it (docs/architecture.md,
Outbox). A crash between the two loses nothing: the message is
still in the outbox, and its lease runs out so another pass (or another process)
delivers it. Each message has a unique key, so asking twice sends once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.domain.events import EventKind
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.domain.report import Stage
from bot.services import deadlines, duplicates, meeting, pathways, recipients, reminder_delivery, report
from bot.services.audit import audit
from bot.services.channels import WAITING_FOR_CHANNEL
from bot.services.context import ServiceContext
from bot.services.panel import PanelView, panel_view, redacted_answer
from bot.services.ports import OUTBOX_LEASE_SECONDS, Address, DeliveryError, OutboxItem, OutboxMessage
from bot.services.referrals import PANEL_CHANNEL
from bot.services.sends import delivering

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
LEASE_SECONDS = OUTBOX_LEASE_SECONDS
CARD_LOCK_STRIPES = 64
MAX_LANES = 24  # lanes delivered at once: a row waits at most ~6 s in the panel channel's pace (4/s)
# Lanes of rows not addressed to one person (a case's posts in the panel channel) at which the
# dispatcher claims only rows addressed to one person: a burst of escalations held by the channel's
# 60 posts per 30 s must not take every lane while personal chats wait (6 keep the channel at its
# 4 per second).
MAX_CHANNEL_LANES = 6
RECLAIM_SECONDS = 1.0  # while lanes run, due rows (a Retry-After run out) are claimed at least this often
PROMPT_RETRY_SECONDS = 60.0  # a retry due sooner than this wakes the dispatcher when it is due


PERSON_LANE = "to:"


def _lane(item: OutboxItem) -> str:
    """Rows for one person go one after another (a digest takes that person's later rows along),
    and so do the rows of one case; different lanes are delivered side by side."""
    to = item.payload.get("to")
    return f"{PERSON_LANE}{to}" if to else f"case:{item.case_id or item.key}"


class OutboxDispatcher:
    def __init__(self, ctx: ServiceContext, *, idle_poll_seconds: float = 5.0,
                 lease_seconds: int = LEASE_SECONDS,
                 kinds: Mapping[str, Callable[[OutboxItem], Awaitable[bool]]] | None = None) -> None:
        self.ctx = ctx
        # kinds delivered by another use case's own handler (retention: bot/services/retention.py)
        self._more_kinds = dict(kinds or {})
        self._lease = lease_seconds
        self._task: asyncio.Task[None] | None = None
        self._cards_task: asyncio.Task[None] | None = None
        self._idle_poll = idle_poll_seconds
        self._running = asyncio.Lock()
        # Card updates of one case go out one at a time, and an older view never replaces
        # a newer one (views carry the case row's version): striped locks, and the newest
        # version this process has put on each case's card.
        self._card_locks = [asyncio.Lock() for _ in range(CARD_LOCK_STRIPES)]
        self._card_version_shown: dict[str, int] = {}
        self._card_version_coming: dict[str, int] = {}  # the newest view waiting for each case's card
        self._immediate: set[asyncio.Task[None]] = set()
        # The rows of the batch being delivered not yet started: a digest may take them along.
        self._batch: set[int] = set()
        self._queues: dict[str, list[OutboxItem]] = {}  # lane -> its rows still to deliver, in order
        self._lanes: dict[str, asyncio.Task[None]] = {}  # lane -> the task delivering them
        self._delivered = 0
        self._failure: Exception | None = None  # a lane's unexpected error: the pass stops claiming and raises it
        self._rendered = reminder_delivery.RenderedReminders()

    # ---- lifecycle -----------------------------------------------------------------------

    def kick(self) -> None:
        self.ctx.signal.kick()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="outbox")
            self._cards_task = asyncio.create_task(self._take_cards(), name="outbox-cards")
            self.ctx.signal.dispatcher_started()

    async def stop(self) -> None:
        self.ctx.signal.dispatcher_stopped()
        if self._immediate:
            await asyncio.wait(set(self._immediate), timeout=5)
        for task in (self._task, self._cards_task, *self._lanes.values()):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._cards_task = None

    async def _take_cards(self) -> None:
        while True:
            card = await self.ctx.signal.next_card()
            self.deliver_card_now(card.item, card.view, card.activity_id, card.channel)

    async def _loop(self) -> None:
        while True:
            await self.ctx.signal.wait(self._idle_poll)
            try:
                await self.dispatch_due()
            except Exception as error:  # the loop must outlive a bad pass; the item stays in the outbox
                # Type and place only: an exception's text can quote SQL parameters or a card.
                where = "".join(traceback.format_tb(error.__traceback__)[-3:]) if error.__traceback__ else ""
                log.error("outbox pass failed", extra={"error": type(error).__name__, "where": where})

    # ---- one pass ------------------------------------------------------------------------

    async def dispatch_due(self, limit: int = 20) -> int:
        """Deliver everything due now; returns how many were delivered. Claimed in small
        batches, each row into its lane (one person, or one case): lanes run side by side and a
        lane held back by Teams' pace (the panel channel after a burst of escalations) does not
        hold up the next batch. At most MAX_LANES run at once, so a row waits in the pacer well
        inside its lease (LEASE_SECONDS), or another process could claim it again and post twice;
        while MAX_CHANNEL_LANES lanes of case posts run, only rows addressed to a person are
        claimed (the case posts wait unleased), so personal chats keep their lanes."""
        async with self._running:
            self._delivered, self._failure = 0, None
            while True:
                full = self._failure is not None or len(self._lanes) >= MAX_LANES
                channel_full = sum(1 for lane in self._lanes if not lane.startswith(PERSON_LANE)) >= MAX_CHANNEL_LANES
                claimed = [] if full else await self.ctx.outbox.claim(self.ctx.clock.now(), self._lease, limit,
                                                                      addressed_only=channel_full)
                # The reminders among them are split into their owners' rows together (one transaction).
                items = await reminder_delivery.split_due(self.ctx, claimed)
                self._delivered += len(claimed) - len(items)
                for item in items:
                    self._batch.add(item.id)
                    self._into_lane(_lane(item), item)
                if not claimed and not self._lanes:
                    if self._failure is not None:  # the pass failed as a whole, as before lanes: the loop logs it
                        raise self._failure
                    return self._delivered
                if not claimed:  # wait for a lane to finish, then claim again
                    # ... or a while: a row refused with Retry-After is due again within seconds, and
                    # a person's lane can take a minute to drain after downtime.
                    await asyncio.wait(set(self._lanes.values()), timeout=RECLAIM_SECONDS,
                                       return_when=asyncio.FIRST_COMPLETED)

    def _into_lane(self, lane: str, item: OutboxItem) -> None:
        queue = self._queues.get(lane)
        if queue is not None:
            queue.append(item)
            return
        self._queues[lane] = [item]
        self._lanes[lane] = asyncio.create_task(self._deliver_lane(lane), name=f"outbox-lane-{lane[:4]}")

    async def _deliver_lane(self, lane: str) -> None:
        """One lane's rows in order (rows for one person one after another: a digest takes that
        person's later rows along)."""
        queue = self._queues[lane]
        try:
            while queue:
                item = queue.pop(0)
                if item.id not in self._batch:  # went out inside another row's digest
                    continue
                self._batch.discard(item.id)
                done = await self._deliver(item)  # not `+= await`: that reads the count before waiting
                self._delivered += done
        except Exception as error:  # noqa: BLE001 - the rows stay leased; their lease runs out and a pass delivers them
            self._failure = self._failure or error  # no more claims in this pass; it ends by raising it
        finally:
            self._batch.difference_update(i.id for i in queue)
            del self._queues[lane], self._lanes[lane]

    async def _deliver(self, item: OutboxItem) -> int:
        handlers: dict[str, Callable[[OutboxItem], Awaitable[bool]]] = {
            OutboxKind.PANEL_CARD: self._panel_card,
            OutboxKind.PERSON_NOTICE: self._person_notice,
            OutboxKind.REFERRER_QUERY: self._referrer_query,
            OutboxKind.REFERRER_DECISION: self._referrer_decision,
            OutboxKind.QUERY_ANSWER_NOTICE: self._answer_notice,
            OutboxKind.DISAGREEMENT_PROMPT: self._disagreement_prompt,
            OutboxKind.REFRESH_DEADLINES: self._refresh_deadlines,
            OutboxKind.REMINDER: self._reminder,
            OutboxKind.AGENCY_PROMPT: self._agency_prompt,
            OutboxKind.BOOK_MEETING: self._book_meeting,
            OutboxKind.MEETING_CARD: self._meeting_message,
            OutboxKind.CHAIR_NOTES: self._meeting_message,
            OutboxKind.OUTCOME_PROMPT: self._meeting_message,
            OutboxKind.SLOT_CHOICE: self._meeting_message,
            OutboxKind.MEETING_PROBLEM: self._meeting_message,
            OutboxKind.OUTCOME_SUMMARY: self._meeting_message,
            OutboxKind.OUTCOME_REFERRER: self._meeting_message,
            OutboxKind.RECORD_LINKS: self._meeting_message,
            OutboxKind.BOOKING_FAILED: self._meeting_message,
            OutboxKind.FILE_CONSENT: self._file_consent,
            **self._more_kinds,
            OutboxKind.PATHWAY_MESSAGE: self._pathway_message,
            OutboxKind.NFA_CHALLENGE_ENDS: self._challenge_period_ended,
            OutboxKind.REPORT_NOTICE: self._report_message,
            OutboxKind.REPORT_REQUEST: self._report_message,
            OutboxKind.CASE_NOTICE: self._case_notice,
            OutboxKind.DUPLICATE_CHECK: self._duplicate_check,
            OutboxKind.DUPLICATE_FLAG: self._duplicate_flag,
        }
        handler = handlers.get(item.kind)
        if handler is None:
            await self.ctx.outbox.park(item.id, "failed", f"unknown kind {item.kind}")
            return 0
        try:
            with delivering(item):  # its sends are recorded in doubt before they leave (bot/services/sends.py)
                done = await handler(item)
        except DeliveryError as error:
            await self._retry(item, error)
            return 0
        if done:
            await self.ctx.outbox.done(item.id, self.ctx.clock.now())
            return 1
        return 0

    async def _retry(self, item: OutboxItem, error: DeliveryError) -> None:
        # Throttling (Retry-After) is never a reason to drop a message: only real failures count.
        give_up = error.permanent or (item.attempts >= MAX_ATTEMPTS and error.retry_after is None)
        wait = error.retry_after if error.retry_after is not None else min(2**item.attempts, 300)
        not_before = self.ctx.clock.now() + timedelta(seconds=wait)
        await self.ctx.outbox.retry(item.id, not_before, error.reason, give_up)
        if not give_up and wait <= PROMPT_RETRY_SECONDS:  # Teams' Retry-After is a second or two: not the idle poll
            asyncio.get_running_loop().call_later(wait, self.kick)
        log.warning(
            "delivery failed",
            extra={"outbox_kind": item.kind, "attempt": item.attempts, "give_up": give_up, "reason": error.reason},
        )

    # ---- a card update handed over by the use case that committed it ----------------------

    def deliver_card_now(self, item: OutboxItem, view: PanelView, activity_id: str,
                         channel: Address | None = None) -> None:
        """Deliver a `panel_card` message that the use case enqueued already leased to this
        process, with the view it rendered after its commit (no second read of the case).
        Runs after the turn has answered; any failure leaves the row to the ordinary pass."""
        task = asyncio.create_task(self._deliver_card_now(item, view, activity_id, channel), name="card-update")
        self._immediate.add(task)
        task.add_done_callback(self._immediate.discard)

    async def _deliver_card_now(self, item: OutboxItem, view: PanelView, activity_id: str,
                                read: Address | None) -> None:
        try:
            channel = read or await self.ctx.roster.channel(PANEL_CHANNEL)
            if channel is None:
                await self.ctx.outbox.retry(item.id, self.ctx.clock.now(), "handed to the outbox pass", False)
                self.kick()
                return
            await self._show_card(channel, activity_id, view)
        except DeliveryError as error:
            await self._retry(item, error)
            return
        except Exception as error:  # noqa: BLE001 - the row is still leased: its lease runs out and a pass delivers it
            # The type only: an exception's text can quote SQL parameters or a card.
            log.error("immediate card update failed", extra={"outbox_kind": item.kind, "error": type(error).__name__})
            return
        self.ctx.outbox.shown(item.id, self.ctx.clock.now())

    async def _show_card(self, channel: Any, activity_id: str, view: PanelView) -> None:
        """Put this view on the case's card unless a newer one is already there."""
        case_id = view.case.id
        if self._card_version_coming.get(case_id, -1) < view.version:
            self._card_version_coming[case_id] = view.version
        async with self._card_locks[hash(case_id) % CARD_LOCK_STRIPES]:
            # Several votes landing together: only the newest view waiting is put on the card (it
            # shows every vote before it); a view that is overtaken while it waits is not sent.
            if max(self._card_version_shown.get(case_id, -1),
                   self._card_version_coming.get(case_id, -1)) > view.version:
                return
            if self._card_version_coming.get(case_id) == view.version:
                del self._card_version_coming[case_id]
            await self.ctx.notifier.update_panel_card(channel, activity_id, view)
            if len(self._card_version_shown) > 10_000:
                self._card_version_shown.clear()
            self._card_version_shown[case_id] = view.version

    # ---- kinds ---------------------------------------------------------------------------

    async def _panel_card(self, item: OutboxItem) -> bool:
        """Post the case's card once (the `:post` message), then keep it up to date in
        place. Every delivery renders the card from the database as it is now."""
        assert item.case_id is not None
        channel = await self.ctx.roster.channel(PANEL_CHANNEL)
        if channel is None:
            await self._hold_for_channel(item)
            return False
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if case is None:
            await self.ctx.outbox.park(item.id, "failed", "case not found")
            return False
        view = await panel_view(self.ctx, case)
        activity_id = await self.ctx.cases.panel_activity(case.id)
        if item.payload.get("repost"):
            return await self._repost_panel_card(item, channel, view, activity_id)
        if activity_id:
            await self._show_card(channel, activity_id, view)
            return True
        if not item.key.endswith(":post"):
            # Only the case's single `:post` message may create the card, so two processes
            # can never post it twice; an update that overtakes it waits for it.
            raise DeliveryError("case card not posted yet", retry_after=2)
        activity_id = await self.ctx.notifier.post_panel_card(channel, view)
        async with self.ctx.uow.begin() as tx:
            await tx.cases.set_panel_activity(case.id, activity_id)
            await audit(self.ctx, None, EventKind.CASE_POSTED_TO_PANEL, case_id=case.id,
                        detail={"activity_id": activity_id}, into=tx.cases)
        return True

    async def _repost_panel_card(self, item: OutboxItem, channel: Any, view: PanelView,
                                 activity_id: str | None) -> bool:
        """`show RR-…` (panel.repost_card): post the card as a NEW message and make it the one
        kept up to date. At most one post per request: the request names the post the card
        was on when it was asked for (`replaces`); if the case's card is on another post by
        now, this request was delivered already (a retry after the post was recorded) or
        another request overtook it, so the card there is brought up to date instead."""
        if activity_id is None:
            # Only the case's `:post` message creates the first card (two processes must
            # never both post it); a request for a card not posted yet waits for it.
            raise DeliveryError("case card not posted yet")
        if activity_id != item.payload.get("replaces"):
            await self._show_card(channel, activity_id, view)
            return True
        new_activity_id = await self.ctx.notifier.post_panel_card(channel, view)
        async with self.ctx.uow.begin() as tx:
            await tx.cases.set_panel_activity(view.case.id, new_activity_id)
            await audit(self.ctx, None, EventKind.CASE_POSTED_TO_PANEL, case_id=view.case.id,
                        detail={"activity_id": new_activity_id, "repost": True, "replaces": activity_id}, into=tx.cases)
        return True

    async def _referrer_query(self, item: OutboxItem) -> bool:
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if case is None:
            return True
        view = await panel_view(self.ctx, case)
        query = next((q for q in view.open_queries if q.id == item.payload["query_id"]), None)
        if query is None:  # withdrawn or superseded before we could send it
            return True
        referrer = case.summary.referrer_aad_id
        return await recipients.deliver(self.ctx, item, referrer,
                                        lambda: self.ctx.notifier.send_query(referrer, view, query))

    async def _referrer_decision(self, item: OutboxItem) -> bool:
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if case is None:
            return True
        view = await panel_view(self.ctx, case)
        referrer = case.summary.referrer_aad_id
        return await recipients.deliver(self.ctx, item, referrer,
                                        lambda: self.ctx.notifier.send_decision(referrer, view))

    async def _answer_notice(self, item: OutboxItem) -> bool:
        assert item.case_id is not None
        channel = await self.ctx.roster.channel(PANEL_CHANNEL)
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if channel is None or case is None:
            return True
        view = await panel_view(self.ctx, case)
        query = next((q for q in view.answered_queries if q.id == item.payload["query_id"]), None)
        if query is not None:
            await self.ctx.notifier.post_answer_notice(await self._case_thread(channel, case.id), view,
                                                       query.partner.title, redacted_answer(case, query))
        return True

    async def _disagreement_prompt(self, item: OutboxItem) -> bool:
        """Sent only if, when it falls due, the same round is still open and still split."""
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if case is None:
            return True
        view = await panel_view(self.ctx, case)
        if view.decided or view.round != item.payload.get("round") or not view.disagreement:
            return True
        to = recipients.addressed_to(item)
        if to is None:
            people = {m.aad_object_id for m in await self.ctx.roster.members()
                      if m.aad_object_id and m.role in (Role.CHAIR, Role.MANAGER)}
            await recipients.split(self.ctx, item, sorted(people))
            return True
        hours = self.ctx.partnership.disagreement_prompt_hours
        return await recipients.deliver(self.ctx, item, to,
                                        lambda: self.ctx.notifier.send_disagreement_prompt(to, view, hours))

    async def _case_thread(self, channel: Address, case_id: str) -> Address:
        """Where a post about one case goes: a reply in the thread under the case's card, so the
        channel shows one line per case and its thread tells the story in order. The thread is
        the card's post as recorded now (a card re-posted by `show RR-…` is the thread from then
        on); a case whose card is not posted yet gets a top-level post."""
        root = await self.ctx.cases.panel_activity(case_id)
        return channel.in_thread(root) if root else channel

    async def _hold_for_channel(self, item: OutboxItem) -> None:
        """No panel channel yet: keep the post, and tell the partnership managers once."""
        managers = [m for m in await self.ctx.roster.members(Role.MANAGER) if m.aad_object_id]
        case = await self.ctx.cases.get_summary_by_id(item.case_id or "")
        reference = case.reference if case else None
        async with self.ctx.uow.begin() as tx:
            await tx.outbox.park(item.id, WAITING_FOR_CHANNEL, "no panel channel bound")
            await tx.outbox.enqueue(
                [
                    OutboxMessage(
                        key=f"notice:no_panel_channel:{item.case_id}:{m.aad_object_id}",
                        kind=OutboxKind.PERSON_NOTICE,
                        case_id=item.case_id,
                        payload={"to": m.aad_object_id, "notice": "no_panel_channel", "reference": reference},
                    )
                    for m in managers
                ],
                self.ctx.clock.now(),
            )
            await audit(self.ctx, None, EventKind.PANEL_POST_WAITING, case_id=item.case_id,
                        detail={"managers_told": len(managers)}, into=tx.cases)
        self.kick()

    async def _refresh_deadlines(self, item: OutboxItem) -> bool:
        if item.case_id is not None:
            await deadlines.refresh_deadlines(self.ctx, item.case_id)
            await deadlines.sweep(self.ctx)
        return True

    async def _reminder(self, item: OutboxItem) -> bool:
        """A reminder (bot/services/reminder_delivery.py): split into one row per person who owns
        the step, each to their personal chat (with whatever else is due for them, as one
        digest); in the case's thread only the escalation, and a reminder nobody owns."""
        to = recipients.addressed_to(item)
        if to is not None:
            return await reminder_delivery.deliver_to(self.ctx, item, to, self._batch, self._rendered)
        escalation = bool(item.payload.get(reminder_delivery.IN_THREAD))
        if not escalation and not await reminder_delivery.split_due(self.ctx, [item]):
            return True  # split into its owners' rows (or nothing left to send)
        channel = await self.ctx.roster.channel(PANEL_CHANNEL)
        if channel is None:
            if escalation:  # no channel to escalate in: its owners have their reminders all the same
                return True
            await self._hold_for_channel(item)
            return False
        view = await reminder_delivery.view_of(self.ctx, item)
        if view is not None:
            thread = await self._case_thread(channel, view.case.id)
            await self.ctx.notifier.post_reminder(thread, view, escalation=escalation)
            if not escalation:
                await reminder_delivery.sent_in_thread(self.ctx, item)
        return True

    async def _agency_prompt(self, item: OutboxItem) -> bool:
        """After a rapid review decision: ask the business unit which agencies were asked."""
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if case is None:
            return True
        to = recipients.addressed_to(item)
        if to is None:
            managers = {m.aad_object_id for m in await self.ctx.roster.members(Role.MANAGER) if m.aad_object_id}
            await recipients.split(self.ctx, item, sorted(managers))
            return True
        agencies = self.ctx.partnership.agencies
        return await recipients.deliver(self.ctx, item, to,
                                        lambda: self.ctx.notifier.send_agency_prompt(to, case.summary, agencies))

    async def _book_meeting(self, item: OutboxItem) -> bool:
        if item.case_id is None:
            return True
        try:
            await meeting.book(self.ctx, item.case_id)
        except meeting.RetryLater as later:
            if item.attempts >= MAX_ATTEMPTS and later.retry_after is None:  # beyond the budget: said, not dropped
                await meeting.booking_given_up(self.ctx, item.case_id, str(later), item.attempts)
                return True
            raise DeliveryError(str(later), retry_after=later.retry_after) from later
        return True

    async def _meeting_message(self, item: OutboxItem) -> bool:
        """The meeting's messages. Those tied to a time (the chair's notes before, the
        outcome card after) are dropped if the meeting has moved or been cancelled since."""
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        record = await self.ctx.meeting_store.get(item.case_id)
        if case is None or record is None:
            return True
        start = item.payload.get("start")
        if start and (record.status != "booked" or record.start_at is None
                      or record.start_at.isoformat() != datetime.fromisoformat(start).isoformat()):
            return True  # superseded by a re-booking or a cancellation
        members = await self.ctx.roster.members()
        chairs = sorted({m.aad_object_id for m in members if m.role is Role.CHAIR and m.aad_object_id})
        managers = sorted({m.aad_object_id for m in members if m.role is Role.MANAGER and m.aad_object_id})
        people: list[str] = []
        channel = None
        if item.kind in (OutboxKind.MEETING_CARD, OutboxKind.OUTCOME_SUMMARY, OutboxKind.BOOKING_FAILED):
            channel = await self.ctx.roster.channel(PANEL_CHANNEL)
            if channel is None:
                await self._hold_for_channel(item)
                return False
        elif item.kind == OutboxKind.OUTCOME_REFERRER:
            people = [case.summary.referrer_aad_id]
        elif item.kind == OutboxKind.RECORD_LINKS:
            people = sorted(set(chairs) | set(managers))
        else:
            people = chairs or managers
        if channel is not None:
            thread = await self._case_thread(channel, case.id)
            await self.ctx.notifier.send_meeting_message(item.kind, case, record, thread, [], item.payload)
            return True
        to = recipients.addressed_to(item)
        if to is None:
            await recipients.split(self.ctx, item, people)
            return True
        return await recipients.deliver(self.ctx, item, to, lambda: self.ctx.notifier.send_meeting_message(
            item.kind, case, record, None, [to], item.payload))

    async def _report_message(self, item: OutboxItem) -> bool:
        """The rapid review report's messages (bot/services/report.py): a status-only notice
        to the channel, or a request to each person asked. A request the report has moved past
        (comments closed, another round) is not sent."""
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        if case is None or await self.ctx.reports.get(item.case_id) is None:
            return True
        shown = await report.view(self.ctx, case.summary.reference)
        current = shown.report
        assert current is not None
        what = str(item.payload.get("what", ""))
        if item.kind == OutboxKind.REPORT_NOTICE:
            channel = await self.ctx.roster.channel(PANEL_CHANNEL)
            if channel is None:
                await self._hold_for_channel(item)
                return False
            thread = await self._case_thread(channel, item.case_id)
            await self.ctx.notifier.send_report_message(what, shown, thread, None, item.payload)
            return True
        if item.payload.get("round") != current.round or (
                what == "comment" and (current.stage is not Stage.DRAFT or current.comments_closed_at is not None)) or (
                what == "sign_off" and current.stage is not Stage.SIGN_OFF):
            return True  # superseded: nothing to ask any more
        to = recipients.addressed_to(item)
        if to is None:
            await recipients.split(self.ctx, item, list(item.payload.get("people") or []))
            return True
        return await recipients.deliver(self.ctx, item, to, lambda: self.ctx.notifier.send_report_message(
            what, shown, None, to, item.payload))

    async def _duplicate_check(self, item: OutboxItem) -> bool:
        assert item.case_id is not None
        await duplicates.check(self.ctx, item.case_id)
        return True

    async def _duplicate_flag(self, item: OutboxItem) -> bool:
        """The likely duplicate, split per partnership manager, each to their personal chat."""
        assert item.case_id is not None
        to = recipients.addressed_to(item)
        if to is None:
            await recipients.split(self.ctx, item, list(item.payload.get("people") or []))
            return True
        flag = await duplicates.flag_of(self.ctx, item.case_id, str(item.payload.get("of")))
        if flag is None:  # erased meanwhile
            return True
        return await recipients.deliver(self.ctx, item, to, lambda: self.ctx.notifier.send_duplicate_flag(
            to, flag.case, flag.first))

    async def _case_notice(self, item: OutboxItem) -> bool:
        """A status-only line in the panel channel (bot/services/corrections.py)."""
        assert item.case_id is not None
        channel = await self.ctx.roster.channel(PANEL_CHANNEL)
        if channel is None:
            await self._hold_for_channel(item)
            return False
        summary = await self.ctx.cases.get_summary_by_id(item.case_id)
        if summary is None:
            await self.ctx.outbox.park(item.id, "failed", "case not found")
            return False
        thread = await self._case_thread(channel, item.case_id)
        await self.ctx.notifier.post_case_notice(thread, summary, str(item.payload.get("what", "")))
        return True

    async def _person_notice(self, item: OutboxItem) -> bool:
        to = str(item.payload["to"])
        return await recipients.deliver(self.ctx, item, to, lambda: self.ctx.notifier.notify_person(
            to, item.payload["notice"], item.payload))

    async def _file_consent(self, item: OutboxItem) -> bool:
        """A file offered to one person (bot/services/delivery.py): the consent card, to their
        personal chat; waits for them like any personal message if Teams cannot reach them."""
        to = str(item.payload["to"])
        return await recipients.deliver(self.ctx, item, to, lambda: self.ctx.notifier.send_file_consent(
            to, item.payload))
    async def _pathway_message(self, item: OutboxItem) -> bool:
        """After the decision (bot/services/pathways.py): each card rendered as the case is
        when it is delivered, to each of its people in their own row."""
        assert item.case_id is not None
        case = await self.ctx.cases.get_case_by_id(item.case_id)
        what = str(item.payload.get("what", ""))
        if case is None:
            return True
        to = recipients.addressed_to(item)
        if to is None:
            await recipients.split(self.ctx, item, await pathways.recipients_of(self.ctx, what, case))
            return True
        message = await pathways.message_for(self.ctx, what, case)
        if message is None:
            return True
        return await recipients.deliver(self.ctx, item, to,
                                        lambda: self.ctx.notifier.send_pathway_message(to, message))

    async def _challenge_period_ended(self, item: OutboxItem) -> bool:
        if item.case_id is not None:
            await pathways.challenge_period_ended(self.ctx, item.case_id)
        return True
