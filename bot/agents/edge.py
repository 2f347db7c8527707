"""`POST /api/messages` on the Microsoft 365 Agents SDK (TEAMS_EDGE=agents): the same contract
as the botbuilder edge (bot/teams/edge.py), request for request.

The SDK's `CloudAdapter.process` (microsoft-agents-hosting-aiohttp 1.9.0) is not used, for
causes found in its source:
- its token check is not the protocol's (bot/agents/authentication.py says what it misses);
- it validates the body with pydantic after the turn's start and lets a `ValidationError`
  become a 500, and its default `on_turn_error` prints the stack trace and sends the exception's
  text — which may quote what someone typed about a child — to the conversation;
- it cannot de-duplicate activities that Teams delivers twice, nor answer "busy" in time.

So this route, like the botbuilder one: refuses what is not a JSON activity (415, 413, 400);
authenticates before anything else is read or stored (every failure 401, logged in one line
with no token or body; 503 with Retry-After while the signing keys cannot be fetched); gates
the service host, the channel and the tenant (403); claims state-changing activities once (a
retry gets the stored answer); runs the turn through the SDK adapter's `process_activity`
within the turn's budget (BUSY after it); and writes an invoke's answer once, as the plain dict
the route built. What the SDK does right is kept: its turn context, `AgentApplication` routing,
and `InvokeResponse` handling (its invoke body is not serialised twice, unlike botbuilder 4.17.1).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import ChannelServiceAdapter, ClaimsIdentity, MessageFactory, TurnContext

from bot.adapters import telemetry
from bot.adapters.availability import database_unavailable
from bot.adapters.inbound import Bookkeeping, Gate, json_answer, note_busy, read_activity, traced_turn
from bot.adapters.service_hosts import ServiceHostPolicy
from bot.adapters.signing_keys import SigningKeysUnavailable
from bot.agents.application import invoke_answer
from bot.agents.authentication import ChannelTokens
from bot.domain import trace
from bot.services.context import ServiceContext
from bot.services.ports import ActivityLog
from bot.turns.training import TrainingEdge

log = logging.getLogger(__name__)

DEFAULT_TURN_BUDGET = 3.5  # seconds from the request's arrival (TURN_BUDGET_SECONDS)
FAILED = "Sorry, something went wrong. Nothing was changed; please try again."
STILL_WORKING = "Still working on your last click — one moment."
BUSY_SEND_SECONDS = 5.0
_KNOWN_TYPES = frozenset(str(member.value) for member in ActivityTypes)

Logic = Callable[[TurnContext], Awaitable[None]]


def _parse(body: dict[str, Any]) -> Activity:
    """The SDK's activity model; a body it refuses is not an activity (pydantic's ValidationError
    is a ValueError)."""
    return Activity.model_validate(body)


def tenant_of(activity: Activity) -> str | None:
    """The tenant Teams names in channelData, else on the conversation (lower case)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    found = tenant.get("id") if isinstance(tenant, dict) else None
    found = found or getattr(activity.conversation, "tenant_id", None)
    return str(found).lower() if found else None


def dedupe_key(activity: Activity) -> str | None:
    """State-changing activities (card presses) are handled once per conversation and id."""
    changes_state = activity.type == ActivityTypes.invoke or (
        activity.type == ActivityTypes.message and bool(activity.value))
    if not activity.id or not changes_state:
        return None
    return f"{activity.conversation.id if activity.conversation else ''}|{activity.id}"[:400]


class AgentsMessagesEndpoint:
    def __init__(self, adapter: ChannelServiceAdapter, logic: Logic, tokens: ChannelTokens, services: ServiceContext,
                 turns: ActivityLog, *, allowed_tenants: frozenset[str], local_mode: bool, hosts: ServiceHostPolicy,
                 training: TrainingEdge | None = None, turn_budget: float = DEFAULT_TURN_BUDGET) -> None:
        self.adapter = adapter
        self.logic = logic  # the AgentApplication's on_turn (bot/agents/application.py)
        self.tokens = tokens
        self.services = services
        self.turns = turns
        self.hosts = hosts
        self.gate = Gate(services.uow, services.cases, services.clock, services.kick_outbox, hosts=hosts,
                         local_mode=local_mode, allowed_tenants=allowed_tenants)
        self.bookkeeping = Bookkeeping(turns)
        self.turn_budget = turn_budget
        self.training = training  # training mode only (bot/turns/training.py); None in production
        adapter.on_turn_error = on_turn_error

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        activity = await read_activity(request, _parse)
        if isinstance(activity, web.Response):
            return activity
        deadline = asyncio.get_running_loop().time() + self.turn_budget  # from the request's arrival
        kind = activity.type if activity.type in _KNOWN_TYPES else "other"
        return await traced_turn(request, activity.conversation, kind, None,
                                 lambda: self._handle(activity, request, deadline))

    async def _handle(self, activity: Activity, request: web.Request, deadline: float) -> web.Response:
        try:
            identity = await self.tokens.authenticate(request.headers.get("Authorization", ""),
                                                      str(activity.channel_id or ""), activity.service_url or "")
        except SigningKeysUnavailable as unavailable:
            log.warning("rejected request: signing keys unavailable", extra={"retry_after": unavailable.retry_after})
            return web.Response(status=503, headers={"Retry-After": str(unavailable.retry_after)})
        except Exception as error:  # noqa: BLE001 - any failure to authenticate is a 401, never a 500
            log.warning("rejected request: authentication failed", extra={"reason": type(error).__name__})
            telemetry.refused("unauthenticated")
            return web.Response(status=401)
        refusal = await self.gate.refusal(activity.service_url or "", str(activity.channel_id or ""),
                                          tenant_of(activity))
        if refusal is not None:
            return refusal
        key, claimed = dedupe_key(activity), False
        try:
            async with asyncio.timeout_at(deadline):
                if key is not None:
                    first, stored = await self.turns.claim_activity(key, self.services.clock.now())
                    if not first:
                        return self._duplicate(activity, stored)
                    claimed = True
                logic, real = self.logic, None
                if self.training is not None:  # training mode: the acted identity and the banner
                    real = await self.training.before_turn(activity)
                    logic = self.training.around(real, self.logic)
                invoke_response = await self.adapter.process_activity(identity, activity, logic)
        except Exception as error:
            if not (isinstance(error, TimeoutError) or database_unavailable(error)):
                raise
            return await self._busy(identity, activity, key if claimed else None, error)
        if activity.type != ActivityTypes.invoke:
            return web.Response(status=201 if invoke_response is None else int(invoke_response.status))
        body = self._invoke_body(invoke_response)
        if self.training is not None:
            body = self.training.wrap_invoke_body(body, real)
        if key is not None:  # written after the answer, with this process's next write
            await self.turns.remember_response(key, body)
        return json_answer(body)

    @staticmethod
    def _duplicate(activity: Activity, stored: Any) -> web.Response:
        """Teams retried an activity already handled: the same answer, nothing done again."""
        log.info("duplicate activity ignored")
        telemetry.note("rr.outcome", "duplicate")
        if activity.type != ActivityTypes.invoke:
            return web.Response(status=200)
        return web.json_response(stored if stored is not None else invoke_answer(STILL_WORKING, 200), status=200)

    @staticmethod
    def _invoke_body(invoke_response: Any) -> dict[str, Any]:
        body = getattr(invoke_response, "body", None)
        if invoke_response is None or int(invoke_response.status) == 501 or not isinstance(body, dict):
            return invoke_answer(trace.reference(FAILED), 500)
        return body

    async def _busy(self, identity: ClaimsIdentity, activity: Activity, claim: str | None,
                    error: BaseException) -> web.Response:
        """The database did not answer within the budget: the turn rolled back; the person is told
        to press again, and the claim is released so Teams' retry is handled as new."""
        text = note_busy(error)
        if claim is not None:
            await self.bookkeeping.release_soon(claim)
        if activity.type == ActivityTypes.invoke:
            return web.json_response(invoke_answer(text, 200), status=200)  # as the botbuilder edge: a message

        async def say_busy(context: TurnContext) -> None:
            await context.send_activity(MessageFactory.text(text))

        try:
            async with asyncio.timeout(BUSY_SEND_SECONDS):
                await self.adapter.process_activity(identity, activity, say_busy)
        except Exception as send_error:  # noqa: BLE001 - rolled back whether or not this arrives
            log.warning("could not tell the user the system is busy", extra={"error": type(send_error).__name__})
        return web.Response(status=200)


async def on_turn_error(context: TurnContext, error: Exception) -> None:
    """In place of the SDK's default, which prints the stack trace and sends the exception's text
    to the conversation: the log gets the type and where, the person a generic line with the
    turn's reference. A busy database is raised to the edge, which answers BUSY."""
    if database_unavailable(error):
        raise error
    turn = trace.current()
    correlation = turn.correlation if turn else trace.new_correlation()
    where = "".join(traceback.format_tb(error.__traceback__)[-3:]) if error.__traceback__ else ""
    log.error("turn failed", extra={"correlation": correlation, "error": type(error).__name__, "where": where})
    if context.activity.type == ActivityTypes.invoke:
        return
    try:
        await context.send_activity(MessageFactory.text(trace.reference(FAILED, correlation)))
    except Exception:  # noqa: BLE001 - the original error is what matters
        log.warning("could not tell the user about the failed turn", extra={"correlation": correlation})
