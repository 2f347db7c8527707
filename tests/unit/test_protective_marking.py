"""Every document the bot produces carries the partnership's protective marking."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from docx import Document
from icalendar import Calendar
from pydantic import ValidationError

from bot.adapters.documents import meeting_ics, rapid_review_record
from bot.domain.partnership import PartnershipConfig
from tests.unit.test_card_accessibility import _case, _outcome

START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _partnership(**extra: str) -> PartnershipConfig:
    return PartnershipConfig.model_validate(
        {"name": "Somewhere", "partnership_managers": [{"name": "Morgan Manager", "aad_object_id": "0f8fad5b-d9cb-469f-a165-70867728950e"}], **extra})


def test_the_default_marking_is_official_sensitive_and_a_partnership_can_set_its_own() -> None:
    assert _partnership().protective_marking == "OFFICIAL-SENSITIVE"
    assert _partnership(protective_marking="OFFICIAL-SENSITIVE PERSONAL").protective_marking \
        == "OFFICIAL-SENSITIVE PERSONAL"
    with pytest.raises(ValidationError):
        _partnership(protective_marking="")


def test_the_record_is_marked_in_header_and_footer_with_reference_and_version() -> None:
    case = _case().model_copy(update={"version": 7})
    body = rapid_review_record(case, _outcome(), meeting_start=START, deciders=["A (police)"],
                               tz=ZoneInfo("Europe/London"), partnership="Somewhere SCP",
                               marking="OFFICIAL-SENSITIVE PERSONAL", produced_at=START)
    document = Document(io.BytesIO(body))
    header = document.sections[0].header.paragraphs[0].text
    footer = document.sections[0].footer.paragraphs[0].text
    assert header == f"OFFICIAL-SENSITIVE PERSONAL — {case.reference} — version 7"
    assert footer.startswith(f"OFFICIAL-SENSITIVE PERSONAL. {case.reference}, version 7, produced Thu 03 Dec 2026")
    assert "Do not forward" in footer
    assert "OFFICIAL-SENSITIVE PERSONAL" in document.paragraphs[1].text


def test_the_invitation_says_its_marking_and_is_private() -> None:
    body = meeting_ics(uid="u@x", subject="Rapid review meeting", description="Agenda", start=START,
                       end=START + timedelta(hours=1), organiser_name="Somewhere SCP", attendees=[], stamp=START,
                       marking="OFFICIAL-SENSITIVE")
    [event] = Calendar.from_ical(body).walk("VEVENT")
    assert str(event["description"]).startswith("OFFICIAL-SENSITIVE\n\nAgenda")
    assert str(event["class"]) == "CONFIDENTIAL"


def test_cards_that_show_identifiers_carry_the_marking_and_do_not_forward() -> None:
    from datetime import date

    from cards import chat, meeting_cards, referral_record
    from tests.unit.test_card_accessibility import TZ, _meeting

    marking = "OFFICIAL-SENSITIVE PERSONAL"
    for built in (referral_record.referral_record_card(_case(), TZ, marking),
                  chat.notification_summary_card(_case(), TZ, date(2026, 12, 1), marking),
                  meeting_cards.chair_notes_card(_case(), _meeting(), TZ, marking)):
        foot = built["body"][-1]["text"]
        assert foot.startswith(marking) and "do not forward" in foot
