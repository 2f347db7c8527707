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
from bot.teams.files import DOCX, chair_notes, invitation, record_document
from bot.teams.replies import Reply
from bot.teams.routes import Pressed
from cards import chat, meeting_cards

log = logging.getLogger(__name__)
COMMAND = "export"
RECORD_COMMAND = "record"  # `record RR-…`: a new one-time link to the rapid review record
NOTES_COMMAND = "notes"  # `notes RR-…`: a new one-time link to the chair's notes
GONE = ("This link has already been used or has expired: each link works once, for a few minutes. For a new one, "
        "type in your chat with the Rapid Review bot in Teams: 'record RR-…' for the rapid review record, "
        "'notes RR-…' for the chair's notes, or 'export RR-…' for a case export (with the case's reference); "
        "or press 'Get a new link' on the card the link came from.")


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
        return await self._record_link(p.actor, p.case)

    async def typed(self, actor: Actor, command: str, argument: str) -> Reply:
        """`record RR-…` and `notes RR-…` in personal chat: the same new link as the card's button."""
        reference = parse_reference(argument)
        if reference is None:
            return Reply(text=f"Say which case, for example: **{command} RR-2026-0001**.")
        try:
            if command == RECORD_COMMAND:
                return await self._record_link(actor, reference)
            return await self._notes_link(actor, reference)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))

    async def notes_link(self, p: Pressed) -> Reply:
        """"Download the chair's notes" on the chair's card: a link of the presser's own."""
        return await self._notes_link(p.actor, p.case)

    async def _notes_link(self, actor: Actor, reference: str) -> Reply:
        issued = await export.request_chair_notes(self.services, self.links, actor, reference)
        case = await self.services.cases.get_case(reference)
        if case is None:
            raise Refused(export.NO_NOTES_YET)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=meeting_cards.notes_link_card(case.summary, url, issued.expires_at, self.services.tz))

    async def _record_link(self, actor: Actor, reference: str) -> Reply:
        issued = await export.request_record(self.services, self.links, actor, reference)
        case = await self.services.cases.get_case(reference)
        record = await self.services.meeting_store.get(case.id) if case is not None else None
        if case is None or record is None or not record.outcome:
            raise Refused(export.NO_RECORD_YET)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=meeting_cards.record_link_card(case.summary, MeetingOutcome.model_validate(record.outcome),
                                                         url, issued.expires_at, self.services.tz))

    async def download(self, request: web.Request) -> web.StreamResponse:
        opened = await export.open_link(self.services, self.links, request.match_info["token"])
        if opened is None:
            log.warning("one-time file link refused")
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        case, link = opened
        if link.kind == export.RECORD:
            return await self._record(case)
        if link.kind == export.CHAIR_NOTES:
            return await self._notes(case)
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

    async def _notes(self, case: Case) -> web.StreamResponse:
        body = await chair_notes(self.services, case)
        if body is None:
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        return web.Response(body=body, content_type=DOCX, headers={
            "Content-Disposition": f'attachment; filename="{case.reference}-chair-notes.docx"',
            "Cache-Control": "no-store"})

    async def _record(self, case: Case) -> web.StreamResponse:
        body = await record_document(self.services, case)
        if body is None:
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        return web.Response(body=body, content_type=DOCX, headers={
            "Content-Disposition": f'attachment; filename="{case.reference}-rapid-review-record.docx"',
            "Cache-Control": "no-store"})
