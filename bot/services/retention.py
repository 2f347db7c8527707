"""Retention, erasure on request and legal holds: the data protection officer's use cases.

- Every day the leader's scheduler runs `daily`: erasures whose outbox work is over are
  closed in the register, and the cases past their retention period (bot/domain/retention.py,
  counted from closure; an open case is never due) are listed for each data protection officer
  on a card in personal chat — a dry run of each: the bot's Teams messages that would be
  replaced, the Graph meeting that would be cancelled or scrubbed, the files already handed to
  whom, and any legal hold. The same list is sent at most once a week (the outbox key is the
  set of cases and the ISO week); a changed list is sent the day it changes.
- The DPO confirms one case's erasure with the card's button (`retention.erase`), or erases
  one case on request (`erase RR-…`, then a card with the dry run and a required reason,
  `erasure.confirm`). Both run `erase`: one transaction (bot/adapters/db/retention_store.py)
  that writes the erasure register's row, destroys the case's key, clears every identifier
  and free text, removes reminders and outbox rows, enqueues the tombstones and the meeting's
  cancellation, and appends the `case_erased` audit row. A second confirmation changes nothing.
- A legal hold (`hold RR-… inquest|criminal|complaint|other`, `lift hold RR-…`) stops both
  until it is lifted.

Only a data protection officer (or deputy) named in the partnership file may do any of this,
and only in personal chat; anyone else gets the same sentence whether or not the case exists,
and an `access_denied` audit row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.case import Actor
from bot.domain.events import Event, EventKind
from bot.domain.limits import cap, too_long
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.domain.retention import ErasureBasis, HoldKind
from bot.services import recipients
from bot.services.audit import audit, audit_event
from bot.services.context import ServiceContext
from bot.services.ports import (
    Address,
    BotMessage,
    DeliveryError,
    ErasurePlan,
    ErasureRecord,
    HeldRefused,
    HoldRecord,
    MeetingError,
    OutboxItem,
    OutboxMessage,
    RetentionStore,
)
from bot.services.refusals import NotAuthorised, Refused
from bot.services.shared_text import refuse_identifiers

log = logging.getLogger(__name__)

NOT_DPO = ("Only the partnership's data protection officer can erase a case or place or lift a legal hold. If a "
           "case's records should be erased or kept, ask them.")
TOMBSTONE_TEXT = "This case has been closed and its details removed under the partnership's retention policy."
SCRUBBED_SUBJECT = "Rapid review meeting (details removed)"
SCRUBBED_BODY = f"<p>{TOMBSTONE_TEXT}</p>"
REASON_REASON = "the erasure register keeps the reason after the case's details are gone"
LIST_SHOWN = 8  # cases on one list card; the rest are listed once these are dealt with


class ErasureRefused(Refused):
    """An erasure or a hold was refused (not past its period, on hold, no reason …)."""


@dataclass(frozen=True)
class Erased:
    """What an erasure did (or, `already`, that it had been done before)."""

    record: ErasureRecord
    plan: ErasurePlan | None
    already: bool = False


# ---- who may ---------------------------------------------------------------------------------------------


async def require_dpo(ctx: ServiceContext, actor: Actor, action: str, reference: str | None = None) -> None:
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.dpo:
        detail = {"action": action[:40]} | ({"reference": reference[:20]} if reference else {})
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail=detail)
        raise NotAuthorised(NOT_DPO)


async def _case_id(store: RetentionStore, reference: str) -> str:
    case_id = await store.case_id_of(reference)
    if case_id is None:
        raise ErasureRefused(f"There is no case {reference}.")
    return case_id


# ---- the daily job ---------------------------------------------------------------------------------------


async def due(ctx: ServiceContext, store: RetentionStore) -> list[ErasurePlan]:
    """The dry run of every closed case past its retention period, oldest closure first."""
    now = ctx.clock.now()
    today = now.astimezone(ctx.tz).date()
    policy = ctx.partnership.retention
    plans = []
    for case in await store.closed_cases():
        due_on = policy.due_on(case.outcome, case.closed_at, case.closed_at.astimezone(ctx.tz).date())
        if due_on is not None and due_on <= today:
            plan = await store.plan(case.id, now)
            if plan is not None:
                plans.append(plan)
    return plans


def list_key(plans: list[ErasurePlan], week: str, dpo: str) -> str:
    cases = hashlib.sha256(",".join(sorted(p.case_id for p in plans)).encode()).hexdigest()[:16]
    return f"retention_list:{cases}:{week}>{dpo}"


async def daily(ctx: ServiceContext, store: RetentionStore) -> int:
    """Finish what erasures left to the outbox, then list the cases past their period for the
    data protection officers (at most once a week for the same list). Returns how many are due."""
    await finish_outstanding(ctx, store)
    plans = await due(ctx, store)
    if not plans:
        return 0
    dpos = sorted({m.aad_object_id for m in await ctx.roster.members(Role.DPO) if m.aad_object_id})
    if not dpos:
        log.warning("cases are past their retention period but the partnership file names no data protection "
                    "officer to confirm their erasure", extra={"due": len(plans)})
        return len(plans)
    year, week, _ = ctx.clock.now().astimezone(ctx.tz).isocalendar()
    stamp = f"{year}-W{week:02d}"
    await ctx.outbox.enqueue([OutboxMessage(key=list_key(plans, stamp, aad), kind=OutboxKind.RETENTION_LIST,
                                            payload={"to": aad, "cases": [p.case_id for p in plans]})
                              for aad in dpos], ctx.clock.now())
    ctx.kick_outbox()
    return len(plans)


async def finish_outstanding(ctx: ServiceContext, store: RetentionStore) -> int:
    """Close in the register each erasure whose tombstones and meeting the outbox has finished
    (sent, or given up: the register says which). Returns how many were closed now."""
    closed = 0
    for record in await store.unfinished_erasures():
        late = await store.late_messages(record.case_id)
        if late:  # sent by another process while the erasure committed: tombstoned too (first enqueued, then forgotten)
            await ctx.outbox.enqueue(tombstone_messages(record.case_id, late), ctx.clock.now())
            await store.forget_late_sends(record.case_id)
            ctx.kick_outbox()
            continue
        if await store.finish_erasure(record.case_id, ctx.clock.now()) is not None:
            closed += 1
    return closed


# ---- the dry run and the erasure -------------------------------------------------------------------------


async def dry_run(ctx: ServiceContext, store: RetentionStore, actor: Actor, reference: str
                  ) -> tuple[ErasurePlan | None, ErasureRecord | None]:
    """`erase RR-…`: the case's dry run, or its register row when it was erased already."""
    await require_dpo(ctx, actor, "erase", reference)
    case_id = await _case_id(store, reference)
    record = await store.erasure(case_id)
    if record is not None:
        return None, record
    return await store.plan(case_id, ctx.clock.now()), None


def check_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ErasureRefused("Give the reason for erasing this case (for the erasure register).", "reason")
    if (over := too_long(text, cap("erasure.reason"))) is not None:
        raise ErasureRefused(over, "reason")
    refuse_identifiers({"reason": text}, lambda message, field: ErasureRefused(message, field),
                       reason=REASON_REASON, verb="erasing")
    return text


async def erase(ctx: ServiceContext, store: RetentionStore, actor: Actor, reference: str, basis: ErasureBasis,
                reason: str | None = None) -> Erased:
    """Erase the case now (the DPO confirmed). Past its retention period for the purge; with a
    reason (no identifiers in it) on request. Never while a legal hold is on it; a case
    erased already is answered with its register row and nothing is written."""
    await require_dpo(ctx, actor, "erase", reference)
    case_id = await _case_id(store, reference)
    if (record := await store.erasure(case_id)) is not None:
        return Erased(record, None, already=True)
    if basis is ErasureBasis.REQUEST:
        reason = check_reason(reason)
    now = ctx.clock.now()
    plan = await store.plan(case_id, now)
    if plan is None:
        raise ErasureRefused(f"There is no case {reference}.")
    if plan.held:
        raise ErasureRefused(held_sentence(plan.reference, plan.holds))
    if basis is ErasureBasis.RETENTION:
        today = now.astimezone(ctx.tz).date()
        if plan.due_on is None or plan.due_on > today:
            raise ErasureRefused(f"{plan.reference} is not past its retention period"
                                 + (f" (due on {plan.due_on:%d %B %Y})." if plan.due_on else " (it is not closed).")
                                 + " To erase it now, type **erase " + plan.reference + "** and give the reason.")

    def finish(current: ErasurePlan) -> tuple[list[OutboxMessage], Event]:
        """The outbox rows and the tombstone audit row, from the dry run read again in the erasure's
        own transaction (a message sent about the case since the card was shown is replaced too)."""
        return erasure_messages(current), audit_event(now, actor, EventKind.CASE_ERASED, case_id=case_id, detail={
            "basis": basis.value, "outcome": current.outcome.value, "messages": len(current.messages),
            "meeting": current.meeting_action, "files_delivered": sum(1 for f in current.files if f.fetched_at),
            "reminders": current.reminders, "outbox_rows": current.outbox_rows})

    try:
        done = await store.erase(case_id, basis, reason, actor, now, finish)
    except HeldRefused as held:  # placed between the dry run and now
        raise ErasureRefused(f"{held} has a legal hold: nothing was erased. Lift the hold first.") from held
    if done is None:  # another press got there first
        again = await store.erasure(case_id)
        assert again is not None
        return Erased(again, None, already=True)
    ctx.kick_outbox()
    return Erased(done[0], done[1])


def tombstone_messages(case_id: str, messages: list[BotMessage]) -> list[OutboxMessage]:
    """A tombstone over each of the bot's messages it can still address (one key per message)."""
    def key(m: BotMessage) -> str:
        which = hashlib.sha256(f"{m.conversation_id}|{m.activity_id}".encode()).hexdigest()[:24]
        return f"erasure:{case_id}:tombstone:{which}"

    return [OutboxMessage(key=key(m), kind=OutboxKind.ERASURE_TOMBSTONE, case_id=case_id,
                          payload={"conversation_id": m.address.conversation_id, "service_url": m.address.service_url,
                                   "tenant_id": m.address.tenant_id, "bot_id": m.address.bot_id,
                                   "activity_id": m.activity_id})
            for m in messages if m.address is not None]


def erasure_messages(plan: ErasurePlan) -> list[OutboxMessage]:
    """The outbox rows that finish an erasure outside the database: a tombstone over each of
    the bot's messages it can still address, and the Graph meeting cancelled or scrubbed."""
    messages = tombstone_messages(plan.case_id, plan.messages)
    if plan.meeting_event_id and plan.meeting_action:
        messages.append(OutboxMessage(key=f"erasure:{plan.case_id}:meeting", kind=OutboxKind.ERASURE_MEETING,
                                      case_id=plan.case_id,
                                      payload={"event_id": plan.meeting_event_id, "action": plan.meeting_action}))
    return messages


def held_sentence(reference: str, holds: list[HoldRecord]) -> str:
    kinds = ", ".join(h.kind.title.lower() for h in holds)
    return (f"{reference} has a legal hold ({kinds}): it is kept until the hold is lifted, and nothing was erased. "
            f"Type **lift hold {reference}** when the hold no longer applies.")


# ---- legal holds -----------------------------------------------------------------------------------------


async def place_hold(ctx: ServiceContext, store: RetentionStore, actor: Actor, reference: str,
                     kind: HoldKind) -> bool:
    """False when the same kind of hold is already on the case."""
    await require_dpo(ctx, actor, "hold", reference)
    case_id = await _case_id(store, reference)
    if await store.erasure(case_id) is not None:
        raise ErasureRefused(f"{reference} has already been erased: there is nothing left to hold.")
    now = ctx.clock.now()
    event = audit_event(now, actor, EventKind.LEGAL_HOLD_PLACED, case_id=case_id, detail={"kind": kind.value})
    return await store.place_hold(case_id, kind, actor, now, event)


async def lift_hold(ctx: ServiceContext, store: RetentionStore, actor: Actor, reference: str) -> int:
    await require_dpo(ctx, actor, "lift_hold", reference)
    case_id = await _case_id(store, reference)
    now = ctx.clock.now()
    event = audit_event(now, actor, EventKind.LEGAL_HOLD_LIFTED, case_id=case_id)
    return await store.lift_holds(case_id, actor, now, event)


async def holds(ctx: ServiceContext, store: RetentionStore, actor: Actor) -> list[HoldRecord]:
    await require_dpo(ctx, actor, "holds")
    return await store.active_holds()


# ---- the outbox's part -----------------------------------------------------------------------------------


class RetentionOutbox:
    """The outbox kinds of retention (registered with the dispatcher by bot/app.py)."""

    def __init__(self, ctx: ServiceContext, store: RetentionStore) -> None:
        self.ctx = ctx
        self.store = store

    def kinds(self) -> dict[str, Callable[[OutboxItem], Awaitable[bool]]]:
        return {OutboxKind.RETENTION_LIST: self._list, OutboxKind.ERASURE_TOMBSTONE: self._tombstone,
                OutboxKind.ERASURE_MEETING: self._meeting}

    async def _list(self, item: OutboxItem) -> bool:
        """The list as it is when it is sent: a case erased (or held) since is shown as it is now."""
        to = str(item.payload["to"])
        now = self.ctx.clock.now()
        plans = [p for p in [await self.store.plan(str(c), now) for c in item.payload.get("cases", [])]
                 if p is not None and await self.store.erasure(p.case_id) is None]
        if not plans:
            return True
        shown, more = plans[:LIST_SHOWN], max(0, len(plans) - LIST_SHOWN)
        return await recipients.deliver(self.ctx, item, to,
                                        lambda: self.ctx.notifier.send_retention_list(to, shown, more))

    async def _tombstone(self, item: OutboxItem) -> bool:
        p = item.payload
        address = Address(str(p["conversation_id"]), str(p["service_url"]), p.get("tenant_id"), p.get("bot_id"))
        await self.ctx.notifier.replace_with_tombstone(address, str(p["activity_id"]))
        return True

    async def _meeting(self, item: OutboxItem) -> bool:
        event_id, action = str(item.payload["event_id"]), str(item.payload["action"])
        try:
            await self.ctx.meetings.scrub_event(event_id, SCRUBBED_SUBJECT, SCRUBBED_BODY)
            if action == "cancel":
                await self.ctx.meetings.cancel_event(event_id, TOMBSTONE_TEXT)
        except MeetingError as error:
            if error.status == 404:  # the event is gone already: nothing left to scrub
                return True
            raise DeliveryError(f"meeting provider: {error.status or 'unreachable'}", retry_after=error.retry_after,
                                permanent=not error.retryable) from error
        return True
