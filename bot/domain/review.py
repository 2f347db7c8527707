"""After the meeting: the local child safeguarding practice review (LCSPR), and the actions
and learning that follow a rapid review.

What the sources ask (docs/sources.md):

- Surrey Rapid Review & CSPR flowchart, 'LCSPR Process is recommended': the agency providing
  the review's chair and the members of the review panel are agreed, and "3 - 4 lines of
  enquiry are also drafted"; an independent lead reviewer is commissioned; agencies' reports
  (IMRs) and chronologies are due within 4 weeks; the report goes to the National Panel and is
  then published, within 6 months; learning is disseminated through 7-minute briefings.
- Stockport Rapid Review Process (2019): terms of reference are agreed and the leads appointed;
  the review's progress is overseen; the report and learning are available no later than 6
  months after the decision; the Partnership Manager does a desk-top review of every rapid
  review decision at 6 and 12 months.
- CSPR Regulations 2018, regulation 14: the safeguarding partners monitor the progress of a
  local review, its time and its quality. How often is local policy (a profile step).

Pure: pydantic and the domain's text rules only.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from bot.domain.limits import MaxLength, cap
from bot.domain.referral import _blank_to_none, _line, _text
from bot.domain.timeline import Anchor, Owner

MIN_LINES_OF_ENQUIRY = 3
MAX_LINES_OF_ENQUIRY = 4

# Profile step ids the review card records (and the timeline's "Mark done" leaves to it).
SETUP_STEP = "lcspr_lead_reviewer_and_terms"
PROGRESS_STEP = "lcspr_progress_check"
REPORT_STEP = "local_cspr_report"
PUBLISHED_STEP = "lcspr_published"
ACTION_STEP_PREFIX = "action_"

# Deadlines counted from these are recorded on the review and actions card, not by "Mark done".
REVIEW_CARD_ANCHORS = frozenset({Anchor.REVIEW_COMMISSIONED.value, Anchor.REVIEW_PROGRESS_CHECKED.value,
                                 Anchor.ACTION_AGREED.value})


def recorded_on_review_card(anchor: str) -> bool:
    """A step whose completion carries more than a date (a lead reviewer, evidence, a reason
    for lateness): the timeline and reminders send the person to the review card for it."""
    return anchor in REVIEW_CARD_ANCHORS


def is_imr_step(anchor: str, owner: str) -> bool:
    """The agencies' reports for a commissioned review (Surrey: IMRs and chronologies in 4 weeks)."""
    return anchor == Anchor.REVIEW_COMMISSIONED.value and owner == Owner.AGENCIES.value


def action_step_id(action_id: int) -> str:
    return f"{ACTION_STEP_PREFIX}{action_id}"


def action_id_of(step_id: str) -> int | None:
    if not step_id.startswith(ACTION_STEP_PREFIX):
        return None
    rest = step_id.removeprefix(ACTION_STEP_PREFIX)
    return int(rest) if rest.isdigit() else None


def _lines(value: object) -> object:
    """Lines of enquiry typed one per line (a leading "1." or "-" is dropped)."""
    if isinstance(value, str):
        found = []
        for raw in value.replace("\r\n", "\n").split("\n"):
            line = raw.strip().lstrip("-•*").strip()
            if len(line) > 2 and line[0].isdigit() and line[1] in ".)":
                line = line[2:].strip()
            if line:
                found.append(line)
        return found
    return value


Name = Annotated[str, BeforeValidator(_line), Field(min_length=2), MaxLength(cap("review.lead_reviewer"))]
Narrative = Annotated[str, BeforeValidator(_text), Field(min_length=10), MaxLength(cap("review.terms_of_reference"))]
EnquiryLine = Annotated[str, BeforeValidator(_line), Field(min_length=5), MaxLength(cap("review.line_of_enquiry"))]


class ReviewSetup(BaseModel):
    """The review as commissioned: who leads it, what it looks at, who sits on its panel."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    lead_reviewer: Name
    terms_of_reference: Narrative
    lines_of_enquiry: Annotated[list[EnquiryLine], BeforeValidator(_lines),
                                Field(min_length=MIN_LINES_OF_ENQUIRY, max_length=MAX_LINES_OF_ENQUIRY)]
    review_panel: Annotated[str, BeforeValidator(_text), Field(min_length=3), MaxLength(cap("review.review_panel"))]


class ProgressCheck(BaseModel):
    """Regulation 14: the partners monitor the review's time and quality."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    on_time: bool
    quality: Annotated[str, BeforeValidator(_text), Field(min_length=10), MaxLength(cap("review.progress_note"))]

    @field_validator("on_time", mode="before")
    @classmethod
    def _yes_no(cls, value: object) -> bool:
        value = _blank_to_none(value)
        if value is None:
            raise ValueError("say whether the review is on time")
        return str(value).lower() in {"true", "1", "yes", "on"}


class ActionOrigin(StrEnum):
    MEETING = "meeting"  # agreed at the rapid review meeting
    REVIEW = "review"  # from the local review's findings

    @property
    def title(self) -> str:  # type: ignore[override]
        return {"meeting": "Rapid review meeting", "review": "Local review"}[self.value]


class NewAction(BaseModel):
    """A SMART action: what (specific, measurable), who (an agency and a person on the roster),
    by when."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    description: Annotated[str, BeforeValidator(_text), Field(min_length=15), MaxLength(cap("action.description"))]
    owner_agency: Annotated[str, BeforeValidator(_line), Field(min_length=2), MaxLength(cap("agencies.agency"))]
    owner_aad_id: Annotated[str, BeforeValidator(_line), Field(min_length=1, max_length=64)]
    due_on: date
    origin: ActionOrigin = ActionOrigin.MEETING


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    evidence: Annotated[str, BeforeValidator(_text), Field(min_length=10), MaxLength(cap("action.evidence"))]
