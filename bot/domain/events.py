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
    # the rapid review report (bot/services/report.py): kinds, seats and dates only, never its text
    REPORT_STARTED = "report_started"
    REPORT_COMMENTED = "report_commented"
    REPORT_EDITED = "report_edited"
    REPORT_FINAL_DRAFT = "report_final_draft"
    REPORT_SIGNED_OFF = "report_signed_off"
    REPORT_SENT = "report_sent"
    NATIONAL_PANEL_RESPONDED = "national_panel_responded"
    CASE_CLOSED = "case_closed"
    # after the meeting: the local review, actions and learning (bot/services/review.py)
    REVIEW_SET_UP = "review_set_up"
    REVIEW_AGENCY_REPORT = "review_agency_report"
    REVIEW_PROGRESS_CHECKED = "review_progress_checked"
    REVIEW_REPORT_SENT = "review_report_sent"
    REVIEW_PUBLISHED = "review_published"
    LEARNING_RECORDED = "learning_recorded"
    ACTION_ADDED = "action_added"
    ACTION_DONE = "action_done"
    BRIEFING_DOWNLOADED = "briefing_downloaded"  # the 7-minute briefing, by its one-time link
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
    # records handed to one person as a file in their OneDrive (Teams' file consent card)
    FILE_OFFERED = "file_offered"  # the consent card sent to the person's personal chat
    FILE_ACCEPTED = "file_accepted"  # they pressed Allow
    FILE_UPLOADED = "file_uploaded"  # the file is in their OneDrive
    FILE_DECLINED = "file_declined"  # they pressed Decline: offered a one-time link instead
    FILE_OFFER_REFUSED = "file_offer_refused"  # another person, a second press, expired, or a refused upload host
    FILE_UPLOAD_FAILED = "file_upload_failed"  # the upload did not go through: offered a one-time link instead
    # retention and erasure (bot/services/retention.py): the tombstone of an erased case, and legal holds
    CASE_ERASED = "case_erased"
    LEGAL_HOLD_PLACED = "legal_hold_placed"
    LEGAL_HOLD_LIFTED = "legal_hold_lifted"
    # delivery to people
    PERSON_UNREACHABLE = "person_unreachable"  # Teams answered 403/404 for a person's chat: their messages wait
    PERSON_REACHABLE = "person_reachable"  # they talked to the bot again: what waited for them is sent
    TEAMS_APP_INSTALLED = "teams_app_installed"  # installed for an unreachable person through Graph
    MEETING_BOOKED_MANUALLY = "meeting_booked_manually"  # booked in Outlook, recorded on the card
    # a send in doubt after a crash (bot/services/sends.py)
    SEND_ADOPTED = "send_adopted"  # found in the channel through Graph: recorded as sent, not posted again
    SEND_RESENT = "send_resent"  # could not be checked: sent once more, saying it may be a second copy
    SEND_GIVEN_UP = "send_given_up"  # the one re-send was itself in doubt: never a third copy
    # after the panel (bot/services/pathways.py): ids, processes and actors only, never text
    HANDOVER_RECORDED = "handover_recorded"  # the process and owner a decision is handed to
    HANDOVER_CONFIRMED = "handover_confirmed"  # the owner confirmed the process has the case
    DECISION_CHALLENGED = "decision_challenged"  # a "no further action" decision was challenged
    FAMILY_STEP_AGREED = "family_step_agreed"  # who tells the family, by when
    AGENCIES_TOLD = "agencies_told"  # the agencies were told the outcome (West Midlands procedures, 4.7.2)
    AGENCY_RETURN_RECORDED = "agency_return_recorded"  # an agency's information return (Appendix D)
    MEETING_GUESTS_INVITED = "meeting_guests_invited"  # practitioners or managers invited to the meeting
    # the operator's commands (`python -m bot admin …`, bot/admin/): actor = the operator
    ADMIN_CASES_LISTED = "admin_cases_listed"  # case references, statuses and deadlines read
    ADMIN_OUTBOX_VIEWED = "admin_outbox_viewed"  # failed and stuck outbox messages listed (never their content)
    ADMIN_OUTBOX_RETRIED = "admin_outbox_retried"  # a failed or stuck message made due again
    ADMIN_LINK_SECRET_ROTATED = "admin_link_secret_rotated"  # noqa: S105 - links signed before stop working
    ADMIN_DATABASE_BACKED_UP = "admin_database_backed_up"
    ADMIN_DATABASE_RESTORED = "admin_database_restored"  # recorded in the restored database, once verified


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
