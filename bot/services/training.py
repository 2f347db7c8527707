"""Training mode: the rehearsal's rules, independent of Teams and SQL.

A trainer (or a new panel member) rehearses a whole case in Agents Playground, a one-user
client: they *act as* anyone of the partnership, messages to people nobody is sitting at
wait in a per-person *inbox*, and a *training clock* (real time plus a stored offset) lets
days pass. This module holds the ports those pieces are reached through, who can be acted,
the `advance` grammar and the demo case. The Teams side is bot/turns/training.py; the
clock adapter is bot/adapters/clock.py; the composition root wires them only in training mode.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from bot.domain.case import Actor
from bot.domain.dates import format_day
from bot.domain.partnership import Role
from bot.domain.referral import (
    ChildrenDetails,
    Declaration,
    IncidentDetails,
    PathwayChoice,
    Referral,
    ReferrerDetails,
    ReferrerViews,
)
from bot.services import referrals
from bot.services.context import ServiceContext
from bot.services.ports import Address

NOT_IN_TRAINING = "Training commands work only in training mode."
BANNER = "TRAINING — not a real case"

# The example partnership's referrer (a school designated safeguarding lead): not a member of
# the partnership, so not in the partnership file, but in the Playground's mock tenant.
EXAMPLE_REFERRER_AAD = "00000000-0000-0000-0000-00000000a001"
EXAMPLE_REFERRER_NAME = "Riley Referrer"


@dataclass(frozen=True)
class Person:
    """Someone the keyboard user can act as."""

    aad_object_id: str
    name: str
    role: str  # "local authority", "police", "health", "chair", "partnership manager", "referrer"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.role})"

    def as_dict(self) -> dict[str, str]:
        return {"aad_object_id": self.aad_object_id, "name": self.name, "role": self.role}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Person:
        return cls(str(data["aad_object_id"]), str(data["name"]), str(data["role"]))


@dataclass(frozen=True)
class InboxItem:
    key: str
    card: dict[str, Any]
    at: datetime


class TrainingState(Protocol):
    """What training mode keeps in the database (bot/adapters/db/training_store.py)."""

    async def acting(self, real_aad: str) -> Person | None: ...
    async def set_acting(self, real_aad: str, person: Person | None, at: datetime) -> None: ...
    async def actors_of(self, acted_aad: str) -> list[str]:
        """The real users now acting as this person."""
        ...

    async def keyboard(self, real_aad: str) -> Address | None:
        """The personal chat of someone who has typed to the bot in training mode."""
        ...

    async def remember_keyboard(self, real_aad: str, address: Address, at: datetime) -> None: ...
    async def keep(self, aad: str, card: dict[str, Any], at: datetime) -> None: ...
    async def inbox(self, aad: str) -> list[InboxItem]:
        """Unread messages, oldest first."""
        ...

    async def waiting(self, aad: str) -> int: ...
    async def mark_read(self, keys: list[str]) -> None: ...
    async def next_meeting(self, after: datetime) -> datetime | None:
        """The start of the next booked meeting of an open case."""
        ...


class TrainingClockPort(Protocol):
    def now(self) -> datetime: ...
    async def refresh(self) -> None: ...
    async def move_to(self, moment: datetime) -> None:
        """Raises ValueError when `moment` is before now."""
        ...


# ---- who can be acted ---------------------------------------------------------------------------

ROLE_WORDS = {
    "local authority": "local authority", "la": "local authority", "council": "local authority",
    "police": "police", "health": "health", "icb": "health", "nurse": "health",
    "chair": "chair", "manager": "partnership manager", "partnership manager": "partnership manager",
    "business unit": "partnership manager", "referrer": "referrer",
}


async def people(ctx: ServiceContext) -> list[Person]:
    """The partnership's people (panel members by partner, chairs, managers), then the referrer."""
    found: list[Person] = []
    for member in await ctx.roster.members():
        if not member.aad_object_id:
            continue
        if member.role is Role.PANEL and member.partner is not None:
            role = member.partner.title.lower().replace(" (icb)", "")
        elif member.role is Role.CHAIR:
            role = "chair"
        else:
            role = "partnership manager"
        found.append(Person(member.aad_object_id.lower(), member.name, role))
    if not any(p.aad_object_id == EXAMPLE_REFERRER_AAD for p in found):
        found.append(Person(EXAMPLE_REFERRER_AAD, EXAMPLE_REFERRER_NAME, "referrer"))
    return found


def match_person(candidates: list[Person], wanted: str) -> Person | None:
    """By full name, first name or role word (the first of that role), case-insensitive."""
    wanted = " ".join(wanted.lower().replace("the ", " ").split())
    for person in candidates:
        if person.name.lower() == wanted:
            return person
    for person in candidates:
        if person.name.lower().split()[0] == wanted:
            return person
    role = ROLE_WORDS.get(wanted)
    return next((p for p in candidates if p.role == role), None) if role else None


# ---- the training clock ---------------------------------------------------------------------------

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BY = re.compile(r"^(?:by\s+)?(\d{1,3})\s+(working\s+days?|days?|hours?|minutes?|mins?|weeks?)$")
_TO = re.compile(r"^(?:([a-z]{3})[a-z]*,?\s+)?(\d{1,2})\s+([a-z]{3})[a-z]*(?:\s+(\d{4}))?"
                 r"(?:,?\s+(?:at\s+)?(\d{1,2})[:.](\d{2}))?$")


class AdvanceError(ValueError):
    """An `advance` the trainer has to rephrase; the message says how."""


ADVANCE_HELP = ("Say how far, for example: **advance 2 working days**, **advance 3 hours**, "
                "**advance to Tue 15 Dec 10:00** or **advance to the meeting**.")


async def advance_target(ctx: ServiceContext, state: TrainingState, argument: str,
                         now: datetime) -> tuple[datetime, str]:
    """Where `advance <argument>` moves the training clock to, and how to say it."""
    argument = " ".join(argument.lower().split())
    local_now = now.astimezone(ctx.tz)
    if argument in ("to the meeting", "to meeting", "to the next meeting"):
        start = await state.next_meeting(now)
        if start is None:
            raise AdvanceError("No open case has a meeting booked after the training date.")
        return start, "to the rapid review meeting"
    by = _BY.match(argument)
    if by:
        n, unit = int(by.group(1)), by.group(2)
        if unit.startswith("working"):
            day = ctx.calendar.add_working_days(local_now.date(), n)
            return datetime.combine(day, local_now.timetz()).replace(tzinfo=ctx.tz), f"by {n} working day(s)"
        step = {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n),
                "w": timedelta(weeks=n)}[unit[0]]
        return now + step, f"by {n} {unit}"
    to = _TO.match(argument.removeprefix("to ").strip()) if argument.startswith("to ") else None
    if to:
        weekday, day_s, month_s, year_s, hour_s, minute_s = to.groups()
        if month_s not in MONTHS:
            raise AdvanceError(f"I do not know the month {month_s!r}. " + ADVANCE_HELP)
        month = MONTHS.index(month_s) + 1
        at = time(int(hour_s), int(minute_s)) if hour_s else time(9, 0)
        try:
            if year_s:
                target_day = date(int(year_s), month, int(day_s))
            else:  # the next such date on or after the training date
                target_day = date(local_now.year, month, int(day_s))
                if target_day < local_now.date():
                    target_day = date(local_now.year + 1, month, int(day_s))
        except ValueError as error:
            raise AdvanceError(f"That is not a date: {error}.") from error
        if weekday and weekday in WEEKDAYS and WEEKDAYS.index(weekday) != target_day.weekday():
            raise AdvanceError(f"{format_day(target_day)} is a {target_day:%A}.")
        return datetime.combine(target_day, at, tzinfo=ctx.tz), "to a date"
    raise AdvanceError(ADVANCE_HELP)


# ---- the demo case ---------------------------------------------------------------------------------


def demo_referral(today: date) -> Referral:
    """A realistic, plainly synthetic referral (no real child can be mistaken for it)."""
    incident = today - timedelta(days=3)
    return Referral(
        referrer=ReferrerDetails(
            agency="Education (school or college)", name=EXAMPLE_REFERRER_NAME, email="riley.referrer@example.org",
            job_title="Designated safeguarding lead", telephone="0161 000 0000",
            discussed_with="Head teacher; children's social care duty team",
            lead_name="Sam Demo", lead_role="Deputy head (training example)", lead_contact="sam.demo@example.org"),
        pathway=PathwayChoice(pathway="A"),
        incident=IncidentDetails(
            incident_date=incident, incident_time=time(14, 30), incident_location="1 Demo Street, Trainingtown (fictional)",
            outcome="seriously_harmed", abuse_or_neglect="suspected", looked_after="no",
            la_aware_date=incident + timedelta(days=1),
            summary="TRAINING EXAMPLE. Demo Child (a fictional child) was admitted to hospital with unexplained "
                    "injuries; the school had noticed bruising and absences over the previous term."),
        children=ChildrenDetails(
            children=[{"name": "Demo Child", "date_of_birth": date(today.year - 8, 1, 1), "gender": "female",
                       "ethnicity": "Not recorded (training)", "current_location": "Hospital ward (fictional)"}],
            family_members="Demo Parent (mother), Demo Partner (mother's partner)"),
        views=ReferrerViews(
            meets_criteria="Serious injury with suspected abuse by a carer (training example).",
            worked_well="Quick hospital referral", not_worked_well="Information sharing between school and GP",
            key_issues="Earlier signs of harm were not joined up", family_consulted="no",
            family_not_consulted_reason="Police investigation ongoing", key_worker_consulted="yes"),
        declaration=Declaration(senior_manager_reviewed=True),
    )


async def submit_demo_case(ctx: ServiceContext, tenant_id: str | None) -> referrals.Submitted:
    """`demo case`: the synthetic referral, submitted as the example referrer through the same
    use case as the form."""
    today = ctx.clock.now().astimezone(ctx.tz).date()
    referrer = Actor(aad_object_id=EXAMPLE_REFERRER_AAD, name=EXAMPLE_REFERRER_NAME, tenant_id=tenant_id)
    return await referrals.submit_referral(ctx, referrer, str(uuid.uuid4()), demo_referral(today))
