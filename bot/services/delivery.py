"""Deliver file X of case C to person P: the one way a record leaves the bot as a file.

The meeting's record, the data protection officer's export (and, later, the National Panel
submission) are handed to a named person, never posted to a link anyone could open:

1. `deliver_file` records an offer for that person (a one-time id, only its hash kept), audits
   it, and queues Teams' file consent card for their personal chat (the outbox delivers it,
   to that person's 1:1 conversation and nowhere else). The card carries the file's name,
   size and the opaque id; nothing about the case.
2. When they press Allow, Teams sends `fileConsent/invoke` with an upload URL in their
   OneDrive. `accept` claims the offer: the presser (from the activity, never from the card)
   must be the person it was issued to, it must not have been answered before, and it must
   not have expired. Only then is the file made (in memory), uploaded, and `uploaded`
   recorded; an upload that fails or is refused is `failed`, and they are offered a one-time
   link instead (bot/services/export.py).
3. Decline is `declined`: recorded, audited, and a one-time link offered.

Every step is an audit event naming the person; `FileLinkStore.deliveries_of` lists who
received which file of a case (the retention purge's list of copies beyond its reach).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.case import Actor, Case
from bot.domain.events import EventKind
from bot.domain.outbox import OutboxKind
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.export import BRIEFING, EXPORT, PARTNERSHIP_FILES, token_hash
from bot.services.ports import CONSENT, CaseFiles, FileLink, FileLinkStore, OutboxMessage
from bot.services.refusals import Refused

CONSENT_MINUTES = 60  # the consent card's Allow works this long; asking again makes a new one
NOTHING_YET = "There is nothing to send yet for this case."
VIA = "file consent"


@dataclass(frozen=True)
class Offer:
    reference: str
    kind: str
    name: str
    size: int
    expires_at: datetime


async def deliver_file(ctx: ServiceContext, links: FileLinkStore, files: CaseFiles, person: Actor, case: Case,
                       kind: str) -> Offer:
    """Offer file `kind` of `case` to `person` in their OneDrive through Teams' file consent
    card. The caller has decided that this person may have it (bot/services/export.py). The
    file is made here only to tell its size, then dropped: it is made again on Allow."""
    made = await files.make(case, kind, person.aad_object_id)
    if made is None:
        raise Refused(NOTHING_YET)
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    hashed = token_hash(token)
    offer = FileLink(case_id=case.id, kind=kind, issued_to=person.aad_object_id, issued_at=now,
                     expires_at=now + timedelta(minutes=CONSENT_MINUTES), via=CONSENT)
    await links.issue(hashed, offer)
    await audit(ctx, person, EventKind.FILE_OFFERED, case_id=case.id,
                detail={"what": kind, "via": VIA, "expires_at": offer.expires_at.isoformat()})
    await ctx.outbox.enqueue([OutboxMessage(
        key=f"file_consent:{hashed[:32]}", kind=OutboxKind.FILE_CONSENT, case_id=case.id,
        payload={"to": person.aad_object_id, "offer": token, "what": kind, "name": made.name,
                 "size": len(made.content)})], now)
    ctx.kick_outbox()
    return Offer(case.reference, kind, made.name, len(made.content), offer.expires_at)


async def deliver_partnership_file(ctx: ServiceContext, links: FileLinkStore, files: CaseFiles, person: Actor,
                                   subject: str, kind: str) -> Offer:
    """`deliver_file` for a file about no one case (export.PARTNERSHIP_FILES: the timeliness
    report): the offer's `case_id` holds its subject ("timeliness-2026"); audited without a case."""
    made = await files.make_partnership_file(subject, kind, person.aad_object_id)
    if made is None:
        raise Refused("There is nothing to send for that.")
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    hashed = token_hash(token)
    offer = FileLink(case_id=subject, kind=kind, issued_to=person.aad_object_id, issued_at=now,
                     expires_at=now + timedelta(minutes=CONSENT_MINUTES), via=CONSENT)
    await links.issue(hashed, offer)
    await audit(ctx, person, EventKind.FILE_OFFERED,
                detail={"what": kind, "subject": subject, "via": VIA, "expires_at": offer.expires_at.isoformat()})
    await ctx.outbox.enqueue([OutboxMessage(
        key=f"file_consent:{hashed[:32]}", kind=OutboxKind.FILE_CONSENT, case_id=None,
        payload={"to": person.aad_object_id, "offer": token, "what": kind, "name": made.name,
                 "size": len(made.content)})], now)
    ctx.kick_outbox()
    return Offer(subject, kind, made.name, len(made.content), offer.expires_at)


async def accept(ctx: ServiceContext, links: FileLinkStore, token: str, person: Actor
                 ) -> tuple[Case | None, FileLink] | None:
    """Allow pressed by `person`: the case and the offer, claimed — or None, audited with why."""
    return await _answer(ctx, links, token, person, "accepted", EventKind.FILE_ACCEPTED)


async def decline(ctx: ServiceContext, links: FileLinkStore, token: str, person: Actor
                  ) -> tuple[Case | None, FileLink] | None:
    """Decline pressed by `person`: recorded (the offer cannot be accepted afterwards)."""
    return await _answer(ctx, links, token, person, "declined", EventKind.FILE_DECLINED)


async def _answer(ctx: ServiceContext, links: FileLinkStore, token: str, person: Actor, answer: str,
                  kind: EventKind) -> tuple[Case | None, FileLink] | None:
    offer, why = await links.answer(token_hash(token), person.aad_object_id, answer, ctx.clock.now())
    if offer is not None and why == "ok" and offer.kind in PARTNERSHIP_FILES:  # about no case
        await audit(ctx, person, kind, detail={"what": offer.kind, "subject": offer.case_id, "via": VIA})
        return None, offer
    case = await ctx.cases.get_case_by_id(offer.case_id) if offer is not None else None
    if offer is None or why != "ok" or case is None:
        detail: dict[str, object] = {"why": why if offer is not None else "unknown", "answer": answer,
                                     "what": offer.kind if offer else None}
        if offer is not None and offer.issued_to != person.aad_object_id:
            detail["offered_to"] = offer.issued_to
        await audit(ctx, person, EventKind.FILE_OFFER_REFUSED,
                    case_id=offer.case_id if offer and offer.kind not in PARTNERSHIP_FILES else None, detail=detail)
        return None
    await audit(ctx, person, kind, case_id=case.id, detail={"what": offer.kind, "via": VIA})
    return case, offer


async def uploaded(ctx: ServiceContext, links: FileLinkStore, token: str, person: Actor, case: Case | None,
                   offer: FileLink) -> None:
    """The file is in the person's OneDrive: recorded as delivered, and audited as a read of
    the case (an export, or the identifying record) by that person."""
    await links.settle(token_hash(token), "uploaded", ctx.clock.now())
    if case is None:  # a partnership file: no case was read
        await audit(ctx, person, EventKind.FILE_UPLOADED, detail={"what": offer.kind, "subject": offer.case_id,
                                                                  "via": VIA})
        return
    await audit(ctx, person, EventKind.FILE_UPLOADED, case_id=case.id, detail={"what": offer.kind, "via": VIA})
    # as the one-time link audits it (bot/services/export.py, open_link): the briefing holds no identifiers
    read = {EXPORT: EventKind.CASE_EXPORTED, BRIEFING: EventKind.BRIEFING_DOWNLOADED}.get(
        offer.kind, EventKind.IDENTIFIERS_VIEWED)
    await audit(ctx, person, read, case_id=case.id,
                detail={"what": offer.kind, "via": VIA, "issued_at": offer.issued_at.isoformat()})


async def upload_failed(ctx: ServiceContext, links: FileLinkStore, token: str, person: Actor, case: Case | None,
                        offer: FileLink, why: str, *, refused_host: str | None = None) -> None:
    """Nothing reached the person: recorded, audited (a refused upload host names only its
    scheme and host), and the caller offers a one-time link instead."""
    await links.settle(token_hash(token), "failed", ctx.clock.now())
    case_id = case.id if case is not None else None
    if refused_host is not None:
        await audit(ctx, person, EventKind.FILE_OFFER_REFUSED, case_id=case_id,
                    detail={"why": "upload_host", "host": refused_host[:100], "what": offer.kind})
        return
    await audit(ctx, person, EventKind.FILE_UPLOAD_FAILED, case_id=case_id,
                detail={"why": why[:100], "what": offer.kind, "via": VIA})
