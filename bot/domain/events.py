"""Audit events: every change, and every read of identifying details, is one of these.

The audit trail is the case's history (docs/architecture.md, "Confidentiality"). Details
must never carry child identifiers: they say what changed (status, choice, who), not
what the referral says. The kinds' values are stored in the `events` table and read by
operators' queries, so a value never changes once released.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain import trace


class EventKind(StrEnum):
    # referral intake
    REFERRAL_SUBMITTED = "referral_submitted"
    REFERRAL_DRAFT_DISCARDED = "referral_draft_discarded"
    CASE_POSTED_TO_PANEL = "case_posted_to_panel"
    CASE_CARD_REPOSTED = "case_card_reposted"  # `show RR-…`: the card posted again, the new post kept up to date
    PANEL_POST_WAITING = "panel_post_waiting_for_channel"
    # the lifecycle: every status change (bot/domain/lifecycle.py)
    CASE_MOVED = "case_moved"
    # the virtual panel
    VOTE_CAST = "vote_cast"
    PANEL_DECIDED = "panel_decided"
    QUERY_ANSWERED = "query_answered"
    # the statutory clock
    DEADLINE_DONE = "deadline_done"
    AGENCY_REQUESTS_SENT = "agency_requests_sent"
    AGENCY_RETURNED = "agency_returned"
    # the meeting
    MEETING_BOOKED = "meeting_booked"
    MEETING_RESCHEDULED = "meeting_rescheduled"
    MEETING_MOVED = "meeting_moved"
    MEETING_TIME_CHOSEN = "meeting_time_chosen"
    MEETING_CANCELLED = "meeting_cancelled"
    MEETING_BOOKING_FAILED = "meeting_booking_failed"
    MEETING_OUTCOME_RECORDED = "meeting_outcome_recorded"
    MEETING_INQUORATE = "meeting_inquorate"  # held without every statutory partner: recorded, then re-convened
    AVAILABILITY_UNKNOWN = "availability_unknown"
    # reads of identifying details
    IDENTIFIERS_VIEWED = "identifiers_viewed"
    NOTIFICATION_SUMMARY_VIEWED = "notification_summary_viewed"
    # the partnership's set-up
    PANEL_CHANNEL_BOUND = "panel_channel_bound"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    # refusals
    ACCESS_DENIED = "access_denied"
    TAMPER = "tamper"
    FOREIGN_TENANT_REFUSED = "foreign_tenant_refused"
    SERVICE_HOST_REFUSED = "service_host_refused"  # a stored reference's serviceUrl is not a Teams host: not sent
    # records handed to one person (the data protection officer's export)
    FILE_LINK_ISSUED = "file_link_issued"
    CASE_EXPORTED = "case_exported"
    FILE_LINK_REFUSED = "file_link_refused"  # a one-time link used twice, expired or unknown
    # delivery to people
    PERSON_UNREACHABLE = "person_unreachable"  # Teams answered 403/404 for a person's chat: their messages wait
    PERSON_REACHABLE = "person_reachable"  # they talked to the bot again: what waited for them is sent
    TEAMS_APP_INSTALLED = "teams_app_installed"  # installed for an unreachable person through Graph
    MEETING_BOOKED_MANUALLY = "meeting_booked_manually"  # booked in Outlook, recorded on the card
    # a send in doubt after a crash (bot/services/sends.py)
    SEND_ADOPTED = "send_adopted"  # found in the channel through Graph: recorded as sent, not posted again
    SEND_RESENT = "send_resent"  # could not be checked: sent once more, saying it may be a second copy
    SEND_GIVEN_UP = "send_given_up"  # the one re-send was itself in doubt: never a third copy


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: EventKind
    at: datetime
    actor_aad_id: str | None
    actor_name: str | None
    case_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    # Where and in which turn (bot/domain/trace.py); filled from the running turn when recorded.
    correlation: str | None = None
    conversation_kind: str | None = None
    conversation_id: str | None = None

    def stamped(self) -> Event:
        """This event with the running turn's correlation id and conversation, where unset."""
        turn = trace.current()
        if turn is None or self.correlation is not None:
            return self
        return self.model_copy(update={"correlation": turn.correlation,
                                       "conversation_kind": self.conversation_kind or turn.conversation_kind,
                                       "conversation_id": self.conversation_id or turn.conversation_id})
