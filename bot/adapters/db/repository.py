"""The SQL implementation of the Repository port (SQLAlchemy Core, async).

Concurrency rules that matter here:
- Reference numbers come from one atomic upsert on `case_counters` inside the same
  transaction as the case insert, so two submissions never share a number.
- Pseudonyms are unique among open cases by a partial unique index; a clash (two
  submissions picking the same free letter at once) is retried with another letter.
- The outbox is claimed with a compare-and-set lease, so two bot processes never both
  deliver the same message.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.database import Database
from bot.domain.case import Actor, Case, CaseStatus, CaseSummary, choose_pseudonym, format_reference
from bot.domain.events import Event, EventKind
from bot.domain.partnership import Partner, Role
from bot.domain.referral import Referral
from bot.services.ports import Address, MemberRecord, NewCase, OutboxItem, OutboxMessage, Roles

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
            "received_at": _aware(row.received_at),
            "referrer_aad_id": row.referrer_aad_id,
            "referrer_name": row.referrer_name,
        }
    )


REFERRALS_KEPT = 256

# Statements run on every turn are built once: SQLAlchemy then reuses their cache key and
# compiled form instead of rebuilding the expression per call (issue 6's profile).
_ROLES_OF = select(t.members.c.role, t.members.c.partner, t.members.c.organisation).where(
    t.members.c.aad_object_id == bindparam("aad"), t.members.c.active.is_(True)
)
_CASE_COLUMNS = (*_SUMMARY_COLUMNS, t.cases.c.aware_date, t.cases.c.version)
_CASE_BY_REFERENCE = select(*_CASE_COLUMNS).where(t.cases.c.reference == bindparam("b_ref"))
_CASE_BY_ID = select(*_CASE_COLUMNS).where(t.cases.c.id == bindparam("b_id"))
_REFERRAL_OF = select(t.cases.c.referral).where(t.cases.c.id == bindparam("b_id"))
_PANEL_ACTIVITY = select(t.cases.c.panel_activity_id).where(t.cases.c.id == bindparam("b_id"))
_INSERT_EVENT = insert(t.events)
_CHANNEL = select(t.channels).where(t.channels.c.purpose == bindparam("b_purpose"))
_OUTBOX_DONE = (
    update(t.outbox)
    .where(t.outbox.c.id == bindparam("b_id"))
    .values(status="sent", sent_at=bindparam("b_at"), claimed_until=None)
)
_STORED_RESPONSE = select(t.processed_activities.c.response).where(t.processed_activities.c.key == bindparam("b_key"))
_REMEMBER_RESPONSE = (
    update(t.processed_activities)
    .where(t.processed_activities.c.key == bindparam("b_key"))
    .values(response=bindparam("b_response"))
)


def _outbox_row(message: OutboxMessage, at: datetime, *, attempts: int = 0,
                claimed_until: datetime | None = None) -> dict[str, Any]:
    return {"key": message.key, "kind": message.kind, "case_id": message.case_id, "payload": message.payload,
            "status": message.status, "attempts": attempts, "not_before": at, "claimed_until": claimed_until,
            "created_at": at}


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


class SqlRepository:
    def __init__(self, db: Database, rng: random.Random | None = None) -> None:
        self.db = db
        self._rng = rng or random.SystemRandom()
        self.roster_changes = 0  # counts this process's roster writes: caches of the roster compare it
        # A referral never changes once submitted; parsing its JSON into the pydantic model
        # was a measurable part of every card render (issue 6), so recent ones are kept.
        self._referrals: OrderedDict[str, Referral] = OrderedDict()
        self._build_statements()

    # ---- dialect helpers ---------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if not self.db.is_sqlite else sqlite.insert)(table)

    def _build_statements(self) -> None:
        """The dialect-specific statements of every turn, built once (see _ROLES_OF)."""
        self._claim_activity = (
            self._insert(t.processed_activities)
            .values(key=bindparam("b_key"), at=bindparam("b_at"), response=None)
            .on_conflict_do_nothing(index_elements=[t.processed_activities.c.key])
        )
        self._enqueue_outbox = self._insert(t.outbox).on_conflict_do_nothing(index_elements=[t.outbox.c.key])
        self._enqueue_claimed_outbox = self._enqueue_outbox.returning(t.outbox.c.id)

    # ---- cases -------------------------------------------------------------------------

    async def create_case(
        self, new: NewCase, event: Event, outbox: Sequence[OutboxMessage]
    ) -> tuple[CaseSummary, bool]:
        for _attempt in range(8):
            try:
                async with self.db.write() as conn:
                    existing = await self._case_by_draft(conn, new.draft_id)
                    if existing is not None:
                        return existing, False
                    reference = format_reference(new.year, await self._next_number(conn, new.year))
                    pseudonym = choose_pseudonym(await self._open_pseudonyms(conn), self._rng)
                    await conn.execute(
                        insert(t.cases).values(
                            id=new.id,
                            draft_id=new.draft_id,
                            reference=reference,
                            pseudonym=pseudonym,
                            referral=new.referral,
                            updated_at=new.case["received_at"],
                            version=1,
                            **new.case,
                        )
                    )
                    await self._add_event(conn, event.model_copy(update={"case_id": new.id}))
                    await self._enqueue(conn, outbox, new.case["received_at"])
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
        stmt = self._insert(t.case_counters).values(year=year, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.case_counters.c.year], set_={"last": t.case_counters.c.last + 1}
        ).returning(t.case_counters.c.last)
        return int((await conn.execute(stmt)).scalar_one())

    async def _open_pseudonyms(self, conn: AsyncConnection) -> set[str]:
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
        async with self.db.read() as conn:
            row = (await conn.execute(query, params)).first()
            if row is None:
                return None
            referral = self._referrals.get(row.id)
            if referral is None:
                data = (await conn.execute(_REFERRAL_OF, {"b_id": row.id})).scalar_one()
                referral = self._remember_referral(row.id, Referral.model_validate(data))
            else:
                self._referrals.move_to_end(row.id)
        return Case(summary=_summary(row), referral=referral, aware_date=row.aware_date, version=row.version)

    def _remember_referral(self, case_id: str, referral: Referral) -> Referral:
        self._referrals[case_id] = referral
        if len(self._referrals) > REFERRALS_KEPT:
            self._referrals.popitem(last=False)
        return referral

    async def summary_by_draft(self, draft_id: str) -> CaseSummary | None:
        async with self.db.read() as conn:
            return await self._case_by_draft(conn, draft_id)

    async def get_summary_by_id(self, case_id: str) -> CaseSummary | None:
        async with self.db.read() as conn:
            return await self._summary_by_id(conn, case_id)

    async def list_cases_for_referrer(self, aad_object_id: str, limit: int = 20) -> list[CaseSummary]:
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*_SUMMARY_COLUMNS)
                .where(t.cases.c.referrer_aad_id == aad_object_id)
                .order_by(t.cases.c.received_at.desc())
                .limit(limit)
            )
            return [_summary(r) for r in rows]

    async def set_panel_activity(self, case_id: str, activity_id: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(panel_activity_id=activity_id))

    async def panel_activity(self, case_id: str) -> str | None:
        async with self.db.read() as conn:
            return (await conn.execute(_PANEL_ACTIVITY, {"b_id": case_id})).scalar_one_or_none()

    # ---- events ------------------------------------------------------------------------

    async def _add_event(self, conn: AsyncConnection, event: Event) -> None:
        await conn.execute(
            _INSERT_EVENT,
            {
                "case_id": event.case_id,
                "at": event.at,
                "kind": event.kind,
                "actor_aad_id": event.actor_aad_id,
                "actor_name": event.actor_name,
                "detail": event.detail,
            },
        )

    async def add_event(self, event: Event) -> None:
        async with self.db.write() as conn:
            await self._add_event(conn, event)

    async def events_for_case(self, case_id: str) -> list[Event]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(t.events).where(t.events.c.case_id == case_id).order_by(t.events.c.id))
            return [
                Event(
                    kind=r.kind,
                    at=_aware(r.at),
                    actor_aad_id=r.actor_aad_id,
                    actor_name=r.actor_name,
                    case_id=r.case_id,
                    detail=r.detail,
                )
                for r in rows
            ]

    # ---- members -----------------------------------------------------------------------

    async def seed_members(self, records: Sequence[MemberRecord], at: datetime) -> int:
        """Make the config-sourced members match the partnership file; members added in
        Teams are left alone. Returns how many rows changed."""
        self.roster_changes += 1
        async with self.db.write() as conn:
            existing = (await conn.execute(select(t.members).where(t.members.c.source == "config"))).all()
            # A partnership manager's removal in Teams outlives the file until the file changes.
            removed = {(e.role, e.partner, e.aad_object_id, e.upn) for e in (await conn.execute(
                select(t.members).where(t.members.c.source == "removed_in_teams"))).all()}
            wanted = {
                (r.role.value, r.partner.value if r.partner else None, r.aad_object_id, r.upn): r for r in records
            }
            have = {(e.role, e.partner, e.aad_object_id, e.upn): e for e in existing}
            changed = 0
            for key, row in have.items():
                if key not in wanted and row.active:
                    await conn.execute(
                        update(t.members).where(t.members.c.id == row.id).values(active=False, updated_at=at)
                    )
                    changed += 1
            for key, rec in wanted.items():
                if key in removed:
                    continue
                row = have.get(key)
                values = {
                    "name": rec.name,
                    "organisation": rec.organisation,
                    "job_title": rec.job_title,
                    "active": True,
                    "updated_at": at,
                }
                if row is None:
                    await conn.execute(
                        insert(t.members).values(
                            role=rec.role.value,
                            partner=rec.partner.value if rec.partner else None,
                            aad_object_id=rec.aad_object_id,
                            upn=rec.upn,
                            source="config",
                            **values,
                        )
                    )
                    changed += 1
                elif not row.active or row.name != rec.name:
                    await conn.execute(update(t.members).where(t.members.c.id == row.id).values(**values))
                    changed += 1
            return changed

    async def roles_of(self, aad_object_id: str) -> Roles:
        async with self.db.read() as conn:
            rows = await conn.execute(_ROLES_OF, {"aad": aad_object_id.lower()})
            organisations: dict[Partner, str | None] = {}
            chair = manager = False
            for row in rows:
                if row.role == Role.PANEL.value and row.partner:
                    organisations[Partner(row.partner)] = row.organisation
                chair |= row.role == Role.CHAIR.value
                manager |= row.role == Role.MANAGER.value
        return Roles(aad_object_id=aad_object_id, panel_partners=frozenset(organisations), chair=chair,
                     manager=manager, organisations=organisations)

    async def has_unresolved_upns(self) -> bool:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(func.count()).where(t.members.c.aad_object_id.is_(None), t.members.c.active.is_(True))
                )
            ).scalar_one()
        return bool(row)

    async def bind_upn(self, upn: str, aad_object_id: str, at: datetime) -> bool:
        self.roster_changes += 1
        async with self.db.write() as conn:
            result = await conn.execute(
                update(t.members)
                .where(t.members.c.upn == upn.lower(), t.members.c.aad_object_id.is_(None))
                .values(aad_object_id=aad_object_id.lower(), updated_at=at)
            )
            return bool(result.rowcount)

    async def add_member(self, record: MemberRecord, mri: str | None, at: datetime) -> None:
        """A member added in Teams by a partnership manager (kept when the file is re-seeded)."""
        self.roster_changes += 1
        async with self.db.write() as conn:
            existing = (
                await conn.execute(
                    select(t.members.c.id).where(
                        t.members.c.aad_object_id == record.aad_object_id,
                        t.members.c.role == record.role.value,
                        t.members.c.partner.is_(None) if record.partner is None
                        else t.members.c.partner == record.partner.value,
                    )
                )
            ).first()
            values = {"name": record.name, "upn": record.upn, "mri": mri, "active": True, "updated_at": at}
            if existing:
                await conn.execute(update(t.members).where(t.members.c.id == existing.id).values(**values))
            else:
                await conn.execute(
                    insert(t.members).values(
                        role=record.role.value,
                        partner=record.partner.value if record.partner else None,
                        aad_object_id=record.aad_object_id,
                        organisation=record.organisation,
                        job_title=record.job_title,
                        source=record.source,
                        **values,
                    )
                )

    async def remove_member(self, aad_object_id: str, at: datetime) -> int:
        self.roster_changes += 1
        async with self.db.write() as conn:
            result = await conn.execute(
                update(t.members)
                .where(t.members.c.aad_object_id == aad_object_id.lower(), t.members.c.active.is_(True))
                .values(active=False, updated_at=at,
                        source=case((t.members.c.source == "config", "removed_in_teams"), else_=t.members.c.source))
            )
            return int(result.rowcount or 0)

    async def members(self, role: Role | None = None) -> list[MemberRecord]:
        async with self.db.read() as conn:
            query = select(t.members).where(t.members.c.active.is_(True)).order_by(t.members.c.id)
            if role is not None:
                query = query.where(t.members.c.role == role.value)
            rows = await conn.execute(query)
            return [
                MemberRecord(
                    role=Role(r.role),
                    name=r.name,
                    partner=Partner(r.partner) if r.partner else None,
                    aad_object_id=r.aad_object_id,
                    upn=r.upn,
                    organisation=r.organisation,
                    job_title=r.job_title,
                    source=r.source,
                )
                for r in rows
            ]

    # ---- channels and conversation references -------------------------------------------

    async def bind_channel(
        self,
        purpose: str,
        address: Address,
        team_id: str | None,
        channel_id: str | None,
        actor: Actor,
        at: datetime,
    ) -> None:
        values = {
            "conversation_id": address.conversation_id,
            "service_url": address.service_url,
            "tenant_id": address.tenant_id,
            "bot_id": address.bot_id,
            "team_id": team_id,
            "channel_id": channel_id,
            "bound_by": actor.aad_object_id,
            "bound_at": at,
        }
        async with self.db.write() as conn:
            stmt = self._insert(t.channels).values(purpose=purpose, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.channels.c.purpose], set_=values))
            await self._add_event(
                conn,
                Event(
                    kind=EventKind.PANEL_CHANNEL_BOUND,
                    at=at,
                    actor_aad_id=actor.aad_object_id,
                    actor_name=actor.name,
                    detail={"purpose": purpose, "team_id": team_id, "channel_id": channel_id},
                ),
            )

    async def channel(self, purpose: str) -> Address | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_CHANNEL, {"b_purpose": purpose})).first()
        if row is None:
            return None
        return Address(row.conversation_id, row.service_url, row.tenant_id, row.bot_id)

    async def save_reference(self, key: str, address: Address, user_id: str | None, at: datetime) -> None:
        values = {
            "conversation_id": address.conversation_id,
            "service_url": address.service_url,
            "tenant_id": address.tenant_id,
            "bot_id": address.bot_id,
            "user_id": user_id,
            "updated_at": at,
        }
        async with self.db.write() as conn:
            stmt = self._insert(t.conversation_refs).values(key=key, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.conversation_refs.c.key], set_=values))

    async def reference(self, key: str) -> Address | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(t.conversation_refs).where(t.conversation_refs.c.key == key))).first()
        if row is None:
            return None
        return Address(row.conversation_id, row.service_url, row.tenant_id, row.bot_id)

    # ---- outbox ------------------------------------------------------------------------

    async def _enqueue(self, conn: AsyncConnection, messages: Sequence[OutboxMessage], at: datetime) -> None:
        for message in messages:
            await conn.execute(self._enqueue_outbox, _outbox_row(message, at))

    async def enqueue(self, messages: Sequence[OutboxMessage], at: datetime) -> None:
        async with self.db.write() as conn:
            await self._enqueue(conn, messages, at)

    async def _enqueue_claimed(self, conn: AsyncConnection, message: OutboxMessage, at: datetime,
                               lease_seconds: int) -> OutboxItem | None:
        leased = _outbox_row(message, at, attempts=1, claimed_until=at + timedelta(seconds=lease_seconds))
        row = (await conn.execute(self._enqueue_claimed_outbox, leased)).first()
        if row is None:
            return None
        return OutboxItem(row.id, message.key, message.kind, message.case_id, message.payload, 1)

    async def claim_outbox(self, now: datetime, lease_seconds: int, limit: int) -> list[OutboxItem]:
        """Lease due messages to this process. A lease that runs out (the process died
        mid-send) makes the message due again."""
        lease = now + timedelta(seconds=lease_seconds)
        claimed: list[OutboxItem] = []
        async with self.db.write() as conn:
            rows = (
                await conn.execute(
                    select(t.outbox)
                    .where(
                        t.outbox.c.status == "pending",
                        t.outbox.c.not_before <= now,
                        or_(t.outbox.c.claimed_until.is_(None), t.outbox.c.claimed_until < now),
                    )
                    .order_by(t.outbox.c.id)
                    .limit(limit)
                )
            ).all()
            for row in rows:
                result = await conn.execute(
                    update(t.outbox)
                    .where(
                        and_(
                            t.outbox.c.id == row.id,
                            t.outbox.c.status == "pending",
                            or_(t.outbox.c.claimed_until.is_(None), t.outbox.c.claimed_until < now),
                        )
                    )
                    .values(claimed_until=lease, attempts=t.outbox.c.attempts + 1)
                )
                if result.rowcount:
                    claimed.append(OutboxItem(row.id, row.key, row.kind, row.case_id, row.payload, row.attempts + 1))
        return claimed

    async def outbox_done(self, item_id: int, at: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(_OUTBOX_DONE, {"b_id": item_id, "b_at": at})

    async def outbox_retry(self, item_id: int, not_before: datetime, error: str, give_up: bool) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == item_id)
                .values(
                    status="failed" if give_up else "pending",
                    not_before=not_before,
                    claimed_until=None,
                    last_error=error[:300],
                )
            )

    async def outbox_park(self, item_id: int, status: str, error: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.id == item_id)
                .values(status=status, claimed_until=None, last_error=error[:300])
            )

    async def outbox_release(self, status: str, at: datetime) -> int:
        async with self.db.write() as conn:
            result = await conn.execute(
                update(t.outbox)
                .where(t.outbox.c.status == status)
                .values(status="pending", not_before=at, claimed_until=None)
            )
            return int(result.rowcount or 0)

    async def count_outbox(self, status: str) -> int:
        async with self.db.read() as conn:
            return int((await conn.execute(select(func.count()).where(t.outbox.c.status == status))).scalar_one())

    # ---- activity de-duplication ----------------------------------------------------------

    async def claim_activity(self, key: str, at: datetime) -> tuple[bool, Any]:
        """Record that an activity is being handled. (True, None) the first time; (False,
        stored response) when Teams delivers it again."""
        async with self.db.write() as conn:
            result = await conn.execute(self._claim_activity, {"b_key": key, "b_at": at})
            if result.rowcount:
                return True, None
            row = (await conn.execute(_STORED_RESPONSE, {"b_key": key})).first()
            return False, row.response if row else None

    async def remember_response(self, key: str, response: Any) -> None:
        async with self.db.write() as conn:
            await conn.execute(_REMEMBER_RESPONSE, {"b_key": key, "b_response": response})

    # ---- state for the SDK's Storage (dialog state) ---------------------------------------

    async def read_state(self, keys: Sequence[str]) -> dict[str, tuple[dict[str, Any], str]]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(t.bot_state).where(t.bot_state.c.key.in_(list(keys))))
            return {r.key: (r.data, r.etag) for r in rows}

    async def write_state(self, key: str, data: dict[str, Any], etag: str | None, new_etag: str, at: datetime) -> bool:
        """Write one item; with an etag, only if it still matches (False on conflict)."""
        async with self.db.write() as conn:
            if etag is None or etag == "*":
                stmt = self._insert(t.bot_state).values(key=key, data=data, etag=new_etag, updated_at=at)
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[t.bot_state.c.key], set_={"data": data, "etag": new_etag, "updated_at": at}
                    )
                )
                return True
            result = await conn.execute(
                update(t.bot_state)
                .where(t.bot_state.c.key == key, t.bot_state.c.etag == etag)
                .values(data=data, etag=new_etag, updated_at=at)
            )
            if result.rowcount:
                return True
            exists = (await conn.execute(select(t.bot_state.c.key).where(t.bot_state.c.key == key))).first()
            if exists is None:
                await conn.execute(insert(t.bot_state).values(key=key, data=data, etag=new_etag, updated_at=at))
                return True
            return False

    async def shared_secret(self, name: str) -> bytes:
        """A random secret shared by every bot process: made once, kept in the database."""
        import secrets

        key = f"secret:{name}"
        candidate = secrets.token_hex(32)
        async with self.db.write() as conn:
            stmt = self._insert(t.bot_state).values(key=key, data={"value": candidate}, etag="secret",
                                                    updated_at=datetime.now(UTC))
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.bot_state.c.key]))
            row = (await conn.execute(select(t.bot_state.c.data).where(t.bot_state.c.key == key))).first()
        return bytes.fromhex(row.data["value"])

    async def delete_state(self, keys: Sequence[str]) -> None:
        from sqlalchemy import delete

        async with self.db.write() as conn:
            await conn.execute(delete(t.bot_state).where(t.bot_state.c.key.in_(list(keys))))


__all__ = ["SqlRepository", "CaseStatus"]
