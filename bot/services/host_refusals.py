"""A service host the bot refused to send to: audited every time, told to the partnership
managers once.

The bot sends only to Bot Framework / Teams service hosts (bot/adapters/service_hosts.py). A
refusal means a stored conversation address was changed, a sovereign cloud's host is missing
from ALLOWED_SERVICE_HOSTS, or Teams sent an activity from a host nobody expected. Someone has
to act on it, so each partnership manager gets one personal message per refused host (an
outbox message whose key names the host and the manager: asked again — later, or after a
restart — it is already there and nothing more is sent). Every refusal is an audit event.
"""

from __future__ import annotations

from bot.domain.events import EventKind
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.services.audit import audit_event
from bot.services.ports import Clock, OutboxMessage, UnitOfWork

NOTICE = "service_host_refused"


async def report_refused_host(uow: UnitOfWork, clock: Clock, host: str, source: str) -> None:
    """Record that nothing was sent to `host` (scheme and host only, never a path) and, the
    first time for this host, tell the managers. `source` says where the address came from
    ("incoming activity", "stored address")."""
    now = clock.now()
    async with uow.begin() as tx:
        managers = sorted({m.aad_object_id for m in await tx.roster.members(Role.MANAGER) if m.aad_object_id})
        await tx.cases.add_event(audit_event(now, None, EventKind.SERVICE_HOST_REFUSED,
                                             detail={"host": host, "source": source}))
        await tx.outbox.enqueue([OutboxMessage(key=f"notice:{NOTICE}:{host}:{aad}", kind=OutboxKind.PERSON_NOTICE,
                                               payload={"to": aad, "notice": NOTICE, "host": host})
                                 for aad in managers], now)
