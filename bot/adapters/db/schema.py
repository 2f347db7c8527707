"""Tables. One database holds cases, events, the outbox, conversation references,
dialog state and (later) votes, deadlines and reminders (docs/architecture.md, Layers).

Alembic migrations under `migrations/` create these; this module is their source of
truth for queries and for `alembic revision --autogenerate`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

class UtcDateTime(TypeDecorator):
    """An instant, always stored as UTC and always read back timezone-aware.

    SQLite's DATETIME keeps the wall-clock time and silently drops the offset, so a
    17:00 BST deadline would come back as 17:00 UTC. Converting to UTC on the way in
    makes SQLite and PostgreSQL (timestamptz) agree."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of only the rows `where` holds, on both engines: the migrations create it so on
    each. Declared with SQLite's predicate, and the same text in `info` for PostgreSQL's: naming
    `postgresql_where` here would load SQLAlchemy's PostgreSQL dialect into every process, the
    embedded SQLite's included (~2 MiB, ~20 ms of start-up; README, Performance). Nothing creates
    tables from this metadata; it is what the stores' statements are built from."""
    return Index(name, *columns, unique=unique, sqlite_where=text(where), info={"where": where})


# An open case (not closed, not erased), as the partial index below and the queries it serves say it;
# the index holds every column `status` reads (SQLite's planner uses a partial index only when it covers
# the query, its condition's columns included).
OPEN_CASE = "closed_at IS NULL AND erased_at IS NULL"
OPEN_CASES_COLUMNS = ("reference", "id", "pseudonym", "status", "closed_at", "erased_at")
# A dated open step, and the columns `status` reads of one (the same rule).
OPEN_STEP = "status = 'open' AND due_at IS NOT NULL"
OPEN_STEPS_COLUMNS = ("status", "due_at", "case_id", "records", "position", "label")

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("reference", String(20), nullable=False, unique=True),
    Column("pseudonym", String(20), nullable=False),
    Column("status", String(30), nullable=False),
    Column("draft_id", String(36), nullable=False, unique=True),
    Column("referrer_aad_id", String(64), nullable=False, index=True),
    Column("referrer_name", String(100), nullable=False),
    Column("referring_agency", String(100), nullable=False),
    Column("pathway_sought", String(2), nullable=False),
    Column("incident_kind", String(20), nullable=False),
    Column("incident_date", Date, nullable=False),
    Column("aware_date", Date, nullable=True),
    Column("likely_notifiable", Boolean, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("referral", JSON, nullable=False),
    Column("panel_activity_id", String(200), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("vote_round", Integer, nullable=False, server_default="1"),
    Column("decision", JSON, nullable=True),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    # set when the case's identifiers were erased (bot/adapters/db/retention_store.py): the row is
    # then only the anonymised record (reference, dates, status, partners) kept for statistics
    Column("erased_at", UtcDateTime(), nullable=True),
    partial_index("uq_cases_open_pseudonym", "pseudonym", unique=True, where="closed_at IS NULL"),
    Index("ix_cases_status", "status"),
    # The open cases, for `status` (bot/adapters/db/deadline_store.py), read from this index alone:
    # without it SQLite reads each case row to its `closed_at`, past the referral's JSON.
    partial_index("ix_cases_open", *OPEN_CASES_COLUMNS, where=OPEN_CASE),
)

case_counters = Table(
    "case_counters",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=True, index=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("actor_aad_id", String(64), nullable=True),
    Column("actor_name", String(100), nullable=True),
    Column("detail", JSON, nullable=False),
    # where and in which turn (bot/domain/trace.py); empty for events before 0005 and outside a turn
    Column("correlation", String(16), nullable=True, index=True),
    Column("conversation_kind", String(20), nullable=True),
    Column("conversation_id", String(400), nullable=True),
    # the audit chain (bot/domain/audit_chain.py): the row before's hash and this row's
    Column("prev_hash", String(64), nullable=True),
    Column("row_hash", String(64), nullable=True),
)

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("role", String(30), nullable=False),
    Column("partner", String(30), nullable=True),
    Column("aad_object_id", String(64), nullable=True),
    Column("upn", String(200), nullable=True),
    Column("name", String(100), nullable=False),
    Column("organisation", String(100), nullable=True),
    Column("job_title", String(100), nullable=True),
    Column("mri", String(300), nullable=True),
    Column("source", String(20), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_members_aad", "aad_object_id"),
    Index("ix_members_upn", "upn"),
)

channels = Table(
    "channels",
    metadata,
    Column("purpose", String(30), primary_key=True),
    Column("conversation_id", String(300), nullable=False),
    Column("team_id", String(300), nullable=True),
    Column("channel_id", String(300), nullable=True),
    Column("service_url", String(300), nullable=False),
    Column("tenant_id", String(64), nullable=True),
    Column("bot_id", String(200), nullable=True),
    Column("bound_by", String(64), nullable=False),
    Column("bound_at", UtcDateTime(), nullable=False),
)

conversation_refs = Table(
    "conversation_refs",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("conversation_id", String(300), nullable=False),
    Column("service_url", String(300), nullable=False),
    Column("tenant_id", String(64), nullable=True),
    Column("bot_id", String(200), nullable=True),
    Column("user_id", String(300), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(50), nullable=False),
    Column("case_id", String(36), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("not_before", UtcDateTime(), nullable=False),
    Column("claimed_until", UtcDateTime(), nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Index("ix_outbox_due", "status", "not_before"),
)

# Each message the outbox sends, recorded (committed) as in doubt before it leaves and as sent
# once Teams answered with its activity id: after a crash in between, the send is reconciled
# (found in the channel and adopted, or re-sent once) instead of simply posted again.
outbox_sends = Table(
    "outbox_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("send_key", String(64), nullable=False),
    Column("outbox_id", Integer, nullable=True),
    Column("conversation_id", String(400), nullable=False),
    Column("state", String(20), nullable=False),
    Column("activity_id", String(300), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("send_key", name="uq_outbox_sends_send_key"),
)

votes = Table(
    "votes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False),
    Column("round", Integer, nullable=False),
    Column("partner", String(30), nullable=False),
    Column("choice", String(30), nullable=False),
    Column("rationale", Text, nullable=False),
    Column("serious_harm_basis", Text, nullable=True),
    Column("question", Text, nullable=True),
    Column("voter_aad_id", String(64), nullable=False),
    Column("voter_name", String(100), nullable=False),
    Column("organisation", String(100), nullable=True),
    Column("cast_at", UtcDateTime(), nullable=False),
    UniqueConstraint("case_id", "round", "partner", name="uq_votes_case_round_partner"),
)

queries = Table(
    "queries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("round", Integer, nullable=False),
    Column("partner", String(30), nullable=False),
    Column("asked_by_aad_id", String(64), nullable=False),
    Column("asked_by_name", String(100), nullable=False),
    Column("question", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("asked_at", UtcDateTime(), nullable=False),
    Column("answer", Text, nullable=True),
    Column("answered_at", UtcDateTime(), nullable=True),
)

case_anchors = Table(
    "case_anchors",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("anchor", String(40), primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("label", String(200), nullable=False),
    Column("owner", String(40), nullable=False),
    Column("anchor", String(40), nullable=False),
    Column("anchor_at", UtcDateTime(), nullable=True),
    Column("due_at", UtcDateTime(), nullable=True),
    Column("earliest_at", UtcDateTime(), nullable=True),
    Column("is_window", Boolean, nullable=False, server_default=text("false")),
    Column("asks_for_date", Boolean, nullable=False, server_default=text("false")),
    Column("records", String(40), nullable=True),
    Column("plan", JSON, nullable=False),
    Column("source", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", String(20), nullable=False),  # pending | open | done
    Column("next_reminder_at", UtcDateTime(), nullable=True),
    Column("last_reminder_at", UtcDateTime(), nullable=True),
    Column("done_at", UtcDateTime(), nullable=True),
    Column("done_on", Date, nullable=True),
    Column("done_by_aad_id", String(64), nullable=True),
    Column("done_by_name", String(100), nullable=True),
    UniqueConstraint("case_id", "step_id", name="uq_deadlines_case_step"),
    Index("ix_deadlines_next_reminder", "status", "next_reminder_at"),
    # `status`: each open case's next step, from this index alone (bot/adapters/db/deadline_store.py)
    partial_index("ix_deadlines_open_due", *OPEN_STEPS_COLUMNS, where=OPEN_STEP),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("deadline_id", Integer, nullable=True),
    Column("kind", String(20), nullable=False),
    Column("scheduled_for", UtcDateTime(), nullable=False),
    Column("delayed", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
)

agency_requests = Table(
    "agency_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("agency", String(100), nullable=False),
    Column("contact", String(200), nullable=True),
    Column("sent_at", UtcDateTime(), nullable=False),
    Column("returned_at", UtcDateTime(), nullable=True),
    Column("returned_by_name", String(100), nullable=True),
    UniqueConstraint("case_id", "agency", name="uq_agency_requests_case_agency"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("status", String(20), nullable=False),  # booking | booked | needs_chair | failed | cancelled | held
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("transaction_id", String(100), nullable=False),
    Column("event_id", String(400), nullable=True),
    Column("join_url", Text, nullable=True),
    Column("start_at", UtcDateTime(), nullable=True),
    Column("end_at", UtcDateTime(), nullable=True),
    Column("provider", String(20), nullable=False),
    Column("attendees", JSON, nullable=False),
    Column("options", JSON, nullable=True),
    Column("outcome", JSON, nullable=True),
    Column("last_error", String(400), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# What a case gathers after the panel's decision (bot/services/pathways.py): the hand-over,
# a challenge, who tells the family, each agency's information return, the practitioners
# invited to the meeting. One row per (case, kind, key); `data` is sealed under the case's key
# like every other text that names people (docs/data-protection.md).
case_records = Table(
    "case_records",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("kind", String(30), primary_key=True),
    Column("key", String(40), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# The rapid review report after the meeting (bot/domain/report.py): comments, the texts of the
# National Panel's copy, sign-offs, submissions and the National Panel's answers. `body` is
# sealed under the case's key (it holds texts written about the child's case); `version` makes
# every save a compare-and-set, so two comments saved at once are both kept.
reports = Table(
    "reports",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("stage", String(20), nullable=False),  # draft | sign_off | sent
    Column("round", Integer, nullable=False),
    Column("body", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One-time links to a file for one named person (the DPO's case export): the token itself is
# never stored, only its SHA-256, so a copy of the database cannot be used to fetch a file.
file_links = Table(
    "file_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("issued_to", String(64), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("fetched_at", UtcDateTime(), nullable=True),
    # How the file went (a one-time link, or Teams' file consent card into the person's OneDrive)
    # and what became of it: who received which file, for the retention purge to list.
    Column("via", String(10), nullable=False, server_default="link"),
    Column("outcome", String(10), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
)

# Legal holds a data protection officer placed on a case (a coroner's inquest, a criminal case, a
# complaint, other): while one is not lifted, neither the retention purge nor an erasure on
# request touches the case. Kinds only: no free text.
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("kind", String(30), nullable=False),
    Column("placed_at", UtcDateTime(), nullable=False),
    Column("placed_by_aad_id", String(64), nullable=False),
    Column("placed_by_name", String(100), nullable=False),
    Column("lifted_at", UtcDateTime(), nullable=True),
    Column("lifted_by_aad_id", String(64), nullable=True),
    Column("lifted_by_name", String(100), nullable=True),
)

# The erasure register: one row per erased case, written in the same transaction as the case's
# key destruction, and kept after it (it is the record that the case was erased, why and by
# whom). `reason` (an erasure on request) is sealed under the register's own key, never the
# case's; `plan` is what the dry run listed (message ids, the meeting, files handed to people);
# `result` what the outbox finished (tombstones, the meeting) once nothing is left to do.
erasures = Table(
    "erasures",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("reference", String(20), nullable=False, unique=True),
    Column("basis", String(20), nullable=False),  # retention | request
    Column("outcome", String(30), nullable=False),  # bot/domain/retention.py RetentionOutcome
    Column("reason", Text, nullable=True),
    Column("confirmed_by_aad_id", String(64), nullable=False),
    Column("confirmed_by_name", String(100), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("plan", JSON, nullable=False),
    Column("result", JSON, nullable=True),
)


# The local child safeguarding practice review (one per case) and what is recorded as it runs
# (bot/domain/review.py). Free text and names are sealed under the case's key: `setup` (lead
# reviewer, terms of reference, lines of enquiry, review panel), `learning`, `late_reason`,
# an entry's `note`, an action's `description` and `evidence`. Agency names and dates are not.
reviews = Table(
    "reviews",
    metadata,
    Column("case_id", String(36), primary_key=True),
    Column("setup", JSON, nullable=True),
    Column("agencies_asked", JSON, nullable=False),
    Column("learning", Text, nullable=True),
    Column("report_sent_on", Date, nullable=True),
    Column("published_on", Date, nullable=True),
    Column("late_reason", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by_name", String(100), nullable=True),
)

review_entries = Table(
    "review_entries",  # an agency's report received, or a progress check
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # agency_report | progress_check
    Column("agency", String(100), nullable=True),
    Column("on_time", Boolean, nullable=True),
    Column("note", Text, nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("recorded_by_name", String(100), nullable=False),
)

case_actions = Table(
    "case_actions",  # SMART actions from the meeting and the review, each with an owner and a due date
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("origin", String(20), nullable=False),
    Column("description", Text, nullable=False),
    Column("owner_agency", String(100), nullable=False),
    Column("owner_aad_id", String(64), nullable=False),
    Column("owner_name", String(100), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(20), nullable=False),  # open | done
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by_name", String(100), nullable=False),
    Column("done_at", UtcDateTime(), nullable=True),
    Column("done_by_name", String(100), nullable=True),
    Column("evidence", Text, nullable=True),
)

unreachable_people = Table(
    "unreachable_people",  # people Teams would not deliver to (403/404): their messages wait for them
    metadata,
    Column("aad_object_id", String(36), primary_key=True),
    Column("since", UtcDateTime(), nullable=False),
    Column("reason", String(100), nullable=False),
)

# Data keys (bot/adapters/db/case_keys.py): one per case (owner = the case id) and one per
# stored conversation state or other holder, each stored only wrapped by a master key that
# is never in the database. `destroyed_at` set and `wrapped` emptied: that owner's sealed
# values can never be opened again (crypto-shredding).
case_keys = Table(
    "case_keys",
    metadata,
    Column("key_id", String(36), primary_key=True),
    Column("owner", String(100), nullable=False, unique=True),
    Column("wrapped", Text, nullable=True),
    Column("master_key_id", String(200), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("destroyed_at", UtcDateTime(), nullable=True),
)

processed_activities = Table(
    "processed_activities",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("response", JSON, nullable=True),
)

bot_state = Table(
    "bot_state",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("data", JSON, nullable=False),
    Column("etag", String(40), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

__all__ = [
    "metadata",
    "cases",
    "case_counters",
    "events",
    "members",
    "channels",
    "conversation_refs",
    "outbox",
    "processed_activities",
    "bot_state",
    "votes",
    "queries",
    "case_anchors",
    "deadlines",
    "reminders",
    "agency_requests",
    "meetings",
    "reports",
    "file_links",
    "legal_holds",
    "erasures",
    "unreachable_people",
    "case_keys",
    "reviews",
    "review_entries",
    "case_actions",
    "UniqueConstraint",
    "Text",
]


referral_fingerprints = Table(
    # keyed hashes (HMAC-SHA256 under a key derived from the master key) of each child's name and
    # date of birth, with the incident date: a second referral of the same incident is flagged as a
    # likely duplicate without comparing identifiers in SQL (bot/services/duplicates.py); removed
    # when the case is erased
    "referral_fingerprints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(36), nullable=False, index=True),
    Column("incident_date", Date, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("case_id", "key_id", "fingerprint", name="uq_referral_fingerprints_case"),
    Index("ix_referral_fingerprints_match", "incident_date", "fingerprint"),
)
