"""Cases and their audit events (SQLAlchemy Core, async).

Concurrency rules that matter here:
- Reference numbers come from one atomic upsert on `case_counters` inside the same
  transaction as the case insert, so two submissions never share a number.
- Pseudonyms are unique among open cases by a partial unique index; a clash (two
  submissions picking the same free letter at once) is retried with another letter.
- A case's status changes only through `move` (bot/domain/lifecycle.py), which takes the
  row, checks the move, and writes status, timestamps, event and outbox in one go.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.outbox_store import enqueue_in
from bot.adapters.db.scope import Scope, aware
from bot.domain import audit_chain
from bot.domain.case import Actor, Case, CaseSummary, choose_pseudonym, format_reference
from bot.domain.events import Event, EventKind
from bot.domain.lifecycle import CaseStatus, Mover, MoveRefused, check_move
from bot.domain.referral import Referral
from bot.services.ports import NewCase, OutboxMessage
from bot.services.refusals import IllegalMove

_SUMMARY_COLUMNS = [
    t.cases.c.id,
    t.cases.c.reference,
    t.cases.c.pseudonym,
    t.cases.c.status,
    t.cases.c.pathway_sought,
    t.cases.c.incident_kind,
    t.cases.c.incident_date,
    t.cases.c.referring_agency,
    t.cases.c.likely_notifiable,
    t.cases.c.received_at,
    t.cases.c.referrer_aad_id,
    t.cases.c.referrer_name,
]


def _summary(row: Any) -> CaseSummary:
    return CaseSummary.model_validate(
        {
            "id": row.id,
            "reference": row.reference,
            "pseudonym": row.pseudonym,
            "status": row.status,
            "pathway_sought": row.pathway_sought,
            "incident_kind": row.incident_kind,
            "incident_date": row.incident_date,
            "referring_agency": row.referring_agency,
            "likely_notifiable": row.likely_notifiable,
            "received_at": aware(row.received_at),
            "referrer_aad_id": row.referrer_aad_id,
            "referrer_name": row.referrer_name,
        }
    )



REFERRALS_KEPT = 256
REFERRAL_FIELD = "cases.referral"  # the sealed referral's field name (bot/adapters/envelope.py)

# Statements run on every turn are built once: SQLAlchemy then reuses their cache key and
# compiled form instead of rebuilding the expression per call (the performance work's profile).
_CASE_COLUMNS = (*_SUMMARY_COLUMNS, t.cases.c.aware_date, t.cases.c.version, t.cases.c.erased_at)
_CASE_BY_REFERENCE = select(*_CASE_COLUMNS).where(t.cases.c.reference == bindparam("b_ref"))
_CASE_BY_ID = select(*_CASE_COLUMNS).where(t.cases.c.id == bindparam("b_id"))
_REFERRAL_OF = select(t.cases.c.referral).where(t.cases.c.id == bindparam("b_id"))
_PANEL_ACTIVITY = select(t.cases.c.panel_activity_id).where(t.cases.c.id == bindparam("b_id"))
_INSERT_EVENT = insert(t.events)
_CHAIN_HEAD = select(t.events.c.row_hash).order_by(t.events.c.id.desc()).limit(1)
# One PostgreSQL advisory lock, held to the end of the writing transaction, so audit rows are
# chained one at a time across every process (SQLite's BEGIN IMMEDIATE already serialises).
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(7370113)")


async def add_event_in(conn: AsyncConnection, event: Event) -> None:
    """The one INSERT of an audit event, shared by every store that records one; it records
    the running turn's correlation id and conversation (bot/domain/trace.py), and chains the
    row to the one before it (bot/domain/audit_chain.py)."""
    event = event.stamped()
    row = {
        "case_id": event.case_id,
        "at": event.at,
        "kind": event.kind.value,
        "actor_aad_id": event.actor_aad_id,
        "actor_name": event.actor_name,
        "detail": event.detail,
        "correlation": event.correlation,
        "conversation_kind": event.conversation_kind,
        "conversation_id": event.conversation_id,
    }
    if conn.dialect.name == "postgresql":
        await conn.execute(_CHAIN_LOCK)
    prev = (await conn.execute(_CHAIN_HEAD)).scalar_one_or_none() or audit_chain.GENESIS
    await conn.execute(_INSERT_EVENT, {**row, "prev_hash": prev, "row_hash": audit_chain.row_hash(row, prev)})


class ReferralCache:
    """Parsing a referral's JSON into the pydantic model was a measurable part of every card
    render, so recent ones are kept (one per process, shared by every scope). A submitted
    referral changes only by a correction of its dates (bot/services/corrections.py), which
    also writes the case row's `incident_date` and `aware_date`: a kept referral whose dates
    differ from the row's was corrected by another process and is read again."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, Referral] = OrderedDict()

    def get(self, case_id: str, dates: tuple[Any, Any] | None = None) -> Referral | None:
        referral = self._kept.get(case_id)
        if referral is not None and dates is not None and (
                (referral.incident.incident_date, referral.incident.la_aware_date) != dates):
            self._kept.pop(case_id, None)  # corrected elsewhere
            return None
        if referral is not None:
            self._kept.move_to_end(case_id)
        return referral

    def forget(self, case_id: str) -> None:
        self._kept.pop(case_id, None)

    def put(self, case_id: str, referral: Referral) -> Referral:
        self._kept[case_id] = referral
        if len(self._kept) > REFERRALS_KEPT:
            self._kept.popitem(last=False)
        return referral


class SqlCaseStore:
    def __init__(self, scope: Scope, referrals: ReferralCache, rng: random.Random | None = None) -> None:
        self.scope = scope
        self._referrals = referrals
        self._rng = rng or random.SystemRandom()

    def bound(self, scope: Scope) -> SqlCaseStore:
        return SqlCaseStore(scope, self._referrals, self._rng)

    async def create_case(
        self, new: NewCase, event: Event, outbox: Sequence[OutboxMessage]
    ) -> tuple[CaseSummary, bool]:
        for _attempt in range(8):
            try:
                async with self.scope.write() as conn:
                    existing = await self._case_by_draft(conn, new.draft_id)
                    if existing is not None:
                        return existing, False
                    reference = format_reference(new.year, await self._next_number(conn, new.year))
                    pseudonym = choose_pseudonym(await self._open_pseudonyms(conn), self._rng)
                    # the case's data key is made here, in the case's own transaction
                    sealer = await self.scope.db.keyring.sealer(conn, new.id)
                    await conn.execute(
                        insert(t.cases).values(
                            id=new.id,
                            draft_id=new.draft_id,
                            reference=reference,
                            pseudonym=pseudonym,
                            referral=sealer.json(REFERRAL_FIELD, new.referral),
                            updated_at=new.case["received_at"],
                            version=1,
                            **new.case,
                        )
                    )
                    await add_event_in(conn, event.model_copy(update={"case_id": new.id}))
                    await enqueue_in(conn, outbox, new.case["received_at"])
                    summary = await self._summary_by_id(conn, new.id)
                    assert summary is not None
                    return summary, True
            except IntegrityError:
                # Another submission took the same pseudonym (or the same draft) at the
                # same moment: the transaction rolled back whole; try again.
                continue
        raise RuntimeError("could not allocate a case reference and pseudonym")

    async def _case_by_draft(self, conn: AsyncConnection, draft_id: str) -> CaseSummary | None:
        row = (await conn.execute(select(*_SUMMARY_COLUMNS).where(t.cases.c.draft_id == draft_id))).first()
        return _summary(row) if row else None

    async def _next_number(self, conn: AsyncConnection, year: int) -> int:
        stmt = self.scope.insert(t.case_counters).values(year=year, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.case_counters.c.year], set_={"last": t.case_counters.c.last + 1}
        ).returning(t.case_counters.c.last)
        return int((await conn.execute(stmt)).scalar_one())

    async def _open_pseudonyms(self, conn: AsyncConnection) -> set[str]:  # open: closed_at IS NULL (lifecycle)
        rows = await conn.execute(select(t.cases.c.pseudonym).where(t.cases.c.closed_at.is_(None)))
        return {r.pseudonym for r in rows}

    async def _summary_by_id(self, conn: AsyncConnection, case_id: str) -> CaseSummary | None:
        row = (await conn.execute(select(*_SUMMARY_COLUMNS).where(t.cases.c.id == case_id))).first()
        return _summary(row) if row else None

    async def get_case(self, reference: str) -> Case | None:
        return await self._get_case(_CASE_BY_REFERENCE, {"b_ref": reference})

    async def get_case_by_id(self, case_id: str) -> Case | None:
        return await self._get_case(_CASE_BY_ID, {"b_id": case_id})

    async def _get_case(self, query: Any, params: dict[str, Any]) -> Case | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(query, params)).first()
            if row is None:
                return None
            if row.erased_at is not None:  # only the anonymised record is left (bot/adapters/db/retention_store.py)
                self._referrals.forget(row.id)  # another process's erasure: never served from memory
                return None
            referral = self._referrals.get(row.id, (row.incident_date, row.aware_date))
            if referral is None:
                data = (await conn.execute(_REFERRAL_OF, {"b_id": row.id})).scalar_one()
                data = await self.scope.db.keyring.open_json(conn, row.id, REFERRAL_FIELD, data)
                referral = self._referrals.put(row.id, Referral.model_validate(data))
        return Case(summary=_summary(row), referral=referral, aware_date=row.aware_date, version=row.version)

    async def summary_by_draft(self, draft_id: str) -> CaseSummary | None:
        async with self.scope.read() as conn:
            return await self._case_by_draft(conn, draft_id)

    async def get_summary_by_id(self, case_id: str) -> CaseSummary | None:
        async with self.scope.read() as conn:
            return await self._summary_by_id(conn, case_id)

    async def list_cases_for_referrer(self, aad_object_id: str, limit: int = 20) -> list[CaseSummary]:
        async with self.scope.read() as conn:
            rows = await conn.execute(
                select(*_SUMMARY_COLUMNS)
                .where(t.cases.c.referrer_aad_id == aad_object_id)
                .order_by(t.cases.c.received_at.desc())
                .limit(limit)
            )
            return [_summary(r) for r in rows]

    async def match_fingerprints(self, case_id: str, incident_date: date, identities: Sequence[str],
                                 at: datetime) -> list[str]:
        f = t.referral_fingerprints
        async with self.scope.write() as conn:
            keys = await self.scope.db.keyring.fingerprint_keys(conn)
            hashes = [(key_id, hmac.new(key, value.encode(), hashlib.sha256).hexdigest())
                      for value in identities for key_id, key in keys]
            current = keys[0][0]
            for key_id, fingerprint in hashes:
                if key_id == current:  # kept under the current key only; older keys only match
                    await conn.execute(self.scope.insert(f).values(
                        case_id=case_id, incident_date=incident_date, key_id=key_id, fingerprint=fingerprint,
                        created_at=at).on_conflict_do_nothing(
                        index_elements=[f.c.case_id, f.c.key_id, f.c.fingerprint]))
            if not hashes:
                return []
            rows = await conn.execute(
                select(f.c.case_id, t.cases.c.received_at).distinct()
                .join(t.cases, t.cases.c.id == f.c.case_id)
                .where(f.c.incident_date == incident_date, f.c.case_id != case_id, t.cases.c.erased_at.is_(None),
                       f.c.fingerprint.in_([h for _, h in hashes]))
                .order_by(t.cases.c.received_at))
            return list(dict.fromkeys(r.case_id for r in rows))

    async def received_in(self, year: int) -> list[CaseSummary]:
        start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        async with self.scope.read() as conn:
            rows = await conn.execute(select(*_SUMMARY_COLUMNS).where(
                t.cases.c.received_at >= start - timedelta(days=1), t.cases.c.received_at < end + timedelta(days=1))
                .order_by(t.cases.c.received_at, t.cases.c.reference))
            # the reference's year is the year it was received in the partnership's own time
            return [s for s in (_summary(r) for r in rows) if s.reference.split("-")[1] == str(year)]

    async def correct_referral(self, case_id: str, referral: Referral, at: datetime) -> None:
        """Store a corrected referral (sealed under the case's key, as at submission) with the
        case row's dates taken from it, version + 1 (bot/services/corrections.py)."""
        async with self.scope.write() as conn:
            sealer = await self.scope.db.keyring.sealer(conn, case_id)
            await conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(
                referral=sealer.json(REFERRAL_FIELD, referral.model_dump(mode="json")),
                incident_date=referral.incident.incident_date, aware_date=referral.incident.la_aware_date,
                version=t.cases.c.version + 1, updated_at=at))
        self._referrals.forget(case_id)

    async def set_panel_activity(self, case_id: str, activity_id: str) -> None:
        async with self.scope.write() as conn:
            await conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(panel_activity_id=activity_id))

    async def panel_activity(self, case_id: str) -> str | None:
        async with self.scope.read() as conn:
            return (await conn.execute(_PANEL_ACTIVITY, {"b_id": case_id})).scalar_one_or_none()

    async def destroy_case_key(self, case_id: str, at: datetime | None = None) -> bool:
        """Crypto-shred the case: its data key is destroyed, so its referral, votes' and
        queries' texts and the meeting's outcome can never be opened again, by anyone."""
        self._referrals.forget(case_id)
        async with self.scope.write() as conn:
            return await self.scope.db.keyring.destroy(conn, case_id, at or datetime.now(UTC))

    # ---- events ------------------------------------------------------------------------

    async def add_event(self, event: Event) -> None:
        async with self.scope.write() as conn:
            await add_event_in(conn, event)

    async def events_for_case(self, case_id: str) -> list[Event]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.events).where(t.events.c.case_id == case_id).order_by(t.events.c.id))
            return [
                Event(
                    kind=r.kind,
                    at=aware(r.at),
                    actor_aad_id=r.actor_aad_id,
                    actor_name=r.actor_name,
                    case_id=r.case_id,
                    detail=r.detail,
                    correlation=r.correlation,
                    conversation_kind=r.conversation_kind,
                    conversation_id=r.conversation_id,
                )
                for r in rows
            ]


    # ---- the lifecycle ---------------------------------------------------------------

    async def move(self, case_id: str, target: CaseStatus, by: frozenset[Mover] | Mover, actor: Actor | None,
                   at: datetime, *, detail: dict[str, Any] | None = None,
                   outbox: Sequence[OutboxMessage] = (), expect: CaseStatus | None = None) -> CaseStatus:
        """Move the case to `target`: the row is taken (version + 1), the move checked
        against the lifecycle table, and the status, `closed_at`, the audit event and the
        outbox messages written together. Returns the status it moved from. `expect`:
        refuse unless the case is in that status (a use case that read it earlier).
        IllegalMove, with nothing written, when the table does not allow it."""
        async with self.scope.write() as conn:
            row = (await conn.execute(
                update(t.cases).where(t.cases.c.id == case_id)
                .values(version=t.cases.c.version + 1, updated_at=at)
                .returning(t.cases.c.status)
            )).first()
            if row is None:
                raise IllegalMove("That case could not be found.")
            source = CaseStatus(row.status)
            try:
                if expect is not None and source is not expect:
                    raise MoveRefused(f"The case is now {source.title.lower()}, so nothing was changed.")
                move = check_move(source, target, by)
            except MoveRefused as refused:
                raise IllegalMove(str(refused)) from refused
            await conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(
                status=target.value, closed_at=None if target.is_open else at))
            if not target.is_open:  # a closed case has no deadlines running and no reminders
                await conn.execute(update(t.deadlines).where(t.deadlines.c.case_id == case_id,
                                                             t.deadlines.c.status.in_(("open", "pending")))
                                   .values(status="closed", next_reminder_at=None))
            await add_event_in(conn, Event(
                kind=EventKind.CASE_MOVED, at=at, actor_aad_id=actor.aad_object_id if actor else None,
                actor_name=actor.name if actor else "Rapid Review bot", case_id=case_id,
                detail={"from": source.value, "to": target.value, "why": move.why, **(detail or {})}))
            await enqueue_in(conn, outbox, at)
            return source

