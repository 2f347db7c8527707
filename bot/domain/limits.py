"""How long each free text a person types may be: one table, read by the domain's checks and
by the cards (an Input.Text's `maxLength`, so Teams stops the typing there too).

Why caps at all: everything typed is stored, shown on cards other people read, and sent
to Teams, which refuses a message over about 100 KB (Microsoft recommends staying under
80 KB; cards/budget.py keeps every message inside the bot's own, lower budget). A field
without a cap lets one paste grow a card past what Teams accepts.

How the caps were chosen: names and titles 100 characters (the longest real names and job
titles fit; the partnership file and the roster use the same); one-line answers
(a place, a contact, an agency) 200; a telephone number 40; every narrative answer
— a rationale, a question, an answer, the form's "what happened" — 2,000, about 300 words,
which is what the referral form and the virtual panel guidance ask for (a short outline; the
full chronology comes later in the agencies' reports) and what keeps the largest card (the
review of four children's referral) inside Teams' limit.

Text over its cap is refused, never cut silently: the message says the cap and how much was
written (`too_long`), in the form the card shows next to the input. Lengths are counted as
Teams counts them (`length`): in UTF-16 code units, which is what an Input.Text's `maxLength`
counts in the Teams client and what Teams' size limit is measured in — so an emoji counts two,
and a field at its cap weighs the same on a card whatever alphabet it was typed in. Text is
measured after it is cleaned (bot/domain/text.py). A check of identifiers in the same text
(bot/domain/redaction.py) is a separate step: each refuses on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

# ---- the kinds of field, and their caps ----------------------------------------------------------

NAME = 100  # a person's name, a job title, a role, an ethnicity; a display name from Teams
LINE = 200  # one line: a place, a contact, an agency's name as typed
TELEPHONE = 40
TEXT = 2_000  # a narrative answer: a rationale, a question, an answer, the form's longer answers
COMMAND = 500  # a typed command with its argument ("timeline RR-…", "act as Laura", "add @Name as police")
LINK = 500  # a web address pasted in (a Teams meeting's join link runs to a few hundred characters)
EXCERPT = 60  # how much of what someone typed a refusal may quote back

# ---- every free-text field, by where it is typed --------------------------------------------------

FIELD_CAPS: MappingProxyType[str, int] = MappingProxyType({
    # the referral form, section 1: about you (bot/domain/referral.py, ReferrerDetails)
    "referrer.agency": LINE,
    "referrer.name": NAME,
    "referrer.email": LINE,
    "referrer.job_title": NAME,
    "referrer.telephone": TELEPHONE,
    "referrer.discussed_with": TEXT,
    "referrer.lead_name": NAME,
    "referrer.lead_role": NAME,
    "referrer.lead_contact": LINE,
    # section 3: the incident (IncidentDetails)
    "incident.incident_location": LINE,
    "incident.other_areas": TEXT,
    "incident.summary": TEXT,
    # section 4: the children (ChildDetails, ChildrenDetails)
    "child.name": NAME,
    "child.disability": TEXT,
    "child.ethnicity": NAME,
    "child.current_location": LINE,
    "children.family_members": TEXT,
    # section 5: your views (ReferrerViews)
    "views.meets_criteria": TEXT,
    "views.worked_well": TEXT,
    "views.not_worked_well": TEXT,
    "views.key_issues": TEXT,
    "views.family_not_consulted_reason": TEXT,
    "views.key_worker_not_consulted_reason": TEXT,
    "views.family_involvement": TEXT,
    "views.family_facilitator": LINE,
    # the virtual panel's voting card and the referrer's answer (bot/domain/votes.py, bot/services/panel.py)
    "vote.rationale": TEXT,
    "vote.serious_harm_basis": TEXT,
    "vote.question": TEXT,
    "query.answer": TEXT,
    # the chair's record of the meeting's outcome (bot/domain/meeting.py, MeetingOutcome)
    "outcome.rationale": TEXT,
    "outcome.immediate_actions": TEXT,
    "outcome.learning": TEXT,
    "outcome.agencies_involved": TEXT,
    "outcome.agencies_absent": TEXT,
    "outcome.participants": TEXT,
    # the rapid review report after the meeting (bot/domain/report.py, bot/services/report.py)
    "report.comment": TEXT,
    "report.item": TEXT,
    "report.asked_for": TEXT,
    "report.closure_reason": TEXT,
    # a meeting booked by hand in Outlook (bot/services/meeting.py, record_manual_booking)
    "meeting.join_url": LINK,
    # the agencies asked for information (bot/services/deadlines.py)
    "agencies.agency": NAME,
    "agencies.contacts": TEXT,
    "agencies.contact": LINE,
    # after the panel: a challenge to "no further action", an agency's information return,
    # the practitioners invited to the meeting (bot/domain/pathways.py, bot/services/pathways.py)
    "pathway.challenge": TEXT,
    "agency_return.text": TEXT,
    "meeting.guests": TEXT,
    # the local child safeguarding practice review and the actions (bot/domain/review.py)
    "review.lead_reviewer": NAME,
    "review.terms_of_reference": TEXT,
    "review.line_of_enquiry": LINE,
    "review.review_panel": TEXT,
    "review.progress_note": TEXT,
    "review.late_reason": TEXT,
    "review.learning": TEXT,
    "action.description": TEXT,
    "action.evidence": TEXT,
    # why a case was closed with follow-up steps still open (bot/services/closing.py)
    "closing.reason": TEXT,
    # why the National Panel notification or the report was recorded late (bot/services/late_reasons.py)
    "deadline.late_reason": TEXT,
    # names Teams gives us, wherever they are shown or stored
    "person.display_name": NAME,
    # the data protection officer's reason for erasing a case on request (bot/services/retention.py)
    "erasure.reason": LINE,
    # a partnership manager's reason for withdrawing a referral (bot/services/corrections.py)
    "withdrawal.reason": LINE,
    # typed commands, in personal chat or the channel
    "command.text": COMMAND,
})


def cap(field: str) -> int:
    """The cap of one field of the table (a KeyError for a field the table does not list)."""
    return FIELD_CAPS[field]


def length(text: str | None) -> int:
    """Characters as Teams counts them: UTF-16 code units (an emoji is two)."""
    return len((text or "").encode("utf-16-le")) // 2


def too_long(text: str | None, limit: int) -> str | None:
    """The refusal for text over its cap, as the card shows it next to the input
    ("2,000 characters at most — you wrote 3,412"); None when it fits."""
    written = length(text)
    if written <= limit:
        return None
    return f"{limit:,} characters at most — you wrote {written:,}."


def within(text: str, limit: int) -> str:
    """What a refused over-long answer is shown again as: its first `limit` characters (as
    Teams counts them, never half an emoji), so the writer keeps their draft and the card stays
    inside Teams' size limit. Never stored."""
    if length(text) <= limit:
        return text
    return text.encode("utf-16-le")[: 2 * limit].decode("utf-16-le", errors="ignore")


@dataclass(frozen=True)
class MaxLength:
    """A pydantic annotation: the text is at most `max_length` characters as Teams counts them
    (`length`). It fails as pydantic's own `string_too_long` does, with the length written in
    the error's context, so the form says "2,000 characters at most — you wrote 3,412"."""

    max_length: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        if isinstance(value, str) and length(value) > self.max_length:
            raise PydanticCustomError("string_too_long", "{message}", {
                "max_length": self.max_length, "length": length(value), "message": too_long(value, self.max_length)})
        return value


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """A short quotation of what someone typed, for a refusal that names it."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
