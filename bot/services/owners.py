"""A leaver's open work given to someone else: `replace owner <old> with <new>`.

What a named person owns on an open case: its open actions (`case_actions.owner_aad_id`), a
hand-over they have the case in (`case_records` kind `handover`) and the family contact they
agreed to be (kind `family`) — the owners `bot/services/reminder_view.py` reads when it sends
a reminder, so once replaced the reminders, their @mentions and the right to confirm a
hand-over go to the new owner. Only a partnership manager may replace an owner; the new owner
must be on the roster; the old one is found by name on the roster or on the work they own (they
may already have been removed). Each case's change is one `owner_replaced` audit row (Entra
ids, action ids and record kinds, never text).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import MemberRecord
from bot.services.refusals import NotAuthorised, Refused
from bot.services.reminder_view import NAMED_OWNERS

ONLY_MANAGER = "Only a partnership manager can give a person's open work to someone else."


class OwnerRefused(Refused):
    """No such person, more than one, or the same person twice."""


@dataclass
class Owned:
    """What one person owns on open cases."""

    actions: list[tuple[int, str]] = field(default_factory=list)  # (action id, case id)
    records: list[tuple[str, str, str]] = field(default_factory=list)  # (case id, kind, key)

    @property
    def count(self) -> int:
        return len(self.actions) + len(self.records)

    def describe(self) -> str:
        parts = []
        if self.actions:
            parts.append(f"{len(self.actions)} open action{'s' if len(self.actions) != 1 else ''}")
        handovers = sum(1 for _, kind, _ in self.records if kind == "handover")
        family = len(self.records) - handovers
        if handovers:
            parts.append(f"{handovers} hand-over{'s' if handovers != 1 else ''}")
        if family:
            parts.append(f"telling {family} famil{'ies' if family != 1 else 'y'}")
        return ", ".join(parts) or "nothing open"


@dataclass(frozen=True)
class Replaced:
    old_name: str
    new_name: str
    owned: Owned
    cases: list[str]  # references


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


async def _is_open(ctx: ServiceContext, case_id: str, seen: dict[str, bool]) -> bool:
    if case_id not in seen:
        summary = await ctx.cases.get_summary_by_id(case_id)
        seen[case_id] = summary is not None and summary.status.is_open
    return seen[case_id]


async def _owners(ctx: ServiceContext) -> tuple[dict[str, Owned], dict[str, set[str]]]:
    """Every open piece of owned work by owner's Entra id, and the names each id goes by."""
    owned: dict[str, Owned] = defaultdict(Owned)
    names: dict[str, set[str]] = defaultdict(set)
    is_open: dict[str, bool] = {}
    for action_id, case_id, aad, name in await ctx.reviews.open_action_owners():
        if aad and await _is_open(ctx, case_id, is_open):
            owned[aad].actions.append((action_id, case_id))
            names[aad].add(name)
    for kind, id_key, name_key in NAMED_OWNERS.values():
        for case_id, key, data in await ctx.deadlines.case_records_of_kind(kind):
            aad = str(data.get(id_key) or "")
            if aad and await _is_open(ctx, case_id, is_open):
                owned[aad].records.append((case_id, kind, key))
                names[aad].add(str(data.get(name_key) or ""))
    return owned, names


async def owned_by(ctx: ServiceContext, aad_object_id: str) -> Owned:
    owned, _ = await _owners(ctx)
    return owned.get(aad_object_id.lower(), Owned())


async def require_manager(ctx: ServiceContext, actor: Actor) -> None:
    if not (await ctx.roster.roles_of(actor.aad_object_id)).manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "replace_owner"})
        raise NotAuthorised(ONLY_MANAGER)


def _one(found: set[str], name: str, where: str) -> str:
    if not found:
        raise OwnerRefused(f"I cannot find {name} {where}. Type **members** in the panel channel to see the names.")
    if len(found) > 1:
        raise OwnerRefused(f"More than one person is called {name}; I cannot tell which you mean. Nothing was "
                           "changed.")
    return next(iter(found))


async def replace_owner(ctx: ServiceContext, actor: Actor, old_name: str, new_name: str) -> Replaced:
    await require_manager(ctx, actor)
    roster: list[MemberRecord] = await ctx.roster.members()
    new = _one({m.aad_object_id for m in roster if m.aad_object_id and _same(m.name, new_name)}, new_name,
               "on the roster")
    owned, names = await _owners(ctx)
    old_ids = {m.aad_object_id for m in roster if m.aad_object_id and _same(m.name, old_name)}
    old_ids |= {aad for aad, called in names.items() if any(_same(n, old_name) for n in called)}
    old = _one(old_ids, old_name, "on the roster or as the owner of anything open")
    if old == new:
        raise OwnerRefused("That is the same person. Nothing was changed.")
    work = owned.get(old, Owned())
    new_display = next(m.name for m in roster if m.aad_object_id == new)
    by_case: dict[str, dict[str, list]] = defaultdict(lambda: {"actions": [], "records": []})  # type: ignore[type-arg]
    for action_id, case_id in work.actions:
        by_case[case_id]["actions"].append(action_id)
    for case_id, kind, key in work.records:
        by_case[case_id]["records"].append((kind, key))
    now = ctx.clock.now()
    references = []
    async with ctx.uow.begin() as tx:
        for case_id, parts in sorted(by_case.items()):
            for action_id in parts["actions"]:
                await tx.reviews.reassign_action(action_id, new, new_display)
            for kind, key in parts["records"]:
                _, id_key, name_key = next(v for v in NAMED_OWNERS.values() if v[0] == kind)
                record = (await tx.deadlines.case_records(case_id, kind)).get(key) or {}
                await tx.deadlines.put_case_record(case_id, kind, key, {**record, id_key: new, name_key: new_display},
                                                   now)
            await audit(ctx, actor, EventKind.OWNER_REPLACED, case_id=case_id, into=tx.cases, detail={
                "from": old, "to": new, "actions": sorted(parts["actions"]),
                "records": sorted(kind for kind, _ in parts["records"])})
            summary = await tx.cases.get_summary_by_id(case_id)
            if summary is not None:
                references.append(summary.reference)
    return Replaced(old_name=old_name, new_name=new_display, owned=work, cases=sorted(references))
