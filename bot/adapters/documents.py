"""Files the bot hands out: the .ics invitation (offline provider), the rapid review
record for the National Panel, the chair's notes and the 7-minute briefing for dissemination
(python-docx).

The record and the notes contain the child's identifying details: they are only ever handed
to a named person, as a file in their OneDrive or by a one-time link in their personal chat
(bot/services/delivery.py; each delivery is audited).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.case import Case
from bot.domain.chair_notes import CHAIR_QUESTIONS, CONFIDENTIALITY, OUTCOME_NOTIFICATION, PURPOSE, VIEWS
from bot.domain.dates import format_day, format_moment, format_time
from bot.domain.meeting import MeetingOutcome
from bot.domain.redaction import redact
from bot.domain.referral import YesNo
from bot.domain.text import yes_no
from bot.services.ports import Attendee

RECORD_SECTIONS = (
    "Case details",
    "Criteria considered (Working Together 2023)",
    "Immediate safeguarding arrangements",
    "Summary of the facts",
    "Decision on a local child safeguarding practice review",
    "Recommendation on a national review",
    "Immediate learning and dissemination",
    "Potential for additional learning",
    "Agencies involved",
    "Who took part in the decision",
    "Identifying details of the child and family",
)


DO_NOT_FORWARD = ("Do not forward or copy. It holds identifying details of a child and family: share it only "
                  "as the partnership's information sharing agreement allows.")


def _mark_pages(doc: Any, marking: str, reference: str, version: int, produced: str) -> None:
    """The marking at the top and bottom of every page, as the Government Security
    Classifications ask for documents marked OFFICIAL-SENSITIVE."""
    section = doc.sections[0]
    header = section.header.paragraphs[0]
    header.text = f"{marking} — {reference} — version {version}"
    footer = section.footer.paragraphs[0]
    footer.text = f"{marking}. {reference}, version {version}, produced {produced}. {DO_NOT_FORWARD}"


def meeting_ics(*, uid: str, subject: str, description: str, start: datetime, end: datetime,
                organiser_name: str, attendees: Sequence[Attendee], stamp: datetime,
                marking: str = "OFFICIAL-SENSITIVE") -> bytes:
    # lazy: only for a download (start-up time: README, Performance)
    from icalendar import Calendar, Event, vCalAddress, vText

    calendar = Calendar()
    calendar.add("prodid", "-//Rapid Review bot//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", subject)
    event.add("description", f"{marking}\n\n{description}")
    event.add("class", "CONFIDENTIAL")
    event.add("location", "Microsoft Teams (add a Teams meeting when you send this invitation)")
    organiser = vCalAddress("MAILTO:noreply@invalid")
    organiser.params["cn"] = vText(organiser_name)
    event["organizer"] = organiser
    for person in attendees:
        address = vCalAddress(f"MAILTO:{person.email}")
        address.params["cn"] = vText(person.name)
        address.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", address, encode=False)
    calendar.add_component(event)
    return calendar.to_ical()


def _yes(value: YesNo) -> str:
    return "Yes" if value is YesNo.YES else "No"


def rapid_review_record(case: Case, outcome: MeetingOutcome, *, meeting_start: datetime | None,
                        deciders: Sequence[str], tz: ZoneInfo, partnership: str, marking: str,
                        produced_at: datetime) -> bytes:
    """Stockport Rapid Review Process (2019), 'What a completed Rapid Review Report should
    include', section by section."""
    # lazy: python-docx and lxml cost ~7 MiB, only for a download (memory: README, Performance)
    from docx import Document

    r = case.referral
    s = case.summary
    doc = Document()
    produced = format_moment(produced_at, tz)
    _mark_pages(doc, marking, s.reference, case.version, produced)
    doc.add_heading(f"Rapid review record — {s.reference}", level=0)
    doc.add_paragraph(f"{partnership}. {marking}. {DO_NOT_FORWARD}")

    def section(title: str, *paragraphs: str | None) -> None:
        doc.add_heading(title, level=1)
        for text in paragraphs:
            doc.add_paragraph(text or "Not recorded.")

    section(RECORD_SECTIONS[0],
            f"Reference {s.reference}; pseudonym {s.pseudonym}; referral received "
            f"{format_day(s.received_at.astimezone(tz).date())}; incident {format_day(r.incident.incident_date)}.",
            f"Rapid review meeting: {format_moment(meeting_start, tz)}." if meeting_start else None)
    section(RECORD_SECTIONS[1],
            "The case was considered against the criteria for local and national child safeguarding practice "
            "reviews set out in Working Together to Safeguard Children (2023).",
            f"Quorate (one representative of each statutory partner): {'Yes' if outcome.quorate else 'No'}.")
    section(RECORD_SECTIONS[2], outcome.immediate_actions)
    section(RECORD_SECTIONS[3], r.incident.summary)
    section(RECORD_SECTIONS[4], f"Local child safeguarding practice review recommended: {_yes(outcome.local_cspr)}.",
            f"Rationale: {outcome.rationale}")
    section(RECORD_SECTIONS[5], f"National review recommended: {_yes(outcome.national_review)}.")
    section(RECORD_SECTIONS[6], outcome.learning)
    section(RECORD_SECTIONS[7], r.views.key_issues)
    section(RECORD_SECTIONS[8], outcome.agencies_involved,
            f"Agencies whose absence needs explaining: {outcome.agencies_absent}" if outcome.agencies_absent else None)
    section(RECORD_SECTIONS[9], outcome.participants, "Virtual panel decision: " + "; ".join(deciders))
    doc.add_heading(RECORD_SECTIONS[10], level=1)
    _identifying_details(doc, r)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ---- the chair's notes (Stockport Rapid Review Process (2019), Appendices E and F; SSCP Rapid
# Review Panel Agenda template) -------------------------------------------------------------------
#
# A Word document the chair fills in during the meeting: the case's facts from the referral, and
# an empty, editable space under each heading and each of questions 4.1–4.7. Each part is its own
# function, so a new part (the agencies' returns) is one more call in `chair_notes_document`.

NOTE_SPACE = "[notes & views]"


@dataclass(frozen=True)
class ChairNotesFacts:
    """What the chair's notes are filled from, gathered by the caller (bot/teams/files.py)."""

    case: Case
    meeting_start: datetime | None
    meeting_end: datetime | None
    venue: str
    chair: str | None
    attendees: Sequence[str]
    notified_on: date | None  # the local authority's notification to the National Panel, when recorded
    tz: ZoneInfo
    partnership: str
    marking: str
    produced_at: datetime


def chair_notes_document(facts: ChairNotesFacts) -> bytes:
    # lazy: python-docx and lxml cost ~7 MiB, only for a download (memory: README, Performance)
    from docx import Document

    doc = Document()
    s = facts.case.summary
    _mark_pages(doc, facts.marking, s.reference, facts.case.version,
                format_moment(facts.produced_at, facts.tz))
    doc.add_heading(f"Rapid review panel — chair's notes — {s.reference}", level=0)
    doc.add_paragraph(f"CONFIDENTIAL WHEN COMPLETED. {facts.partnership}. {facts.marking}. {DO_NOT_FORWARD}")
    _notes_header(doc, facts)
    _notes_welcome(doc, facts)
    _notes_confidentiality(doc)
    _notes_overview(doc, facts)
    _notes_views(doc, facts)
    _notes_questions(doc, facts)
    _notes_conclusion(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _space(doc: Any, text: str = NOTE_SPACE) -> None:
    """An editable place for the chair's notes: a bordered one-cell table the chair types into."""
    table = doc.add_table(rows=1, cols=1)
    table.style = "Table Grid"
    table.rows[0].cells[0].text = text


def _notes_header(doc: Any, facts: ChairNotesFacts) -> None:
    """The agenda template's header: reference, meeting date, time, venue and chair, then the
    child and the dates that start the clock (awareness and notification labelled apart)."""
    case, tz = facts.case, facts.tz
    r, s = case.referral, case.summary
    child = r.children.children[0] if r.children.children else None
    aware = case.aware_date or r.incident.la_aware_date
    rows = [
        ("Reference", s.reference), ("Pseudonym", s.pseudonym),
        ("Meeting date", format_day(facts.meeting_start.astimezone(tz).date()) if facts.meeting_start else
         "Not booked yet"),
        ("Time", format_time(facts.meeting_start, tz) + (
            f"–{format_time(facts.meeting_end, tz)}" if facts.meeting_end else "") if facts.meeting_start
         else "Not booked yet"),
        ("Venue", facts.venue), ("Chair", facts.chair or "Not named on the roster"),
        ("Child's name", child.name if child else "Not given"),
        ("Date of birth", format_day(child.date_of_birth) if child and child.date_of_birth else "Not known"),
        ("Date of serious incident or death", format_day(r.incident.incident_date)),
        ("Date of referral", format_day(s.received_at.astimezone(tz).date())),
        ("Date the local authority became aware", format_day(aware) if aware else
         "Not given (the referral's receipt counts)"),
        ("Date of LA notification (to the National Panel)", format_day(facts.notified_on) if facts.notified_on
         else "Not yet recorded"),
    ]
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value


def _notes_welcome(doc: Any, facts: ChairNotesFacts) -> None:
    doc.add_heading("1 Welcome, purpose and introductions", level=1)
    doc.add_heading("1.1 Attendees", level=2)
    for name in facts.attendees:
        doc.add_paragraph(name, style="List Bullet")
    _space(doc, "[Apologies, and anyone else present]")
    doc.add_heading("1.2 Purpose of the meeting", level=2)
    for text in PURPOSE:
        doc.add_paragraph(text)


def _notes_confidentiality(doc: Any) -> None:
    doc.add_heading("Confidentiality statement", level=2)
    for text in CONFIDENTIALITY:
        doc.add_paragraph(text)


def _notes_overview(doc: Any, facts: ChairNotesFacts) -> None:
    r = facts.case.referral
    doc.add_heading("2 Overview of the case", level=1)
    doc.add_paragraph("2.1 From the referral:")
    doc.add_paragraph(r.incident.summary)
    doc.add_paragraph(f"Why the referrer thinks it meets the criteria: {r.views.meets_criteria}")
    if r.views.key_issues:
        doc.add_paragraph(f"Key issues the referrer would want a review to consider: {r.views.key_issues}")
    _space(doc, "[Key points raised in the agencies' returns]")
    doc.add_heading("3 Discussion with invited partners", level=1)
    _space(doc, "[3.1 Key questions and discussion points from the wider partners]")


def _notes_views(doc: Any, facts: ChairNotesFacts) -> None:
    """The agenda template's 'Agency Case Discussion': the child's voice, the family's and the
    front-line professionals' views, with what the referral already says."""
    views = facts.case.referral.views
    doc.add_heading("The child's voice, and the views of the family and of professionals", level=2)
    referral_says = {
        VIEWS[1][0]: (f"Family consulted before the referral: {yes_no(views.family_consulted.value)}"
                      + (f" ({views.family_not_consulted_reason})" if views.family_not_consulted_reason else "")
                      + (f". The referrer's view on involving the family: {views.family_involvement}"
                         if views.family_involvement else "")
                      + (f". Who should facilitate it: {views.family_facilitator}"
                         if views.family_facilitator else "")),
        VIEWS[2][0]: (f"Child's key worker consulted before the referral: {yes_no(views.key_worker_consulted.value)}"
                      + (f" ({views.key_worker_not_consulted_reason})" if views.key_worker_not_consulted_reason
                         else "")),
    }
    for title, prompt in VIEWS:
        doc.add_heading(title, level=3)
        doc.add_paragraph(prompt)
        if title in referral_says:
            doc.add_paragraph(referral_says[title])
        _space(doc)


def _notes_questions(doc: Any, facts: ChairNotesFacts) -> None:
    incident = facts.case.referral.incident
    doc.add_heading("4 Assessment of need by the core panel", level=1)
    doc.add_paragraph("Capture the areas of potential focus against the review criteria, with the prompts for "
                      "discussion.")
    known = {"4.6": f"From the referral: other areas involved: {incident.other_areas or 'none given'}.",
             "4.7": f"From the referral: institutional setting: {yes_no(incident.institutional_setting.value)}."}
    for q in CHAIR_QUESTIONS:
        doc.add_heading(f"{q.number} {q.question}", level=2)
        doc.add_paragraph(f"Prompts: {q.prompts}")
        if q.number in known:
            doc.add_paragraph(known[q.number])
        _space(doc)


def _notes_conclusion(doc: Any) -> None:
    doc.add_heading("5 Conclusion and proposal to the National Panel", level=1)
    _space(doc, "[5.1 The conclusion of the panel is that … (whether a review is proposed locally or nationally)]")
    _space(doc, "[The reasons a review is / is not proposed are … (areas of focus from the criteria; why this might "
                "be a nationally relevant case or not)]")
    doc.add_heading("6 Actions", level=1)
    _space(doc, "[Actions required, including a review, or learning actions if a review is not indicated]")
    doc.add_paragraph(f"Outcome notification: {OUTCOME_NOTIFICATION}")
    _space(doc)


def letter_paragraphs(template: str) -> list[tuple[str, str]]:
    """The template as (kind, text) blocks: "heading" for a "## " line, "para" otherwise; "#"
    comment lines are dropped and a blank line ends a paragraph."""
    blocks: list[tuple[str, str]] = []
    lines: list[str] = []

    def flush() -> None:
        if lines:
            blocks.append(("para", " ".join(lines)))
            lines.clear()

    for raw in template.splitlines():
        line = raw.strip()
        if line.startswith("## "):
            flush()
            blocks.append(("heading", line[3:].strip()))
        elif line.startswith("#"):
            continue
        elif not line:
            flush()
        else:
            lines.append(line)
    flush()
    return blocks


def family_letter(template: str, values: dict[str, str], *, reference: str, version: int, marking: str,
                  produced: str) -> bytes:
    """The decision letter to the family, from the partnership's template (docs/pathways.md):
    each placeholder filled from the case, the protective marking in header and footer."""
    from docx import Document  # lazy: only for a download

    from bot.domain.pathways import fill

    doc = Document()
    _mark_pages(doc, marking, reference, version, produced)
    for kind, text in letter_paragraphs(template):
        filled = " ".join(fill(text, values).split())
        if kind == "heading":
            doc.add_heading(filled, level=1)
        else:
            doc.add_paragraph(filled)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ---- the National Panel's copy of the rapid review report ------------------------------------------

SUBMISSION_SECTIONS = (
    "Covering letter",
    "Criteria considered",
    "Immediate safeguarding arrangements",
    "Summary of the facts",
    "Decision on a local child safeguarding practice review",
    "Recommendation on a national review",
    "Immediate learning and plans for its dissemination",
    "Potential for additional learning",
    "Why no further learning is expected",
    "Further information the National Panel asked for",
    "Agencies involved",
    "Who took part in the decision",
    "Identifying details of the child and family",
    "Sign-off",
)


def _signed(sign: Any, tz: ZoneInfo) -> str:
    return f"{sign.name}, {sign.at.astimezone(tz):%d %B %Y at %H:%M}" if sign is not None else "Not yet signed off."


def national_panel_submission(view: Any, *, tz: ZoneInfo, partnership: str, marking: str,
                              produced_at: datetime) -> bytes:
    """The rapid review report for the Child Safeguarding Practice Review Panel, item by item as
    the Stockport Rapid Review Process (2019), 'What a completed Rapid Review Report should
    include', lists them, each from its source on the case (`view` is a
    bot.services.report.ReportView), after a covering letter (West Midlands procedures, 4.7.1:
    the rapid review goes to the National Panel 'together with a covering letter'), and ending
    with the sign-off of the chair and the partnership manager. Protective marking on every page."""
    from docx import Document  # lazy, as for the record

    case, outcome, report = view.case, view.outcome, view.report
    r, s = case.referral, case.summary
    doc = Document()
    produced = f"{produced_at.astimezone(tz):%d %B %Y %H:%M}"
    _mark_pages(doc, marking, s.reference, case.version, produced)
    final = report.signed_off
    doc.add_heading(f"Rapid review report — {s.reference}", level=0)
    doc.add_paragraph(f"{partnership}. {marking}. {DO_NOT_FORWARD}")
    if not final:
        doc.add_paragraph("DRAFT — not yet signed off by both the chair and a partnership manager.")
    if report.round > 1:
        doc.add_paragraph(f"Resubmission (round {report.round}): with the further information the National Panel "
                          "asked for.")

    def section(title: str, *paragraphs: str | None) -> None:
        doc.add_heading(title, level=1)
        for text in paragraphs:
            doc.add_paragraph(text or "Not recorded.")

    def item(key: str) -> str | None:
        return view.value(key)

    meeting_day = f"{view.meeting_start.astimezone(tz):%d %B %Y}" if view.meeting_start else "not recorded"
    notified = f"{view.notified_on:%d %B %Y}" if view.notified_on else "not yet recorded"
    manager = report.manager_sign_off.name if report.manager_sign_off else "the partnership manager"
    section(SUBMISSION_SECTIONS[0],
            "To: the Child Safeguarding Practice Review Panel.",
            f"From: {partnership}. Our reference {s.reference} (pseudonym {s.pseudonym}); serious incident "
            f"notification to the National Panel: {notified}; rapid review meeting: {meeting_day}.",
            f"Please find below the partnership's rapid review of the serious incident of "
            f"{r.incident.incident_date:%d %B %Y} ({s.incident_kind.title.lower()}), with our decision on a local child "
            f"safeguarding practice review ({'recommended' if outcome.local_cspr is YesNo.YES else 'not recommended'})"
            f" and our recommendation on a national review "
            f"({'recommended' if outcome.national_review is YesNo.YES else 'not recommended'}).",
            f"Signed for the safeguarding partners by the chair ({_signed(report.chair_sign_off, tz)}) and the "
            f"partnership manager ({_signed(report.manager_sign_off, tz)}). Contact: {manager}.")
    section(SUBMISSION_SECTIONS[1],
            "The case was considered against the criteria for local and national child safeguarding practice "
            "reviews set out in Working Together to Safeguard Children (2023).",
            f"Quorate (one representative of each statutory partner): {'Yes' if outcome.quorate else 'No'}.")
    section(SUBMISSION_SECTIONS[2], item("immediate_safeguarding"))
    section(SUBMISSION_SECTIONS[3], item("facts_summary"))
    section(SUBMISSION_SECTIONS[4],
            f"Criteria for a local child safeguarding practice review met: {_yes(outcome.local_cspr)}.",
            f"Grounds: {item('criteria_decision') or 'Not recorded.'}")
    national = [f"National review recommended: {_yes(outcome.national_review)}."]
    if outcome.national_review is YesNo.YES:
        national.append(f"Why: {item('national_review_reason') or 'Not recorded.'}")
    section(SUBMISSION_SECTIONS[5], *national)
    section(SUBMISSION_SECTIONS[6], f"Immediate learning: {item('immediate_learning') or 'Not recorded.'}",
            f"Dissemination: {item('dissemination_plan') or 'Not recorded.'}")
    section(SUBMISSION_SECTIONS[7], item("additional_learning"))
    section(SUBMISSION_SECTIONS[8], item("no_further_learning") if outcome.local_cspr is YesNo.NO else
            "Not applicable: a local child safeguarding practice review is recommended.")
    request = report.last_request
    section(SUBMISSION_SECTIONS[9],
            *((f"Asked on {request.on:%d %B %Y}: {request.asked_for}", item("further_information"))
              if request is not None and report.round > 1 else ("Not applicable: this is the first submission.",)))
    agencies = [item("agencies_involved")]
    if item("agencies_omitted"):
        agencies.append(f"Agencies whose involvement would usually be expected: {item('agencies_omitted')}")
    section(SUBMISSION_SECTIONS[10], *agencies)
    section(SUBMISSION_SECTIONS[11], outcome.participants, "Virtual panel decision: " + "; ".join(view.deciders))
    doc.add_heading(SUBMISSION_SECTIONS[12], level=1)
    _identifying_details(doc, r)
    section(SUBMISSION_SECTIONS[13], f"Chair: {_signed(report.chair_sign_off, tz)}",
            f"Partnership manager: {_signed(report.manager_sign_off, tz)}")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ---- the 7-minute briefing ------------------------------------------------------------------------

BRIEFING_SECTIONS = (
    "1. Background",
    "2. Why it matters",
    "3. What the review looked at",
    "4. What we learned",
    "5. What was done at once",
    "6. What will change: the actions",
    "7. Questions for your team",
)
BRIEFING_QUESTIONS = (
    "How does this learning apply to the children and families you work with?",
    "What would you do differently tomorrow, and who needs to know?",
    "Where do you go for advice when agencies see a child differently?",
    "How will your team know the actions above have made a difference?",
)


def learning_briefing(case: Case, *, learning: str, outcome: MeetingOutcome | None, meeting_start: datetime | None,
                      lines_of_enquiry: Sequence[str], actions: Sequence[tuple[str, str, str, str]],
                      review_commissioned: bool, tz: ZoneInfo, partnership: str, marking: str,
                      produced_at: datetime) -> bytes:
    """A 7-minute briefing for dissemination (Surrey Rapid Review & CSPR flowchart, 'Learning':
    learning is shared 'via 7-minute briefings'), made from the recorded learning. It names the
    case only by reference and pseudonym: every text in it was refused while it carried an
    identifier, and passes the redaction step again here. `actions`: (what, agency, due, state)."""
    from docx import Document  # lazy: only for a download

    s = case.summary

    def shared(text: str | None) -> str:
        return redact(text, case.referral) if text else "Not recorded."

    doc = Document()
    produced = f"{produced_at.astimezone(tz):%d %B %Y %H:%M}"
    section = doc.sections[0]
    section.header.paragraphs[0].text = f"{marking} — 7-minute briefing — {s.reference}"
    section.footer.paragraphs[0].text = (f"{marking}. {partnership}: 7-minute briefing on {s.reference} "
                                         f"({s.pseudonym}), produced {produced}. For sharing within the "
                                         "partnership's agencies; it holds no identifying details.")
    doc.add_heading(f"7-minute briefing: learning from {s.reference} ({s.pseudonym})", level=0)
    doc.add_paragraph(f"{partnership}. Read it with your team in seven minutes, then talk through the questions.")
    what = {"child_death": "the death of a child", "serious_harm": "serious harm to a child"}.get(
        s.incident_kind.value, "a serious incident")
    held = f" held on {meeting_start.astimezone(tz):%d %B %Y}" if meeting_start else ""
    decided = ("The partners commissioned a local child safeguarding practice review." if review_commissioned
               else "The partners did not commission a local child safeguarding practice review.")
    doc.add_heading(BRIEFING_SECTIONS[0], level=1)
    doc.add_paragraph(f"A rapid review{held} considered {what}, referred by {s.referring_agency}. {decided}")
    doc.add_heading(BRIEFING_SECTIONS[1], level=1)
    doc.add_paragraph(shared(outcome.rationale if outcome else None))
    doc.add_heading(BRIEFING_SECTIONS[2], level=1)
    if lines_of_enquiry:
        for line in lines_of_enquiry:
            doc.add_paragraph(shared(line), style="List Number")
    else:
        doc.add_paragraph("The criteria for a child safeguarding practice review in Working Together to Safeguard "
                          "Children (2023), and how the agencies worked together.")
    doc.add_heading(BRIEFING_SECTIONS[3], level=1)
    for paragraph in shared(learning).split("\n"):
        if paragraph.strip():
            doc.add_paragraph(paragraph.strip())
    doc.add_heading(BRIEFING_SECTIONS[4], level=1)
    doc.add_paragraph(shared(outcome.immediate_actions if outcome else None))
    doc.add_heading(BRIEFING_SECTIONS[5], level=1)
    if actions:
        table = doc.add_table(rows=1, cols=4)
        for cell, title in zip(table.rows[0].cells, ("Action", "Agency", "Due", "Progress"), strict=True):
            cell.text = title
        for description, agency, due, state in actions:
            row = table.add_row().cells
            row[0].text, row[1].text, row[2].text, row[3].text = shared(description), agency, due, state
    else:
        doc.add_paragraph("No actions recorded.")
    doc.add_heading(BRIEFING_SECTIONS[6], level=1)
    for question in BRIEFING_QUESTIONS:
        doc.add_paragraph(question, style="List Bullet")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


# ---- the timeliness report for the annual report (bot/services/timeliness.py) -----------------

TIMELINESS_COLUMNS = ("Reference", "Received", "Status", "Panel decision within 5 working days",
                      "National Panel notified within 5 working days", "Report within 15 working days",
                      "Review published within 6 months", "Reasons for misses")


def _word(on_time: bool | None) -> str:
    return {True: "yes", False: "no", None: "n/a"}[on_time]


def timeliness_csv(report: Any) -> bytes:
    """One row per referral of the year (references, dates and yes/no only), then the totals."""
    import csv

    from bot.services.timeliness import MEASURES, NO_REASON

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TIMELINESS_COLUMNS)
    for line in report.lines:
        reasons = "; ".join(f"{title}: {m.reason or NO_REASON}" for key, title in MEASURES
                            if (m := line.measures[key]).on_time is False)
        writer.writerow([line.reference, line.received_on.isoformat(), line.status,
                         *(_word(line.measures[key].on_time) for key, _ in MEASURES), reasons])
    writer.writerow([])
    writer.writerow(["Year", "Referrals", *(f"{title} (on time / due)" for _, title in MEASURES)])
    writer.writerow([report.year, report.referrals,
                     *(f"{t.on_time} / {t.due}" for t in (report.tally(key) for key, _ in MEASURES))])
    return out.getvalue().encode("utf-8-sig")  # Excel opens it as UTF-8


def timeliness_document(report: Any, *, marking: str, produced: str) -> bytes:
    """The same figures as a Word document for the annual report: the totals, then each miss
    with its reason where one was recorded. References only, never a child's details."""
    from docx import Document  # lazy: only for a download

    from bot.services.timeliness import MEASURES

    doc = Document()
    section = doc.sections[0]
    section.header.paragraphs[0].text = f"{marking} — timeliness {report.year}"
    section.footer.paragraphs[0].text = (f"{marking}. {report.partnership}: timeliness of rapid reviews, referrals "
                                         f"received in {report.year}; produced {produced}. Case references only.")
    doc.add_heading(f"Timeliness of rapid reviews: {report.year}", level=0)
    doc.add_paragraph(f"{report.partnership}. Referrals received in {report.year}: {report.referrals}.")
    table = doc.add_table(rows=1, cols=4)
    for cell, title in zip(table.rows[0].cells, ("Measure", "On time", "Late", "Due so far"), strict=True):
        cell.text = title
    for key, title in MEASURES:
        tally = report.tally(key)
        cells = table.add_row().cells
        cells[0].text, cells[1].text, cells[2].text, cells[3].text = (title, str(tally.on_time), str(tally.late),
                                                                      str(tally.due))
    doc.add_heading("Misses and their reasons", level=1)
    misses = report.misses()
    if not misses:
        doc.add_paragraph("None: every measure that fell due was met.")
    for reference, title, reason in misses:
        doc.add_paragraph(f"{reference} — {title}: {reason}", style="List Bullet")
    doc.add_paragraph("Counted from the dates the bot recorded: a decision from the referral's receipt, a "
                      "notification from when the local authority became aware, a report from the referral, a "
                      "publication from the decision to commission the review. A case still inside its time is "
                      "not counted as due.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _identifying_details(doc: Any, r: Any) -> None:
    """The children's identifying details as a table, then the family (the record and the
    National Panel's copy both end with them)."""
    table = doc.add_table(rows=1, cols=5)
    for cell, title in zip(table.rows[0].cells, ("Name", "Date of birth", "Age", "Gender", "Location"), strict=True):
        cell.text = title
    for child in r.children.children:
        age = child.age_at(r.incident.incident_date)
        row = table.add_row().cells
        row[0].text = child.name
        row[1].text = child.date_of_birth.strftime("%d/%m/%Y") if child.date_of_birth else "Not known"
        row[2].text = str(age) if age is not None else ""
        row[3].text = child.gender.value.replace("_", " ")
        row[4].text = child.current_location or ""
    if r.children.family_members:
        doc.add_paragraph(f"Family and household: {r.children.family_members}")
