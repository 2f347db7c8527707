"""Binding the panel channel, and remembering where people can be reached."""

from __future__ import annotations

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.domain.partnership import Partner, Person, Role
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import Address, MemberRecord
from bot.services.referrals import PANEL_CHANNEL
from bot.services.refusals import NotAuthorised

WAITING_FOR_CHANNEL = "waiting_channel"


async def bind_panel_channel(
    ctx: ServiceContext, actor: Actor, address: Address, team_id: str | None, channel_id: str | None
) -> int:
    """Make this channel the panel channel. Returns how many held posts are released."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "bind_panel_channel"})
        raise NotAuthorised("Only a partnership manager can choose the panel channel.")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:  # bound, audited and the held posts released together
        await tx.roster.bind_channel(PANEL_CHANNEL, address, team_id, channel_id, actor, now)
        released = await tx.outbox.release(WAITING_FOR_CHANNEL, now)
    ctx.kick_outbox()
    return released


async def remember_person(ctx: ServiceContext, aad_object_id: str, teams_id: str | None,
                          personal_chat: Address | None, *, upn: str | None = None) -> None:
    """What an activity told us about its sender, in one transaction: their Teams user id,
    their personal chat (and so the Bot Connector's address), and their object id bound to
    the UPN the partnership file knows them by, if it knows them by UPN alone."""
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        if teams_id:
            await tx.roster.remember_mri(aad_object_id, teams_id, now)
        if personal_chat is not None:
            await tx.roster.save_reference(f"user:{aad_object_id}", personal_chat, teams_id, now)
            await tx.roster.save_reference("service", personal_chat, None, now)
        if upn:
            await tx.roster.bind_upn(upn, aad_object_id, now)


async def seed_members_from_config(ctx: ServiceContext) -> int:
    p = ctx.partnership
    records: list[MemberRecord] = []
    for partner_people, partner in (
        (p.panel.local_authority, "local_authority"),
        (p.panel.police, "police"),
        (p.panel.health, "health"),
    ):
        from bot.domain.partnership import Partner

        records += [_record(person, Role.PANEL, Partner(partner)) for person in partner_people]
    records += [_record(person, Role.CHAIR) for person in p.chairs]
    records += [_record(person, Role.MANAGER) for person in p.partnership_managers]
    records += [_record(person, Role.DPO) for person in p.data_protection_officers]
    records += [_record(person, Role.ADVISER) for person in p.panel_advisers]
    return await ctx.roster.seed_members(records, ctx.clock.now())


def _record(person: Person, role: Role, partner: Partner | None = None) -> MemberRecord:
    return MemberRecord(
        role=role,
        name=person.name,
        partner=partner,
        aad_object_id=person.aad_object_id,
        upn=person.upn,
        organisation=person.organisation,
        job_title=person.job_title,
    )
