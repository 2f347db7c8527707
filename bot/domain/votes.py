"""The virtual panel's vote (Stockport Rapid Review Process (2019), 'The Virtual Panel',
Appendix A section 2 and Appendix C).

The three statutory partners each record one choice, with a rationale, for their
partner (a deputy's vote counts for the partner and records who cast it). A member
may change their partner's vote until the panel has decided. By default the panel
has decided when all three partners choose the same pathway; a partnership may
instead let the local authority decide once all three have voted and disagree
(docs/architecture.md, Lifecycle). A "queries back to the referrer" vote never decides: it sends the
panel's question to the referrer, and once it is answered the votes start again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.limits import cap, too_long
from bot.domain.partnership import DecisionRule, Partner
from bot.domain.text import clean_text

MIN_RATIONALE = 20
MIN_QUESTION = 10


class VoteChoice(StrEnum):
    """Stockport Rapid Review Process (2019), Appendix A, 2.1, in the form's order."""

    RAPID_REVIEW = "rapid_review"
    PRACTICE_REVIEW = "practice_review"
    ESCALATION = "escalation"
    NO_FURTHER_ACTION = "no_further_action"
    QUERIES = "queries"

    # Shadows str.title() on purpose (read as `.title` by cards/ and bot/teams/); rename it to
    # `.label` when those callers can move, after the verb-table merge.
    @property
    def title(self) -> str:  # type: ignore[override]
        return {
            "rapid_review": "Meets the threshold for a rapid review",
            "practice_review": "Practice review, but not a rapid review",
            "escalation": "Meets the criteria for escalation",
            "no_further_action": "No further action / alternative process (e.g. SAR, DHR)",
            "queries": "Queries back to the referrer before a decision",
        }[self.value]

    @property
    def short(self) -> str:
        return {
            "rapid_review": "Rapid review",
            "practice_review": "Practice review",
            "escalation": "Escalation",
            "no_further_action": "No further action",
            "queries": "Queries to referrer",
        }[self.value]


class Vote(BaseModel):
    model_config = ConfigDict(frozen=True)

    partner: Partner
    choice: VoteChoice
    rationale: str
    serious_harm_basis: str | None = None
    question: str | None = None
    voter_aad_id: str
    voter_name: str
    organisation: str | None = None
    cast_at: datetime


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: VoteChoice
    decided_at: datetime
    rule: DecisionRule
    by_local_authority: bool = False
    votes: list[Vote] = Field(default_factory=list)


class BallotError(ValueError):
    """A vote that cannot be recorded as given; the message is for the voter, and
    `field` says which input it is about (None: the whole card)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def ballot(choice: str | None, rationale: str | None, serious_harm_basis: str | None,
           question: str | None) -> tuple[VoteChoice, str, str | None, str | None]:
    """Check what a member typed on the voting card; returns the cleaned values."""
    try:
        picked = VoteChoice(choice or "")
    except ValueError as error:
        raise BallotError("Choose one of the five outcomes.", "choice") from error
    reason = clean_text(rationale or "")
    basis = clean_text(serious_harm_basis or "") or None
    asked = clean_text(question or "") or None
    check_lengths({"rationale": reason, "serious_harm_basis": basis, "question": asked})
    if len(reason) < MIN_RATIONALE:
        raise BallotError(f"Give the rationale for your choice (at least {MIN_RATIONALE} characters).", "rationale")
    if picked is VoteChoice.RAPID_REVIEW and (basis is None or len(basis) < MIN_RATIONALE):
        raise BallotError(
            f"For a rapid review, say how the serious harm criteria are met (at least {MIN_RATIONALE} characters).",
            "serious_harm_basis",
        )
    if picked is VoteChoice.QUERIES and (asked is None or len(asked) < MIN_QUESTION):
        raise BallotError("Write the question for the referrer.", "question")
    return (picked, reason, basis if picked is VoteChoice.RAPID_REVIEW else None,
            asked if picked is VoteChoice.QUERIES else None)


def check_lengths(typed: Mapping[str, str | None]) -> None:
    """Refuse any of the voting card's texts over its cap (bot/domain/limits.py), first of all:
    an over-long rationale is refused whatever else is wrong with the vote, and nothing of it
    is stored. A check of its own, so other checks of the same texts compose with it."""
    for name, text in typed.items():
        message = too_long(text, cap(f"vote.{name}"))
        if message is not None:
            raise BallotError(message, name)


def partner_for(panel_partners: frozenset[Partner]) -> Partner:
    """Which partner a member votes for: the one the roster says, never the card."""
    if not panel_partners:
        raise BallotError("Only the statutory partners' panel members can vote.")
    if len(panel_partners) > 1:
        raise BallotError("You are listed for more than one partner; ask the partnership manager to fix the roster.")
    return next(iter(panel_partners))


def decide(votes: Mapping[Partner, Vote], rule: DecisionRule, now: datetime) -> Decision | None:
    """The panel's decision, if it has reached one."""
    if len(votes) < len(Partner):
        return None
    choices = {vote.choice for vote in votes.values()}
    if len(choices) == 1:
        outcome = next(iter(choices))
        if outcome is VoteChoice.QUERIES:
            return None
        return Decision(outcome=outcome, decided_at=now, rule=rule, votes=_ordered(votes))
    if rule is DecisionRule.LOCAL_AUTHORITY_DECIDES:
        local_authority = votes[Partner.LOCAL_AUTHORITY].choice
        if local_authority is not VoteChoice.QUERIES:
            return Decision(outcome=local_authority, decided_at=now, rule=rule, by_local_authority=True,
                            votes=_ordered(votes))
    return None


class Chosen(Protocol):
    """Anything that carries a partner's choice: a vote, or a vote as a channel shows it."""

    @property
    def choice(self) -> VoteChoice: ...


def disagreement(votes: Mapping[Partner, Chosen]) -> bool:
    """Two or more partners have chosen different pathways (queries aside)."""
    return len({v.choice for v in votes.values() if v.choice is not VoteChoice.QUERIES}) > 1


def _ordered(votes: Mapping[Partner, Vote]) -> list[Vote]:
    return [votes[p] for p in Partner if p in votes]
