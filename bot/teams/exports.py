"""Records handed to one person, for either edge (no SDK here): the data protection officer's `export RR-…`
command, the record card's buttons, Teams' `fileConsent/invoke`, and the one-time link
`GET /files/once/{token}` that is the fallback.

Who may have which file is decided by bot/services/export.py; the offer, its answer and the
audit by bot/services/delivery.py. Here the files are made (in memory, when handed over —
no copy is kept on disk), put in the person's OneDrive (bot/teams/file_upload.py), and the
cards and links shown.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from bot.adapters.case_package import case_package
from bot.adapters.documents import family_letter, timeliness_csv, timeliness_document
from bot.domain.case import Actor, Case, parse_reference
from bot.domain.meeting import MeetingOutcome
from bot.services import delivery, export, pathways, timeliness
from bot.services.context import ServiceContext
from bot.services.ports import CaseFile, CaseRecords, FileLinkStore
from bot.services.refusals import NotAuthorised, Refused
from bot.services.review import briefing_allowed
from bot.teams.file_upload import OneDriveUploader, UploadFailed, UploadRefused
from bot.teams.files import (
    DOCX,
    briefing_document,
    chair_notes,
    invitation,
    record_document,
    submission_document,
)
from bot.turns.commands import RECORD_COMMAND
from bot.turns.file_consent import ConsentAnswer
from bot.turns.places import where_of
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import chat, file_cards, meeting_cards, pathway_cards, report_cards, review_cards

log = logging.getLogger(__name__)
GONE = ("This link has already been used or has expired: each link works once, for a few minutes. For a new one, "
        "type in your chat with the Rapid Review bot in Teams: 'record RR-…' for the rapid review record, "
        "'notes RR-…' for the chair's notes, or 'export RR-…' for a case export (with the case's reference); "
        "or press 'Get a new link' on the card the link came from.")
ZIP = "application/zip"
# The button that gives a one-time link instead of the file, per kind of file.
LINK_VERB = {export.RECORD: meeting_cards.RECORD_LINK, export.EXPORT: chat.EXPORT_LINK,
             export.CHAIR_NOTES: meeting_cards.NOTES_LINK, export.SUBMISSION: report_cards.DOCUMENT,
             export.TIMELINESS_CSV: chat.TIMELINESS_CSV_LINK, export.TIMELINESS_DOCX: chat.TIMELINESS_DOCX_LINK,
             export.BRIEFING: review_cards.LEARNING_BRIEFING}
OFFER_GONE = ("This file offer has already been answered, has expired, or is not yours: each works once, for the "
              "person it was sent to, for an hour. Ask the Rapid Review bot for the file again.")
DECLINED = "You declined the file, so nothing was saved in your OneDrive."
NOT_UPLOADED = "The file could not be saved in your OneDrive, so nothing was sent."
PERSONAL_ONLY = ("Files and links are only given in your personal chat with the Rapid Review bot: open the record's "
                 "card there.")


def _payload(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _personal_only(p: Pressed) -> None:
    """A file or a link is answered only in the presser's personal chat: a press that comes from
    a channel or a group chat (our cards carrying these buttons go to personal chats only)
    gets nothing."""
    if where_of(p.turn_context.activity).conversation_type != "personal":
        raise Refused(PERSONAL_ONLY, audit="file or link asked for outside personal chat")


class CaseExports:
    def __init__(self, services: ServiceContext, links: FileLinkStore, records: CaseRecords, base_url: str,
                 uploader: OneDriveUploader | None = None, letter_template: str = "") -> None:
        self.services = services
        self.letter_template = letter_template  # the partnership's family letter (bot/app.py reads it)
        self.links = links
        self.records = records
        self.base_url = base_url.rstrip("/")
        self.uploader = uploader or OneDriveUploader(local_mode=False)

    @property
    def marking(self) -> str:
        return self.services.partnership.protective_marking

    # ---- asking for a file ------------------------------------------------------------------

    async def command(self, actor: Actor, argument: str) -> Reply:
        """`export RR-…` in personal chat: the export offered as a file, a link as the fallback."""
        reference = parse_reference(argument)
        if reference is None:
            return Reply(text="Say which case, for example: **export RR-2026-0001**.")
        try:
            case = await export.exportable(self.services, actor, reference)
            offer = await delivery.deliver_file(self.services, self.links, self, actor, case, export.EXPORT)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused), status=404)
        return Reply(card=file_cards.offer_sent_card(offer.reference, offer.kind, chat.EXPORT_LINK, self.marking))

    async def timeliness_command(self, actor: Actor, argument: str) -> Reply:
        """`timeliness 2026` in personal chat (a partnership manager): the year's timeliness report
        offered as two files, a CSV and a Word document; one-time links as the fallback."""
        try:
            await timeliness.require_manager(self.services, actor)
            year = timeliness.parse_year(argument, self.services.clock.now().astimezone(self.services.tz).date())
            report = await timeliness.timeliness(self.services, actor, year)
            subject = export.timeliness_subject(year)
            for kind in (export.TIMELINESS_CSV, export.TIMELINESS_DOCX):
                await delivery.deliver_partnership_file(self.services, self.links, self, actor, subject, kind)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))
        return Reply(card=file_cards.timeliness_sent_card(report, subject, self.marking))

    async def timeliness_link(self, p: Pressed) -> Reply:
        """"Get a one-time link instead" for the timeliness report, in personal chat only."""
        _personal_only(p)
        kind = export.TIMELINESS_CSV if p.press.verb == chat.TIMELINESS_CSV_LINK else export.TIMELINESS_DOCX
        issued = await export.request_timeliness(self.services, self.links, p.actor, p.press.ref or "", kind)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=file_cards.link_card(issued.reference, kind, url, issued.expires_at, self.services.tz,
                                               LINK_VERB[kind], self.marking))

    async def export_link(self, p: Pressed) -> Reply:
        """"Get a one-time link instead" for the export (only a data protection officer gets one)."""
        _personal_only(p)
        reference = parse_reference(p.press.ref or "")
        if reference is None:
            return Reply(text="This card does not name a case. Please use the latest card from the bot.", status=400)
        issued = await export.request_export(self.services, self.links, p.actor, reference)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=chat.export_link_card(issued.reference, url, issued.expires_at, self.services.tz,
                                                self.marking))

    async def record_file(self, p: Pressed) -> Reply:
        """"Save the record to my OneDrive" on the record card: the consent card follows."""
        _personal_only(p)
        case = await export.record_for(self.services, p.actor, p.case)
        offer = await delivery.deliver_file(self.services, self.links, self, p.actor, case, export.RECORD)
        return Reply(card=file_cards.offer_sent_card(offer.reference, offer.kind, meeting_cards.RECORD_LINK,
                                                     self.marking, meeting_cards.RECORD_FILE))

    async def record_link(self, p: Pressed) -> Reply:
        """"Get a one-time link instead" on the record card: a link of the presser's own, shown on the card."""
        _personal_only(p)
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

    async def _record_link(self, actor: Actor, reference: str) -> Reply:
        issued = await export.request_record(self.services, self.links, actor, reference)
        case = await self.services.cases.get_case(reference)
        record = await self.services.meeting_store.get(case.id) if case is not None else None
        if case is None or record is None or not record.outcome:
            raise Refused(export.NO_RECORD_YET)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=meeting_cards.record_link_card(case.summary, MeetingOutcome.model_validate(record.outcome),
                                                         url, issued.expires_at, self.services.tz))

    async def notes_file(self, p: Pressed) -> Reply:
        """"Save as a Word document to my OneDrive" on the chair's notes: the consent card follows."""
        _personal_only(p)
        case = await export.notes_for(self.services, p.actor, p.case)
        offer = await delivery.deliver_file(self.services, self.links, self, p.actor, case, export.CHAIR_NOTES)
        return Reply(card=file_cards.offer_sent_card(offer.reference, offer.kind, meeting_cards.NOTES_LINK,
                                                     self.marking, meeting_cards.NOTES_FILE))

    async def notes_link(self, p: Pressed) -> Reply:
        """"Get a one-time link instead" on the chair's notes."""
        _personal_only(p)
        return await self._notes_link(p.actor, p.case)

    async def _notes_link(self, actor: Actor, reference: str) -> Reply:
        issued = await export.request_notes(self.services, self.links, actor, reference)
        case = await self.services.cases.get_case(reference)
        if case is None:
            raise Refused(export.NO_NOTES_YET)
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=meeting_cards.notes_link_card(case.summary, url, issued.expires_at, self.services.tz))

    async def family_letter_link(self, p: Pressed) -> Reply:
        """"Download the family letter" on the teller's card: a one-time link of their own.
        (Delivering it as a file instead of a link would change this one function.)"""
        issued = await export.request_family_letter(self.services, self.links, p.actor, p.case)
        case = await self.services.cases.get_case(p.case)
        assert case is not None
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=pathway_cards.letter_link_card(case.summary, url, issued.expires_at, self.services.tz,
                                                         self.marking))

    async def submission_file(self, p: Pressed) -> Reply:
        """"National Panel copy to my OneDrive" on the report card: the consent card follows."""
        _personal_only(p)
        case = await export.submission_for(self.services, p.actor, p.case)
        offer = await delivery.deliver_file(self.services, self.links, self, p.actor, case, export.SUBMISSION)
        return Reply(card=file_cards.offer_sent_card(offer.reference, offer.kind, report_cards.DOCUMENT,
                                                     self.marking, report_cards.DOCUMENT_FILE))

    async def submission_link(self, p: Pressed) -> Reply:
        """"Get the National Panel's copy" on the report card: the one place the submission is
        handed to a person (a link of their own, shown on the card). Another delivery (a file
        sent into their chat) replaces this function only."""
        issued = await export.request_submission(self.services, self.links, p.actor, p.case)
        case = await self.services.cases.get_case(p.case)
        if case is None:
            raise Refused("That case could not be found.")
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=report_cards.submission_link_card(case.summary, url, issued.expires_at, self.services.tz))
    async def briefing_link(self, p: Pressed) -> Reply:
        """"7-minute briefing" on the review card: a one-time link of the presser's own, in their
        personal chat only (like every file and link)."""
        _personal_only(p)
        issued = await export.request_briefing(self.services, self.links, p.actor, p.case)
        case = await self.services.cases.get_case(p.case)
        assert case is not None  # request_briefing found it
        url = f"{self.base_url}/files/once/{issued.token}"
        return Reply(card=review_cards.briefing_link_card(case.summary.reference, case.summary.pseudonym, url,
                                                          issued.expires_at, self.services.tz, self.marking))

    async def briefing_file(self, p: Pressed) -> Reply:
        """"7-minute briefing to my OneDrive" on the review card: the consent card follows."""
        _personal_only(p)
        case = await briefing_allowed(self.services, p.actor, p.case)
        offer = await delivery.deliver_file(self.services, self.links, self, p.actor, case, export.BRIEFING)
        return Reply(card=file_cards.offer_sent_card(offer.reference, offer.kind, review_cards.LEARNING_BRIEFING,
                                                     self.marking, review_cards.LEARNING_BRIEFING_FILE))

    # ---- the files (bot.services.ports.CaseFiles) ------------------------------------------

    async def make_partnership_file(self, subject: str, kind: str, for_person: str) -> CaseFile | None:
        year = export.timeliness_year(subject)
        if year is None or kind not in export.PARTNERSHIP_FILES:
            return None
        report = await timeliness.compute(self.services, year)
        if kind == export.TIMELINESS_CSV:
            return CaseFile(f"timeliness-{year}.csv", timeliness_csv(report), "text/csv")
        produced = f"{self.services.clock.now().astimezone(self.services.tz):%d %B %Y %H:%M}"
        return CaseFile(f"timeliness-{year}.docx", timeliness_document(report, marking=self.marking,
                                                                       produced=produced), DOCX)

    async def _made(self, case: Case | None, offer_subject: str, kind: str, for_person: str) -> CaseFile | None:
        if case is None:
            return await self.make_partnership_file(offer_subject, kind, for_person)
        return await self.make(case, kind, for_person)

    async def make(self, case: Case, kind: str, for_person: str) -> CaseFile | None:
        if kind == export.RECORD:
            body = await record_document(self.services, case)
            return CaseFile(f"{case.reference}-rapid-review-record.docx", body, DOCX) if body is not None else None
        if kind == export.CHAIR_NOTES:
            body = await chair_notes(self.services, case)
            return CaseFile(f"{case.reference}-chair-notes.docx", body, DOCX) if body is not None else None
        if kind == export.SUBMISSION:
            body = await submission_document(self.services, case)
            return (CaseFile(f"{case.reference}-rapid-review-report.docx", body, DOCX)
                    if body is not None else None)
        if kind == export.FAMILY_LETTER:
            body = family_letter(self.letter_template, await pathways.letter_values(self.services, case),
                                 reference=case.reference, version=case.version, marking=self.marking,
                                 produced=f"{self.services.clock.now().astimezone(self.services.tz):%d %B %Y %H:%M}")
            return CaseFile(f"{case.reference}-family-letter.docx", body, DOCX)
        if kind == export.BRIEFING:  # no identifiers: for dissemination (bot/services/review.py)
            body = await briefing_document(self.services, case)
            return CaseFile(f"{case.reference}-7-minute-briefing.docx", body, DOCX)
        if kind != export.EXPORT:
            return None
        documents = {}
        if (record := await record_document(self.services, case)) is not None:
            documents[f"{case.reference}-rapid-review-record.docx"] = record
        if (submission := await submission_document(self.services, case)) is not None:
            documents[f"{case.reference}-rapid-review-report.docx"] = submission
        if (ics := await invitation(self.services, case)) is not None:
            documents[f"{case.reference}-meeting.ics"] = ics
        members = {m.aad_object_id: m.name for m in await self.services.roster.members()}
        body = case_package(reference=case.reference, tables=await self.records.rows_of(case.id), documents=documents,
                            marking=self.marking, exported_at=self.services.clock.now(),
                            exported_by=members.get(for_person) or "the data protection officer")
        return CaseFile(f"{case.reference}-export.zip", body, ZIP)

    # ---- Teams' file consent card answered ---------------------------------------------------

    async def file_consent(self, value: Any, actor: Actor | None) -> ConsentAnswer:
        """`fileConsent/invoke` (its value, and who the activity says pressed): Allow uploads the
        file to the URL Teams gave and shows it in the chat; Decline is recorded and a one-time
        link offered. The edge sends the answer and answers Teams 200 (bot/turns/file_consent.py)."""
        value = _payload(value)
        token = _payload(value.get("context")).get("offer")
        answer = value.get("action")
        if actor is None or not isinstance(token, str) or answer not in ("accept", "decline"):
            return ConsentAnswer(text=OFFER_GONE)
        if answer == "decline":
            declined = await delivery.decline(self.services, self.links, token, actor)
            if declined is None:
                return ConsentAnswer(text=OFFER_GONE)
            case, offer = declined
            return ConsentAnswer(card=file_cards.not_sent_card(case.reference if case else offer.case_id, offer.kind,
                                                               LINK_VERB[offer.kind], DECLINED))
        accepted = await delivery.accept(self.services, self.links, token, actor)
        if accepted is None:
            return ConsentAnswer(text=OFFER_GONE)
        case, offer = accepted
        reference = case.reference if case is not None else offer.case_id
        upload_info = _payload(value.get("uploadInfo"))
        upload_url = upload_info.get("uploadUrl")
        try:
            if not isinstance(upload_url, str):
                raise UploadFailed("no upload URL")
            self.uploader.check(upload_url)  # before the file is even made
            made = await self._made(case, offer.case_id, offer.kind, actor.aad_object_id)
            if made is None:
                raise UploadFailed("nothing to make")
            await self.uploader.put(upload_url, made.content)
        except UploadRefused as refused:
            await delivery.upload_failed(self.services, self.links, token, actor, case, offer, "upload host",
                                         refused_host=refused.host)
            return ConsentAnswer(card=file_cards.not_sent_card(reference, offer.kind, LINK_VERB[offer.kind],
                                                               NOT_UPLOADED))
        except UploadFailed as failed:
            log.warning("file upload to OneDrive failed", extra={"why": str(failed)})
            await delivery.upload_failed(self.services, self.links, token, actor, case, offer, str(failed))
            return ConsentAnswer(card=file_cards.not_sent_card(reference, offer.kind, LINK_VERB[offer.kind],
                                                               NOT_UPLOADED))
        await delivery.uploaded(self.services, self.links, token, actor, case, offer)
        return ConsentAnswer(text=file_cards.saved_note(str(upload_info.get("name") or made.name)),
                             file=file_cards.file_info_attachment(upload_info))

    # ---- the one-time link -----------------------------------------------------------------

    async def download(self, request: web.Request) -> web.StreamResponse:
        opened = await export.open_link(self.services, self.links, request.match_info["token"])
        if opened is None:
            log.warning("one-time file link refused")
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        case, link = opened
        made = await self._made(case, link.case_id, link.kind, link.issued_to)
        if made is None:
            return web.Response(status=410, text=GONE, headers={"Cache-Control": "no-store"})
        return web.Response(body=made.content, content_type=made.content_type, headers={
            "Content-Disposition": f'attachment; filename="{made.name}"', "Cache-Control": "no-store"})
