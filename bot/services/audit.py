"""The one way a use case records an audit event (who, when, what — never child
identifiers; docs/architecture.md, "Confidentiality")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.case import Actor
from bot.domain.events import Event, EventKind
from bot.services.context import ServiceContext
from bot.services.ports import CaseStore

BOT_NAME = "Rapid Review bot"


def audit_event(at: datetime, actor: Actor | None, kind: EventKind, *, case_id: str | None = None,
                detail: dict[str, Any] | None = None) -> Event:
    """The event; an action of the bot itself (no actor) is recorded under the bot's name."""
    return Event(kind=kind, at=at, actor_aad_id=actor.aad_object_id if actor else None,
                 actor_name=actor.name if actor else BOT_NAME, case_id=case_id, detail=detail or {})


async def audit(ctx: ServiceContext, actor: Actor | None, kind: EventKind, *, case_id: str | None = None,
                detail: dict[str, Any] | None = None, into: CaseStore | None = None) -> None:
    """Record the event now, or inside a unit of work when `into` is its case store."""
    await (into or ctx.cases).add_event(audit_event(ctx.clock.now(), actor, kind, case_id=case_id, detail=detail))
