"""The data protection officer's export of one case: asked for in personal chat, handed
over through a one-time link that only works for a few minutes.

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
from bot.services.ports import FileLink, FileLinkStore
from bot.services.refusals import NotAuthorised, Refused

EXPORT = "case_export"
RECORD = "rapid_review_record"
CHAIR_NOTES = "chair_notes"
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


async def request_export(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str) -> IssuedLink:
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.dpo:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "export", "reference": reference[:20]})
        raise NotAuthorised(NOT_YOURS)
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise Refused(f"There is no case {reference}.")
    return await _issue(ctx, links, actor, case, EXPORT)


async def request_record(ctx: ServiceContext, links: FileLinkStore, actor: Actor, reference: str) -> IssuedLink:
    """The rapid review record, for a chair or a partnership manager (who are sent its card)."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not (roles.chair or roles.manager):
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "record_link", "reference": reference[:20]})
        raise NotAuthorised(NOT_A_RECIPIENT)
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case is not None else None
    if case is None or meeting is None or not meeting.outcome:
        raise Refused(NO_RECORD_YET)
    return await _issue(ctx, links, actor, case, RECORD)


async def request_chair_notes(ctx: ServiceContext, links: FileLinkStore, actor: Actor,
                              reference: str) -> IssuedLink:
    """The chair's notes for the meeting (they hold the child's identifiers), for a chair or a
    partnership manager, once the meeting is booked."""
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not (roles.chair or roles.manager):
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "notes_link", "reference": reference[:20]})
        raise NotAuthorised(NOT_A_NOTES_RECIPIENT)
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case is not None else None
    if case is None or meeting is None or meeting.start_at is None:
        raise Refused(NO_NOTES_YET)
    return await _issue(ctx, links, actor, case, CHAIR_NOTES)


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
    kind = EventKind.CASE_EXPORTED if link.kind == EXPORT else EventKind.IDENTIFIERS_VIEWED
    await audit(ctx, person, kind, case_id=case.id,
                detail={"what": link.kind, "via": "one-time link", "issued_at": link.issued_at.isoformat()})
    return case, link


async def _person(ctx: ServiceContext, aad_object_id: str) -> Actor:
    """Who the link was issued to, as the audit row's actor (a browser carries no Teams identity)."""
    for member in await ctx.roster.members():
        if member.aad_object_id == aad_object_id:
            return Actor(aad_object_id=aad_object_id, name=member.name)
    return Actor(aad_object_id=aad_object_id, name="Unknown")
