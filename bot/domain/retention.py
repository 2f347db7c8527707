"""How long a case's details are kept, and what stops them being erased (pure rules).

A case's identifiers are kept for a period that depends on how the case ended, counted from
the day it was closed (`closed_at`); after that the data protection officer is asked to
confirm their erasure. The periods are the partnership's records policy: the partnership file
sets them (`[partnership.retention]`, years after closure); the defaults below are only a
starting point (docs/data-protection.md, "Retention", says why each was chosen).

A case that never closes is never due: nothing is purged while a case is open. A legal hold
stops both the purge and an erasure on request until it is lifted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RetentionOutcome(StrEnum):
    """How a case ended, for its retention period. The values are stored (the erasure register)."""

    PRACTICE_REVIEW = "practice_review"  # a local child safeguarding practice review (chosen or commissioned)
    RAPID_REVIEW = "rapid_review"  # a rapid review, its report sent, no local practice review
    ESCALATION = "escalation"  # handed over to another process (escalation)
    NO_FURTHER_ACTION = "no_further_action"  # the panel decided no further action
    WITHDRAWN = "withdrawn"  # closed before the panel decided (the referral was withdrawn)

    @property
    def title(self) -> str:  # type: ignore[override]
        return {
            "practice_review": "Local child safeguarding practice review",
            "rapid_review": "Rapid review (no practice review)",
            "escalation": "Escalated to another process",
            "no_further_action": "No further action",
            "withdrawn": "Withdrawn before a decision",
        }[self.value]


def outcome_of(decisions: Iterable[str], statuses: Iterable[str]) -> RetentionOutcome:
    """The outcome from the case's history: the panel's decisions (oldest first, the last one
    counts) and every status the case was ever in. A practice review commissioned after a rapid
    review counts as a practice review: it is kept the longest."""
    last = None
    for decision in decisions:
        last = decision
    seen = set(statuses)
    if "review_commissioned" in seen or last == "practice_review":
        return RetentionOutcome.PRACTICE_REVIEW
    if last == "rapid_review":
        return RetentionOutcome.RAPID_REVIEW
    if last == "escalation":
        return RetentionOutcome.ESCALATION
    if last == "no_further_action":
        return RetentionOutcome.NO_FURTHER_ACTION
    return RetentionOutcome.WITHDRAWN


class RetentionPolicy(BaseModel):
    """Years after closure, per outcome (`[partnership.retention]` in the partnership file).
    0 means "as soon as it is closed" (the DPO is still asked to confirm)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    practice_review: int = Field(default=15, ge=0, le=100)
    rapid_review: int = Field(default=10, ge=0, le=100)
    escalation: int = Field(default=6, ge=0, le=100)
    no_further_action: int = Field(default=2, ge=0, le=100)
    withdrawn: int = Field(default=1, ge=0, le=100)

    def years(self, outcome: RetentionOutcome) -> int:
        return int(getattr(self, outcome.value))

    def due_on(self, outcome: RetentionOutcome, closed_at: datetime | None, tz_date: date | None = None) -> date | None:
        """The first day the case is past its period: the closure's date (in the partnership's
        time zone, `tz_date` when given) plus the years; 29 February falls to 28 February.
        None for a case that is not closed: it is never due."""
        if closed_at is None:
            return None
        closed = tz_date or closed_at.date()
        years = self.years(outcome)
        try:
            return closed.replace(year=closed.year + years)
        except ValueError:  # 29 February in a year that has none
            return closed.replace(year=closed.year + years, day=28)


class HoldKind(StrEnum):
    """Why a case must be kept whatever its retention period. Stored values."""

    INQUEST = "inquest"
    CRIMINAL = "criminal"
    COMPLAINT = "complaint"
    OTHER = "other"

    @property
    def title(self) -> str:  # type: ignore[override]
        return {"inquest": "Coroner's inquest", "criminal": "Criminal case", "complaint": "Complaint",
                "other": "Other legal reason"}[self.value]


HOLD_WORDS = {
    "inquest": HoldKind.INQUEST, "coroner": HoldKind.INQUEST, "coroners": HoldKind.INQUEST,
    "criminal": HoldKind.CRIMINAL, "police": HoldKind.CRIMINAL, "prosecution": HoldKind.CRIMINAL,
    "complaint": HoldKind.COMPLAINT, "other": HoldKind.OTHER,
}


def hold_kind(word: str) -> HoldKind | None:
    """The hold a typed word names (`hold RR-2026-0001 inquest`), or None."""
    return HOLD_WORDS.get(word.strip().lower().replace("'", ""))


class ErasureBasis(StrEnum):
    RETENTION = "retention"  # the case is past its retention period
    REQUEST = "request"  # the data protection officer erased it on request (right to erasure)
