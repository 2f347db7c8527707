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
bot/teams/signing_keys.py), then gates the service host (bot/teams/service_hosts.py) and the tenant,
de-duplicates state-changing activities on their id, runs the turn with the already-authenticated result, and writes the invoke
response as the plain dict the handler built. Every turn answers within its budget
(TURN_BUDGET_SECONDS): a database not available by then is answered "busy" (`_busy`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from msrest.serialization import Model
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlPoolTimeout

from bot.adapters import telemetry
from bot.domain import trace
from bot.domain.events import Event, EventKind
from bot.services.host_refusals import report_refused_host
from bot.services.ports import CaseStore, Clock
from bot.teams.handler import RapidReviewBot, tenant_of
from bot.teams.replies import FAILED, Reply, invoke_body
from bot.teams.service_hosts import ServiceHostPolicy, origin
from bot.teams.signing_keys import SigningKeysUnavailable
from bot.teams.training import TrainingEdge
from cards.actions import VERBS

log = logging.getLogger(__name__)


# Every turn answers within this (seconds from the request's arrival): Teams gives up on an
# invoke after about 5 s and shows an error; the answer then is BUSY (TURN_BUDGET_SECONDS).
DEFAULT_TURN_BUDGET = 3.5
BUSY = "The system is busy — your answer was not saved, please press again."
BUSY_SEND_SECONDS = 5.0
TURN_DEADLINE = web.RequestKey("rapid_review.turn_deadline", float)
RELEASE_ATTEMPTS, RELEASE_PAUSE_SECONDS = 60, 5.0  # a busy turn's claim: released within about 5 minutes
# PostgreSQL: lock_not_available, query_canceled, deadlock_detected, serialization_failure.
_UNAVAILABLE_SQLSTATES = frozenset({"55P03", "57014", "40P01", "40001"})


def database_unavailable(error: BaseException) -> bool:
    """The database answered that it is locked, unreachable or out of connections: a "busy"
    answer, not a failure (so is the turn's budget running out: `TimeoutError` at the edge)."""
    if isinstance(error, OperationalError | SqlPoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or getattr(error.orig, "sqlstate", None) in _UNAVAILABLE_SQLSTATES
    return False


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


class ActivityLog(Protocol):
    """Which activities were handled, with their stored answers (bot/adapters/db/turn_store.py)."""

    async def claim_activity(self, key: str, at: datetime) -> tuple[bool, Any]: ...
    async def remember_response(self, key: str, response: Any) -> None: ...
    async def release_activity(self, key: str) -> None: ...


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
        self.hosts = hosts  # the service hosts a reply may go to (bot/teams/service_hosts.py)
        self.training = training  # training mode only (bot/teams/training.py); None in production
        self.turn_budget = turn_budget  # seconds a turn may take before it answers "busy"
        self._background: set[asyncio.Future[None]] = set()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if "application/json" not in request.headers.get("Content-Type", ""):
            log.warning("rejected request: content type is not JSON")
            telemetry.refused("not_json")
            return web.Response(status=415)
        try:
            body = await request.json(loads=json.loads)
            activity = Activity().deserialize(body)
            if not isinstance(body, dict) or not activity.type:
                raise ValueError("not an activity")
        except web.HTTPRequestEntityTooLarge:
            log.warning("rejected request: body too large")
            telemetry.refused("too_large")
            return web.Response(status=413)
        except (ValueError, TypeError, AttributeError):
            log.warning("rejected request: body is not an activity")
            telemetry.refused("not_an_activity")
            return web.json_response({"error": "the body is not a Bot Framework activity"}, status=400)

        request[TURN_DEADLINE] = self._deadline()  # the budget counts from the request's arrival
        # The turn's correlation id, read by the error reply, the failure's log line and
        # every audit row written until the answer goes back (bot/domain/trace.py).
        conversation = activity.conversation
        turn = trace.begin(getattr(conversation, "conversation_type", None) or ("personal" if conversation else None),
                           getattr(conversation, "id", None))
        # Its span and metrics (bot/adapters/telemetry.py; nothing when telemetry is off): the
        # activity's type, the verb if it is one of our cards', the outcome — never card content.
        with telemetry.turn(activity_kind(activity)) as noted:
            verb = verb_of(activity)
            if verb is not None:
                noted.set("rr.verb", verb)
            try:
                response = await self._handle(activity, request)
                noted.set("http.response.status_code", response.status)
                if "rr.outcome" not in noted.attributes:
                    noted.set("rr.outcome", "ok" if response.status < 400 else
                              "refused" if response.status < 500 else "failed")
                if (current := trace.current()) is not None and current.after_answer:
                    await self._send_now(response, request)
                    for work in current.after_answer:
                        work()
                return response
            except Exception:
                noted.set("rr.outcome", "failed")
                raise
            finally:
                trace.end(turn)

    @staticmethod
    async def _send_now(response: web.StreamResponse, request: web.Request) -> None:
        """The answer, sent before the turn's after-answer work starts (bot/domain/trace.py)."""
        if not response.prepared:
            await response.prepare(request)
            await response.write_eof()

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
        if dedupe_key is not None:  # the answer is not held back for this: a retry finds it once written
            left = deadline - asyncio.get_running_loop().time()
            await self._in_background(self.turns.remember_response(dedupe_key, body), wait=left)
        return web.json_response(body, status=200)

    # ---- the turn budget ---------------------------------------------------------------------

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.turn_budget

    async def _busy(self, authenticated: Any, activity: Activity, claim: str | None, error: BaseException) -> web.Response:
        """The database did not answer within the turn's budget (locked, or unreachable): the
        turn was rolled back, and the person is told at once, in the conversation, to press
        again. The activity's de-duplication claim is released (once the database lets us), so
        Teams' retry of this very activity is handled, not taken for a duplicate."""
        turn = trace.current()
        telemetry.note("rr.outcome", "busy")
        log.warning("turn answered busy: the database was not available in time",
                    extra={"correlation": turn.correlation if turn else None, "error": type(error).__name__})
        text = trace.reference(BUSY)
        if claim is not None:
            await self._in_background(self._release(claim), wait=0)
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

    async def _release(self, claim: str) -> None:
        """Forget the claim of a turn that answered busy, as soon as the database allows."""
        for _ in range(RELEASE_ATTEMPTS):
            try:
                await self.turns.release_activity(claim)
                return
            except Exception as error:
                if not database_unavailable(error):
                    raise
            await asyncio.sleep(RELEASE_PAUSE_SECONDS)
        log.warning("an activity's de-duplication claim could not be released")

    async def _in_background(self, work: Coroutine[Any, Any, None], *, wait: float) -> None:
        """Run `work` to its end with the database's own (longer) patience, waiting for it here
        at most `wait` seconds; a failure is logged, never raised into the turn."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished)
        if wait > 0:
            await asyncio.wait({task}, timeout=wait)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("turn bookkeeping failed", extra={"error": type(task.exception()).__name__})

    async def _gate(self, activity: Activity) -> web.Response | None:
        service_url = activity.service_url or ""
        if not self.hosts.allows(service_url):
            # Its replies, and every later message to the conversation, would carry the bot's
            # token and the case cards to that host: refused before anything is stored.
            host = origin(service_url)
            log.warning("rejected request: service host not allowed", extra={"host": host})
            telemetry.refused("service_host")
            await report_refused_host(self.bot.services.uow, self.clock, host, "incoming activity")
            self.bot.services.kick_outbox()  # the managers' notice, the first time for this host
            return web.Response(status=403)
        if not self.local_mode and activity.channel_id != "msteams":
            log.warning("rejected request: channel", extra={"channel": str(activity.channel_id)[:20]})
            telemetry.refused("channel")
            return web.Response(status=403)
        tenant = tenant_of(activity)
        if self.allowed_tenants and tenant not in self.allowed_tenants:
            log.warning("rejected request: tenant not allowed")
            telemetry.refused("foreign_tenant")
            await self.cases.add_event(
                Event(kind=EventKind.FOREIGN_TENANT_REFUSED, at=self.clock.now(), actor_aad_id=None, actor_name=None,
                      detail={"tenant": (tenant or "")[:64]})
            )
            return web.Response(status=403)
        return None

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
