"""The partnership: who the statutory partners' people are and how the panel decides.

Loaded from the partnership file (TOML) at start-up; panel membership is then kept in
the database and managed in Teams, with this file as the seed.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from bot.domain.referral import DEFAULT_EARLIEST_INCIDENT_DATE
from bot.domain.retention import RetentionPolicy

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


DEFAULT_PROTECTIVE_MARKING = "OFFICIAL-SENSITIVE"


class Partner(StrEnum):
    """The three statutory safeguarding partners (Children Act 2004 s.16E)."""

    LOCAL_AUTHORITY = "local_authority"
    POLICE = "police"
    HEALTH = "health"

    # Shadows str.title() on purpose (read as `.title` by cards/ and bot/teams/); rename it to
    # `.label` when those callers can move, after the verb-table merge.
    @property
    def title(self) -> str:  # type: ignore[override]
        return {"local_authority": "Local authority", "police": "Police", "health": "Health (ICB)"}[self.value]


class Role(StrEnum):
    PANEL = "panel"
    CHAIR = "chair"
    MANAGER = "partnership_manager"
    DPO = "data_protection_officer"
    # An advisory member of the virtual panel ("other" in Stockport Rapid Review Process (2019),
    # Appendix A, section 2: council, police, health, other): sees the case and its cards, does
    # not vote (the decision is the three statutory partners').
    ADVISER = "adviser"


class DecisionRule(StrEnum):
    """How the virtual panel reaches a decision (docs/architecture.md, Lifecycle)."""

    UNANIMOUS = "unanimous"
    LOCAL_AUTHORITY_DECIDES = "local_authority_decides"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Person(BaseModel):
    """Someone the partnership file names. Identity is the Entra object id; a UPN alone
    is accepted and resolved to the object id the first time the person talks to the bot."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    aad_object_id: str | None = None
    upn: str | None = None
    organisation: str | None = Field(default=None, max_length=100)
    job_title: str | None = Field(default=None, max_length=100)

    @field_validator("aad_object_id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError("must be an Entra object id (a GUID like 0f8fad5b-d9cb-469f-a165-70867728950e)")
        return value.lower() if value else value

    @field_validator("upn")
    @classmethod
    def _upn(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise ValueError("must be a user principal name such as dan.police@example.org")
        return value.lower() if value else value

    @model_validator(mode="after")
    def _identified(self) -> Person:
        if not self.aad_object_id and not self.upn:
            raise ValueError("give aad_object_id or upn so the bot can recognise this person in Teams")
        return self


class PanelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    local_authority: list[Person] = Field(default_factory=list)
    police: list[Person] = Field(default_factory=list)
    health: list[Person] = Field(default_factory=list)

    def members(self, partner: Partner) -> list[Person]:
        return list(getattr(self, partner.value))


DEFAULT_AGENCIES = (
    "Children's social care",
    "Police",
    "Integrated Care Board (ICB)",
    "NHS acute trust",
    "NHS community / mental health trust",
    "GP / primary care",
    "Ambulance service",
    "Education (school or college)",
    "Early years",
    "Probation",
    "Youth justice",
    "Housing",
    "Voluntary sector",
    "Other",
)


class PartnershipConfig(BaseModel):
    """Everything the partnership file says. Field names are the TOML keys."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    short_name: str = Field(default="", max_length=30)
    time_zone: str = "Europe/London"
    tenant_ids: list[str] = Field(default_factory=list)
    timeline_profile: str = "national_minimum"
    profile_overrides: str | None = None
    decision_rule: DecisionRule = DecisionRule.UNANIMOUS
    disagreement_prompt_hours: int = Field(default=24, ge=1, le=24 * 14)
    closure_days: list[date] = Field(default_factory=list)
    # The referral form refuses incident dates before this one (a typing slip such as 1900-01-01).
    earliest_incident_date: date = DEFAULT_EARLIEST_INCIDENT_DATE
    # The Government Security Classifications marking every generated document carries in its
    # header and footer (and the calendar invitation in its description).
    protective_marking: str = Field(default=DEFAULT_PROTECTIVE_MARKING, min_length=1, max_length=40)
    agencies: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]] = Field(
        default_factory=lambda: list(DEFAULT_AGENCIES)
    )
    # "No further action" may be challenged through the escalation process (Stockport Rapid Review
    # Process (2019), 'No Further Action'); no source gives a period, so this is local policy.
    nfa_challenge_working_days: int = Field(default=10, ge=1, le=60)
    # The decision letter to the family (a text template with {placeholders}, docs/pathways.md);
    # a relative path is read next to the partnership file; empty: config/family_letter.txt.
    family_letter_template: str | None = None
    panel: PanelConfig = Field(default_factory=PanelConfig)
    chairs: list[Person] = Field(default_factory=list)
    partnership_managers: list[Person] = Field(default_factory=list)
    # The data protection officer and deputies: only they can export a whole case.
    data_protection_officers: list[Person] = Field(default_factory=list)
    # Years a closed case's details are kept, per how it ended (bot/domain/retention.py): the
    # partnership's records policy, `[partnership.retention]`; docs/data-protection.md.
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    # Advisory ("other") members of the virtual panel: they see the cases, they do not vote.
    panel_advisers: list[Person] = Field(default_factory=list)

    @field_validator("tenant_ids")
    @classmethod
    def _tenants(cls, value: list[str]) -> list[str]:
        for tenant in value:
            if not _GUID.match(tenant):
                raise ValueError(
                    f"{tenant!r} is not a tenant id: use the Directory (tenant) ID from the Entra admin centre "
                    "overview page, a GUID like 0f8fad5b-d9cb-469f-a165-70867728950e"
                )
        return [t.lower() for t in value]

    @field_validator("agencies")
    @classmethod
    def _agencies(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one referring agency")
        if len(set(value)) != len(value):
            raise ValueError("agency names must be unique")
        if any("," in agency for agency in value):
            raise ValueError("agency names cannot contain commas (Teams sends multiple choices comma-separated)")
        return value

    @model_validator(mode="after")
    def _managers(self) -> PartnershipConfig:
        if not self.partnership_managers:
            raise ValueError(
                "partnership_managers: name at least one partnership manager "
                "(they bind the panel channel and manage membership)"
            )
        if not self.short_name:
            self.short_name = self.name[:30]
        return self

    @field_validator("earliest_incident_date")
    @classmethod
    def _earliest(cls, value: date) -> date:
        if value.year < 1900:
            raise ValueError("earliest_incident_date: give a date from 1900 on (the default is 1990-01-01)")
        return value
