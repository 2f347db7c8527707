"""Who may have a case's records as a file, and the one-time links that are the fallback
when the file cannot go straight to their OneDrive (bot/services/delivery.py).

Only a data protection officer (or deputy) named in the partnership file may export, and
the answer to anyone else is the same whether or not the case exists. Every request, every
download and every refused download is an audit event naming the person the link was
issued to.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.case import Actor, Case
from bot.domain.events import EventKind
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.pathways import family_teller
from bot.services.ports import FileLink, FileLinkStore
from bot.services.refusals import NotAuthorised, Refused
from bot.services.review import briefing_allowed

EXPORT = "case_export"
RECORD = "rapid_review_record"
CHAIR_NOTES = "chair_notes"
FAMILY_LETTER = "family_letter"
NOT_THE_TELLER = ("The family letter goes to the person agreed to tell the family. Ask the chair or the partnership "
                  "manager who that is.")
SUBMISSION = "national_panel_submission"  # the rapid review report with its covering letter
BRIEFING = "learning_briefing"  # the 7-minute briefing (bot/services/review.py): no identifiers
LINK_MINUTES = 10
NOT_A_RECIPIENT = "The record goes to the chair and the partnership managers. Ask one of them for it."
NO_RECORD_YET = "The record is ready once the meeting's outcome has been recorded."
NO_NOTES_YET = "The chair's notes are ready once the rapid review meeting is booked."
NOT_A_NOTES_RECIPIENT = "The chair's notes go to the chair and the partnership managers. Ask one of them for them."
NOT_YOURS = ("Only the partnership's data protection officer can export a case. If you need a copy of a case's "
             "records, ask them.")


@dataclass(frozen=True)
class IssuedLink:
    reference: str
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def exportable(ctx: ServiceContext, actor: Actor, reference: str) -> Case:
    """The case, for a data protection officer; anyone else is refused (and audited) with the
    same words whether or not the case exists."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.dpo:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "export", "reference": reference[:20]})
        raise NotAuthorised(NOT_YOURS)
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise Refused(f"There is no case {reference}.")
    return case


async def record_for(ctx: ServiceContext, actor: Actor, reference: str) -> Case:
    """The case whose record a chair or a partnership manager (who are sent its card) asks for."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not (roles.chair or roles.manager):
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "record_link", "reference": reference[:20]})
        raise NotAuthorised(NOT_A_RECIPIENT)
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case is not None else None
    if case is None or meeting is None or not meeting.outcome:
        raise Refused(NO_RECORD_YET)
    return case


async def notes_for(ctx: ServiceContext, actor: Actor, reference: str) -> Case:
    """The case whose chair's notes a chair or a partnership manager (who are sent them) asks for."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not (roles.chair or roles.manager):
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "chair_notes", "reference": reference[:20]})
        raise NotAuthorised(NOT_A_NOTES_RECIPIENT)
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case is not None else None
    if case is None or meeting is None or meeting.start_at is None:
        raise Refused(NO_NOTES_YET)
    return case


async def request_notes(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str) -> IssuedLink:
    """A one-time link to the chair's notes as a Word document."""
    return await _issue(ctx, links, actor, await notes_for(ctx, actor, reference), CHAIR_NOTES)


async def request_export(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str) -> IssuedLink:
    return await _issue(ctx, links, actor, await exportable(ctx, actor, reference), EXPORT)


async def request_record(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str) -> IssuedLink:
    """A one-time link to the rapid review record, for a chair or a partnership manager."""
    return await _issue(ctx, links, actor, await record_for(ctx, actor, reference), RECORD)


async def request_family_letter(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str
                                ) -> IssuedLink:
    """The decision letter to the family, for the one person agreed to tell the family
    (bot/services/pathways.py): it names the child, so nobody else gets a link."""
    case = await ctx.cases.get_case(reference)
    step = await family_teller(ctx, case) if case is not None else None
    if case is None or step is None or step.teller_aad_id != actor.aad_object_id:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, case_id=case.id if case else None,
                    detail={"action": "family_letter_link"})
        raise NotAuthorised(NOT_THE_TELLER)
    return await _issue(ctx, links, actor, case, FAMILY_LETTER)


async def request_submission(ctx: ServiceContext, links: FileLinkStore, actor: Actor,
                             reference: str) -> IssuedLink:
    """A one-time link to the National Panel's copy of the rapid review report."""
    return await _issue(ctx, links, actor, await submission_for(ctx, actor, reference), SUBMISSION)


async def submission_for(ctx: ServiceContext, actor: Actor, reference: str) -> Case:
    """The case whose National Panel copy a chair or a partnership manager asks for: started
    from the meeting's outcome, so there is one once the report is started."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not (roles.chair or roles.manager):
        await audit(ctx, actor, EventKind.ACCESS_DENIED,
                    detail={"action": "submission_link", "reference": reference[:20]})
        raise NotAuthorised("The National Panel's copy goes to the chair and the partnership managers. Ask one of "
                            "them for it.")
    case = await ctx.cases.get_case(reference)
    if case is None or await ctx.reports.get(case.id) is None:
        raise Refused("The National Panel's copy is ready once the report has been started.")
    return case
async def request_briefing(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str) -> IssuedLink:
    """The 7-minute briefing, for a partnership manager or the chair, once there is learning."""
    case = await briefing_allowed(ctx, actor, reference)
    return await _issue(ctx, links, actor, case, BRIEFING)


async def request_chair_notes(ctx: ServiceContext, links: FileLinkStore, actor: Actor,
                              reference: str) -> IssuedLink:
    """The chair's notes for the meeting (they hold the child's identifiers), for a chair or a
    partnership manager, once the meeting is booked: `notes RR-…` typed, or the card's button."""
    return await request_notes(ctx, links, actor, reference)


async def _issue(ctx: ServiceContext, links: FileLinkStore, actor: Actor, case: Case, kind: str) -> IssuedLink:
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    link = FileLink(case_id=case.id, kind=kind, issued_to=actor.aad_object_id, issued_at=now,
                    expires_at=now + timedelta(minutes=LINK_MINUTES))
    await links.issue(token_hash(token), link)
    await audit(ctx, actor, EventKind.FILE_LINK_ISSUED, case_id=case.id,
                detail={"what": kind, "expires_at": link.expires_at.isoformat()})
    return IssuedLink(case.reference, token, link.expires_at)


async def open_link(ctx: ServiceContext, links: FileLinkStore, token: str) -> tuple[Case, FileLink] | None:
    """The case and the link, claimed (it will not work again) — or None, audited with why."""
    link, outcome = await links.claim(token_hash(token), ctx.clock.now())
    person = await _person(ctx, link.issued_to) if link else None
    if link is None or outcome != "ok":
        await audit(ctx, person, EventKind.FILE_LINK_REFUSED, case_id=link.case_id if link else None,
                    detail={"why": outcome, "what": link.kind if link else None})
        return None
    case = await ctx.cases.get_case_by_id(link.case_id)
    if case is None:
        return None
    kind = {EXPORT: EventKind.CASE_EXPORTED, BRIEFING: EventKind.BRIEFING_DOWNLOADED}.get(
        link.kind, EventKind.IDENTIFIERS_VIEWED)
    await audit(ctx, person, kind, case_id=case.id,
                detail={"what": link.kind, "via": "one-time link", "issued_at": link.issued_at.isoformat()})
    return case, link


async def _person(ctx: ServiceContext, aad_object_id: str) -> Actor:
    """Who the link was issued to, as the audit row's actor (a browser carries no Teams identity)."""
    for member in await ctx.roster.members():
        if member.aad_object_id == aad_object_id:
            return Actor(aad_object_id=aad_object_id, name=member.name)
    return Actor(aad_object_id=aad_object_id, name="Unknown")
