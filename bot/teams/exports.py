"""The data protection officer's case export at the edge: the `export RR-…` command in
personal chat, and `GET /files/once/{token}`, which hands the zip out once.

The use case (bot/services/export.py) decides who may export and records every request
and download; here the link is shown on a card and the file is put together when it is
fetched, so no copy of it is kept on disk.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.adapters.case_package import case_package
from bot.domain.case import Actor, Case, parse_reference
from bot.domain.meeting import MeetingOutcome
from bot.services import export
from bot.services.context import ServiceContext
from bot.services.ports import CaseRecords, FileLinkStore
from bot.services.refusals import NotAuthorised, Refused
from bot.teams.files import DOCX, briefing_document, invitation, record_document
from bot.teams.places import where_of
from bot.teams.replies import Reply
from bot.teams.routes import Pressed
from cards import chat, meeting_cards, review_cards

log = logging.getLogger(__name__)
COMMAND = "export"
GONE = ("This link has already been used or has expired: each export link works once, for a few minutes. "
        "Type 'export' and the case reference to the Rapid Review bot in Teams for a new one.")


class CaseExports:
    def __init__(self, services: ServiceContext, links: FileLinkStore, records: CaseRecords, base_url: str) -> None:
        self.services = services
        self.links = links
        self.records = records
        self.base_url = base_url.rstrip("/")

    async def command(self, actor: Actor, argument: str) -> Reply:
        reference = parse_reference(argument)
        if reference is None:
            return Reply(text="Say which case, for example: **export RR-2026-0001**.")
        try:
            issued = await export.request_export(self.services, self.links, actor, reference)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused), status=404)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=chat.export_link_card(issued.reference, url, issued.expires_at, self.services.tz,
                                                self.services.partnership.protective_marking))

    async def record_link(self, p: Pressed) -> Reply:
        """"Download the record" on the record card: a link of the presser's own, shown on the card."""
        issued = await export.request_record(self.services, self.links, p.actor, p.case)
        case = await self.services.cases.get_case(p.case)
        record = await self.services.meeting_store.get(case.id) if case is not None else None
        if case is None or record is None or not record.outcome:
            raise Refused(export.NO_RECORD_YET)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=meeting_cards.record_link_card(case.summary, MeetingOutcome.model_validate(record.outcome),
                                                         url, issued.expires_at, self.services.tz))

    async def briefing_link(self, p: Pressed) -> Reply:
        """"7-minute briefing" on the review card: a one-time link of the presser's own, given only
        in their personal chat with the bot."""
        if where_of(p.turn_context.activity).conversation_type != "personal":
            return Reply(text=f"The briefing is given in your personal chat with the bot: type **timeline {p.case}** "
                              "there, open 'Review and actions' and press '7-minute briefing'.")
        issued = await export.request_briefing(self.services, self.links, p.actor, p.case)
        case = await self.services.cases.get_case(p.case)
        assert case is not None  # request_briefing found it
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=review_cards.briefing_link_card(case.summary.reference, case.summary.pseudonym, url,
                                                          issued.expires_at, self.services.tz,
                                                          self.services.partnership.protective_marking))

    async def download(self, request: web.Request) -> web.StreamResponse:
        opened = await export.open_link(self.services, self.links, request.match_info["token"])
        if opened is None:
            log.warning("one-time file link refused")
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        case, link = opened
        if link.kind == export.RECORD:
            return await self._record(case)
        if link.kind == export.BRIEFING:
            return web.Response(body=await briefing_document(self.services, case), content_type=DOCX, headers={
                "Content-Disposition": f'attachment; filename="{case.reference}-7-minute-briefing.docx"',
                "Cache-Control": "no-store"})
        documents = {}
        if (record := await record_document(self.services, case)) is not None:
            documents[f"{case.reference}-rapid-review-record.docx"] = record
        if (ics := await invitation(self.services, case)) is not None:
            documents[f"{case.reference}-meeting.ics"] = ics
        members = {m.aad_object_id: m.name for m in await self.services.roster.members()}
        body = case_package(reference=case.reference, tables=await self.records.rows_of(case.id), documents=documents,
                            marking=self.services.partnership.protective_marking,
                            exported_at=self.services.clock.now(),
                            exported_by=members.get(link.issued_to) or "the data protection officer")
        return web.Response(body=body, content_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{case.reference}-export.zip"', "Cache-Control": "no-store"})

    async def _record(self, case: Case) -> web.StreamResponse:
        body = await record_document(self.services, case)
        if body is None:
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        return web.Response(body=body, content_type=DOCX, headers={
            "Content-Disposition": f'attachment; filename="{case.reference}-rapid-review-record.docx"',
            "Cache-Control": "no-store"})
