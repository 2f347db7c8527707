"""Who is who: the roster (panel members, chairs, partnership managers), the channels the
bot is bound to, the conversation references it sends through, and the Teams user ids
(MRIs) a card's refresh lists — every Teams id of a person is remembered here only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.case_store import add_event_in
from bot.adapters.db.scope import Scope
from bot.domain import trace
from bot.domain.case import Actor
from bot.domain.events import Event, EventKind
from bot.domain.partnership import Partner, Role
from bot.services.ports import Address, MemberRecord, Roles

# Built once: every turn runs these (the performance work's profile).
_ROLES_OF = select(t.members.c.role, t.members.c.partner, t.members.c.organisation).where(
    t.members.c.aad_object_id == bindparam("aad"), t.members.c.active.is_(True)
)
_CHANNEL = select(t.channels).where(t.channels.c.purpose == bindparam("b_purpose"))
_PANEL_MRIS = select(t.members.c.mri).where(
    t.members.c.role == "panel", t.members.c.active.is_(True), t.members.c.mri.is_not(None)
)


_UNREAD = object()


def _kept_channel(purpose: str) -> object:
    """The bound channel as this turn read it already, or `_UNREAD`."""
    kept = trace.reads()
    return _UNREAD if kept is None else kept.get(f"channel:{purpose}", _UNREAD)


class RosterCache:
    """The Teams ids a card's refresh lists are read on every card render and change when
    a member is first seen; they are kept for a short while (another process may learn
    one) and dropped whenever this process changes the roster. One per process."""

    FRESH_SECONDS = 30.0

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.changes = 0
        self._mris: tuple[float, int, list[str]] | None = None

    def changed(self) -> None:
        self.changes += 1
        self._mris = None

    def mris(self) -> list[str] | None:
        if self._mris is None:
            return None
        at, changes, found = self._mris
        if self._monotonic() - at >= self.FRESH_SECONDS or changes != self.changes:
            return None
        return list(found)

    def keep(self, found: list[str]) -> None:
        self._mris = (self._monotonic(), self.changes, list(found))


class SqlRosterStore:
    def __init__(self, scope: Scope, cache: RosterCache) -> None:
        self.scope = scope
        self.cache = cache

    def bound(self, scope: Scope) -> SqlRosterStore:
        return SqlRosterStore(scope, self.cache)

    async def seed_members(self, records: Sequence[MemberRecord], at: datetime) -> int:
        """Make the config-sourced members match the partnership file; members added in
        Teams are left alone. Returns how many rows changed."""
        self.cache.changed()
        async with self.scope.write() as conn:
            existing = (await conn.execute(select(t.members).where(t.members.c.source == "config"))).all()
            # A partnership manager's removal in Teams outlives the file until the file changes.
            removed = {(e.role, e.partner, e.aad_object_id, e.upn) for e in (await conn.execute(
                select(t.members).where(t.members.c.source == "removed_in_teams"))).all()}
            wanted = {
                (r.role.value, r.partner.value if r.partner else None, r.aad_object_id, r.upn): r for r in records
            }
            have = {(e.role, e.partner, e.aad_object_id, e.upn): e for e in existing}
            changed = 0
            for key, member in have.items():
                if key not in wanted and member.active:
                    await conn.execute(
                        update(t.members).where(t.members.c.id == member.id).values(active=False, updated_at=at)
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

    async def roles_of(self, aad_object_id: str, *, channel: str | None = None) -> Roles:
        """The person's roles. `channel`: the purpose of a bound channel this turn asks for
        too (the access gate in a channel): read on the same connection and kept for the turn."""
        async with self.scope.read() as conn:
            if channel is not None and _kept_channel(channel) is _UNREAD:
                await self._read_channel(conn, channel)
            rows = await conn.execute(_ROLES_OF, {"aad": aad_object_id.lower()})
            organisations: dict[Partner, str | None] = {}
            chair = manager = dpo = adviser = False
            for row in rows:
                if row.role == Role.PANEL.value and row.partner:
                    organisations[Partner(row.partner)] = row.organisation
                chair |= row.role == Role.CHAIR.value
                manager |= row.role == Role.MANAGER.value
                dpo |= row.role == Role.DPO.value
                adviser |= row.role == Role.ADVISER.value
        return Roles(aad_object_id=aad_object_id, panel_partners=frozenset(organisations), chair=chair,
                     manager=manager, dpo=dpo, adviser=adviser, organisations=organisations)

    async def has_unresolved_upns(self) -> bool:
        async with self.scope.read() as conn:
            row = (
                await conn.execute(
                    select(func.count()).where(t.members.c.aad_object_id.is_(None), t.members.c.active.is_(True))
                )
            ).scalar_one()
        return bool(row)

    async def bind_upn(self, upn: str, aad_object_id: str, at: datetime) -> bool:
        self.cache.changed()
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.members)
                .where(t.members.c.upn == upn.lower(), t.members.c.aad_object_id.is_(None))
                .values(aad_object_id=aad_object_id.lower(), updated_at=at)
            )
            return bool(result.rowcount)

    async def add_member(self, record: MemberRecord, mri: str | None, at: datetime) -> None:
        """A member added in Teams by a partnership manager (kept when the file is re-seeded)."""
        self.cache.changed()
        async with self.scope.write() as conn:
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
        self.cache.changed()
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.members)
                .where(t.members.c.aad_object_id == aad_object_id.lower(), t.members.c.active.is_(True))
                .values(active=False, updated_at=at,
                        source=case((t.members.c.source == "config", "removed_in_teams"), else_=t.members.c.source))
            )
            return int(result.rowcount or 0)

    async def members(self, role: Role | None = None) -> list[MemberRecord]:
        async with self.scope.read() as conn:
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
        kept = trace.reads()
        if kept is not None:
            kept.pop(f"channel:{purpose}", None)  # read afresh after this turn rebinds it
        async with self.scope.write() as conn:
            stmt = self.scope.insert(t.channels).values(purpose=purpose, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.channels.c.purpose], set_=values))
            await add_event_in(
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
        """The bound channel, read once per turn (the access gate reads it first; a vote hands
        it to the card update it starts): within a turn only the turn itself rebinds it."""
        kept = _kept_channel(purpose)
        if kept is not _UNREAD:
            return kept  # type: ignore[return-value]
        async with self.scope.read() as conn:
            return await self._read_channel(conn, purpose)

    @staticmethod
    async def _read_channel(conn: AsyncConnection, purpose: str) -> Address | None:
        row = (await conn.execute(_CHANNEL, {"b_purpose": purpose})).first()
        found = None if row is None else Address(row.conversation_id, row.service_url, row.tenant_id, row.bot_id)
        kept = trace.reads()
        if kept is not None:
            kept[f"channel:{purpose}"] = found
        return found

    async def save_reference(self, key: str, address: Address, user_id: str | None, at: datetime) -> None:
        values = {
            "conversation_id": address.conversation_id,
            "service_url": address.service_url,
            "tenant_id": address.tenant_id,
            "bot_id": address.bot_id,
            "user_id": user_id,
            "updated_at": at,
        }
        async with self.scope.write() as conn:
            stmt = self.scope.insert(t.conversation_refs).values(key=key, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.conversation_refs.c.key], set_=values))

    async def reference(self, key: str) -> Address | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.conversation_refs).where(t.conversation_refs.c.key == key))).first()
        if row is None:
            return None
        return Address(row.conversation_id, row.service_url, row.tenant_id, row.bot_id)


    async def remember_mri(self, aad_object_id: str, mri: str, at: datetime) -> None:
        """Teams user ids (MRIs) are what a card's refresh lists; learn them as members talk."""
        async with self.scope.write() as conn:
            await conn.execute(
                update(t.members)
                .where(t.members.c.aad_object_id == aad_object_id, (t.members.c.mri.is_(None)) | (t.members.c.mri != mri))
                .values(mri=mri, updated_at=at)
            )
        self.cache.changed()

    async def panel_mris(self) -> list[str]:
        kept = self.cache.mris()
        if kept is not None:
            return kept
        async with self.scope.read() as conn:
            rows = await conn.execute(_PANEL_MRIS)
            found = sorted({r.mri for r in rows})[:60]
        self.cache.keep(found)
        return list(found)
