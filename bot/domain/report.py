"""The rapid review report, after the meeting: draft for comments, final draft, sign-off,
the National Panel's copy and its response, and how the case ends.

What the report must contain is the Stockport Rapid Review Process (2019), 'What a completed
Rapid Review Report should include'. Most items are on the case already (the referral, the
meeting's outcome, the panel's votes); the ones nothing on the case gives — how the immediate
learning will be disseminated, the panel's view of any additional learning, why no further
learning is expected without a review — are asked on the report card (`missing_items`).

The same section says the chair AND the partnership manager sign the report off. Sign-offs
are of a text: changing the report after a sign-off takes the sign-offs away.

Pure: stdlib and pydantic only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.meeting import MeetingOutcome
from bot.domain.partnership import Partner
from bot.domain.referral import Referral, YesNo


class Stage(StrEnum):
    """Where the report is. Stored inside the sealed report; values never change once released."""

    DRAFT = "draft"  # with the panel and the chair for comments (round 1), or being reworked
    SIGN_OFF = "sign_off"  # the final draft, with the chair and a partnership manager to sign off
    SENT = "sent"  # with the National Panel, waiting for its response


class Response(StrEnum):
    """What the National Panel answered (Stockport Rapid Review Process (2019), 'Scrutiny &
    Challenge' and 'The National Child Safeguarding Practice Review Panel')."""

    AGREES = "agrees"
    DISAGREES = "disagrees"
    MORE_INFORMATION = "more_information"
    NATIONAL_REVIEW = "national_review"

    @property
    def label(self) -> str:
        return _RESPONSE_LABELS[self]


_RESPONSE_LABELS = {
    Response.AGREES: "Agrees with the partnership's decision",
    Response.DISAGREES: "Disagrees with the partnership's decision",
    Response.MORE_INFORMATION: "Asks for more information",
    Response.NATIONAL_REVIEW: "Will hold a national review",
}


class Closure(StrEnum):
    """How a rapid review ends once the National Panel has answered."""

    NO_FURTHER_REVIEW = "no_further_review"  # the case closes
    REVIEW_COMMISSIONED = "review_commissioned"  # a local child safeguarding practice review follows

    @property
    def label(self) -> str:
        return {"no_further_review": "No further review: close the case",
                "review_commissioned": "A local child safeguarding practice review is commissioned"}[self.value]


CHAIR_SEAT = "chair"


def seat_title(seat: str) -> str:
    """"Police", "Chair": who a comment stands for."""
    return "Chair" if seat == CHAIR_SEAT else Partner(seat).title


class Comment(BaseModel):
    model_config = ConfigDict(frozen=True)

    author_aad: str
    author_name: str
    seat: str  # a Partner value, or "chair"
    text: str
    at: datetime
    round: int = 1


class SignOff(BaseModel):
    model_config = ConfigDict(frozen=True)

    aad: str
    name: str
    at: datetime


class Submission(BaseModel):
    model_config = ConfigDict(frozen=True)

    round: int
    sent_on: date
    by_name: str
    at: datetime


class PanelAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    round: int
    response: Response
    on: date
    asked_for: str | None = None  # what the National Panel asked for (more information)
    by_name: str
    at: datetime


class Report(BaseModel):
    """One case's report. Held sealed under the case's key (bot/adapters/db/report_store.py):
    it carries comments and texts written about the child's case."""

    model_config = ConfigDict(frozen=True)

    round: int = 1
    stage: Stage = Stage.DRAFT
    started_by: str
    started_at: datetime
    seats: list[str] = Field(default_factory=list)  # who was asked for comments
    comments_due_at: datetime | None = None
    comments_closed_at: datetime | None = None
    comments: list[Comment] = Field(default_factory=list)
    fields: dict[str, str] = Field(default_factory=dict)  # what the manager wrote or corrected on the card
    chair_sign_off: SignOff | None = None
    manager_sign_off: SignOff | None = None
    submissions: list[Submission] = Field(default_factory=list)
    answers: list[PanelAnswer] = Field(default_factory=list)
    closure: Closure | None = None
    closure_reason: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None

    @property
    def commented_seats(self) -> set[str]:
        return {c.seat for c in self.comments if c.round == 1}

    @property
    def comments_in(self) -> bool:
        """Every seat asked (each statutory partner on the panel, and the chair) has commented."""
        return bool(self.seats) and set(self.seats) <= self.commented_seats

    @property
    def signed_off(self) -> bool:
        return self.chair_sign_off is not None and self.manager_sign_off is not None

    @property
    def answer(self) -> PanelAnswer | None:
        """The National Panel's answer to the current round, if it has answered."""
        return next((a for a in reversed(self.answers) if a.round == self.round), None)

    @property
    def last_request(self) -> PanelAnswer | None:
        """The National Panel's latest request for more information (what this round answers)."""
        return next((a for a in reversed(self.answers) if a.response is Response.MORE_INFORMATION), None)


# ---- the document's items -------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One text of the report the card can ask for: its key, its label, and whether the
    document needs it for this case."""

    key: str
    label: str
    hint: str


ITEMS: tuple[Item, ...] = (
    Item("facts_summary", "A concise summary of the facts",
         "So far as they can be ascertained: the serious incident and relevant context, enough to underpin the "
         "analysis against the criteria (no lengthy chronologies). Starts as the referral's summary."),
    Item("immediate_safeguarding", "Immediate safeguarding arrangements of any children involved",
         "Starts as the immediate actions recorded at the meeting."),
    Item("criteria_decision", "Whether the criteria for a local review are met, and on what grounds — or why not",
         "Clear reasons are required. Starts as the rationale recorded at the meeting."),
    Item("national_review_reason", "Why a national review is recommended",
         "Asked when the meeting recommended a national review."),
    Item("immediate_learning", "Immediate learning already established",
         "Starts as the learning recorded at the meeting."),
    Item("dissemination_plan", "Plans for disseminating the immediate learning",
         "How, to whom and by when (for example a 7-minute briefing to all partner agencies)."),
    Item("additional_learning", "Potential for additional learning (the panel's view)",
         "What the panel thinks a review could still learn — not the referrer's key issues."),
    Item("no_further_learning", "Why no further learning is expected without a local review",
         "Asked when no local review is recommended."),
    Item("further_information", "The further information the National Panel asked for",
         "Asked when the National Panel asks for more information: the answer, as it goes back with the report."),
    Item("agencies_involved", "Agencies involved in the rapid review",
         "Starts as the agencies recorded at the meeting."),
    Item("agencies_omitted", "Agencies whose involvement would usually be expected but who were not involved, and why",
         "Leave empty if none. Starts as what was recorded at the meeting."),
)
ITEM_KEYS = frozenset(item.key for item in ITEMS)
OPTIONAL_ITEMS = frozenset({"agencies_omitted"})


def applies(key: str, outcome: MeetingOutcome, report: Report) -> bool:
    """Items that depend on the meeting's recommendation, or on the National Panel's request."""
    if key == "further_information":
        return report.round > 1
    if key == "national_review_reason":
        return outcome.national_review is YesNo.YES
    if key == "no_further_learning":
        return outcome.local_cspr is YesNo.NO
    return True


def starting_value(key: str, outcome: MeetingOutcome, referral: Referral) -> str | None:
    """Where each item comes from on the case before anyone edits it."""
    return {
        "facts_summary": referral.incident.summary,
        "immediate_safeguarding": outcome.immediate_actions,
        "criteria_decision": outcome.rationale,
        "immediate_learning": outcome.learning,
        "agencies_involved": outcome.agencies_involved,
        "agencies_omitted": outcome.agencies_absent,
    }.get(key)


def value(report: Report, key: str, outcome: MeetingOutcome, referral: Referral) -> str | None:
    """The item's text as the report says it now: what was written on the card, else where it
    starts from on the case."""
    written = report.fields.get(key)
    if written is not None:
        return written or None
    return starting_value(key, outcome, referral)


def missing_items(report: Report, outcome: MeetingOutcome, referral: Referral) -> list[Item]:
    """The items the National Panel's copy needs that nothing on the case gives yet."""
    return [item for item in ITEMS
            if item.key not in OPTIONAL_ITEMS and applies(item.key, outcome, report)
            and not (value(report, item.key, outcome, referral) or "").strip()]
