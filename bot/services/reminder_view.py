"""What a reminder card shows, worked out from the database: who is mentioned, how
late it is, and for agencies' information which agencies are still outstanding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.domain.case import Case, CaseSummary
from bot.domain.partnership import Partner, Role
from bot.domain.redaction import redact
from bot.domain.reminders import ReminderKind
from bot.domain.review import action_id_of, is_imr_step
from bot.domain.timeline import Owner
from bot.services.context import ServiceContext
from bot.services.deadlines import chases_agency_requests
from bot.services.ports import DeadlineRow, MemberRecord
from bot.services.review import outstanding_reports

OWNER_ROLES: dict[str, tuple[Role, ...]] = {
    Owner.LOCAL_AUTHORITY.value: (Role.PANEL,),
    Owner.BUSINESS_UNIT.value: (Role.MANAGER,),
    Owner.PARTNERSHIP_MANAGER.value: (Role.MANAGER,),
    Owner.CHAIR.value: (Role.CHAIR,),
    Owner.AGENCIES.value: (Role.MANAGER,),
    Owner.PANEL.value: (Role.PANEL,),
    Owner.CHILD_DEATH_TEAM.value: (Role.MANAGER,),
    Owner.HANDOVER_OWNER.value: (Role.MANAGER,),  # until a hand-over names its owner
    Owner.FAMILY_CONTACT.value: (Role.CHAIR,),  # until someone is agreed to tell the family
    Owner.ACTION_OWNER.value: (),  # the person the action names (below)
}
# Steps owned by one named person (bot/services/pathways.py): the record kind and its id field.
NAMED_OWNERS = {Owner.HANDOVER_OWNER.value: ("handover", "owner_aad_id", "owner_name"),
                Owner.FAMILY_CONTACT.value: ("family", "teller_aad_id", "teller_name")}


@dataclass(frozen=True)
class Mention:
    name: str
    aad_object_id: str


@dataclass(frozen=True)
class ReminderView:
    case: CaseSummary
    deadline: DeadlineRow
    kind: ReminderKind
    delayed: bool
    mentions: list[Mention]
    working_days: int  # left (heads-up, due) or overdue by
    outstanding_agencies: list[str] = field(default_factory=list)


def _mention(member: MemberRecord) -> Mention | None:
    return Mention(member.name, member.aad_object_id) if member.aad_object_id else None


async def reminded_people(ctx: ServiceContext, case_id: str, row: DeadlineRow,
                          reminder_kind: ReminderKind, members: Sequence[MemberRecord] | None = None) -> list[Mention]:
    """Who a reminder is for: the step's owners (only the partners that have not voted, for the
    panel's vote; the named person, for a step one person owns), and when overdue those it is
    escalated to. `members`: the roster, when the caller has just read it for a batch."""
    if members is None:
        members = await ctx.roster.members()
    roles = OWNER_ROLES.get(row.owner, (Role.MANAGER,))
    chosen = [m for m in members if m.role in roles]
    if row.owner == Owner.LOCAL_AUTHORITY.value:
        chosen = [m for m in chosen if m.partner is Partner.LOCAL_AUTHORITY]
    if row.step_id == "panel_vote" and ctx.panel is not None:  # only the partners that have not voted
        votes = (await ctx.panel.panel_state(case_id)).votes
        chosen = [m for m in chosen if m.partner not in votes]
    named = NAMED_OWNERS.get(row.owner)
    if named is not None:
        record = (await ctx.deadlines.case_records(case_id, named[0])).get("")
        if record and record.get(named[1]):
            chosen = [m for m in members if m.aad_object_id == record[named[1]]] or [
                MemberRecord(role=Role.MANAGER, name=str(record.get(named[2]) or "owner"),
                             aad_object_id=str(record[named[1]]))]
    action_id = action_id_of(row.step_id) if row.owner == Owner.ACTION_OWNER.value else None
    if action_id is not None:
        # An action's reminders go to its owner; overdue, it is escalated to the partnership managers.
        action = await ctx.reviews.action(action_id)
        chosen = [m for m in members if action is not None and m.aad_object_id == action.owner_aad_id][:1]
        if reminder_kind is ReminderKind.OVERDUE:
            chosen += [m for m in members if m.role is Role.MANAGER]
    elif reminder_kind is ReminderKind.OVERDUE:  # escalation: the chair is told too
        chosen += [m for m in members if m.role is Role.CHAIR]
    mentions: dict[str, Mention] = {}
    for member in chosen:
        mention = _mention(member)
        if mention:
            mentions.setdefault(mention.aad_object_id, mention)
    return list(mentions.values())


async def reminder_view(ctx: ServiceContext, case: Case, row: DeadlineRow, kind: str, delayed: bool) -> ReminderView:
    assert row.due_at is not None
    reminder_kind = ReminderKind(kind)
    mentions = await reminded_people(ctx, case.id, row, reminder_kind)
    today = ctx.clock.now().astimezone(ctx.tz).date()
    due_day = row.due_at.astimezone(ctx.tz).date()
    days = abs(ctx.calendar.working_days_between(today, due_day))
    outstanding: list[str] = []
    if is_imr_step(row.anchor, row.owner):  # the local review's agency reports still to come
        outstanding = [redact(a, case.referral) for a in await outstanding_reports(ctx, case.id)]
    elif chases_agency_requests(row) and ctx.deadlines is not None:
        # Agency names are typed by the business unit: through the redaction step like any text
        # that goes to the channel.
        outstanding = [redact(r.agency, case.referral) for r in await ctx.deadlines.agency_requests(case.id)
                       if r.returned_at is None]
    return ReminderView(case.summary, row, reminder_kind, delayed, mentions, days, outstanding)
