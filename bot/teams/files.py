"""`GET /files/{token}`: the .ics invitation and the rapid review record, behind signed,
expiring links sent in personal chat (bot/adapters/links.py). Every download of the
record, which holds the child's identifiers, is an audited event."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.adapters.documents import (
    ChairNotesFacts,
    chair_notes_document,
    learning_briefing,
    meeting_ics,
    national_panel_submission,
    rapid_review_record,
)
from bot.adapters.links import LinkSigner
from bot.domain.case import Case
from bot.domain.meeting import MeetingOutcome
from bot.domain.partnership import Role
from bot.domain.review import ReviewSetup
from bot.domain.timeline import Anchor
from bot.services import meeting, report
from bot.services.context import ServiceContext
from bot.services.refusals import Refused

log = logging.getLogger(__name__)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXPIRED = ("This link is not valid or has expired. For a new link to the rapid review record or the chair's notes, "
           "type 'record RR-…' or 'notes RR-…' (with the case's reference) in your chat with the Rapid Review bot in "
           "Teams. A meeting invitation link works for 30 days: after that, ask the partnership's business unit to "
           "send the invitation again.")
RECORD_MOVED = ("This link no longer works: the record is now given to each person as a file or by a link of their "
                "own: use the buttons on the record's card in your chat with the Rapid Review bot.")


async def invitation(services: ServiceContext, case: Case) -> bytes | None:
    """The meeting invitation as it would be downloaded now; None before a time is set."""
    record = await services.meeting_store.get(case.id)
    if record is None or record.start_at is None or record.end_at is None:
        return None
    return meeting_ics(
        uid=f"{record.transaction_id}@rapid-review", subject=f"Rapid review meeting: {case.reference} "
        f"({case.summary.pseudonym})", description=meeting.agenda_html(case).replace("<li>", "\n- ")
        .replace("</li>", "").replace("<ol>", "").replace("</ol>", "").replace("<p>", "").replace("</p>", "\n"),
        start=record.start_at, end=record.end_at, organiser_name=services.partnership.name,
        attendees=await meeting.attendees(services, case.id), stamp=services.clock.now(),
        marking=services.partnership.protective_marking)


async def record_document(services: ServiceContext, case: Case) -> bytes | None:
    """The rapid review record as it would be downloaded now; None before the outcome."""
    record = await services.meeting_store.get(case.id)
    if record is None or record.start_at is None or not record.outcome:
        return None
    outcome = MeetingOutcome.model_validate(record.outcome)
    return rapid_review_record(case, outcome, meeting_start=record.start_at,
                               deciders=await meeting.deciders(services, case), tz=services.tz,
                               partnership=services.partnership.name,
                               marking=services.partnership.protective_marking,
                               produced_at=services.clock.now())


async def chair_notes(services: ServiceContext, case: Case) -> bytes | None:
    """The chair's notes for the booked meeting, as they would be downloaded now; None before
    the meeting is booked."""
    record = await services.meeting_store.get(case.id)
    if record is None or record.start_at is None:
        return None
    chairs = [m.name for m in await services.roster.members(Role.CHAIR)]
    notified = (await services.deadlines.anchors(case.id)).get(Anchor.NATIONAL_PANEL_NOTIFIED)
    people = await meeting.attendees(services)
    named = [p.name + (f" ({p.partner.title})" if p.partner else " (chair)" if p.role is Role.CHAIR else "")
             for p in people]
    venue = ("Microsoft Teams (remotely): join from the Teams meeting in the invitation" if record.join_url else
             "Microsoft Teams (remotely): add a Teams meeting to the invitation (.ics) when you send it")
    return chair_notes_document(ChairNotesFacts(
        case=case, meeting_start=record.start_at, meeting_end=record.end_at, venue=venue,
        chair=", ".join(chairs) or None, attendees=named,
        notified_on=notified.astimezone(services.tz).date() if notified else None, tz=services.tz,
        partnership=services.partnership.name, marking=services.partnership.protective_marking,
        produced_at=services.clock.now()))


async def submission_document(services: ServiceContext, case: Case) -> bytes | None:
    """The National Panel's copy of the rapid review report as it would be downloaded now;
    None before the report is started."""
    try:
        shown = await report.view(services, case.reference)
    except Refused:
        return None
    if shown.report is None:
        return None
    return national_panel_submission(shown, tz=services.tz, partnership=services.partnership.name,
                                     marking=services.partnership.protective_marking,
                                     produced_at=services.clock.now())


async def briefing_document(services: ServiceContext, case: Case) -> bytes:
    """The 7-minute briefing as it would be downloaded now, from the learning recorded (the
    review's, or the meeting's while the review has none) and the actions."""
    record = await services.meeting_store.get(case.id)
    outcome = MeetingOutcome.model_validate(record.outcome) if record is not None and record.outcome else None
    found = await services.reviews.review(case.id)
    setup = ReviewSetup.model_validate(found.setup) if found is not None and found.setup else None
    actions = [(a.description, a.owner_agency, f"{a.due_on:%d %b %Y}",
                f"Done {a.done_at.astimezone(services.tz):%d %b %Y}" if a.done_at else "Open")
               for a in await services.reviews.actions(case.id)]
    return learning_briefing(case, learning=(found.learning if found and found.learning else None)
                             or (outcome.learning if outcome else None) or "", outcome=outcome,
                             meeting_start=record.start_at if record else None,
                             lines_of_enquiry=setup.lines_of_enquiry if setup else [], actions=actions,
                             review_commissioned=setup is not None, tz=services.tz,
                             partnership=services.partnership.name, marking=services.partnership.protective_marking,
                             produced_at=services.clock.now())


class FilesEndpoint:
    def __init__(self, services: ServiceContext, signer: LinkSigner) -> None:
        self.services = services
        self._signer = signer

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        found = await self._signer.verify(request.match_info["token"], self.services.clock.now())
        if found is None:
            log.warning("file link refused")
            return web.Response(status=404, text=EXPIRED)
        case_id, kind = found
        case = await self.services.cases.get_case_by_id(case_id)
        if case is None:
            return web.Response(status=404, text="Nothing to download for this case.")
        if kind == "ics" and (body := await invitation(self.services, case)) is not None:
            return web.Response(body=body, content_type="text/calendar",
                                headers={"Content-Disposition": f'attachment; filename="{case.reference}.ics"'})
        if kind == "record":  # the record now goes to a person, by a one-time link (bot/teams/exports.py)
            return web.Response(status=410, text=RECORD_MOVED)
        return web.Response(status=404, text="Nothing to download for this case.")
