"""The panel roster, changed from Teams: `add @Name as police`, `remove @Name`, `members`.

Only a partnership manager may change it; their authority comes from the roster in the
database, never from the message. The edge (bot/teams/handler.py) finds the person Teams
mentioned and passes what Teams said about them as a `TeamsPerson`; everything else —
the authority check, the role word, the roster write and the audit — is here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.domain.limits import cap
from bot.domain.partnership import Partner, Role
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import MemberRecord
from bot.services.refusals import NotAuthorised, Refused

ROLE_WORDS = {
    "local authority": (Role.PANEL, Partner.LOCAL_AUTHORITY), "la": (Role.PANEL, Partner.LOCAL_AUTHORITY),
    "police": (Role.PANEL, Partner.POLICE),
    "health": (Role.PANEL, Partner.HEALTH), "icb": (Role.PANEL, Partner.HEALTH),
    "chair": (Role.CHAIR, None), "partnership manager": (Role.MANAGER, None), "manager": (Role.MANAGER, None),
    "other": (Role.ADVISER, None), "adviser": (Role.ADVISER, None), "advisor": (Role.ADVISER, None),
}
ROLE_WORD = re.compile(r"\bas\s+(.+)$")


@dataclass(frozen=True)
class TeamsPerson:
    """Someone Teams told us about (the team's roster lookup), not yet on our roster."""

    aad_object_id: str
    name: str | None = None
    teams_id: str | None = None  # their Teams user id (MRI), for proactive messages
    upn: str | None = None
    tenant_id: str | None = None  # set for a guest from another tenant


def role_word_of(text: str) -> str:
    """`… as police` → "police" (the command text is already lower-case)."""
    match = ROLE_WORD.search(text)
    return match.group(1).strip() if match else ""


async def members(ctx: ServiceContext) -> list[MemberRecord]:
    return await ctx.roster.members()


async def authorise(ctx: ServiceContext, actor: Actor) -> None:
    """Refuse (and audit) anyone but a partnership manager."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "membership"})
        raise NotAuthorised("Only a partnership manager can change the panel's membership.")


async def add_member(ctx: ServiceContext, actor: Actor, person: TeamsPerson, role_word: str) -> MemberRecord:
    """Put the person on the roster in the role the word names; returns what was stored."""
    await authorise(ctx, actor)
    if role_word not in ROLE_WORDS:
        raise Refused("Say which role: **as local authority**, **as police**, **as health**, **as chair**, "
                      "**as partnership manager** or **as other** (an advisory panel member, who does not vote).",
                      "role")
    role, partner = ROLE_WORDS[role_word]
    record = MemberRecord(role=role, partner=partner, name=(person.name or "Unknown")[:cap("person.display_name")],
                          aad_object_id=person.aad_object_id.lower(), upn=person.upn or None, source="teams")
    async with ctx.uow.begin() as tx:  # on the roster and audited, or neither
        await tx.roster.add_member(record, person.teams_id, ctx.clock.now())
        await audit(ctx, actor, EventKind.MEMBER_ADDED, into=tx.cases, detail={
            "member": record.aad_object_id, "role": role.value, "partner": partner.value if partner else None,
            "guest": bool(person.tenant_id and person.tenant_id != actor.tenant_id)})
    return record


async def remove_member(ctx: ServiceContext, actor: Actor, person: TeamsPerson) -> int:
    """Take the person off the roster; returns how many roster rows went (0: they were not on it)."""
    await authorise(ctx, actor)
    async with ctx.uow.begin() as tx:
        removed = await tx.roster.remove_member(person.aad_object_id, ctx.clock.now())
        await audit(ctx, actor, EventKind.MEMBER_REMOVED, detail={"member": person.aad_object_id, "rows": removed},
                    into=tx.cases)
    return removed
