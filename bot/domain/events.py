"""Audit events: every change, and every read of identifying details, is one of these.

The audit trail is the case's history (DESIGN §2, §7). Details must never carry child
identifiers: they say what changed (status, choice, who), not what the referral says.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventKind(StrEnum):
    REFERRAL_SUBMITTED = "referral_submitted"
    CASE_POSTED_TO_PANEL = "case_posted_to_panel"
    PANEL_CHANNEL_BOUND = "panel_channel_bound"
    PANEL_POST_WAITING = "panel_post_waiting_for_channel"
    IDENTIFIERS_VIEWED = "identifiers_viewed"
    NOTIFICATION_SUMMARY_VIEWED = "notification_summary_viewed"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    MEMBER_SEEDED = "member_seeded"
    ACCESS_DENIED = "access_denied"
    FOREIGN_TENANT_REFUSED = "foreign_tenant_refused"
    REFERRAL_DRAFT_DISCARDED = "referral_draft_discarded"


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    at: datetime
    actor_aad_id: str | None
    actor_name: str | None
    case_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
