"""`POST /api/messages`: the only way in from Teams.

We do not use `CloudAdapter.process`, for three reasons found in botbuilder 4.17.1:
- it answers many forged or broken tokens (garbage, expired, unknown key, alg=none,
  missing issuer) and malformed JSON with HTTP 500, where the protocol wants 401/400
  (botbuilder 4.17.1's own behaviour; checked in tests/integration/test_http_auth.py) — and
  each 500 logs a stack trace;
- it serialises an invoke response body twice, so every Universal Actions reply
  becomes a 500 (a botbuilder 4.17.1 defect; docs/architecture.md, Verb table);
- it cannot de-duplicate activities that Teams delivers twice.

So this route authenticates first (every failure → 401, logged in one line with no
token or body; 503 with Retry-After while the signing keys cannot be fetched,
bot/teams/signing_keys.py), then gates the service host (bot/adapters/service_hosts.py) and the tenant,
de-duplicates state-changing activities on their id, runs the turn with the already-authenticated result, and writes the invoke
response as the plain dict the handler built. Every turn answers within its budget
(TURN_BUDGET_SECONDS): a database not available by then is answered "busy" (`_busy`).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from msrest.serialization import Model

from bot.adapters import telemetry
from bot.adapters.availability import database_unavailable
from bot.adapters.inbound import Bookkeeping, Gate, json_answer, note_busy, read_activity, send_now, traced_turn
from bot.adapters.service_hosts import ServiceHostPolicy
from bot.domain import trace
from bot.services.ports import ActivityLog, CaseStore, Clock
from bot.teams.activity_json import activity_from_json
from bot.teams.handler import RapidReviewBot
from bot.teams.signing_keys import SigningKeysUnavailable
from bot.turns.places import tenant_of
from bot.turns.replies import FAILED, Reply, invoke_body
from bot.turns.training import TrainingEdge
from cards.actions import VERBS

log = logging.getLogger(__name__)


# Every turn answers within this (seconds from the request's arrival): Teams gives up on an
# invoke after about 5 s and shows an error; the answer then is BUSY (TURN_BUDGET_SECONDS).
DEFAULT_TURN_BUDGET = 3.5
BUSY_SEND_SECONDS = 5.0
TURN_DEADLINE = web.RequestKey("rapid_review.turn_deadline", float)
def _deserialize(body: dict[str, Any]) -> Activity:
    activity = activity_from_json(body)  # msrest's reading, without its generic walk
    if not activity.type:
        raise ValueError("not an activity")
    return activity


_ACTIVITY_TYPES = frozenset(str(member.value) for member in ActivityTypes)


def activity_kind(activity: Activity) -> str:
    """The activity's type as telemetry records it: one of the Bot Framework's, else "other"
    (before authentication anyone can post anything; a metric's labels stay few)."""
    return activity.type if activity.type in _ACTIVITY_TYPES else "other"


def verb_of(activity: Activity) -> str | None:
    """The verb of a card press, if it is one of our cards' verbs ("unknown" otherwise): a
    name from the verb table, never anything the card data says beyond it."""
    value = activity.value if isinstance(activity.value, dict) else None
    if value is None:
        return None
    action = value.get("action")
    verb = action.get("verb") if isinstance(action, dict) else value.get("verb") or value.get("action")
    if not isinstance(verb, str):
        return None
    return verb if verb in VERBS else "unknown"


def _is_state_changing(activity: Activity) -> bool:
    return activity.type == ActivityTypes.invoke or (
        activity.type == ActivityTypes.message and bool(activity.value)
    )


class MessagesEndpoint:
    def __init__(self, adapter: CloudAdapter, bot: RapidReviewBot, turns: ActivityLog, cases: CaseStore,
                 clock: Clock, *, allowed_tenants: frozenset[str], local_mode: bool, hosts: ServiceHostPolicy,
                 training: TrainingEdge | None = None, turn_budget: float = DEFAULT_TURN_BUDGET) -> None:
        self.adapter = adapter
        self.bot = bot
        self.turns = turns
        self.cases = cases
        self.clock = clock
        self.allowed_tenants = allowed_tenants
        self.local_mode = local_mode
        self.hosts = hosts  # the service hosts a reply may go to (bot/adapters/service_hosts.py)
        self.training = training  # training mode only (bot/turns/training.py); None in production
        self.turn_budget = turn_budget  # seconds a turn may take before it answers "busy"
        self.gate = Gate(bot.services.uow, cases, clock, bot.services.kick_outbox, hosts=hosts, local_mode=local_mode,
                         allowed_tenants=allowed_tenants)
        self.bookkeeping = Bookkeeping(turns)

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        activity = await read_activity(request, _deserialize)
        if isinstance(activity, web.Response):
            return activity
        request[TURN_DEADLINE] = self._deadline()  # the budget counts from the request's arrival
        return await traced_turn(request, activity.conversation, activity_kind(activity), verb_of(activity),
                                 lambda: self._handle(activity, request), self._send_now)

    @staticmethod
    async def _send_now(response: web.StreamResponse, request: web.Request) -> None:
        await send_now(response, request)  # a seam: tests/integration/test_card_update_now.py

    async def _handle(self, activity: Activity, request: web.Request) -> web.StreamResponse:
        auth_header = request.headers.get("Authorization", "")
        try:
            authenticated = await self.adapter.bot_framework_authentication.authenticate_request(
                activity, auth_header
            )
        except SigningKeysUnavailable as unavailable:  # no keys to check it against: not now, not never
            log.warning("rejected request: signing keys unavailable", extra={"retry_after": unavailable.retry_after})
            return web.Response(status=503, headers={"Retry-After": str(unavailable.retry_after)})
        except Exception as error:  # noqa: BLE001 - any failure to authenticate is a 401, never a 500
            log.warning("rejected request: authentication failed", extra={"reason": type(error).__name__})
            telemetry.refused("unauthenticated")
            return web.Response(status=401)

        refusal = await self._gate(activity)
        if refusal is not None:
            return refusal

        dedupe_key = self._dedupe_key(activity)
        claimed = False
        deadline = request.get(TURN_DEADLINE) or self._deadline()
        try:  # the turn, within its budget (TURN_BUDGET_SECONDS from the request's arrival)
            async with asyncio.timeout_at(deadline):
                if dedupe_key is not None:
                    first, stored = await self.turns.claim_activity(dedupe_key, self.clock.now())
                    if not first:
                        return self._duplicate(activity, stored)
                    claimed = True
                logic, real = self.bot.on_turn, None
                if self.training is not None:  # training mode: the acted identity and the banner
                    real = await self.training.before_turn(activity)
                    logic = self.training.around(real, self.bot.on_turn)
                invoke_response = await self.adapter.process_activity(authenticated, activity, logic)
        except Exception as error:
            if not (isinstance(error, TimeoutError) or database_unavailable(error)):
                raise
            return await self._busy(authenticated, activity, dedupe_key if claimed else None, error)
        if activity.type != ActivityTypes.invoke:
            return web.Response(status=201 if invoke_response is None else int(invoke_response.status))
        body = self._invoke_payload(invoke_response)
        answered = body.get("statusCode", 200) if isinstance(body, dict) else 200
        if isinstance(answered, int) and answered >= 400:
            telemetry.note("rr.outcome", "refused" if answered < 500 else "failed")
        if self.training is not None:
            body = self.training.wrap_invoke_body(body, real)
        if dedupe_key is not None:  # written after the answer, with this process's next write
            await self.turns.remember_response(dedupe_key, body)
        return json_answer(body)

    # ---- the turn budget ---------------------------------------------------------------------

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.turn_budget

    async def _busy(self, authenticated: Any, activity: Activity, claim: str | None, error: BaseException) -> web.Response:
        """The database did not answer within the turn's budget (locked, or unreachable): the
        turn was rolled back, and the person is told at once, in the conversation, to press
        again. The activity's de-duplication claim is released (once the database lets us), so
        Teams' retry of this very activity is handled, not taken for a duplicate."""
        text = note_busy(error)
        if claim is not None:
            await self.bookkeeping.release_soon(claim)
        if activity.type == ActivityTypes.invoke:
            return web.json_response(invoke_body(Reply(text=text)), status=200)

        async def say_busy(turn_context: TurnContext) -> None:
            await turn_context.send_activity(text)

        try:
            async with asyncio.timeout(BUSY_SEND_SECONDS):
                await self.adapter.process_activity(authenticated, activity, say_busy)
        except Exception as send_error:  # noqa: BLE001 - the turn was rolled back whether or not this arrives
            log.warning("could not tell the user the system is busy", extra={"error": type(send_error).__name__})
        return web.Response(status=200)

    async def _gate(self, activity: Activity) -> web.Response | None:
        return await self.gate.refusal(activity.service_url or "", str(activity.channel_id), tenant_of(activity))

    @staticmethod
    def _dedupe_key(activity: Activity) -> str | None:
        if not activity.id or not _is_state_changing(activity):
            return None
        conversation = activity.conversation.id if activity.conversation else ""
        return f"{conversation}|{activity.id}"[:400]

    @staticmethod
    def _duplicate(activity: Activity, stored: Any) -> web.Response:
        """Teams retried an activity we already handled: answer as before, do nothing again."""
        log.info("duplicate activity ignored")
        telemetry.note("rr.outcome", "duplicate")
        if activity.type != ActivityTypes.invoke:
            return web.Response(status=200)
        if stored is None:
            stored = invoke_body(Reply(text="Still working on your last click — one moment."))
        return web.json_response(stored, status=200)

    @staticmethod
    def _invoke_payload(invoke_response: Any) -> dict[str, Any]:
        if invoke_response is None or int(invoke_response.status) == 501 or invoke_response.body is None:
            return invoke_body(Reply(text=trace.reference(FAILED), status=500))
        body = invoke_response.body
        return body.serialize() if isinstance(body, Model) else body


async def method_not_allowed(request: web.Request) -> web.Response:
    """Anything but POST on /api/messages: 405, logged in one line like every other rejection.
    HEAD and OPTIONS are probes (Microsoft 365 Agents Playground sends HEAD when it starts),
    not attacks: the same answer, logged at INFO."""
    level = logging.INFO if request.method in ("HEAD", "OPTIONS") else logging.WARNING
    log.log(level, "rejected request: method not allowed", extra={"method": request.method[:10]})
    return web.Response(status=405, headers={"Allow": "POST"})


async def on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """A turn failed. The user gets a generic message with a correlation id; the log
    gets the exception type and where — never the activity or the exception text,
    which could quote what someone typed about a child."""
    if database_unavailable(error):
        raise error  # the edge answers "busy" (MessagesEndpoint._busy)
    turn = trace.current()
    correlation = turn.correlation if turn else trace.new_correlation()
    where = "".join(traceback.format_tb(error.__traceback__)[-3:]) if error.__traceback__ else ""
    log.error("turn failed", extra={"correlation": correlation, "error": type(error).__name__, "where": where})
    if turn_context.activity.type == ActivityTypes.invoke:
        return
    try:
        await turn_context.send_activity(trace.reference(FAILED, correlation))
    except Exception:  # noqa: BLE001 - the original error is what matters
        log.warning("could not tell the user about the failed turn", extra={"correlation": correlation})
