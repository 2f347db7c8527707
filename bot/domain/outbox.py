"""What the outbox can be asked to deliver: one kind per message the bot sends later.

A use case commits its state change and its outbox rows together (docs/architecture.md,
"Outbox"); the dispatcher routes each row by its kind. The values are stored in the
`outbox` table, so a value never changes once released.
"""

from __future__ import annotations

from enum import StrEnum


class OutboxKind(StrEnum):
    PANEL_CARD = "panel_card"  # post the case card once, then update it in place
    PERSON_NOTICE = "person_notice"
    REFERRER_QUERY = "referrer_query"
    REFERRER_DECISION = "referrer_decision"
    QUERY_ANSWER_NOTICE = "query_answer_notice"
    DISAGREEMENT_PROMPT = "disagreement_prompt"
    REFRESH_DEADLINES = "refresh_deadlines"  # recompute a case's deadlines (not a message)
    REMINDER = "reminder"
    AGENCY_PROMPT = "agency_prompt"
    BOOK_MEETING = "book_meeting"  # book the meeting through the provider (not a message)
    MEETING_CARD = "meeting_card"
    CHAIR_NOTES = "chair_notes"
    OUTCOME_PROMPT = "outcome_prompt"
    SLOT_CHOICE = "slot_choice"
    MEETING_PROBLEM = "meeting_problem"
    OUTCOME_SUMMARY = "outcome_summary"
    OUTCOME_REFERRER = "outcome_referrer"
    RECORD_LINKS = "record_links"
    BOOKING_FAILED = "booking_failed"  # the channel told that the meeting must be booked by hand
    FILE_CONSENT = "file_consent"  # a file offered to one person: Teams' file consent card in their personal chat
    # retention and erasure (bot/services/retention.py)
    RETENTION_LIST = "retention_list"  # the data protection officer's list of cases past their period
    ERASURE_TOMBSTONE = "erasure_tombstone"  # one of the bot's messages about an erased case replaced
    ERASURE_MEETING = "erasure_meeting"  # an erased case's Graph meeting cancelled or its text scrubbed
    # after the panel (bot/services/pathways.py)
    PATHWAY_MESSAGE = "pathway_message"  # a card to a person: hand-over, family, agencies, challenge (payload)
    NFA_CHALLENGE_ENDS = "nfa_challenge_ends"  # the challenge period ran out: close unless challenged (not a message)
    REPORT_NOTICE = "report_notice"  # the rapid review report: a status-only line in the panel channel
    REPORT_REQUEST = "report_request"  # the rapid review report: asked of people in personal chat
    DUPLICATE_CHECK = "duplicate_check"  # fingerprint a new referral and flag a likely duplicate (not a message)
    DUPLICATE_FLAG = "duplicate_flag"  # the likely duplicate, to each partnership manager in personal chat
    CASE_NOTICE = "case_notice"  # a status-only line in the panel channel (bot/services/corrections.py)

WAITING_FOR_PERSON = "waiting_person"  # a row parked until its one recipient can be reached again
GATHERED = "gathered"  # a row that goes out inside another row's message (a digest of reminders)
GATHERED_WITH = "with"  # the payload key of a digest's lead row: the ids of the rows it carries

MEETING_MESSAGES = frozenset({OutboxKind.MEETING_CARD, OutboxKind.CHAIR_NOTES, OutboxKind.OUTCOME_PROMPT,
                              OutboxKind.SLOT_CHOICE, OutboxKind.MEETING_PROBLEM, OutboxKind.OUTCOME_SUMMARY,
                              OutboxKind.OUTCOME_REFERRER, OutboxKind.RECORD_LINKS,
                              OutboxKind.BOOKING_FAILED})
