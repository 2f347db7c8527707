"""`GET /files/{token}`: the .ics invitation and the rapid review record, behind signed,
expiring links sent in personal chat (bot/adapters/links.py). Every download of the
record, which holds the child's identifiers, is an audited event."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.adapters.documents import meeting_ics, rapid_review_record
from bot.adapters.links import LinkSigner
from bot.domain.events import Event, EventKind
from bot.domain.meeting import MeetingOutcome
from bot.services import meeting
from bot.services.context import ServiceContext

log = logging.getLogger(__name__)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class FilesEndpoint:
    def __init__(self, services: ServiceContext, signer: LinkSigner) -> None:
        self.services = services
        self._signer = signer

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        found = await self._signer.verify(request.match_info["token"], self.services.clock.now())
        if found is None:
            log.warning("file link refused")
            return web.Response(status=404, text="This link is not valid or has expired. Ask the bot for a new one.")
        case_id, kind = found
        case = await self.services.cases.get_case_by_id(case_id)
        record = await self.services.meeting_store.get(case_id)
        if case is None or record is None or record.start_at is None or record.end_at is None:
            return web.Response(status=404, text="Nothing to download for this case.")
        if kind == "ics":
            body = meeting_ics(
                uid=f"{record.transaction_id}@rapid-review", subject=f"Rapid review meeting: {case.reference} "
                f"({case.summary.pseudonym})", description=meeting.agenda_html(case).replace("<li>", "\n- ")
                .replace("</li>", "").replace("<ol>", "").replace("</ol>", "").replace("<p>", "").replace("</p>", "\n"),
                start=record.start_at, end=record.end_at, organiser_name=self.services.partnership.name,
                attendees=await meeting.attendees(self.services), stamp=self.services.clock.now(),
                marking=self.services.partnership.protective_marking)
            return web.Response(body=body, content_type="text/calendar",
                                headers={"Content-Disposition": f'attachment; filename="{case.reference}.ics"'})
        if kind == "record" and record.outcome:
            outcome = MeetingOutcome.model_validate(record.outcome)
            body = rapid_review_record(case, outcome, meeting_start=record.start_at,
                                       deciders=await meeting.deciders(self.services, case), tz=self.services.tz,
                                       partnership=self.services.partnership.name,
                                       marking=self.services.partnership.protective_marking,
                                       produced_at=self.services.clock.now())
            await self.services.cases.add_event(Event(kind=EventKind.IDENTIFIERS_VIEWED, at=self.services.clock.now(),
                                                      actor_aad_id=None, actor_name="signed link", case_id=case.id,
                                                      detail={"what": "rapid_review_record"}))
            return web.Response(body=body, content_type=DOCX, headers={
                "Content-Disposition": f'attachment; filename="{case.reference}-rapid-review-record.docx"',
                "Cache-Control": "no-store"})
        return web.Response(status=404, text="Nothing to download for this case.")
