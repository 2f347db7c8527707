"""The case: what a submitted referral becomes, and how it is named in public.

A case has two names. The reference (`RR-2026-0042`) numbers it as partnerships number
their cases. The pseudonym (`Child K`) stands in for the child wherever the case is
discussed in a channel, so nobody needs to write the child's name there.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.domain.lifecycle import CaseStatus as CaseStatus  # re-exported: callers import it with Case
from bot.domain.referral import HarmOutcome, PathwaySought, Referral

REFERENCE_PATTERN = re.compile(r"^RR-(\d{4})-(\d{4,})$")


def format_reference(year: int, number: int) -> str:
    return f"RR-{year}-{number:04d}"


def parse_reference(text: str) -> str | None:
    """A reference typed or carried on a card, normalised; None when it is not one."""
    candidate = text.strip().upper()
    if len(candidate) > 20 or not REFERENCE_PATTERN.match(candidate):
        return None
    return candidate


def _pseudonym_letters() -> Iterable[str]:
    yield from string.ascii_uppercase
    for first in string.ascii_uppercase:
        for second in string.ascii_uppercase:
            yield first + second
    for digit in "123456789":  # past 702 open cases (a hosted service for a large partnership)
        for first in string.ascii_uppercase:
            yield first + digit


def choose_pseudonym(in_use: set[str], rng: random.Random | None = None) -> str:
    """A pseudonym not used by any open case: a random free single letter while there is
    one (so consecutive cases are not A, B, C…), then two letters, then a letter and a digit."""
    rng = rng or random.SystemRandom()
    singles = [f"Child {c}" for c in string.ascii_uppercase if f"Child {c}" not in in_use]
    if singles:
        return rng.choice(singles)
    for letters in _pseudonym_letters():
        name = f"Child {letters}"
        if name not in in_use:
            return name
    raise RuntimeError("no pseudonym left")  # 936 open cases: not a real partnership


class IncidentKind(StrEnum):
    CHILD_DEATH = "child_death"
    SERIOUS_HARM = "serious_harm"
    OTHER = "other"

    # Shadows str.title() on purpose (read as `.title` by cards/ and bot/teams/); rename it to
    # `.label` when those callers can move, after the verb-table merge.
    @property
    def title(self) -> str:  # type: ignore[override]
        return {"child_death": "Child death", "serious_harm": "Serious harm", "other": "Other concern"}[self.value]


def incident_kind(referral: Referral) -> IncidentKind:
    return {
        HarmOutcome.DIED: IncidentKind.CHILD_DEATH,
        HarmOutcome.SERIOUSLY_HARMED: IncidentKind.SERIOUS_HARM,
    }.get(referral.incident.outcome, IncidentKind.OTHER)


class Actor(BaseModel):
    """Who did something, as the Teams activity says (never as a card says)."""

    model_config = ConfigDict(frozen=True)

    aad_object_id: str
    name: str
    tenant_id: str | None = None


class CaseSummary(BaseModel):
    """What may be said about a case in a channel: no child identifiers here, by construction."""

    model_config = ConfigDict(frozen=True)

    id: str
    reference: str
    pseudonym: str
    status: CaseStatus
    pathway_sought: PathwaySought
    incident_kind: IncidentKind
    incident_date: date
    referring_agency: str
    likely_notifiable: bool
    received_at: datetime
    referrer_aad_id: str
    referrer_name: str


class Case(BaseModel):
    """The whole record, identifiers included. Only ever shown in personal chat."""

    # built on first use, with Referral (start-up time: README, Performance)
    model_config = ConfigDict(frozen=True, defer_build=True)

    summary: CaseSummary
    referral: Referral
    aware_date: date | None = None
    version: int = 1

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def reference(self) -> str:
        return self.summary.reference

    def __repr__(self) -> str:  # never let a stray log line print the referral
        return f"Case({self.summary.reference}, {self.summary.status})"

    __str__ = __repr__
