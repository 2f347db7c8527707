"""The membership use case (bot/services/membership.py) without Teams: who may change the
roster, the role words, what is stored and what is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.domain.partnership import Partner, Role
from bot.services import membership
from bot.services.membership import TeamsPerson
from bot.services.ports import Roles
from bot.services.refusals import NotAuthorised, Refused

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PAT = Actor(aad_object_id="pat", name="Pat Manager", tenant_id="home")
DAN = Actor(aad_object_id="dan", name="Dan Police", tenant_id="home")
MALLORY = TeamsPerson(aad_object_id="MALLORY", name="Mallory Outsider", teams_id="29:m", upn="m@example.org",
                      tenant_id="guest")


class Roster:
    def __init__(self) -> None:
        self.added: list[tuple[Any, ...]] = []
        self.removed: list[str] = []
        self.events: list[Any] = []

    async def roles_of(self, aad_object_id: str) -> Roles:
        return Roles(aad_object_id=aad_object_id, manager=aad_object_id == PAT.aad_object_id)

    async def add_member(self, record: Any, mri: str | None, at: datetime) -> None:
        self.added.append((record, mri, at))

    async def remove_member(self, aad_object_id: str, at: datetime) -> int:
        self.removed.append(aad_object_id)
        return 1

    async def add_event(self, event: Any) -> None:
        self.events.append(event)


class OneTransaction:
    """The unit of work, as far as membership needs it: the same roster, committed as one."""

    def __init__(self, roster: Roster) -> None:
        self.roster = roster

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Any]:
        yield SimpleNamespace(roster=self.roster, cases=self.roster)


@pytest.fixture
def ctx() -> Any:
    roster = Roster()
    return SimpleNamespace(repo=roster, roster=roster, cases=roster, uow=OneTransaction(roster),
                           clock=SimpleNamespace(now=lambda: NOW))


async def test_only_a_partnership_manager_changes_the_roster_and_a_refusal_is_audited(ctx):
    for change in (membership.add_member(ctx, DAN, MALLORY, "police"), membership.remove_member(ctx, DAN, MALLORY)):
        with pytest.raises(NotAuthorised, match="Only a partnership manager can change the panel's membership."):
            await change
    assert ctx.repo.added == [] and ctx.repo.removed == []
    assert [(e.kind, e.actor_aad_id, e.detail) for e in ctx.repo.events] == [
        (EventKind.ACCESS_DENIED, "dan", {"action": "membership"})] * 2


@pytest.mark.parametrize(("text", "role", "partner"), [
    ("add @mallory as police", Role.PANEL, Partner.POLICE), ("add @mallory as la", Role.PANEL, Partner.LOCAL_AUTHORITY),
    ("add @mallory as icb", Role.PANEL, Partner.HEALTH), ("add @mallory as chair", Role.CHAIR, None),
    ("add @mallory as partnership manager", Role.MANAGER, None),
])
async def test_the_role_word_decides_the_role_and_the_addition_is_audited(ctx, text, role, partner):
    record = await membership.add_member(ctx, PAT, MALLORY, membership.role_word_of(text))
    assert (record.role, record.partner, record.aad_object_id, record.name, record.upn, record.source) == (
        role, partner, "mallory", "Mallory Outsider", "m@example.org", "teams")
    assert ctx.repo.added == [(record, "29:m", NOW)]
    [event] = ctx.repo.events
    assert (event.kind, event.actor_aad_id) == (EventKind.MEMBER_ADDED, "pat")
    assert event.detail == {"member": "mallory", "role": role.value, "partner": partner.value if partner else None,
                            "guest": True}


async def test_an_unknown_role_word_is_refused_and_nothing_is_stored(ctx):
    with pytest.raises(Refused, match="Say which role"):
        await membership.add_member(ctx, PAT, MALLORY, membership.role_word_of("add @mallory as mayor"))
    assert ctx.repo.added == [] and ctx.repo.events == []


async def test_removal_is_audited_with_the_rows_removed(ctx):
    assert await membership.remove_member(ctx, PAT, MALLORY) == 1
    assert ctx.repo.removed == ["MALLORY"]
    assert [(e.kind, e.detail) for e in ctx.repo.events] == [(EventKind.MEMBER_REMOVED, {"member": "MALLORY", "rows": 1})]
