"""In-memory implementations of every store port (bot/services/ports.py), for service
tests that need neither Teams nor a database.

Each fake follows the SQL store it stands in for (bot/adapters/db/*_store.py) method by
method: the same idempotency (outbox keys, reminder keys, agency requests), the same
refusals (`move` checks the lifecycle table and writes nothing when refused), the same
bookkeeping (`lock_case` and `move` bump the case's version), instants read back in UTC
and JSON columns round-tripped through `json` (a payload SQL could not store fails here
too). tests/integration/test_store_contract.py runs the same checks against both, so the
fakes cannot drift silently.

All stores share one `MemoryDatabase`. `MemoryUnitOfWork.begin()` snapshots its state
with `copy.deepcopy` and puts the snapshot back when the block raises: a use case that
fails half-way leaves nothing behind, as a rolled-back transaction would. Transactions
are taken one at a time (like SQLite's BEGIN IMMEDIATE); a nested `begin()` in the same
task is a programming error and raises instead of deadlocking.

Failure injection for atomicity tests: `uow.crash_after_writes(n)` arms the next
transaction so that its (n+1)-th write, in any store, raises `InjectedCrash`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.domain.case import Actor, Case, CaseSummary, choose_pseudonym, format_reference
from bot.domain.events import Event, EventKind
from bot.domain.lifecycle import CaseStatus, Mover, MoveRefused, check_move
from bot.domain.outbox import GATHERED, GATHERED_WITH
from bot.domain.partnership import Partner, Role
from bot.domain.referral import Referral
from bot.domain.report import Report
from bot.domain.timeline import Anchor, Deadline, is_statutory
from bot.domain.votes import Decision, Vote
from bot.services.ports import (
    ActionRecord,
    Address,
    AgencyRequest,
    DeadlineRow,
    LockedCase,
    MeetingRecord,
    MemberRecord,
    NewCase,
    OutboxItem,
    OutboxMessage,
    PanelState,
    QueryRecord,
    ReviewEntry,
    ReviewRecord,
    Roles,
    StatusRow,
)
from bot.services.refusals import IllegalMove


def utc(value: datetime | None) -> datetime | None:
    """What a UtcDateTime column gives back: the same instant, in UTC; naive is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: store aware datetimes only")
    return value.astimezone(UTC)


def as_json(value: Any) -> Any:
    """What a JSON column gives back (and fails where SQL would: datetimes, sets…)."""
    return None if value is None else json.loads(json.dumps(value))


def _value(item: Any) -> Any:
    return getattr(item, "value", item)


# ---- the shared state --------------------------------------------------------------------------


@dataclass
class MemoryState:
    """The tables. Rows are plain dicts (or frozen records), so a deepcopy is a snapshot."""

    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> row
    case_counters: dict[int, int] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    outbox: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> row
    members: dict[int, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversation_refs: dict[str, dict[str, Any]] = field(default_factory=dict)
    votes: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)
    queries: dict[int, dict[str, Any]] = field(default_factory=dict)
    anchors: dict[tuple[str, str], datetime] = field(default_factory=dict)
    deadlines: dict[int, dict[str, Any]] = field(default_factory=dict)
    reminders: dict[str, dict[str, Any]] = field(default_factory=dict)
    agency_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    case_records: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)  # case id -> (body, version)
    unreachable: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    reviews: dict[str, ReviewRecord] = field(default_factory=dict)
    review_entries: dict[int, ReviewEntry] = field(default_factory=dict)
    case_actions: dict[int, ActionRecord] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)  # autoincrement per table

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]


class MemoryDatabase:
    """One in-memory database: the state every store reads, and the one lock that
    serialises units of work."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None

    # conveniences for assertions
    def outbox_rows(self, case_id: str | None = None) -> list[dict[str, Any]]:
        rows = sorted(self.state.outbox.values(), key=lambda r: r["id"])
        return [dict(r) for r in rows if case_id is None or r["case_id"] == case_id]

    def outbox_keys(self, case_id: str | None = None) -> list[str]:
        return [r["key"] for r in self.outbox_rows(case_id)]

    def events(self, case_id: str | None = None, kind: EventKind | None = None) -> list[Event]:
        return [e for e in self.state.events
                if (case_id is None or e.case_id == case_id) and (kind is None or e.kind is kind)]


class _Store:
    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db

    @property
    def s(self) -> MemoryState:
        return self.db.state  # read on every call: a rollback replaces the state object


# ---- cases and events --------------------------------------------------------------------------


def _summary(row: dict[str, Any]) -> CaseSummary:
    return CaseSummary.model_validate({k: row[k] for k in CaseSummary.model_fields})


def _event_copy(event: Event) -> Event:
    """As the SQL store keeps it: the running turn's correlation id and conversation recorded."""
    event = event.stamped()
    return Event(kind=event.kind, at=utc(event.at), actor_aad_id=event.actor_aad_id, actor_name=event.actor_name,
                 case_id=event.case_id, detail=as_json(event.detail) or {}, correlation=event.correlation,
                 conversation_kind=event.conversation_kind, conversation_id=event.conversation_id)


def _enqueue(state: MemoryState, messages: Sequence[OutboxMessage], at: datetime) -> None:
    """INSERT … ON CONFLICT (key) DO NOTHING, for each message."""
    for message in messages:
        _insert_outbox(state, message, at)


def _insert_outbox(state: MemoryState, message: OutboxMessage, at: datetime, *, attempts: int = 0,
                   claimed_until: datetime | None = None) -> dict[str, Any] | None:
    if any(r["key"] == message.key for r in state.outbox.values()):
        return None
    row = {"id": state.next_id("outbox"), "key": message.key, "kind": str(_value(message.kind)),
           "case_id": message.case_id, "payload": as_json(message.payload), "status": message.status,
           "attempts": attempts, "not_before": utc(at), "claimed_until": utc(claimed_until), "created_at": utc(at),
           "sent_at": None, "last_error": None}
    state.outbox[row["id"]] = row
    return row


class MemoryCaseStore(_Store):
    def __init__(self, db: MemoryDatabase, rng: random.Random | None = None) -> None:
        super().__init__(db)
        self._rng = rng or random.Random(0)

    async def create_case(self, new: NewCase, event: Event, outbox: Sequence[OutboxMessage]
                          ) -> tuple[CaseSummary, bool]:
        for row in self.s.cases.values():
            if row["draft_id"] == new.draft_id:
                return _summary(row), False
        if new.id in self.s.cases:
            raise ValueError(f"duplicate case id {new.id}")
        number = self.s.case_counters.get(new.year, 0) + 1
        open_pseudonyms = {r["pseudonym"] for r in self.s.cases.values() if r["closed_at"] is None}
        pseudonym = choose_pseudonym(open_pseudonyms, self._rng)
        case = dict(new.case)
        row = {
            **case,
            "id": new.id, "draft_id": new.draft_id, "reference": format_reference(new.year, number),
            "pseudonym": pseudonym, "status": _value(case["status"]), "referral": as_json(new.referral),
            "received_at": utc(case["received_at"]), "aware_date": case.get("aware_date"),
            "updated_at": utc(case["received_at"]), "version": 1, "vote_round": 1, "decision": None,
            "decided_at": None, "panel_activity_id": None, "closed_at": None,
        }
        summary = _summary(row)  # validate before writing anything
        self.s.case_counters[new.year] = number
        self.s.cases[new.id] = row
        self.s.events.append(_event_copy(event.model_copy(update={"case_id": new.id})))
        _enqueue(self.s, outbox, case["received_at"])
        return summary, True

    def _case(self, row: dict[str, Any] | None) -> Case | None:
        if row is None:
            return None
        return Case(summary=_summary(row), referral=Referral.model_validate(row["referral"]),
                    aware_date=row["aware_date"], version=row["version"])

    def _by_reference(self, reference: str) -> dict[str, Any] | None:
        return next((r for r in self.s.cases.values() if r["reference"] == reference), None)

    async def get_case(self, reference: str) -> Case | None:
        return self._case(self._by_reference(reference))

    async def get_case_by_id(self, case_id: str) -> Case | None:
        return self._case(self.s.cases.get(case_id))

    async def get_summary_by_id(self, case_id: str) -> CaseSummary | None:
        row = self.s.cases.get(case_id)
        return _summary(row) if row else None

    async def summary_by_draft(self, draft_id: str) -> CaseSummary | None:
        row = next((r for r in self.s.cases.values() if r["draft_id"] == draft_id), None)
        return _summary(row) if row else None

    async def list_cases_for_referrer(self, aad_object_id: str, limit: int = 20) -> list[CaseSummary]:
        rows = [r for r in self.s.cases.values() if r["referrer_aad_id"] == aad_object_id]
        rows.sort(key=lambda r: r["received_at"], reverse=True)
        return [_summary(r) for r in rows[:limit]]

    async def match_fingerprints(self, case_id: str, incident_date: date, identities: Sequence[str],
                                 at: datetime) -> list[str]:
        prints = self.s.__dict__.setdefault("fingerprints", set())
        mine = {(incident_date, value) for value in identities}
        prints |= {(case_id, *m) for m in mine}
        earlier = {c for c, day, value in prints if c != case_id and (day, value) in mine}
        return sorted(earlier, key=lambda c: self.s.cases[c]["received_at"])

    async def received_in(self, year: int) -> list[CaseSummary]:
        rows = sorted(self.s.cases.values(), key=lambda r: (r["received_at"], r["reference"]))
        return [_summary(r) for r in rows if r["reference"].split("-")[1] == str(year)]

    async def correct_referral(self, case_id: str, referral: Referral, at: datetime) -> None:
        row = self.s.cases[case_id]
        row.update(referral=as_json(referral.model_dump(mode="json")), incident_date=referral.incident.incident_date,
                   aware_date=referral.incident.la_aware_date, version=row["version"] + 1, updated_at=utc(at))

    async def set_panel_activity(self, case_id: str, activity_id: str) -> None:
        if case_id in self.s.cases:
            self.s.cases[case_id]["panel_activity_id"] = activity_id

    async def panel_activity(self, case_id: str) -> str | None:
        row = self.s.cases.get(case_id)
        return row["panel_activity_id"] if row else None

    async def add_event(self, event: Event) -> None:
        self.s.events.append(_event_copy(event))

    async def events_for_case(self, case_id: str) -> list[Event]:
        return [e for e in self.s.events if e.case_id == case_id]

    async def move(self, case_id: str, target: CaseStatus, by: frozenset[Mover] | Mover, actor: Actor | None,
                   at: datetime, *, detail: dict[str, Any] | None = None,
                   outbox: Sequence[OutboxMessage] = (), expect: CaseStatus | None = None) -> CaseStatus:
        row = self.s.cases.get(case_id)
        if row is None:
            raise IllegalMove("That case could not be found.")
        source = CaseStatus(row["status"])
        try:
            if expect is not None and source is not expect:
                raise MoveRefused(f"The case is now {source.title.lower()}, so nothing was changed.")
            move = check_move(source, target, by)
        except MoveRefused as refused:
            raise IllegalMove(str(refused)) from refused
        event = _event_copy(Event(
            kind=EventKind.CASE_MOVED, at=at, actor_aad_id=actor.aad_object_id if actor else None,
            actor_name=actor.name if actor else "Rapid Review bot", case_id=case_id,
            detail={"from": source.value, "to": target.value, "why": move.why, **(detail or {})}))
        row.update(version=row["version"] + 1, updated_at=utc(at), status=target.value,
                   closed_at=None if target.is_open else utc(at))
        self.s.events.append(event)
        _enqueue(self.s, outbox, at)
        return source


# ---- the roster --------------------------------------------------------------------------------


def _member(row: dict[str, Any]) -> MemberRecord:
    return MemberRecord(role=Role(row["role"]), name=row["name"],
                        partner=Partner(row["partner"]) if row["partner"] else None,
                        aad_object_id=row["aad_object_id"], upn=row["upn"], organisation=row["organisation"],
                        job_title=row["job_title"], source=row["source"])


class MemoryRosterStore(_Store):
    async def seed_members(self, records: Sequence[MemberRecord], at: datetime) -> int:
        members = self.s.members
        existing = [r for r in members.values() if r["source"] == "config"]
        removed = {(r["role"], r["partner"], r["aad_object_id"], r["upn"])
                   for r in members.values() if r["source"] == "removed_in_teams"}
        wanted = {(r.role.value, r.partner.value if r.partner else None, r.aad_object_id, r.upn): r for r in records}
        have = {(r["role"], r["partner"], r["aad_object_id"], r["upn"]): r for r in existing}
        changed = 0
        for key, row in have.items():
            if key not in wanted and row["active"]:
                row.update(active=False, updated_at=utc(at))
                changed += 1
        for key, rec in wanted.items():
            if key in removed:
                continue
            row = have.get(key)
            values = {"name": rec.name, "organisation": rec.organisation, "job_title": rec.job_title,
                      "active": True, "updated_at": utc(at)}
            if row is None:
                new_id = self.s.next_id("members")
                members[new_id] = {"id": new_id, "role": key[0], "partner": key[1], "aad_object_id": key[2],
                                   "upn": key[3], "source": "config", "mri": None, **values}
                changed += 1
            elif not row["active"] or row["name"] != rec.name:
                row.update(values)
                changed += 1
        return changed

    async def roles_of(self, aad_object_id: str, *, channel: str | None = None) -> Roles:
        organisations: dict[Partner, str | None] = {}
        chair = manager = adviser = False
        for row in self.s.members.values():
            if row["aad_object_id"] != aad_object_id.lower() or not row["active"]:
                continue
            if row["role"] == Role.PANEL.value and row["partner"]:
                organisations[Partner(row["partner"])] = row["organisation"]
            chair |= row["role"] == Role.CHAIR.value
            manager |= row["role"] == Role.MANAGER.value
            adviser |= row["role"] == Role.ADVISER.value
        return Roles(aad_object_id=aad_object_id, panel_partners=frozenset(organisations), chair=chair,
                     manager=manager, adviser=adviser, organisations=organisations)

    async def bind_upn(self, upn: str, aad_object_id: str, at: datetime) -> bool:
        found = False
        for row in self.s.members.values():
            if row["upn"] == upn.lower() and row["aad_object_id"] is None:
                row.update(aad_object_id=aad_object_id.lower(), updated_at=utc(at))
                found = True
        return found

    async def has_unresolved_upns(self) -> bool:
        return any(r["aad_object_id"] is None and r["active"] for r in self.s.members.values())

    async def members(self, role: Role | None = None) -> list[MemberRecord]:
        rows = sorted(self.s.members.values(), key=lambda r: r["id"])
        return [_member(r) for r in rows if r["active"] and (role is None or r["role"] == role.value)]

    async def add_member(self, record: MemberRecord, mri: str | None, at: datetime) -> None:
        partner = record.partner.value if record.partner else None
        existing = next((r for r in self.s.members.values()
                         if r["aad_object_id"] == record.aad_object_id and r["role"] == record.role.value
                         and r["partner"] == partner), None)
        values = {"name": record.name, "upn": record.upn, "mri": mri, "active": True, "updated_at": utc(at)}
        if existing:
            existing.update(values)
            return
        new_id = self.s.next_id("members")
        self.s.members[new_id] = {"id": new_id, "role": record.role.value, "partner": partner,
                                  "aad_object_id": record.aad_object_id, "organisation": record.organisation,
                                  "job_title": record.job_title, "source": record.source, **values}

    async def remove_member(self, aad_object_id: str, at: datetime) -> int:
        count = 0
        for row in self.s.members.values():
            if row["aad_object_id"] == aad_object_id.lower() and row["active"]:
                row.update(active=False, updated_at=utc(at),
                           source="removed_in_teams" if row["source"] == "config" else row["source"])
                count += 1
        return count

    async def remember_mri(self, aad_object_id: str, mri: str, at: datetime) -> None:
        for row in self.s.members.values():
            if row["aad_object_id"] == aad_object_id and row["mri"] != mri:
                row.update(mri=mri, updated_at=utc(at))

    async def panel_mris(self) -> list[str]:
        found = {r["mri"] for r in self.s.members.values()
                 if r["role"] == Role.PANEL.value and r["active"] and r["mri"] is not None}
        return sorted(found)[:60]

    async def bind_channel(self, purpose: str, address: Address, team_id: str | None, channel_id: str | None,
                           actor: Actor, at: datetime) -> None:
        self.s.channels[purpose] = {"address": address, "team_id": team_id, "channel_id": channel_id,
                                    "bound_by": actor.aad_object_id, "bound_at": utc(at)}
        self.s.events.append(_event_copy(Event(
            kind=EventKind.PANEL_CHANNEL_BOUND, at=at, actor_aad_id=actor.aad_object_id, actor_name=actor.name,
            detail={"purpose": purpose, "team_id": team_id, "channel_id": channel_id})))

    async def channel(self, purpose: str) -> Address | None:
        row = self.s.channels.get(purpose)
        return row["address"] if row else None

    async def save_reference(self, key: str, address: Address, user_id: str | None, at: datetime) -> None:
        self.s.conversation_refs[key] = {"address": address, "user_id": user_id, "updated_at": utc(at)}

    async def reference(self, key: str) -> Address | None:
        row = self.s.conversation_refs.get(key)
        return row["address"] if row else None


# ---- the outbox --------------------------------------------------------------------------------


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(row["id"], row["key"], row["kind"], row["case_id"], copy.deepcopy(row["payload"]),
                      row["attempts"])


class MemoryOutboxStore(_Store):
    async def enqueue(self, messages: Sequence[OutboxMessage], at: datetime) -> None:
        _enqueue(self.s, messages, at)

    async def enqueue_claimed(self, message: OutboxMessage, at: datetime, lease_seconds: int) -> OutboxItem | None:
        row = _insert_outbox(self.s, message, at, attempts=1, claimed_until=at + timedelta(seconds=lease_seconds))
        return _item(row) if row else None

    async def claim(self, now: datetime, lease_seconds: int, limit: int, *,
                    addressed_only: bool = False) -> list[OutboxItem]:
        lease = utc(now + timedelta(seconds=lease_seconds))
        due = [r for r in sorted(self.s.outbox.values(), key=lambda r: r["id"])
               if r["status"] == "pending" and r["not_before"] <= now
               and (r["claimed_until"] is None or r["claimed_until"] < now)
               and (not addressed_only or r["payload"].get("to") is not None)][:limit]
        for row in due:
            row.update(claimed_until=lease, attempts=row["attempts"] + 1)
        return [_item(r) for r in due]

    async def done(self, item_id: int, at: datetime) -> None:
        self.shown(item_id, at)

    def shown(self, item_id: int, at: datetime) -> None:  # nothing to defer in memory
        if item_id in self.s.outbox:
            self.s.outbox[item_id].update(status="sent", sent_at=utc(at), claimed_until=None)

    async def gather(self, lead: OutboxItem, to: str, now: datetime, most: int,
                     mine: Collection[int] = ()) -> list[OutboxItem]:
        payload = self.s.outbox[lead.id]["payload"]
        if GATHERED_WITH in payload:
            return [lead, *(_item(self.s.outbox[i]) for i in payload[GATHERED_WITH])]
        taken = [r for r in sorted(self.s.outbox.values(), key=lambda r: r["id"])
                 if r["kind"] == lead.kind and r["status"] == "pending" and r["not_before"] <= now
                 and r["id"] != lead.id and r["payload"].get("to") == to and GATHERED_WITH not in r["payload"]
                 and (r["claimed_until"] is None or r["claimed_until"] < now or r["id"] in mine)][:max(0, most - 1)]
        for row in taken:
            row.update(status=GATHERED, claimed_until=None)
        payload[GATHERED_WITH] = [r["id"] for r in taken]
        return [lead, *(_item(r) for r in taken)]

    async def done_gathered(self, ids: Collection[int], at: datetime) -> None:
        for i in ids:
            if self.s.outbox.get(i, {}).get("status") == GATHERED:
                self.s.outbox[i].update(status="sent", sent_at=utc(at), claimed_until=None)

    async def retry(self, item_id: int, not_before: datetime, error: str, give_up: bool) -> None:
        if item_id in self.s.outbox:
            self.s.outbox[item_id].update(status="failed" if give_up else "pending", not_before=utc(not_before),
                                          claimed_until=None, last_error=error[:300])

    async def park(self, item_id: int, status: str, error: str) -> None:
        if item_id in self.s.outbox:
            self.s.outbox[item_id].update(status=status, claimed_until=None, last_error=error[:300])

    async def release(self, status: str, at: datetime) -> int:
        rows = [r for r in self.s.outbox.values() if r["status"] == status]
        for row in rows:
            row.update(status="pending", not_before=utc(at), claimed_until=None)
        return len(rows)

    async def count(self, status: str) -> int:
        return sum(1 for r in self.s.outbox.values() if r["status"] == status)

    async def mark_unreachable(self, aad_object_id: str, at: datetime, reason: str) -> bool:
        unreachable = self.s.unreachable
        if aad_object_id in unreachable:
            return False
        unreachable[aad_object_id] = (utc(at), reason)
        return True

    async def is_unreachable(self, aad_object_id: str) -> bool:
        return aad_object_id in self.s.unreachable

    async def reachable_again(self, aad_object_id: str, at: datetime) -> int | None:
        if self.s.unreachable.pop(aad_object_id, None) is None:
            return None
        rows = [r for r in self.s.outbox.values()
                if r["status"] == "waiting_person" and r["payload"].get("to") == aad_object_id]
        for row in rows:
            row.update(status="pending", not_before=utc(at), claimed_until=None)
        return len(rows)


# ---- the virtual panel -------------------------------------------------------------------------


def _vote(row: dict[str, Any]) -> Vote:
    return Vote.model_validate(row)


def _query(row: dict[str, Any]) -> QueryRecord:
    return QueryRecord(id=row["id"], case_id=row["case_id"], round=row["round"], partner=Partner(row["partner"]),
                       asked_by_aad_id=row["asked_by_aad_id"], asked_by_name=row["asked_by_name"],
                       question=row["question"], status=row["status"], asked_at=row["asked_at"],
                       answer=row["answer"])


class MemoryPanelTransaction(_Store):
    """The panel's tables inside a unit of work."""

    async def lock_case(self, reference: str, now: datetime) -> LockedCase | None:
        row = next((r for r in self.s.cases.values() if r["reference"] == reference), None)
        if row is None:
            return None
        row.update(version=row["version"] + 1, updated_at=utc(now))
        return LockedCase(row["id"], reference, CaseStatus(row["status"]), row["vote_round"], row["version"],
                          row["referrer_aad_id"], row["panel_activity_id"])

    async def votes(self, case_id: str, round_: int) -> dict[Partner, Vote]:
        return {Partner(k[2]): _vote(v) for k, v in self.s.votes.items() if k[0] == case_id and k[1] == round_}

    async def panel_state(self, case_id: str) -> PanelState:
        return await MemoryPanelStore(self.db).panel_state(case_id)

    async def save_vote(self, case_id: str, round_: int, vote: Vote, replace: bool) -> None:
        key = (case_id, round_, vote.partner.value)
        values = vote.model_dump(mode="json") | {"cast_at": utc(vote.cast_at)}
        if replace:
            if key in self.s.votes:
                self.s.votes[key] = values
        else:
            if key in self.s.votes:
                raise ValueError("UNIQUE constraint failed: votes.case_id, votes.round, votes.partner")
            self.s.votes[key] = values

    async def open_queries(self, case_id: str) -> list[QueryRecord]:
        return [_query(q) for q in sorted(self.s.queries.values(), key=lambda q: q["id"])
                if q["case_id"] == case_id and q["status"] == "open"]

    async def queries(self, case_id: str) -> list[QueryRecord]:
        return [_query(q) for q in sorted(self.s.queries.values(), key=lambda q: q["id"]) if q["case_id"] == case_id]

    async def query(self, query_id: int) -> QueryRecord | None:
        row = self.s.queries.get(query_id)
        return _query(row) if row else None

    async def add_query(self, case_id: str, round_: int, vote: Vote, now: datetime) -> int:
        query_id = self.s.next_id("queries")
        self.s.queries[query_id] = {
            "id": query_id, "case_id": case_id, "round": round_, "partner": vote.partner.value,
            "asked_by_aad_id": vote.voter_aad_id, "asked_by_name": vote.voter_name, "question": vote.question or "",
            "status": "open", "asked_at": utc(now), "answer": None, "answered_at": None}
        return query_id

    async def close_query(self, query_id: int, status: str, now: datetime, answer: str | None = None) -> None:
        if query_id in self.s.queries:
            self.s.queries[query_id].update(status=status, answer=answer, answered_at=utc(now))

    async def new_round(self, case_id: str) -> int:
        row = self.s.cases[case_id]
        row["vote_round"] += 1
        return row["vote_round"]

    async def record_decision(self, case_id: str, decision: Decision) -> None:
        row = self.s.cases.get(case_id)
        if row is not None and row["status"] == CaseStatus.REFERRED.value:
            row.update(decided_at=utc(decision.decided_at), decision=as_json(decision.model_dump(mode="json")))


class MemoryPanelStore(_Store):
    async def panel_state(self, case_id: str) -> PanelState:
        row = self.s.cases.get(case_id)
        if row is None:
            return PanelState(1, {}, None, [], 0)
        votes = {Partner(k[2]): _vote(v) for k, v in self.s.votes.items()
                 if k[0] == case_id and k[1] == row["vote_round"]}
        queries = [_query(q) for q in sorted(self.s.queries.values(), key=lambda q: q["id"])
                   if q["case_id"] == case_id]
        decision = Decision.model_validate(row["decision"]) if row["decision"] else None
        return PanelState(row["vote_round"], votes, decision, queries, row["version"])


# ---- the statutory clock -----------------------------------------------------------------------

_DEADLINE_FIELDS = [f for f in DeadlineRow.__dataclass_fields__]


def _deadline(row: dict[str, Any]) -> DeadlineRow:
    return DeadlineRow(**{f: copy.deepcopy(row[f]) for f in _DEADLINE_FIELDS})


class MemoryDeadlineStore(_Store):
    async def set_anchor(self, case_id: str, anchor: Anchor, at: datetime) -> None:
        self.s.anchors[(case_id, anchor.value)] = utc(at)

    async def clear_anchor(self, case_id: str, anchor: Anchor) -> None:
        self.s.anchors.pop((case_id, anchor.value), None)

    async def anchors(self, case_id: str) -> dict[Anchor, datetime]:
        return {Anchor(a): at for (c, a), at in self.s.anchors.items() if c == case_id}

    async def deadlines(self, case_id: str) -> list[DeadlineRow]:
        rows = sorted((r for r in self.s.deadlines.values() if r["case_id"] == case_id), key=lambda r: r["position"])
        return [_deadline(r) for r in rows]

    async def deadline(self, deadline_id: int) -> DeadlineRow | None:
        row = self.s.deadlines.get(deadline_id)
        return _deadline(row) if row else None

    async def deadlines_by_id(self, deadline_ids: Collection[int]) -> dict[int, DeadlineRow]:
        return {i: _deadline(self.s.deadlines[i]) for i in set(deadline_ids) if i in self.s.deadlines}

    async def sync(self, case_id: str, computed: Sequence[Deadline], next_reminders: dict[str, datetime | None],
                   keep_open: bool, superseded: Collection[str] = ()) -> None:
        existing = {r["step_id"]: r for r in self.s.deadlines.values() if r["case_id"] == case_id}
        for position, d in enumerate(computed):
            values: dict[str, Any] = {
                "label": d.label, "owner": d.owner.value, "anchor": d.anchor.value, "anchor_at": utc(d.anchor_at),
                "due_at": utc(d.due_at), "earliest_at": utc(d.earliest_at), "is_window": d.is_window,
                "asks_for_date": d.asks_for_date, "records": d.records.value if d.records else None,
                "plan": as_json(d.reminders.model_dump(mode="json")), "source": d.source, "position": position,
            }
            row = existing.pop(d.step_id, None)
            if row is not None and row["status"] == "done":
                row.update(values)
                continue
            status = ("superseded" if d.step_id in superseded else
                      "closed" if not keep_open else "pending" if d.due_at is None else "open")
            values |= {"status": status,
                       "next_reminder_at": utc(next_reminders.get(d.step_id)) if status == "open" else None}
            if row is None:
                new_id = self.s.next_id("deadlines")
                self.s.deadlines[new_id] = {"id": new_id, "case_id": case_id, "step_id": d.step_id,
                                            "last_reminder_at": None, "done_at": None, "done_on": None,
                                            "done_by_aad_id": None, "done_by_name": None, **values}
            else:
                row.update(values)
        for row in existing.values():
            if row["status"] != "done":
                del self.s.deadlines[row["id"]]

    async def due_for_reminder(self, now: datetime, limit: int) -> list[DeadlineRow]:
        rows = [r for r in self.s.deadlines.values()
                if r["status"] == "open" and r["next_reminder_at"] is not None and r["next_reminder_at"] <= now]
        rows.sort(key=lambda r: r["next_reminder_at"])
        return [_deadline(r) for r in rows[:limit]]

    async def record_reminder(self, deadline_id: int, key: str, kind: str, scheduled_for: datetime,
                              delayed: bool, now: datetime, next_at: datetime | None,
                              message: OutboxMessage | None, case_id: str) -> bool:
        created = False
        if message is not None and key not in self.s.reminders:
            self.s.reminders[key] = {"id": self.s.next_id("reminders"), "key": key, "case_id": case_id,
                                     "deadline_id": deadline_id, "kind": kind, "scheduled_for": utc(scheduled_for),
                                     "delayed": delayed, "created_at": utc(now), "sent_at": None}
            created = True
            _enqueue(self.s, [message], now)
        row = self.s.deadlines.get(deadline_id)
        if row is not None:
            row["next_reminder_at"] = utc(next_at)
            if message is not None:
                row["last_reminder_at"] = utc(scheduled_for)
        return created

    async def reminders_sent(self, keys: Sequence[str], at: datetime) -> None:
        for key in keys:
            if key in self.s.reminders:
                self.s.reminders[key]["sent_at"] = utc(at)

    async def reminders_for_case(self, case_id: str) -> list[dict[str, Any]]:
        rows = sorted((r for r in self.s.reminders.values() if r["case_id"] == case_id), key=lambda r: r["id"])
        return [dict(r) for r in rows]

    async def mark_done(self, deadline_id: int, at: datetime, done_on: date, aad: str, name: str) -> bool:
        row = self.s.deadlines.get(deadline_id)
        if row is None or row["status"] == "done":
            return False
        row.update(status="done", done_at=utc(at), done_on=done_on, done_by_aad_id=aad, done_by_name=name,
                   next_reminder_at=None)
        return True

    async def reopen(self, deadline_id: int) -> bool:
        row = self.s.deadlines.get(deadline_id)
        if row is None or row["status"] != "done":
            return False
        row.update(status="pending", done_at=None, done_on=None, done_by_aad_id=None, done_by_name=None,
                   next_reminder_at=None)
        return True

    async def close_case_reminders(self, case_id: str) -> None:
        for row in self.s.deadlines.values():
            if row["case_id"] == case_id and row["status"] == "open":
                row.update(status="closed", next_reminder_at=None)

    async def status_rows(self, limit: int) -> tuple[list[StatusRow], int]:
        open_cases = {c["id"]: c for c in self.s.cases.values() if c["closed_at"] is None}
        first: dict[str, dict[str, Any]] = {}
        for d in self.s.deadlines.values():
            if d["status"] != "open" or d["due_at"] is None or d["case_id"] not in open_cases:
                continue
            best = first.get(d["case_id"])
            if best is None or _status_rank(d) < _status_rank(best):
                first[d["case_id"]] = d
        dated = sorted(first.values(), key=lambda d: (d["due_at"], open_cases[d["case_id"]]["reference"]))[:limit]
        result = [StatusRow(open_cases[d["case_id"]]["reference"], open_cases[d["case_id"]]["pseudonym"],
                            open_cases[d["case_id"]]["status"], d["due_at"], d["label"],
                            is_statutory(d["records"])) for d in dated]
        if len(result) < limit:
            rest = sorted((c for c in open_cases.values() if c["id"] not in first), key=lambda c: c["reference"])
            result += [StatusRow(c["reference"], c["pseudonym"], c["status"], None, None)
                       for c in rest[:limit - len(result)]]
        return result, len(open_cases)

    async def case_records(self, case_id: str, kind: str) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for (c, kd, k), v in sorted(self.s.case_records.items()) if c == case_id and kd == kind}

    async def case_records_of_kind(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(c, k, dict(v)) for (c, kd, k), v in sorted(self.s.case_records.items()) if kd == kind]

    async def put_case_record(self, case_id: str, kind: str, key: str, data: dict[str, Any], at: datetime) -> None:
        self.s.case_records[(case_id, kind, key)] = as_json(data)

    async def add_agency_requests(self, case_id: str, requests: Sequence[tuple[str, str | None]],
                                  at: datetime) -> int:
        added = 0
        for agency, contact in requests:
            if any(r["case_id"] == case_id and r["agency"] == agency for r in self.s.agency_requests.values()):
                continue
            new_id = self.s.next_id("agency_requests")
            self.s.agency_requests[new_id] = {"id": new_id, "case_id": case_id, "agency": agency, "contact": contact,
                                              "sent_at": utc(at), "returned_at": None, "returned_by_name": None}
            added += 1
        return added

    async def agency_requests(self, case_id: str) -> list[AgencyRequest]:
        rows = sorted((r for r in self.s.agency_requests.values() if r["case_id"] == case_id), key=lambda r: r["id"])
        return [AgencyRequest(r["id"], r["agency"], r["contact"], r["sent_at"], r["returned_at"],
                              r["returned_by_name"]) for r in rows]

    async def mark_agency_returned(self, case_id: str, request_id: int, at: datetime, name: str) -> bool:
        row = self.s.agency_requests.get(request_id)
        if row is None or row["case_id"] != case_id or row["returned_at"] is not None:
            return False
        row.update(returned_at=utc(at), returned_by_name=name)
        return True


# ---- the meeting -------------------------------------------------------------------------------


class MemoryMeetingStore(_Store):
    async def get(self, case_id: str) -> MeetingRecord | None:
        row = self.s.meetings.get(case_id)
        if row is None:
            return None
        return MeetingRecord(**{k: copy.deepcopy(v) for k, v in row.items() if k != "updated_at"})

    async def save(self, record: MeetingRecord, at: datetime) -> None:
        self.s.meetings[record.case_id] = {
            "case_id": record.case_id, "status": record.status, "attempt": record.attempt,
            "transaction_id": record.transaction_id, "provider": record.provider, "event_id": record.event_id,
            "join_url": record.join_url, "start_at": utc(record.start_at), "end_at": utc(record.end_at),
            "attendees": as_json(record.attendees) or [], "options": as_json(record.options) or [],
            "outcome": as_json(record.outcome), "last_error": record.last_error, "updated_at": utc(at),
        }


# ---- the rapid review report ---------------------------------------------------------------------


class MemoryReportStore(_Store):
    async def get(self, case_id: str) -> tuple[Report, int] | None:
        row = self.s.reports.get(case_id)
        if row is None:
            return None
        return Report.model_validate(copy.deepcopy(row[0])), row[1]

    async def save(self, case_id: str, report: Report, at: datetime, expected_version: int | None) -> bool:
        row = self.s.reports.get(case_id)
        if (row is None) != (expected_version is None) or (row is not None and row[1] != expected_version):
            return False
        self.s.reports[case_id] = (as_json(report.model_dump(mode="json")), (expected_version or 0) + 1)
        return True


# ---- the local review, its entries and the actions ----------------------------------------------


class MemoryReviewStore(_Store):
    """The local review, its entries and the actions (bot/adapters/db/review_store.py), in memory."""

    async def review(self, case_id: str) -> ReviewRecord | None:
        return self.s.reviews.get(case_id)

    async def save_review(self, record: ReviewRecord, at: datetime, by_name: str) -> None:
        self.s.reviews[record.case_id] = replace(record, updated_at=utc(at), updated_by_name=by_name)

    async def entries(self, case_id: str) -> list[ReviewEntry]:
        return [e for _, e in sorted(self.s.review_entries.items()) if e.case_id == case_id]

    async def add_entry(self, case_id: str, kind: str, at: datetime, by_name: str, *, agency: str | None = None,
                        on_time: bool | None = None, note: str | None = None) -> int:
        entry_id = self.s.next_id("review_entries")
        self.s.review_entries[entry_id] = ReviewEntry(entry_id, case_id, kind, agency, on_time, note, utc(at), by_name)
        return entry_id

    async def actions(self, case_id: str) -> list[ActionRecord]:
        return [a for _, a in sorted(self.s.case_actions.items()) if a.case_id == case_id]

    async def action(self, action_id: int) -> ActionRecord | None:
        return self.s.case_actions.get(action_id)

    async def add_action(self, case_id: str, origin: str, description: str, owner_agency: str, owner_aad_id: str,
                         owner_name: str, due_on: date, at: datetime, by_name: str) -> int:
        action_id = self.s.next_id("case_actions")
        self.s.case_actions[action_id] = ActionRecord(action_id, case_id, origin, description, owner_agency,
                                                      owner_aad_id, owner_name, due_on, "open", utc(at), by_name)
        return action_id

    async def open_action_owners(self) -> list[tuple[int, str, str, str]]:
        return [(i, a.case_id, a.owner_aad_id, a.owner_name) for i, a in sorted(self.s.case_actions.items())
                if a.status == "open"]

    async def reassign_action(self, action_id: int, owner_aad_id: str, owner_name: str) -> bool:
        found = self.s.case_actions.get(action_id)
        if found is None or found.status != "open":
            return False
        self.s.case_actions[action_id] = replace(found, owner_aad_id=owner_aad_id, owner_name=owner_name)
        return True

    async def action_done(self, action_id: int, at: datetime, by_name: str, evidence: str) -> bool:
        found = self.s.case_actions.get(action_id)
        if found is None or found.status != "open":
            return False
        self.s.case_actions[action_id] = replace(found, status="done", done_at=utc(at), done_by_name=by_name,
                                                 evidence=evidence)
        return True


# ---- one unit of work --------------------------------------------------------------------------


class InjectedCrash(RuntimeError):
    """Raised by an armed unit of work (`crash_after_writes`): a crash mid-transaction."""


WRITES: dict[str, frozenset[str]] = {
    "cases": frozenset({"create_case", "set_panel_activity", "add_event", "move", "correct_referral",
                        "match_fingerprints"}),
    "roster": frozenset({"seed_members", "bind_upn", "add_member", "remove_member", "remember_mri", "bind_channel",
                         "save_reference"}),
    "outbox": frozenset({"enqueue", "enqueue_claimed", "claim", "done", "retry", "park", "release", "gather",
                         "done_gathered"}),
    "deadlines": frozenset({"set_anchor", "clear_anchor", "sync", "record_reminder", "reminders_sent", "mark_done",
                            "close_case_reminders", "add_agency_requests", "mark_agency_returned",
                            "put_case_record", "reopen"}),
    "meetings": frozenset({"save"}),
    "reports": frozenset({"save"}),
    "reviews": frozenset({"save_review", "add_entry", "add_action", "action_done", "reassign_action"}),
    "panel": frozenset({"lock_case", "save_vote", "add_query", "close_query", "new_round", "record_decision"}),
}


class _WriteCounter:
    """Counts the writes of one transaction; raises InjectedCrash at the armed one."""

    def __init__(self, crash_after: int | None) -> None:
        self.crash_after = crash_after
        self.writes: list[str] = []

    def write(self, name: str) -> None:
        if self.crash_after is not None and len(self.writes) >= self.crash_after:
            raise InjectedCrash(f"injected crash before write {len(self.writes) + 1} ({name}); "
                                f"done so far: {self.writes}")
        self.writes.append(name)


class _Counted:
    """A store seen through a transaction: its writes are counted (and may crash)."""

    def __init__(self, store: Any, store_name: str, counter: _WriteCounter) -> None:
        self._store = store
        self._name = store_name
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name not in WRITES[self._name] or not callable(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self._counter.write(f"{self._name}.{name}")
            return await attr(*args, **kwargs)

        return counted


@dataclass(frozen=True)
class MemoryTransaction:
    cases: Any
    roster: Any
    outbox: Any
    deadlines: Any
    meetings: Any
    panel: Any
    reports: Any
    reviews: Any


class MemoryUnitOfWork:
    """`begin()`: every store on the shared state; the state as it was restored when the
    block raises (a rollback), kept when it ends normally (a commit)."""

    def __init__(self, db: MemoryDatabase, cases: MemoryCaseStore, roster: MemoryRosterStore,
                 outbox: MemoryOutboxStore, deadlines: MemoryDeadlineStore, meetings: MemoryMeetingStore,
                 reports: MemoryReportStore | None = None, reviews: MemoryReviewStore | None = None) -> None:
        self.db = db
        self._stores = {"cases": cases, "roster": roster, "outbox": outbox, "deadlines": deadlines,
                        "meetings": meetings, "reports": reports or MemoryReportStore(db),
                        "reviews": reviews or MemoryReviewStore(db)}
        self._crash_after: int | None = None
        self.committed = 0
        self.rolled_back = 0
        self.last_writes: list[str] = []  # the writes of the last transaction, in order (committed or not)

    def crash_after_writes(self, count: int) -> None:
        """Arm the next transaction: its writes after the first `count` raise InjectedCrash."""
        self._crash_after = count

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[MemoryTransaction]:
        task = asyncio.current_task()
        if self.db.holder is not None and self.db.holder is task:
            raise RuntimeError("a unit of work was begun inside another one (it would deadlock on a database)")
        async with self.db.lock:
            self.db.holder = task
            counter = _WriteCounter(self._crash_after)
            self._crash_after = None
            snapshot = copy.deepcopy(self.db.state)
            stores = {name: _Counted(store, name, counter) for name, store in self._stores.items()}
            tx = MemoryTransaction(panel=_Counted(MemoryPanelTransaction(self.db), "panel", counter), **stores)
            try:
                yield tx
            except BaseException:
                self.db.state = snapshot
                self.rolled_back += 1
                raise
            else:
                self.committed += 1
            finally:
                self.last_writes = list(counter.writes)
                self.db.holder = None


@dataclass(frozen=True)
class MemoryStores:
    """The shape of bot.app.Stores, in memory (`turns` is the dialog storage, not used by
    the services)."""

    db: MemoryDatabase
    cases: MemoryCaseStore
    roster: MemoryRosterStore
    outbox: MemoryOutboxStore
    panel: MemoryPanelStore
    deadlines: MemoryDeadlineStore
    meetings: MemoryMeetingStore
    reports: MemoryReportStore
    uow: MemoryUnitOfWork
    reviews: MemoryReviewStore
    turns: None = None


def memory_stores(rng: random.Random | None = None) -> MemoryStores:
    db = MemoryDatabase()
    cases, roster, outbox = MemoryCaseStore(db, rng), MemoryRosterStore(db), MemoryOutboxStore(db)
    deadlines, meetings = MemoryDeadlineStore(db), MemoryMeetingStore(db)
    reports, reviews = MemoryReportStore(db), MemoryReviewStore(db)
    return MemoryStores(db=db, cases=cases, roster=roster, outbox=outbox, panel=MemoryPanelStore(db),
                        deadlines=deadlines, meetings=meetings, reports=reports, reviews=reviews,
                        uow=MemoryUnitOfWork(db, cases, roster, outbox, deadlines, meetings, reports, reviews))


__all__ = [
    "InjectedCrash", "MemoryCaseStore", "MemoryDatabase", "MemoryDeadlineStore", "MemoryMeetingStore",
    "MemoryOutboxStore", "MemoryPanelStore", "MemoryPanelTransaction", "MemoryReportStore", "MemoryReviewStore",
    "MemoryRosterStore", "MemoryStores",
    "MemoryTransaction", "MemoryUnitOfWork", "memory_stores",
]


def _status_rank(row: dict[str, Any]) -> tuple[int, datetime, int]:
    """As the SQL store ranks a case's open steps: statutory first, then by date."""
    return (0 if is_statutory(row["records"]) else 1, row["due_at"], row["position"])
