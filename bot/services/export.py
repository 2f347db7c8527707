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
LINK_MINUTES = 10
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
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    link = FileLink(case_id=case.id, kind=EXPORT, issued_to=actor.aad_object_id, issued_at=now,
                    expires_at=now + timedelta(minutes=LINK_MINUTES))
    await links.issue(token_hash(token), link)
    await audit(ctx, actor, EventKind.FILE_LINK_ISSUED, case_id=case.id,
                detail={"what": EXPORT, "expires_at": link.expires_at.isoformat()})
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
    await audit(ctx, person, EventKind.CASE_EXPORTED, case_id=case.id,
                detail={"what": link.kind, "issued_at": link.issued_at.isoformat()})
    return case, link


async def _person(ctx: ServiceContext, aad_object_id: str) -> Actor:
    """Who the link was issued to, as the audit row's actor (a browser carries no Teams identity)."""
    for member in await ctx.roster.members():
        if member.aad_object_id == aad_object_id:
            return Actor(aad_object_id=aad_object_id, name=member.name)
    return Actor(aad_object_id=aad_object_id, name="Unknown")
