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
from bot.domain.case import Actor, parse_reference
from bot.services import export
from bot.services.context import ServiceContext
from bot.services.ports import CaseRecords, FileLinkStore
from bot.services.refusals import NotAuthorised, Refused
from bot.teams.files import invitation, record_document
from bot.teams.replies import Reply
from cards import chat

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

    async def download(self, request: web.Request) -> web.StreamResponse:
        opened = await export.open_link(self.services, self.links, request.match_info["token"])
        if opened is None:
            log.warning("one-time file link refused")
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        case, link = opened
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
