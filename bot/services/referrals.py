"""Use cases of referral intake: submit, list, and the summary for the national form."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bot.domain.case import Actor, Case, CaseStatus, CaseSummary, incident_kind
from bot.domain.events import Event, EventKind
from bot.domain.outbox import OutboxKind
from bot.domain.referral import Referral
from bot.services import duplicates
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import NewCase, OutboxMessage
from bot.services.refusals import NotAuthorised

PANEL_CHANNEL = "panel"


@dataclass(frozen=True)
class Submitted:
    case: CaseSummary
    created: bool
    panel_channel_bound: bool


def panel_card_message(case_id: str) -> OutboxMessage:
    """The case's card in the panel channel: posted once, then updated in place.

    One key per case, so however often it is requested there is one message in Teams.
    """
    return OutboxMessage(key=f"panel_card:{case_id}:post", kind=OutboxKind.PANEL_CARD, case_id=case_id)


async def submit_referral(ctx: ServiceContext, actor: Actor, draft_id: str, referral: Referral) -> Submitted:
    """Create the case, its audit event and its channel post in one transaction.

    Submitting the same draft twice (a double-click, a retried request) returns the
    case the first submission created.
    """
    now = ctx.clock.now()
    case_id = str(uuid.uuid4())
    new = NewCase(
        id=case_id,
        draft_id=draft_id,
        year=now.astimezone(ctx.tz).year,
        case={
            "status": CaseStatus.REFERRED.value,
            "referrer_aad_id": actor.aad_object_id,
            "referrer_name": referral.referrer.name,
            "referring_agency": referral.referrer.agency,
            "pathway_sought": referral.pathway.pathway.value,
            "incident_kind": incident_kind(referral).value,
            "incident_date": referral.incident.incident_date,
            "aware_date": referral.incident.la_aware_date,
            "likely_notifiable": referral.likely_notifiable,
            "received_at": now,
        },
        referral=referral.model_dump(mode="json"),
    )
    event = Event(
        kind=EventKind.REFERRAL_SUBMITTED,
        at=now,
        actor_aad_id=actor.aad_object_id,
        actor_name=actor.name,
        detail={
            "children": len(referral.children.children),
            "pathway_sought": referral.pathway.pathway.value,
            "likely_notifiable": referral.likely_notifiable,
        },
    )
    refresh = OutboxMessage(key=f"refresh:{case_id}:submitted", kind=OutboxKind.REFRESH_DEADLINES, case_id=case_id)
    summary, created = await ctx.cases.create_case(new, event, [panel_card_message(case_id), refresh,
                                                                duplicates.check_message(case_id)])
    if created:
        ctx.log.info("referral submitted", extra={"case": summary.reference, "pseudonym": summary.pseudonym})
        ctx.kick_outbox()
    bound = await ctx.roster.channel(PANEL_CHANNEL) is not None
    return Submitted(summary, created, bound)


async def my_referrals(ctx: ServiceContext, actor: Actor) -> list[CaseSummary]:
    return await ctx.cases.list_cases_for_referrer(actor.aad_object_id)


async def notification_summary(ctx: ServiceContext, actor: Actor, reference: str) -> Case:
    """The copy-ready fields of the national serious incident notification form.

    Partnership managers only, in personal chat only; every read is audited because it
    carries the child's identifiers.
    """
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.manager:
        await _deny(ctx, actor, "notification_summary", reference)
        raise NotAuthorised("Only partnership managers can ask for the notification summary.")
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise LookupError(reference)
    await ctx.cases.add_event(
        Event(
            kind=EventKind.NOTIFICATION_SUMMARY_VIEWED,
            at=ctx.clock.now(),
            actor_aad_id=actor.aad_object_id,
            actor_name=actor.name,
            case_id=case.id,
            detail={"where": "personal_chat"},
        )
    )
    return case


async def _deny(ctx: ServiceContext, actor: Actor, action: str, reference: str | None) -> None:
    await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action, "reference": reference})
