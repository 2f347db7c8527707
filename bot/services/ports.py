"""The ports the use cases talk through. Adapters implement them; the composition root
(bot/app.py) picks real or fake ones. Nothing here knows Teams, SQL or HTTP."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from bot.domain.case import Actor, Case, CaseSummary
from bot.domain.events import Event
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.partnership import Partner, Role
from bot.domain.referral import Referral
from bot.domain.report import Report
from bot.domain.retention import ErasureBasis, HoldKind, RetentionOutcome
from bot.domain.timeline import Anchor, Deadline
from bot.domain.votes import Decision, Vote

if TYPE_CHECKING:  # the views are built by the use cases, which themselves use these ports
    from bot.services.panel import PanelView
    from bot.services.pathways import PathwayMessage
    from bot.services.reminder_view import ReminderView
    from bot.services.report import ReportView


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime (UTC)."""
        ...


THREAD_MARK = ";messageid="  # a thread inside a channel: the channel's conversation id, then this


@dataclass(frozen=True)
class Address:
    """Where a proactive message goes: a stored Teams conversation."""

    conversation_id: str
    service_url: str
    tenant_id: str | None = None
    bot_id: str | None = None

    def in_thread(self, root_activity_id: str) -> Address:
        """The thread under one post of this channel: a message sent here is a reply to it
        (Teams' conversation id `<channel id>;messageid=<root post's id>`)."""
        return replace(self, conversation_id=f"{self.channel_id}{THREAD_MARK}{root_activity_id}")

    @property
    def channel_id(self) -> str:
        """The conversation without a thread's `;messageid=…`: the channel (or chat) itself."""
        return self.conversation_id.split(THREAD_MARK, 1)[0]

    @property
    def thread_root(self) -> str | None:
        """The root post's id when this is a thread in a channel."""
        _, mark, root = self.conversation_id.partition(THREAD_MARK)
        return root if mark else None


@dataclass(frozen=True)
class MemberRecord:
    role: Role
    name: str
    partner: Partner | None = None
    aad_object_id: str | None = None
    upn: str | None = None
    organisation: str | None = None
    job_title: str | None = None
    source: str = "config"


@dataclass(frozen=True)
class Roles:
    """What the partnership says a person may do. Looked up by Entra object id only."""

    aad_object_id: str
    panel_partners: frozenset[Partner] = frozenset()
    chair: bool = False
    manager: bool = False
    dpo: bool = False  # the data protection officer or a deputy: may export a case, nothing more
    adviser: bool = False  # an advisory ("other") member of the virtual panel: sees cases, does not vote
    organisations: dict[Partner, str | None] = field(default_factory=dict, compare=False)  # per partner role

    @property
    def may_see_identifiers(self) -> bool:
        return bool(self.panel_partners) or self.chair or self.manager or self.adviser


@dataclass(frozen=True)
class NewCase:
    """Everything a new case row needs except what the store allocates atomically
    (the reference number and the pseudonym)."""

    id: str
    draft_id: str
    year: int
    case: dict[str, Any]  # CaseSummary fields minus reference/pseudonym
    referral: dict[str, Any]


@dataclass(frozen=True)
class OutboxItem:
    id: int
    key: str
    kind: str
    case_id: str | None
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class OutboxMessage:
    key: str
    kind: str
    case_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"


class ActivityLog(Protocol):
    """Which activities an edge handled, with their stored answers (bot/adapters/db/turn_store.py):
    a state-changing activity Teams delivers twice has one effect and gets the same answer."""

    async def claim_activity(self, key: str, at: datetime) -> tuple[bool, Any]: ...
    async def remember_response(self, key: str, response: Any) -> None: ...
    async def release_activity(self, key: str) -> None: ...


class CaseStore(Protocol):
    """Cases and their audit events. Each method is one transaction, unless the store was
    bound to a unit of work (`UnitOfWork.begin`), whose transaction it then shares."""

    async def create_case(
        self, new: NewCase, event: Event, outbox: Sequence[OutboxMessage]
    ) -> tuple[CaseSummary, bool]:
        """Insert the case with a fresh reference and pseudonym; (existing, False) when
        this draft was already submitted."""
        ...

    async def get_case(self, reference: str) -> Case | None: ...
    async def get_case_by_id(self, case_id: str) -> Case | None: ...
    async def get_summary_by_id(self, case_id: str) -> CaseSummary | None: ...
    async def summary_by_draft(self, draft_id: str) -> CaseSummary | None: ...
    async def list_cases_for_referrer(self, aad_object_id: str, limit: int = 20) -> list[CaseSummary]: ...
    async def set_panel_activity(self, case_id: str, activity_id: str) -> None: ...

    async def match_fingerprints(self, case_id: str, incident_date: date, identities: Sequence[str],
                                 at: datetime) -> list[str]:
        """Keep keyed hashes of the case's `identities` (bot/domain/duplicates.py) with its incident
        date, and return the ids of other cases (not erased) with the same incident date and a
        matching hash, oldest first. Idempotent."""
        ...

    async def received_in(self, year: int) -> list[CaseSummary]:
        """Every case whose referral was received in `year` (erased ones too: their row keeps its
        reference, dates and status), oldest first."""
        ...

    async def correct_referral(self, case_id: str, referral: Referral, at: datetime) -> None:
        """Store the corrected referral (sealed) and the case row's dates from it; version + 1."""
        ...
    async def panel_activity(self, case_id: str) -> str | None: ...
    async def add_event(self, event: Event) -> None: ...
    async def events_for_case(self, case_id: str) -> list[Event]: ...

    async def move(self, case_id: str, target: CaseStatus, by: frozenset[Mover] | Mover, actor: Actor | None,
                   at: datetime, *, detail: dict[str, Any] | None = None,
                   outbox: Sequence[OutboxMessage] = (), expect: CaseStatus | None = None) -> CaseStatus:
        """The one writer of a case's status (bot/domain/lifecycle.py): status, timestamps,
        audit event and outbox together; IllegalMove, with nothing written, otherwise."""
        ...


class RosterStore(Protocol):
    """The roster, the bound channels, conversation references and Teams user ids."""

    async def seed_members(self, records: Sequence[MemberRecord], at: datetime) -> int: ...
    async def roles_of(self, aad_object_id: str, *, channel: str | None = None) -> Roles: ...
    async def bind_upn(self, upn: str, aad_object_id: str, at: datetime) -> bool: ...
    async def has_unresolved_upns(self) -> bool: ...
    async def members(self, role: Role | None = None) -> list[MemberRecord]: ...
    async def add_member(self, record: MemberRecord, mri: str | None, at: datetime) -> None: ...
    async def remove_member(self, aad_object_id: str, at: datetime) -> int: ...
    async def remember_mri(self, aad_object_id: str, mri: str, at: datetime) -> None: ...
    async def panel_mris(self) -> list[str]: ...

    async def bind_channel(
        self, purpose: str, address: Address, team_id: str | None, channel_id: str | None, actor: Actor, at: datetime
    ) -> None: ...
    async def channel(self, purpose: str) -> Address | None: ...

    async def save_reference(self, key: str, address: Address, user_id: str | None, at: datetime) -> None: ...
    async def reference(self, key: str) -> Address | None: ...


class OutboxStore(Protocol):
    async def enqueue(self, messages: Sequence[OutboxMessage], at: datetime) -> None: ...

    async def enqueue_claimed(self, message: OutboxMessage, at: datetime, lease_seconds: int) -> OutboxItem | None:
        """Enqueue a message already leased to this process, which delivers it as soon as
        the transaction commits; None if the key was already enqueued."""
        ...

    async def claim(self, now: datetime, lease_seconds: int, limit: int, *,
                    addressed_only: bool = False) -> list[OutboxItem]:
        """Lease up to `limit` due messages, oldest first; `addressed_only`: only those addressed
        to one person (`to` in the payload), the others left unleased for a later claim."""
    async def gather(self, lead: OutboxItem, to: str, now: datetime, most: int,
                     mine: Collection[int] = ()) -> list[OutboxItem]:
        """The lead and the other due rows of its kind for the same person, taken to go as one."""
        ...

    async def done_gathered(self, ids: Collection[int], at: datetime) -> None: ...
    async def done(self, item_id: int, at: datetime) -> None: ...
    def shown(self, item_id: int, at: datetime) -> None:
        """`done`, later and in bulk, for a card update already on its card (putting it on again is harmless)."""
    async def retry(self, item_id: int, not_before: datetime, error: str, give_up: bool) -> None: ...
    async def park(self, item_id: int, status: str, error: str) -> None: ...
    async def release(self, status: str, at: datetime) -> int: ...
    async def count(self, status: str) -> int: ...

    async def mark_unreachable(self, aad_object_id: str, at: datetime, reason: str) -> bool:
        """Record that Teams would not deliver to this person; True only when this is news
        (they were not already marked), which is when the managers are told."""
        ...

    async def is_unreachable(self, aad_object_id: str) -> bool: ...

    async def reachable_again(self, aad_object_id: str, at: datetime) -> int | None:
        """The person talked to the bot: clear the mark and make every message parked for them
        due now. None when they were not marked; otherwise how many messages were released."""
        ...


class AppInstaller(Protocol):
    """Installs the bot's Teams app for one person (Microsoft Graph), so that the bot can
    open a personal chat with someone who never opened it themselves."""

    async def install_for(self, aad_object_id: str) -> bool:
        """True when the app is installed for them now (or already was)."""
        ...


OUTBOX_LEASE_SECONDS = 60  # how long a claimed outbox message is this process's to deliver


@dataclass(frozen=True)
class SendRecord:
    """One message an outbox delivery sends to one conversation (bot/services/sends.py).
    `state` is "in_doubt" from before it leaves until Teams answers, "sent" after, and
    "resending" while the one re-send after a restart is itself in flight."""

    send_key: str
    conversation_id: str
    state: str
    activity_id: str | None = None


class SendLedger(Protocol):
    """Where each send is recorded, every write committed at once (never inside a unit of
    work: the record must survive the crash it is there for)."""

    async def get(self, send_key: str) -> SendRecord | None: ...
    async def begin(self, record: SendRecord, outbox_id: int | None, at: datetime) -> bool:
        """Record the send; False if it was recorded already (another delivery of the same message)."""
        ...
    async def mark(self, send_key: str, state: str, activity_id: str | None, at: datetime) -> None: ...
    async def forget(self, send_key: str) -> None: ...
    async def graph_channel(self, conversation_id: str) -> tuple[str, str] | None:
        """The (team id, channel id) Graph addresses a bound channel by, if it was bound
        with both; None for personal chats and for channels bound without them."""
        ...


class ChannelMessageError(Exception):
    """The channel's messages could not be read (Graph refused, failed or was unreachable).
    `lasting` when asking again will not help (no consent, no such team or channel)."""

    def __init__(self, reason: str, *, lasting: bool = False) -> None:
        super().__init__(reason)
        self.lasting = lasting


class ChannelMessageReader(Protocol):
    """A channel's recent messages, read back through Microsoft Graph with the app's
    resource-specific consent (ChannelMessage.Read.Group)."""

    async def find_sent(self, team_id: str, channel_id: str, send_key: str, reply_to: str | None = None) -> str | None:
        """The id of the recent message whose card carries `send_key`, or None; with
        `reply_to`, among the replies in that post's thread."""
        ...


@dataclass(frozen=True)
class LockedCase:
    """A case row taken for update inside a panel transaction."""

    id: str
    reference: str
    status: CaseStatus
    vote_round: int
    version: int
    referrer_aad_id: str
    panel_activity_id: str | None = None


@dataclass(frozen=True)
class QueryRecord:
    id: int
    case_id: str
    round: int
    partner: Partner
    asked_by_aad_id: str
    asked_by_name: str
    question: str
    status: str
    asked_at: datetime
    answer: str | None = None


class PanelTransaction(Protocol):
    """The panel's tables inside a unit of work (votes, queries, the decision)."""

    async def lock_case(self, reference: str, now: datetime) -> LockedCase | None: ...
    async def votes(self, case_id: str, round_: int) -> dict[Partner, Vote]: ...
    async def save_vote(self, case_id: str, round_: int, vote: Vote, replace: bool) -> None: ...
    async def open_queries(self, case_id: str) -> list[QueryRecord]: ...
    async def queries(self, case_id: str) -> list[QueryRecord]: ...
    async def query(self, query_id: int) -> QueryRecord | None: ...
    async def add_query(self, case_id: str, round_: int, vote: Vote, now: datetime) -> int: ...
    async def close_query(self, query_id: int, status: str, now: datetime, answer: str | None = None) -> None: ...
    async def new_round(self, case_id: str) -> int: ...
    async def record_decision(self, case_id: str, decision: Decision) -> None: ...
    async def panel_state(self, case_id: str) -> PanelState: ...


class PanelState(NamedTuple):
    """The panel's part of a case as one consistent read: what the voting card shows."""

    round: int
    votes: dict[Partner, Vote]
    decision: Decision | None
    queries: list[QueryRecord]
    version: int


class PanelStore(Protocol):
    async def panel_state(self, case_id: str) -> PanelState: ...


@dataclass
class DeliveryError(Exception):
    """Teams refused or failed. `retry_after` is Teams' own hint when it gave one;
    `permanent` when trying again cannot help (the outbox then gives up on the message);
    `unreachable` when Teams answered 403/404 for one person's chat (the app is not
    installed for them): their message waits for them (bot/services/recipients.py)."""

    reason: str
    retry_after: float | None = None
    permanent: bool = False
    unreachable: bool = False
    # Teams answered (an HTTP status, or the send was refused before it left): the message
    # certainly did not arrive. False when the answer was lost (timeout, dropped connection).
    answered: bool = False

    def __str__(self) -> str:
        return self.reason


class Notifier(Protocol):
    """Teams, as the use cases and the outbox see it. Implementations render the cards.
    Methods that return bool answer False when the person cannot be reached (not yet in
    personal chat with the bot); failures of Teams itself raise DeliveryError."""

    async def post_panel_card(self, channel: Address, view: PanelView) -> str:
        """Post the case's card to the panel channel; returns the activity id."""
        ...

    async def update_panel_card(self, channel: Address, activity_id: str, view: PanelView) -> None: ...
    async def send_query(self, aad_object_id: str, view: PanelView, query: QueryRecord) -> bool: ...
    async def send_decision(self, aad_object_id: str, view: PanelView) -> bool: ...
    async def post_answer_notice(self, channel: Address, view: PanelView, partner_title: str,
                                 redacted_answer: str) -> None: ...
    async def send_disagreement_prompt(self, aad_object_id: str, view: PanelView, hours: int) -> bool: ...
    async def post_reminder(self, channel: Address, view: ReminderView, *, escalation: bool = False) -> None: ...
    async def send_reminders(self, aad_object_id: str, views: Sequence[ReminderView]) -> bool: ...
    async def send_agency_prompt(self, aad_object_id: str, case: CaseSummary, agencies: list[str]) -> bool: ...
    async def send_meeting_message(self, kind: str, case: Case, record: MeetingRecord, channel: Address | None,
                                   recipients: list[str], payload: dict[str, Any]) -> bool: ...
    async def send_report_message(self, kind: str, view: ReportView, channel: Address | None, to: str | None,
                                  payload: dict[str, Any]) -> bool:
        """The rapid review report's messages: a status-only notice to the channel, or a card
        asking one person for comments or a sign-off (bot/services/report.py)."""
        ...

    async def notify_person(self, aad_object_id: str, notice: str, detail: dict[str, Any]) -> bool: ...
    async def send_pathway_message(self, aad_object_id: str, message: PathwayMessage) -> bool:
        """A card after the decision (bot/services/pathways.py) to one person's personal chat."""
        ...

    async def send_to_person(self, aad_object_id: str, card: dict[str, Any]) -> bool: ...
    async def send_duplicate_flag(self, aad_object_id: str, case: CaseSummary, first: CaseSummary) -> bool:
        """To a partnership manager: `case` may be a duplicate of `first` (cards/duplicate_cards.py)."""
        ...

    async def post_case_notice(self, channel: Address, case: CaseSummary, what: str) -> None:
        """A status-only line about a case in the panel channel (cards/correction_cards.py)."""
        ...
    async def send_file_consent(self, aad_object_id: str, offer: dict[str, Any]) -> bool:
        """Teams' file consent card for one file (`offer`: name, size, what, the one-time id),
        to the person's personal chat only (bot/services/delivery.py)."""
    async def send_retention_list(self, aad_object_id: str, plans: Sequence[ErasurePlan], more: int) -> bool:
        """The data protection officer's list of cases past their retention period (a dry run each)."""
        ...

    async def replace_with_tombstone(self, address: Address, activity_id: str) -> None:
        """Replace one of the bot's messages about an erased case with the tombstone card."""
        ...


# ---- the statutory clock ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineRow:
    id: int
    case_id: str
    step_id: str
    label: str
    owner: str
    anchor: str
    anchor_at: datetime | None
    due_at: datetime | None
    earliest_at: datetime | None
    is_window: bool
    asks_for_date: bool
    records: str | None
    plan: dict[str, Any]
    source: str
    position: int
    status: str  # pending | open | done | closed | superseded
    next_reminder_at: datetime | None
    last_reminder_at: datetime | None
    done_at: datetime | None
    done_on: date | None
    done_by_name: str | None


@dataclass(frozen=True)
class StatusRow:
    reference: str
    pseudonym: str
    status: str
    next_due_at: datetime | None
    next_label: str | None
    next_statutory: bool = False  # the step shown is a statutory one (ranked above local steps)


@dataclass(frozen=True)
class AgencyRequest:
    id: int
    agency: str
    contact: str | None
    sent_at: datetime
    returned_at: datetime | None
    returned_by_name: str | None


class DeadlineStore(Protocol):
    async def set_anchor(self, case_id: str, anchor: Anchor, at: datetime) -> None: ...
    async def anchors(self, case_id: str) -> dict[Anchor, datetime]: ...
    async def clear_anchor(self, case_id: str, anchor: Anchor) -> None: ...
    async def deadlines(self, case_id: str) -> list[DeadlineRow]: ...
    async def deadline(self, deadline_id: int) -> DeadlineRow | None: ...
    async def deadlines_by_id(self, deadline_ids: Collection[int]) -> dict[int, DeadlineRow]:
        """The rows of these ids that exist, read together (a backlog of reminders in one query)."""
    async def sync(self, case_id: str, computed: Sequence[Deadline], next_reminders: dict[str, datetime | None],
                   keep_open: bool, superseded: Collection[str] = ()) -> None:
        """Make the case's rows match `computed`, keeping what was done; the step ids in
        `superseded` are moot (status "superseded", no reminders)."""
    async def due_for_reminder(self, now: datetime, limit: int) -> list[DeadlineRow]: ...
    async def record_reminder(self, deadline_id: int, key: str, kind: str, scheduled_for: datetime,
                              delayed: bool, now: datetime, next_at: datetime | None,
                              message: OutboxMessage | None, case_id: str) -> bool: ...
    async def reminders_sent(self, keys: Sequence[str], at: datetime) -> None: ...
    async def mark_done(self, deadline_id: int, at: datetime, done_on: date, aad: str, name: str) -> bool: ...
    async def reopen(self, deadline_id: int) -> bool:
        """A done step is due again (the National Panel asked for more after a resubmission)."""
        ...

    async def status_rows(self, limit: int) -> tuple[list[StatusRow], int]: ...
    async def add_agency_requests(self, case_id: str, requests: Sequence[tuple[str, str | None]],
                                  at: datetime) -> int: ...
    async def agency_requests(self, case_id: str) -> list[AgencyRequest]: ...
    async def mark_agency_returned(self, case_id: str, request_id: int, at: datetime, name: str) -> bool: ...
    # What a case gathers after the decision (bot/services/pathways.py), sealed at rest.
    async def case_records(self, case_id: str, kind: str) -> dict[str, dict[str, Any]]: ...
    async def put_case_record(self, case_id: str, kind: str, key: str, data: dict[str, Any],
                              at: datetime) -> None: ...
    async def case_records_of_kind(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(case id, key, data) of every case's records of one kind, opened."""
        ...


# ---- the rapid review meeting -------------------------------------------------------------------


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    partner: Partner | None = None
    role: Role | None = None


@dataclass(frozen=True)
class CreatedEvent:
    event_id: str
    join_url: str | None


class MeetingError(Exception):
    """Booking failed. `retryable`: try again later (throttling, outage); otherwise the
    message tells the chair, in plain words, what to fix."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class MeetingProvider(Protocol):
    offline: bool

    async def busy(self, attendees: Sequence[Attendee], start: datetime, end: datetime
                   ) -> dict[str, list[tuple[datetime, datetime]] | None]:
        """Busy blocks per attendee e-mail; None where the calendar could not be read."""
        ...

    async def create_event(self, *, subject: str, body_html: str, start: datetime, end: datetime,
                           attendees: Sequence[Attendee], transaction_id: str) -> CreatedEvent: ...
    async def move_event(self, event_id: str, start: datetime, end: datetime) -> None: ...
    async def cancel_event(self, event_id: str, comment: str) -> None: ...
    async def scrub_event(self, event_id: str, subject: str, body_html: str) -> None:
        """Replace the event's subject and description (an erased case's meeting)."""
    async def set_attendees(self, event_id: str, attendees: Sequence[Attendee]) -> None:
        """Replace the event's attendees with `attendees` (every one of them: Graph replaces the list)."""
        ...


@dataclass(frozen=True)
class MeetingRecord:
    case_id: str
    status: str  # booking | booked | needs_chair | failed | cancelled | held
    attempt: int
    transaction_id: str
    provider: str
    event_id: str | None = None
    join_url: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    attendees: list[dict[str, Any]] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    last_error: str | None = None


class MeetingStore(Protocol):
    async def get(self, case_id: str) -> MeetingRecord | None: ...
    async def save(self, record: MeetingRecord, at: datetime) -> None: ...


# ---- the rapid review report ------------------------------------------------------------------------


class ReportStore(Protocol):
    """The case's rapid review report (bot/adapters/db/report_store.py), sealed at rest.
    `save` is a compare-and-set on the version read: False when someone saved in between."""

    async def get(self, case_id: str) -> tuple[Report, int] | None: ...
    async def save(self, case_id: str, report: Report, at: datetime, expected_version: int | None) -> bool: ...


# ---- records handed to one person ---------------------------------------------------------------


LINK = "link"  # FileLink.via: a one-time link, fetched in a browser
CONSENT = "consent"  # FileLink.via: Teams' file consent card, uploaded to the person's OneDrive


@dataclass(frozen=True)
class FileLink:
    """One file handed to one person: which file, for whom, how (`via`: a one-time link or a
    file consent card), until when, and what became of it. `fetched_at` is when the link was
    used or the consent card answered (either works once); `outcome` what happened then
    ("fetched", "accepted", "uploaded", "declined", "failed"), `delivered_at` when the file
    reached them."""

    case_id: str
    kind: str
    issued_to: str
    issued_at: datetime
    expires_at: datetime
    fetched_at: datetime | None = None
    via: str = LINK
    outcome: str | None = None
    delivered_at: datetime | None = None

    @property
    def received(self) -> bool:
        """Did the file reach the person (downloaded, or put in their OneDrive)?"""
        return self.delivered_at is not None


class FileLinkStore(Protocol):
    """One-time links and file consent offers (bot/adapters/db/file_link_store.py). Only the
    token's hash is kept; the token itself is in the person's chat and nowhere else."""

    async def issue(self, token_hash: str, link: FileLink) -> None: ...
    async def claim(self, token_hash: str, now: datetime) -> tuple[FileLink | None, str]:
        """A one-time link, marked fetched (and delivered), and "ok" — or None with why:
        "unknown", "used", "expired"."""
        ...

    async def answer(self, token_hash: str, person: str, answer: str, now: datetime) -> tuple[FileLink | None, str]:
        """A file consent offer answered ("accepted" or "declined") by `person`, once: the
        offer and "ok" — or the offer (None if there is none) with why not: "unknown",
        "not_yours", "used", "expired"."""
        ...

    async def settle(self, token_hash: str, outcome: str, now: datetime) -> None:
        """What became of an accepted offer: "uploaded" (delivered now) or "failed"."""
        ...

    async def deliveries_of(self, case_id: str) -> list[FileLink]:
        """Every file of the case offered or handed to anyone, oldest first: who received
        which file, when, and how (what a retention purge lists, as those copies are beyond
        the bot's reach)."""
        ...


@dataclass(frozen=True)
class CaseFile:
    """A generated file, in memory only: made when it is handed over, never kept."""

    name: str  # the case reference and what it is, never a child's identifier
    content: bytes
    content_type: str


class CaseFiles(Protocol):
    """The files a case's records can be handed over as (bot/teams/exports.py), made now."""

    async def make_partnership_file(self, subject: str, kind: str, for_person: str) -> CaseFile | None:
        """A file about no one case (bot/services/export.py, PARTNERSHIP_FILES); None if none."""
        ...

    async def make(self, case: Case, kind: str, for_person: str) -> CaseFile | None:
        """The file, or None when there is nothing to make yet (no outcome, no record)."""
        ...


# ---- the local review, actions and learning (bot/domain/review.py) ------------------------------


@dataclass(frozen=True)
class ReviewRecord:
    """A case's local child safeguarding practice review, as recorded so far."""

    case_id: str
    setup: dict[str, Any] | None  # ReviewSetup as JSON: lead reviewer, terms, lines of enquiry, panel
    agencies_asked: list[str]
    learning: str | None
    report_sent_on: date | None
    published_on: date | None
    late_reason: str | None
    updated_at: datetime | None = None
    updated_by_name: str | None = None


@dataclass(frozen=True)
class ReviewEntry:
    id: int
    case_id: str
    kind: str  # agency_report | progress_check
    agency: str | None
    on_time: bool | None
    note: str | None
    recorded_at: datetime
    recorded_by_name: str


@dataclass(frozen=True)
class ActionRecord:
    id: int
    case_id: str
    origin: str
    description: str
    owner_agency: str
    owner_aad_id: str
    owner_name: str
    due_on: date
    status: str  # open | done
    created_at: datetime
    created_by_name: str
    done_at: datetime | None = None
    done_by_name: str | None = None
    evidence: str | None = None


class ReviewStore(Protocol):
    async def review(self, case_id: str) -> ReviewRecord | None: ...
    async def save_review(self, record: ReviewRecord, at: datetime, by_name: str) -> None: ...
    async def entries(self, case_id: str) -> list[ReviewEntry]: ...
    async def add_entry(self, case_id: str, kind: str, at: datetime, by_name: str, *, agency: str | None = None,
                        on_time: bool | None = None, note: str | None = None) -> int: ...
    async def actions(self, case_id: str) -> list[ActionRecord]: ...
    async def action(self, action_id: int) -> ActionRecord | None: ...
    async def add_action(self, case_id: str, origin: str, description: str, owner_agency: str, owner_aad_id: str,
                         owner_name: str, due_on: date, at: datetime, by_name: str) -> int: ...
    async def action_done(self, action_id: int, at: datetime, by_name: str, evidence: str) -> bool:
        """False when it was already done (nothing written)."""
        ...

    async def open_action_owners(self) -> list[tuple[int, str, str, str]]:
        """(action id, case id, owner's Entra id, owner's name) of every open action."""
        ...

    async def reassign_action(self, action_id: int, owner_aad_id: str, owner_name: str) -> bool:
        """Give an open action to a new owner; False when it is done (nothing written)."""
        ...


class CaseRecords(Protocol):
    """Everything stored about one case, table by table, as plain JSON values
    (bot/adapters/db/case_export.py): what a data protection officer's export holds."""

    async def rows_of(self, case_id: str) -> dict[str, list[dict[str, Any]]]: ...


# ---- retention, erasure and legal holds ------------------------------------------------------------


@dataclass(frozen=True)
class BotMessage:
    """A message the bot sent about a case whose Teams activity id it knows."""

    conversation_id: str
    activity_id: str
    what: str  # "panel card" | "channel message" | "personal message"
    address: Address | None  # None: the conversation is no longer known (it cannot be replaced)


@dataclass(frozen=True)
class DeliveredFile:
    """A file about the case handed to one person (a one-time link, or a file delivered to their
    OneDrive): once fetched it is beyond the bot's reach."""

    kind: str
    issued_to: str  # the person's Entra object id
    issued_at: datetime
    fetched_at: datetime | None
    how: str = "one-time link"


@dataclass(frozen=True)
class HoldRecord:
    id: int
    case_id: str
    kind: HoldKind
    placed_at: datetime
    placed_by_name: str
    lifted_at: datetime | None = None
    lifted_by_name: str | None = None
    reference: str = ""


@dataclass(frozen=True)
class ClosedCase:
    id: str
    reference: str
    closed_at: datetime
    outcome: RetentionOutcome


@dataclass(frozen=True)
class ErasurePlan:
    """The dry run: what erasing the case would do, read from the database as it is now."""

    case_id: str
    reference: str
    status: CaseStatus
    outcome: RetentionOutcome
    received_at: datetime
    closed_at: datetime | None
    due_on: date | None  # the first day past its retention period (None: not closed, never due)
    messages: list[BotMessage]
    meeting_event_id: str | None  # the Graph event, when there is one
    meeting_start: datetime | None
    meeting_action: str | None  # "cancel" (still to come) | "scrub" (held or cancelled) | None
    files: list[DeliveredFile]
    holds: list[HoldRecord]  # the holds not lifted
    reminders: int  # reminder rows that go
    outbox_rows: int  # the case's outbox rows that go (sent and unsent)

    @property
    def held(self) -> bool:
        return bool(self.holds)


@dataclass(frozen=True)
class ErasureRecord:
    """A row of the erasure register (kept after the erasure)."""

    case_id: str
    reference: str
    basis: ErasureBasis
    outcome: RetentionOutcome
    confirmed_by_name: str
    started_at: datetime
    finished_at: datetime | None
    plan: dict[str, Any]
    result: dict[str, Any] | None = None


class HeldRefused(Exception):
    """The case has a legal hold that is not lifted: nothing was erased."""


class RetentionStore(Protocol):
    """Retention, erasure and legal holds (bot/adapters/db/retention_store.py)."""

    async def case_id_of(self, reference: str) -> str | None:
        """The case's id, erased or not."""
        ...

    async def closed_cases(self) -> list[ClosedCase]:
        """Every closed case not yet erased, with how it ended."""
        ...

    async def plan(self, case_id: str, now: datetime) -> ErasurePlan | None: ...
    async def delivered_files(self, case_id: str) -> list[DeliveredFile]:
        """Every file about the case handed to a person (the one store method that reads them)."""
        ...

    async def erasure(self, case_id: str) -> ErasureRecord | None: ...
    async def erase(self, case_id: str, basis: ErasureBasis, reason: str | None, actor: Actor, now: datetime,
                    finish: Callable[[ErasurePlan], tuple[Sequence[OutboxMessage], Event]]
                    ) -> tuple[ErasureRecord, ErasurePlan] | None:
        """In one transaction: the dry run read again under the case's lock, the register's row,
        the case's key destroyed, every plain text and identifier of the case cleared, its
        reminders and outbox rows removed, and what `finish(plan)` gives — the outbox rows that
        finish the job (the tombstones, the meeting) and the audit event — written. None (nothing
        written) when the case was erased already; HeldRefused when a hold is on it."""
        ...

    async def late_messages(self, case_id: str) -> list[BotMessage]:
        """Messages about an erased case that were already on their way when it was erased (sent
        by another process just after): found in the send ledger by the erased outbox rows' ids."""
        ...

    async def forget_late_sends(self, case_id: str) -> int:
        """Delete those send-ledger rows (once their tombstones are in the outbox)."""
        ...

    async def unfinished_erasures(self) -> list[ErasureRecord]: ...
    async def finish_erasure(self, case_id: str, now: datetime) -> ErasureRecord | None:
        """Mark the erasure finished when none of its outbox rows is still to be delivered;
        None while some are."""
        ...

    async def place_hold(self, case_id: str, kind: HoldKind, actor: Actor, now: datetime, event: Event) -> bool:
        """False when a hold of that kind is already on the case (nothing written)."""
        ...

    async def lift_holds(self, case_id: str, actor: Actor, now: datetime, event: Event) -> int:
        """Lift every hold on the case; how many were lifted (0: nothing written)."""
        ...

    async def active_holds(self) -> list[HoldRecord]: ...


# ---- one unit of work ---------------------------------------------------------------------------


class Transaction(Protocol):
    """Every store, bound to one database transaction: committed together when the block
    ends, rolled back together on any exception. Read-only: a transaction's stores are fixed."""

    @property
    def cases(self) -> CaseStore: ...
    @property
    def roster(self) -> RosterStore: ...
    @property
    def outbox(self) -> OutboxStore: ...
    @property
    def deadlines(self) -> DeadlineStore: ...
    @property
    def meetings(self) -> MeetingStore: ...
    @property
    def panel(self) -> PanelTransaction: ...
    @property
    def reports(self) -> ReportStore: ...
    @property
    def reviews(self) -> ReviewStore: ...


class UnitOfWork(Protocol):
    def begin(self) -> AbstractAsyncContextManager[Transaction]: ...
