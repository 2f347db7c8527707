"""No message twice after a crash: every send of an outbox delivery is recorded before it leaves.

A process can die after Teams accepted a message and before the outbox recorded it, and the
message's lease then runs out and the delivery runs again. So each send is written down as
"in doubt" (committed) before it goes, carries its send key in the card, and is marked "sent"
with Teams' activity id once Teams answers. A delivery that finds its send already in the
ledger does not simply post again:

* sent: the message is there; its activity id is handed back (the case card is then updated);
* in doubt, in a channel the bot can read through Microsoft Graph (resource-specific consent,
  ChannelMessage.Read.Group): the channel's recent messages are searched for the send key; a
  message carrying it is adopted as the one sent (its id recorded, an audited event), and only
  when none does is the message posted;
* in doubt anywhere else (a personal chat, which the bot cannot read back, or no Graph, as in
  local mode): sent once more, with a line saying it may be a second copy, and audited; if that
  re-send is itself in doubt, never a third time.

The outbox dispatcher says which delivery is running (`delivering`); sends outside a delivery
(replies in a turn) are not recorded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.domain.events import Event, EventKind
from bot.services.audit import BOT_NAME
from bot.services.ports import (
    Address,
    CaseStore,
    ChannelMessageError,
    ChannelMessageReader,
    Clock,
    DeliveryError,
    OutboxItem,
    SendLedger,
    SendRecord,
)

log = logging.getLogger(__name__)

IN_DOUBT = "in_doubt"
SENT = "sent"
RESENDING = "resending"
GRAPH_RETRY_SECONDS = 30.0

# (send key or None, re-sent after a restart) -> Teams' activity id of the new message
Post = Callable[[str | None, bool], Awaitable[str]]

_current: ContextVar[OutboxItem | None] = ContextVar("outbox_delivery", default=None)


@contextmanager
def delivering(item: OutboxItem) -> Iterator[None]:
    """Sends made inside this block belong to the outbox message `item`."""
    token = _current.set(item)
    try:
        yield
    finally:
        _current.reset(token)


def send_key(outbox_key: str, conversation_id: str) -> str:
    """The key of one outbox message's send to one conversation: stable across retries and
    processes, and opaque (a hash), because it travels in the card."""
    return hashlib.sha256(f"{outbox_key}\n{conversation_id}".encode()).hexdigest()[:32]


class SendGuard:
    def __init__(self, ledger: SendLedger, reader: ChannelMessageReader | None, events: CaseStore,
                 clock: Clock) -> None:
        self._ledger = ledger
        self._reader = reader
        self._events = events
        self._clock = clock

    async def activity_of(self, outbox_key: str, conversation_id: str) -> str | None:
        """Teams' activity id of what the outbox message `outbox_key` sent to the conversation,
        when it is recorded as sent (a card to update later); None otherwise."""
        record = await self._ledger.get(send_key(outbox_key, conversation_id))
        return record.activity_id if record is not None and record.state == SENT and record.activity_id else None

    async def send(self, conversation_id: str, post: Post) -> str:
        item = _current.get()
        if item is None:
            return await post(None, False)
        key = send_key(item.key, conversation_id)
        record = await self._ledger.get(key)
        if record is None:
            fresh = SendRecord(key, conversation_id, IN_DOUBT)
            if await self._ledger.begin(fresh, item.id, self._clock.now()):
                return await self._post(key, post, resent=False)
            record = await self._ledger.get(key) or fresh  # another delivery of it got there first
        if record.state == SENT:  # delivered before; the delivery runs again for another reason
            return record.activity_id or ""
        return await self._reconcile(item, record, post)

    async def _post(self, key: str, post: Post, *, resent: bool) -> str:
        try:
            activity_id = await post(key, resent)
        except DeliveryError as error:
            if error.answered:  # Teams said no: this attempt certainly did not arrive
                if resent:
                    await self._ledger.mark(key, IN_DOUBT, None, self._clock.now())
                else:
                    await self._ledger.forget(key)
            raise
        await self._ledger.mark(key, SENT, activity_id, self._clock.now())
        return activity_id

    async def _reconcile(self, item: OutboxItem, record: SendRecord, post: Post) -> str:
        key = record.send_key
        conversation = Address(record.conversation_id, "")
        where = await self._ledger.graph_channel(conversation.channel_id) if self._reader is not None else None
        if self._reader is not None and where is not None:
            try:
                found = await self._reader.find_sent(where[0], where[1], key, conversation.thread_root)
            except ChannelMessageError as error:
                log.warning("the channel could not be read to settle a send", extra={"reason": str(error)})
                if not error.lasting:  # posting blind could double the message: wait until it can be read
                    raise DeliveryError("the channel could not be read to check an earlier send",
                                        retry_after=GRAPH_RETRY_SECONDS) from error
            else:
                if found:
                    await self._ledger.mark(key, SENT, found, self._clock.now())
                    await self._audit(EventKind.SEND_ADOPTED, item, readable=True)
                    log.info("send in doubt found in the channel", extra={"outbox_kind": item.kind})
                    return found
                return await self._post(key, post, resent=False)  # it never arrived: post it now
        if record.state == RESENDING:
            await self._ledger.mark(key, SENT, None, self._clock.now())
            await self._audit(EventKind.SEND_GIVEN_UP, item, readable=False)
            log.warning("re-send in doubt: not sent a third time", extra={"outbox_kind": item.kind})
            return ""
        await self._ledger.mark(key, RESENDING, None, self._clock.now())
        await self._audit(EventKind.SEND_RESENT, item, readable=False)
        log.warning("send in doubt re-sent once, marked as possibly a second copy", extra={"outbox_kind": item.kind})
        return await self._post(key, post, resent=True)

    async def _audit(self, kind: EventKind, item: OutboxItem, *, readable: bool) -> None:
        """`readable`: whether the conversation could be read back (a channel through Graph)."""
        detail = {"outbox_kind": item.kind, "read_back": readable}
        await self._events.add_event(Event(kind=kind, at=self._clock.now(), actor_aad_id=None, actor_name=BOT_NAME,
                                           case_id=item.case_id, detail=detail))
