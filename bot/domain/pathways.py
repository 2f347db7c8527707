"""After the virtual panel: the pathways other than a rapid review, the family and the agencies.

Stockport Rapid Review Process (2019), Appendix C ("What do they do?", 5): the panel makes
sure "any further processes are agreed" — commence a rapid review, ask the partnership's
practice improvement group to take a learning process forward, case escalation, no further
action, or a single agency process. So a decision other than a rapid review is *handed over*:
a partnership manager names the process and its owner (a person on the roster), the referrer
and the agencies named are told (status only), and the case closes when the owner confirms
that the process has taken it (docs/architecture.md, Lifecycle: decided → handed over →
closed).

"No further action" may be challenged: Stockport Rapid Review Process (2019), 'No Further
Action': "If agencies are dissatisfied with the decision reached by the SSCP then they may
challenge this through the escalation process." No source gives a period; the partnership
file sets one (`nfa_challenge_working_days`, default 10 working days, local policy). A
challenge is recorded by a partner on the roster for an agency, and goes where the source
sends it — the escalation process, which the partnership manager refers cases into
('Escalation') and where the statutory partners and the independent chair make the final
determination (Appendix A, "C Escalating a dispute case"). So a challenged decision is not
closed: it goes back to the partnership manager, who hands it to the escalation process.

The family: SSCP Rapid Review Panel Agenda template, 'Outcome Notification': "Agree who
will/by when notify … the family" — a person and a date, tracked as a step of the clock.

The agencies: West Midlands procedures, 4.7.2: "Other agencies (including the agency who
made the referral) should also be informed of the outcome". Each agency's information return
(Stockport Rapid Review Process (2019), Appendix D) is recorded per agency.

Pure: pydantic models and the rules; nothing here reads or writes.
"""

from __future__ import annotations

import string
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.domain.limits import MaxLength, cap
from bot.domain.referral import _text
from bot.domain.votes import VoteChoice

DEFAULT_CHALLENGE_WORKING_DAYS = 10  # local policy: no source gives the period (docs/sources.md)
HANDOVER_STEP = "handover_confirmed"
FAMILY_STEP = "tell_family"


class Process(StrEnum):
    """Where a decision other than a rapid review goes (Stockport Rapid Review Process (2019),
    Appendix C, 5, and the form's outcomes, Appendix A, 2.1). Stored: values never change."""

    LEARNING_REVIEW = "learning_review"
    ACTION_LEARNING = "action_learning"
    SINGLE_AGENCY = "single_agency"
    ESCALATION = "escalation"
    MEDIATION = "mediation"
    SAR = "sar"
    DHR = "dhr"
    NONE = "none"

    @property
    def title(self) -> str:  # type: ignore[override]
        return _PROCESS_TITLES[self]

    @property
    def needs_confirming(self) -> bool:
        """A process someone must take the case into; "no other process" needs nobody."""
        return self is not Process.NONE


_PROCESS_TITLES = {
    Process.LEARNING_REVIEW: "Local practice learning review (practice improvement group)",
    Process.ACTION_LEARNING: "Action learning circle",
    Process.SINGLE_AGENCY: "Single agency process",
    Process.ESCALATION: "Case escalation process",
    Process.MEDIATION: "Case mediation (statutory partners and the independent chair)",
    Process.SAR: "Safeguarding Adults Review (SAR)",
    Process.DHR: "Domestic Homicide Review (DHR)",
    Process.NONE: "No other process: no further action",
}

PROCESSES: dict[VoteChoice, tuple[Process, ...]] = {
    VoteChoice.PRACTICE_REVIEW: (Process.LEARNING_REVIEW, Process.ACTION_LEARNING, Process.SINGLE_AGENCY),
    VoteChoice.ESCALATION: (Process.ESCALATION, Process.MEDIATION),
    VoteChoice.NO_FURTHER_ACTION: (Process.NONE, Process.SAR, Process.DHR, Process.SINGLE_AGENCY),
}
HANDED_OVER_PATHWAYS = frozenset(PROCESSES)


class PathwayError(ValueError):
    """Input that cannot be recorded as given; `field` names the input it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def process_for(outcome: VoteChoice, value: str | None) -> Process:
    allowed = PROCESSES.get(outcome, ())
    try:
        chosen = Process(value or "")
    except ValueError as error:
        raise PathwayError("Choose the process the case is handed to.", "process") from error
    if chosen not in allowed:
        raise PathwayError("That process does not follow from the panel's decision; choose one on the card.",
                           "process")
    return chosen


class HandOver(BaseModel):
    """Who has the case now, and in which process. Stored sealed (it names people)."""

    model_config = ConfigDict(frozen=True)

    outcome: VoteChoice
    process: Process
    owner_aad_id: str
    owner_name: str
    recorded_by: str
    recorded_at: str  # ISO moment
    confirmed_by: str | None = None
    confirmed_at: str | None = None
    challenge_until: str | None = None  # NFA only: ISO moment the challenge period ends
    agencies_told: list[str] = Field(default_factory=list)  # the agencies named to be told the outcome

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None or not self.process.needs_confirming


ChallengeText = Annotated[str, BeforeValidator(_text), Field(min_length=10), MaxLength(cap("pathway.challenge"))]


class Challenge(BaseModel):
    """A challenge to a "no further action" decision, recorded by a partner for an agency."""

    model_config = ConfigDict(frozen=True)

    agency: Annotated[str, BeforeValidator(_text), Field(min_length=1), MaxLength(cap("agencies.agency"))]
    reason: ChallengeText
    recorded_by: str = ""
    recorded_at: str = ""


class FamilyStep(BaseModel):
    """Who will tell the family, and by when (the agenda template's 'Outcome Notification')."""

    model_config = ConfigDict(frozen=True)

    teller_aad_id: str
    teller_name: str
    tell_by: date
    agreed_by: str
    agreed_at: str


AgencyText = Annotated[Annotated[str, MaxLength(cap("agency_return.text"))] | None, BeforeValidator(_text)]


class AgencyReturn(BaseModel):
    """One agency's information return (Stockport Rapid Review Process (2019), Appendix D):
    its involvement, a summary of its chronology, its analysis and the immediate actions it
    has taken. Stored sealed; shared texts are refused while they hold an identifier."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    involvement: Annotated[str, BeforeValidator(_text), Field(min_length=2), MaxLength(cap("agency_return.text"))]
    chronology: AgencyText = None
    analysis: AgencyText = None
    immediate_actions: AgencyText = None


AGENCY_RETURN_FIELDS = ("involvement", "chronology", "analysis", "immediate_actions")


AGENCY_RETURN_TITLES = {
    "involvement": "Involvement with the child and family",
    "chronology": "Summary of the chronology",
    "analysis": "Analysis of the agency's involvement",
    "immediate_actions": "Immediate actions taken",
}


# ---- the family letter ------------------------------------------------------------------------

# Every placeholder a family letter template may use, and what fills it (docs/pathways.md).
LETTER_PLACEHOLDERS = {
    "partnership": "the partnership's name",
    "reference": "the case reference",
    "date": "today's date, e.g. 7 December 2026",
    "child_names": "the child's (children's) first and last names, as the referral gives them",
    "incident_date": "the date of the incident",
    "decision": "the panel's decision, in plain words",
    "next_steps": "what happens next: the process the case was handed to, or the review",
    "teller_name": "the name of the person telling the family",
    "teller_job_title": "their job title (from the partnership file), or nothing",
    "chair_name": "the name of the partnership's first chair",
}

DECISION_WORDS = {
    VoteChoice.RAPID_REVIEW: "a rapid review of what happened has been held by the safeguarding partners",
    VoteChoice.PRACTICE_REVIEW: "the safeguarding partners will look at what can be learned through a practice review",
    VoteChoice.ESCALATION: "the safeguarding partners have referred the matter to the partnership's escalation process",
    VoteChoice.NO_FURTHER_ACTION: "the safeguarding partners decided that no further review by the partnership is "
                                  "needed",
}


def template_fields(template: str) -> set[str]:
    """The placeholders a template uses; ValueError when it is not a valid template."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"'{{{name}}}' is not a placeholder: use {{name}} with one of "
                             f"{', '.join(sorted(LETTER_PLACEHOLDERS))}")
        names.add(name)
    return names


def check_template(template: str) -> None:
    """Start-up refuses a template with an unknown placeholder, naming it."""
    unknown = template_fields(template) - set(LETTER_PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder {', '.join('{' + u + '}' for u in sorted(unknown))}; "
                         f"known: {', '.join(sorted(LETTER_PLACEHOLDERS))}")


def fill(template: str, values: dict[str, str]) -> str:
    missing = set(LETTER_PLACEHOLDERS) - set(values)
    if missing:
        raise ValueError(f"no value for {sorted(missing)}")
    return template.format(**values)
