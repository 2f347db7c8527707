"""The chair's notes as a Word document (Stockport Rapid Review Process (2019), Appendices E
and F; SSCP Rapid Review Panel Agenda template): the header with venue and chair, the awareness
and notification dates labelled apart, attendees, the purpose, the confidentiality statement,
the child's voice and the family's and professionals' views, and an editable space under each
of questions 4.1–4.7 with its prompts."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from docx import Document

from bot.adapters.documents import NOTE_SPACE, ChairNotesFacts, chair_notes_document
from bot.domain.case import Case, CaseSummary, incident_kind
from bot.domain.chair_notes import CHAIR_QUESTIONS, CONFIDENTIALITY, PURPOSE, VIEWS
from tests.conftest import make_referral

TZ = ZoneInfo("Europe/London")


def _case() -> Case:
    referral = make_referral()
    views = referral.views.model_copy(update={"family_involvement": "Mother wants to take part; father is in custody.",
                                              "family_facilitator": "The allocated social worker"})
    referral = referral.model_copy(update={"views": views})
    summary = CaseSummary(id="c1", reference="RR-2026-0001", pseudonym="Child K", status="meeting_scheduled",
                          pathway_sought=referral.pathway.pathway, incident_kind=incident_kind(referral),
                          incident_date=referral.incident.incident_date, referring_agency="School",
                          likely_notifiable=True, received_at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
                          referrer_aad_id="r", referrer_name="Riley")
    return Case(summary=summary, referral=referral, aware_date=date(2026, 11, 21))


def _document(notified_on: date | None = date(2026, 11, 25)):  # noqa: ANN202
    body = chair_notes_document(ChairNotesFacts(
        case=_case(), meeting_start=datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
        meeting_end=datetime(2026, 12, 3, 12, 0, tzinfo=UTC), venue="Microsoft Teams (remotely)",
        chair="Chris Chair", attendees=["Laura LocalAuthority (Local authority)", "Dan Police (Police)"],
        notified_on=notified_on, tz=TZ, partnership="Example Safeguarding Children Partnership",
        marking="OFFICIAL-SENSITIVE", produced_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC)))
    return Document(io.BytesIO(body))


def _header(doc) -> dict[str, str]:  # noqa: ANN001
    return {row.cells[0].text: row.cells[1].text for row in doc.tables[0].rows}


def _text(doc) -> list[str]:  # noqa: ANN001
    """Paragraphs and table cells, in document order."""
    found = []
    for block in doc.element.body.iterchildren():
        if block.tag.endswith("}p"):
            found.append("".join(t.text or "" for t in block.iter() if t.tag.endswith("}t")))
        elif block.tag.endswith("}tbl"):
            found.append("[table] " + " | ".join(t.text or "" for t in block.iter() if t.tag.endswith("}t")))
    return found


def test_the_header_has_venue_chair_and_the_two_dates_labelled_apart() -> None:
    header = _header(_document())
    assert header["Venue"] == "Microsoft Teams (remotely)"
    assert header["Chair"] == "Chris Chair"
    assert header["Meeting date"] == "Thu 03 Dec 2026" and header["Time"] == "10:00–12:00"
    assert header["Date the local authority became aware"] == "Sat 21 Nov 2026"
    assert header["Date of LA notification (to the National Panel)"] == "Wed 25 Nov 2026"
    assert header["Date of serious incident or death"] == "Fri 20 Nov 2026"
    assert header["Date of referral"] == "Mon 23 Nov 2026"
    assert header["Child's name"] == "Test Child"


def test_a_notification_not_yet_recorded_says_so_and_is_not_the_awareness_date() -> None:
    header = _header(_document(notified_on=None))
    assert header["Date of LA notification (to the National Panel)"] == "Not yet recorded"


def test_every_part_of_the_chairs_notes_is_there_in_order() -> None:
    doc = _document()
    text = _text(doc)
    joined = "\n".join(text)
    for expected in ("1.1 Attendees", "Laura LocalAuthority (Local authority)", "1.2 Purpose of the meeting",
                     *PURPOSE, "Confidentiality statement", *CONFIDENTIALITY, "2 Overview of the case",
                     "Admitted to hospital with unexplained injuries.", "3 Discussion with invited partners",
                     *(title for title, _ in VIEWS), "Mother wants to take part; father is in custody.",
                     "The allocated social worker", "4 Assessment of need by the core panel",
                     "5 Conclusion and proposal to the National Panel", "6 Actions"):
        assert expected in joined, expected
    # Each question: its heading, its prompts, then an editable space before the next question.
    for q in CHAIR_QUESTIONS:
        at = text.index(f"{q.number} {q.question}")
        following = text[at + 1:at + 4]
        assert following[0] == f"Prompts: {q.prompts}"
        assert any(block == f"[table] {NOTE_SPACE}" for block in following), (q.number, following)
    assert "CONFIDENTIAL WHEN COMPLETED" in joined
    assert "OFFICIAL-SENSITIVE" in doc.sections[0].header.paragraphs[0].text
    assert "OFFICIAL-SENSITIVE" in doc.sections[0].footer.paragraphs[0].text


def test_yes_and_no_are_capitalised_on_the_notes() -> None:
    joined = "\n".join(_text(_document()))
    assert "Family consulted before the referral: Yes" in joined
    assert "institutional setting: No." in joined
    assert ": yes" not in joined and ": no." not in joined
