"""Finding the rapid review meeting's slot (docs/architecture.md, Meeting; Stockport Rapid
Review Process (2019), 'Rapid Review Process'; West Midlands procedures, 4.4): inside the
profile's window (e.g. 7–13 working days), in working hours on working days, when every
required attendee is free. Where nobody-busy is impossible the chair is offered the best
few slots: fewest attendees busy, then earliest."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from bot.domain.limits import MaxLength, cap
from bot.domain.referral import YesNo, _blank_to_none, _text
from bot.domain.timeline import WorkingCalendarPort

# The card action that records a meeting booked by hand (cards/meeting_cards.py), named in messages.
MANUAL_BOOKING_ACTION = "Record an Outlook booking"

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class MeetingSettings:
    """How long the meeting lasts and when it may be held (the partnership's settings)."""

    length: timedelta = timedelta(hours=2)
    day_start: time = time(9, 30)
    day_end: time = time(16, 30)
    default_time: time = time(10, 0)
    step: timedelta = timedelta(minutes=30)
    notes_hours_before: int = 24


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    busy: tuple[str, ...] = ()  # who is busy (names), for the chair's choice card


def candidates(first_day: date, last_day: date, *, day_start: time, day_end: time, length: timedelta,
               step: timedelta, calendar: WorkingCalendarPort, tz: tzinfo, not_before: datetime) -> Iterator[Interval]:
    day = first_day
    while day <= last_day:
        if calendar.is_working_day(day):
            start = datetime.combine(day, day_start, tzinfo=tz)
            close = datetime.combine(day, day_end, tzinfo=tz)
            while start + length <= close:
                if start >= not_before:
                    yield start, start + length
                start += step
        day += timedelta(days=1)


def _overlaps(slot: Interval, busy: Sequence[Interval]) -> bool:
    return any(b_start < slot[1] and slot[0] < b_end for b_start, b_end in busy)


def earliest_free(slots: Sequence[Interval], busy: Mapping[str, Sequence[Interval]]) -> Slot | None:
    for slot in slots:
        if not any(_overlaps(slot, blocks) for blocks in busy.values()):
            return Slot(*slot)
    return None


def best(slots: Sequence[Interval], busy: Mapping[str, Sequence[Interval]], n: int = 3) -> list[Slot]:
    scored = [Slot(s[0], s[1], tuple(sorted(p for p, blocks in busy.items() if _overlaps(s, blocks))))
              for s in slots]
    scored.sort(key=lambda slot: (len(slot.busy), slot.start))
    chosen: list[Slot] = []
    for slot in scored:  # different days make a real choice
        if all(slot.start.date() != c.start.date() for c in chosen):
            chosen.append(slot)
        if len(chosen) == n:
            break
    return chosen


# ---- the outcome the chair records after the meeting --------------------------------------------


class OutcomeChoice(StrEnum):
    LOCAL_CSPR = "local_cspr"
    NATIONAL_REVIEW = "national_review"
    NO_REVIEW = "no_review"


class MeetingOutcome(BaseModel):
    """Stockport Rapid Review Process (2019), 'What a completed Rapid Review Report should include';
    West Midlands procedures, 4.6."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    local_cspr: YesNo
    national_review: YesNo
    rationale: Annotated[str, BeforeValidator(_text), Field(min_length=20), MaxLength(cap("outcome.rationale"))]
    immediate_actions: Annotated[Annotated[str, MaxLength(cap("outcome.immediate_actions"))] | None,
                                 BeforeValidator(_text)] = None
    learning: Annotated[Annotated[str, MaxLength(cap("outcome.learning"))] | None,
                        BeforeValidator(_text)] = None
    agencies_involved: Annotated[Annotated[str, MaxLength(cap("outcome.agencies_involved"))] | None,
                                 BeforeValidator(_text)] = None
    agencies_absent: Annotated[Annotated[str, MaxLength(cap("outcome.agencies_absent"))] | None,
                               BeforeValidator(_text)] = None
    participants: Annotated[str, BeforeValidator(_text), Field(min_length=3), MaxLength(cap("outcome.participants"))]
    quorum_local_authority: bool = False
    quorum_police: bool = False
    quorum_health: bool = False

    @field_validator("quorum_local_authority", "quorum_police", "quorum_health", mode="before")
    @classmethod
    def _toggle(cls, value: object) -> bool:
        value = _blank_to_none(value)
        return str(value).lower() in {"true", "1", "yes", "on"} if value is not None else False

    @property
    def quorate(self) -> bool:
        """West Midlands procedures, 4.6.1: only quorate with one representative of each statutory partner."""
        return self.quorum_local_authority and self.quorum_police and self.quorum_health

    @property
    def choice(self) -> OutcomeChoice:
        if self.national_review is YesNo.YES:
            return OutcomeChoice.NATIONAL_REVIEW
        if self.local_cspr is YesNo.YES:
            return OutcomeChoice.LOCAL_CSPR
        return OutcomeChoice.NO_REVIEW
