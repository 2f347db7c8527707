"""One message per person: a message to one person never stops the others.

A message meant for several people (the record links to the chairs and the managers, the
agencies prompt to the managers, the chair's prompts) is split, when it falls due, into one
outbox row per person, each delivered and retried on its own. When Teams answers 403/404
for a person's chat (the Rapid Review app is not installed for them), that person is
recorded as not reachable and their row waits for them:

- where the partnership allows it, the bot installs its app for them through Microsoft
  Graph and tries once more at once;
- otherwise the partnership managers are told, once, whom to ask to open the bot;
- when the person next talks to the bot, everything that waited for them is sent
  (`person_is_back`, called when the bot sees them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bot.domain.events import EventKind
from bot.domain.outbox import WAITING_FOR_PERSON, OutboxKind
from bot.domain.partnership import Role
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import DeliveryError, OutboxItem, OutboxMessage

NOT_REACHABLE = "not reachable in Teams: waits until they talk to the bot"
UNREACHABLE_NOTICE = "person_unreachable"


def addressed_to(item: OutboxItem) -> str | None:
    """The one person this row is for, once it has been split (or enqueued for one person)."""
    to = item.payload.get("to")
    return str(to) if to else None


async def split(ctx: ServiceContext, item: OutboxItem, people: Sequence[str]) -> None:
    """Replace a row meant for several people by one row per person, in one transaction
    (the original is marked sent with them): each is delivered, retried or parked alone."""
    await split_all(ctx, [(item, people)])


async def split_all(ctx: ServiceContext, splits: Sequence[tuple[OutboxItem, Sequence[str]]],
                    also: Sequence[OutboxMessage] = ()) -> None:
    """Several rows split at once, all in one transaction with the rows in `also`: a backlog of a
    thousand reminders is written in a few dozen transactions, not a thousand, and a crash leaves
    each original either still due or replaced by all of its rows (keys are unique, so splitting
    again writes nothing twice)."""
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await tx.outbox.enqueue([*also, *(OutboxMessage(key=f"{item.key}>{aad}", kind=item.kind, case_id=item.case_id,
                                                        payload={**item.payload, "to": aad})
                                          for item, people in splits for aad in sorted(set(people)))], now)
        for item, _ in splits:
            await tx.outbox.done(item.id, now)
    ctx.kick_outbox()


async def deliver(ctx: ServiceContext, item: OutboxItem, aad_object_id: str,
                  send: Callable[[], Awaitable[bool]]) -> bool:
    """Send one person's message. True when it went; False when it now waits for them
    (parked, the person marked not reachable). Failures of Teams itself still raise
    DeliveryError, so the outbox retries them as before."""
    try:
        if await send():
            return True
    except DeliveryError as error:
        if not error.unreachable:
            raise
    if ctx.installer is not None and await _installed(ctx, aad_object_id):
        try:
            if await send():
                return True
        except DeliveryError as error:
            if not error.unreachable:
                raise
    await _wait_for(ctx, item, aad_object_id)
    return False


async def _installed(ctx: ServiceContext, aad_object_id: str) -> bool:
    assert ctx.installer is not None
    installed = await ctx.installer.install_for(aad_object_id)
    if installed:
        await audit(ctx, None, EventKind.TEAMS_APP_INSTALLED, detail={"person": aad_object_id})
    return installed


async def _wait_for(ctx: ServiceContext, item: OutboxItem, aad_object_id: str) -> None:
    """Park the row for its person and record them as not reachable; the first time, tell
    the partnership managers whom to ask (the chairs, when the only manager is the person)."""
    now = ctx.clock.now()
    members = await ctx.roster.members()
    name = next((m.name for m in members if m.aad_object_id == aad_object_id), "A member of the partnership")
    managers = sorted({m.aad_object_id for m in members if m.role is Role.MANAGER and m.aad_object_id}
                      - {aad_object_id})
    chairs = sorted({m.aad_object_id for m in members if m.role is Role.CHAIR and m.aad_object_id}
                    - {aad_object_id})
    async with ctx.uow.begin() as tx:
        await tx.outbox.park(item.id, WAITING_FOR_PERSON, NOT_REACHABLE)
        if not await tx.outbox.mark_unreachable(aad_object_id, now, "Teams would not deliver to their chat"):
            return  # already known (and the managers already told): this row just waits too
        told = managers or chairs
        await tx.outbox.enqueue([_notice(to, aad_object_id, name, now) for to in told], now)
        await audit(ctx, None, EventKind.PERSON_UNREACHABLE, case_id=item.case_id, into=tx.cases,
                    detail={"person": aad_object_id, "outbox_kind": item.kind, "told": len(told)})
    ctx.kick_outbox()


def _notice(to: str, about: str, name: str, at: datetime) -> OutboxMessage:
    return OutboxMessage(key=f"notice:{UNREACHABLE_NOTICE}:{about}:{at:%Y%m%d%H%M%S}>{to}",
                         kind=OutboxKind.PERSON_NOTICE, payload={"to": to, "notice": UNREACHABLE_NOTICE,
                                                                 "name": name})


async def person_is_back(ctx: ServiceContext, aad_object_id: str) -> int | None:
    """The person talked to the bot: clear the mark and send what waited for them. None
    when they were not marked (the common case: one read)."""
    if not await ctx.outbox.is_unreachable(aad_object_id):
        return None
    async with ctx.uow.begin() as tx:
        released = await tx.outbox.reachable_again(aad_object_id, ctx.clock.now())
        if released is not None:
            await audit(ctx, None, EventKind.PERSON_REACHABLE, into=tx.cases,
                        detail={"person": aad_object_id, "released": released})
    ctx.kick_outbox()
    return released
