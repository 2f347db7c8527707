"""Who may see what: the one gate in front of every command and card press that touches a case
(docs/architecture.md, "Who may see what").

Two questions, answered from the Teams activity (where it came from, who sent it) and the
database only — never from card data, and never from knowing a case reference:

1. Is this a place the partnership's cases may be seen? The bound panel channel (a thread in
   it counts) and personal chats are; another team's channel, an unbound channel and a group
   chat are not. There the answer is one line, and nothing about any case is read or stored.
2. Does this person have a role on this case? Panel members, chairs and partnership managers
   (the roster) have one on every case of the partnership; a referrer on the cases they
   referred. Anyone else is refused with the same sentence whether or not the case exists,
   and the refusal is audited — so a reference, which is short and sequential so that people
   can say it in a meeting, is never the key to anything.

What a person may then do on a case they can open (vote, read the identifiers, book the
meeting) is the use case's own check (bot/services/panel.py, deadlines.py, meeting.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import THREAD_MARK, Roles
from bot.services.referrals import PANEL_CHANNEL

# The one answer to a case someone has no role on — and to a case that does not exist.
CASE_DENIED = ("Only the panel, its chairs, partnership managers and a case's referrer can open a case, and only "
               "in the panel channel or their personal chat with the bot. If you should be one of them, ask a "
               "partnership manager.")


class Place(Enum):
    PERSONAL = "personal"  # a one-to-one chat with the bot
    PANEL_CHANNEL = "panel_channel"  # the channel a partnership manager bound, or a thread in it
    ELSEWHERE = "elsewhere"  # any other channel, a group chat, a conversation from another tenant


@dataclass(frozen=True)
class Where:
    """Where an activity came from, as Teams said it (bot/turns/places.py reads it)."""

    conversation_type: str  # personal | channel | groupChat
    conversation_id: str  # the conversation, without a thread's ";messageid=…"
    channel_id: str | None = None  # channelData.channel.id, in a channel
    team_id: str | None = None  # channelData.team.id, in a channel
    tenant_id: str | None = None


@dataclass(frozen=True)
class Gate:
    """The gate's answer: served (with the roles it read, so the turn need not read them
    again), or refused with the sentence to say and the status to answer with."""

    allowed: bool
    refusal: str = ""
    status: int = 200
    roles: Roles | None = None


def outside_line(ctx: ServiceContext) -> str:
    """The whole answer anywhere but the panel channel and personal chats."""
    return f"This bot works in the {ctx.partnership.name} channel."


async def outside_answer(ctx: ServiceContext) -> str:
    """`outside_line`; before any channel is bound, with how a manager binds one (still one line)."""
    if await ctx.roster.channel(PANEL_CHANNEL) is None:
        return (f"This bot works in the {ctx.partnership.name} channel, which a partnership manager has not chosen "
                "yet: they type **@Rapid Review use this channel for the panel** in it.")
    return outside_line(ctx)


async def place_of(ctx: ServiceContext, where: Where) -> Place:
    """Which kind of place this is. Reads only the partnership's bound channel. The channel is
    known by its conversation id (unique across Teams; a thread in it adds ";messageid=…"),
    the one id every channel activity carries."""
    tenants = {t.lower() for t in ctx.partnership.tenant_ids}
    if tenants and (where.tenant_id or "").lower() not in tenants:
        return Place.ELSEWHERE
    if where.conversation_type == "personal":
        return Place.PERSONAL
    if where.conversation_type != "channel":
        return Place.ELSEWHERE
    bound = await ctx.roster.channel(PANEL_CHANNEL)
    if bound is None or bound.conversation_id.split(THREAD_MARK)[0] != where.conversation_id:
        return Place.ELSEWHERE
    if bound.tenant_id and where.tenant_id and bound.tenant_id.lower() != where.tenant_id.lower():
        return Place.ELSEWHERE
    return Place.PANEL_CHANNEL


async def outside(ctx: ServiceContext, where: Where) -> bool:
    """True where no case may be seen: the caller answers `outside_line` and reads nothing."""
    return await place_of(ctx, where) is Place.ELSEWHERE


async def case_gate(ctx: ServiceContext, where: Where, actor: Actor, action: str, reference: str) -> Gate:
    """May this press or command about `reference` be served here, for this person?

    Outside the panel channel and personal chats: the one line, a denial audited without
    the reference, and no case read. In them: served for the roster (every case) and for the
    case's referrer; anyone else gets `CASE_DENIED` — the same words and status whether or
    not the case exists — and an `access_denied` event naming the action and the reference."""
    # In a channel the place check reads the bound channel: it comes with the roles, one read for both.
    in_channel = where.conversation_type == "channel"
    roles = await ctx.roster.roles_of(actor.aad_object_id, channel=PANEL_CHANNEL if in_channel else None)
    if await place_of(ctx, where) is Place.ELSEWHERE:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action[:40], "where": "outside"})
        return Gate(False, await outside_answer(ctx), 403)
    if roles.may_see_identifiers:
        return Gate(True, roles=roles)
    case = await ctx.cases.get_case(reference)
    if case is not None and case.summary.referrer_aad_id == actor.aad_object_id:
        return Gate(True, roles=roles)
    await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action[:40], "reference": reference[:20]})
    return Gate(False, CASE_DENIED, 403)
