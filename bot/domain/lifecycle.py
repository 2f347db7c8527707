"""The case's lifecycle: every status a case can be in, and every move between them.

One table says which moves exist and who may make them. Everything that changes a
case's status goes through one store method (`CaseStore.move`), which checks the move
here and writes the status, its timestamps, the audit event and the outbox messages in
one transaction. To add a status: one member of `CaseStatus` and its rows in `MOVES`
(docs/architecture.md, "Lifecycle").

Open has one definition: a case is open until it reaches a closed status. The store
keeps `closed_at` in step (written only by `move`), because the database's partial
index on open pseudonyms reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CaseStatus(StrEnum):
    """Stored in `cases.status`; values never change once released. A draft lives in the
    referrer's dialog state until it is submitted, so it has no status here."""

    REFERRED = "referred"  # submitted; the virtual panel is voting
    DECIDED = "decided"  # the panel has decided the pathway
    MEETING_SCHEDULED = "meeting_scheduled"  # rapid review: the meeting is booked
    MEETING_HELD = "meeting_held"  # rapid review: the outcome is recorded
    REPORT_IN_DRAFT = "report_in_draft"  # the rapid review report is being written and commented on
    REPORT_SUBMITTED = "report_submitted"  # the report was sent to the National Panel
    REVIEW_COMMISSIONED = "review_commissioned"  # a local child safeguarding practice review is under way
    HANDED_OVER = "handed_over"  # practice review, escalation or another process owns it now
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self not in CLOSED_STATUSES

    # Shadows str.title() on purpose (read as `.title` by cards/ and bot/teams/); rename it to
    # `.label` when those callers can move, after the verb-table merge.
    @property
    def title(self) -> str:  # type: ignore[override]
        return _TITLES[self]


CLOSED_STATUSES = frozenset({CaseStatus.CLOSED})

_TITLES = {
    CaseStatus.REFERRED: "Referred — awaiting panel",
    CaseStatus.DECIDED: "Decided",
    CaseStatus.MEETING_SCHEDULED: "Meeting scheduled",
    CaseStatus.MEETING_HELD: "Meeting held",
    CaseStatus.REPORT_IN_DRAFT: "Report in draft",
    CaseStatus.REPORT_SUBMITTED: "Report submitted",
    CaseStatus.REVIEW_COMMISSIONED: "Review commissioned",
    CaseStatus.HANDED_OVER: "Handed over",
    CaseStatus.CLOSED: "Closed",
}


class Mover(StrEnum):
    """Who may make a move. Authority comes from the roster (never from a card); the bot
    itself makes the moves that follow from something already authorised (the panel's
    last vote decides; a booking the provider confirmed schedules the meeting)."""

    BOT = "bot"
    CHAIR = "chair"
    MANAGER = "manager"


@dataclass(frozen=True)
class Move:
    source: CaseStatus
    target: CaseStatus
    by: frozenset[Mover]
    why: str  # what the move means, for the audit trail and for docs/architecture.md


_WHO = {Mover.CHAIR: "the chair", Mover.MANAGER: "a partnership manager"}


def _move(source: CaseStatus, target: CaseStatus, why: str, *by: Mover) -> Move:
    return Move(source, target, frozenset(by), why)


S, M = CaseStatus, Mover
MOVES: tuple[Move, ...] = (
    _move(S.REFERRED, S.DECIDED, "the virtual panel decided the pathway", M.BOT),
    _move(S.REFERRED, S.CLOSED, "the referral was withdrawn", M.MANAGER),
    _move(S.DECIDED, S.MEETING_SCHEDULED, "the rapid review meeting was booked", M.BOT, M.CHAIR, M.MANAGER),
    _move(S.MEETING_SCHEDULED, S.DECIDED, "the meeting was cancelled, or was inquorate and is re-convened",
          M.CHAIR, M.MANAGER),
    _move(S.MEETING_SCHEDULED, S.MEETING_HELD, "the meeting's outcome was recorded", M.CHAIR),
    _move(S.MEETING_HELD, S.REPORT_IN_DRAFT, "the rapid review report was started", M.MANAGER, M.CHAIR),
    _move(S.REPORT_IN_DRAFT, S.REPORT_SUBMITTED, "the report was sent to the National Panel", M.MANAGER),
    _move(S.REPORT_SUBMITTED, S.REPORT_IN_DRAFT, "the National Panel asked for more information", M.MANAGER),
    _move(S.REPORT_SUBMITTED, S.REVIEW_COMMISSIONED, "a local practice review was commissioned", M.MANAGER, M.CHAIR),
    _move(S.REPORT_SUBMITTED, S.CLOSED, "no further review: the case is complete", M.MANAGER, M.CHAIR),
    _move(S.REVIEW_COMMISSIONED, S.CLOSED, "the review was published", M.MANAGER, M.CHAIR),
    _move(S.DECIDED, S.HANDED_OVER, "the case was handed to the process the panel chose", M.MANAGER),
    _move(S.HANDED_OVER, S.CLOSED, "the hand-over was confirmed", M.MANAGER, M.BOT),
    _move(S.DECIDED, S.CLOSED, "no further action: the challenge period passed unchallenged", M.BOT),
)
_BY_ENDS = {(m.source, m.target): m for m in MOVES}


class MoveRefused(ValueError):
    """Not a move the lifecycle allows, or not for this person."""


def check_move(source: CaseStatus, target: CaseStatus, by: frozenset[Mover] | Mover) -> Move:
    """The move from `source` to `target`, if `by` (one mover or everything the person may
    act as) may make it; MoveRefused with words for the person otherwise."""
    movers = frozenset({by}) if isinstance(by, Mover) else by
    move = _BY_ENDS.get((source, target))
    if move is None:
        raise MoveRefused(f"A case that is {source.title.lower()} cannot become {target.title.lower()}.")
    if not move.by & movers:
        people = sorted(_WHO[m] for m in move.by if m is not Mover.BOT)
        raise MoveRefused(f"Only {' or '.join(people) or 'the bot'} can record that {move.why}.")
    return move


def moves_from(source: CaseStatus) -> list[Move]:
    return [m for m in MOVES if m.source is source]
