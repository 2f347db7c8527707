"""The SDK-neutral half of `POST /api/messages`, the same on both edges (bot/teams/edge.py,
bot/agents/edge.py): reading the body, the turn's correlation id and telemetry, the gate on
service host, channel and tenant, and the bookkeeping a turn leaves behind. Each edge adds
what its SDK needs: parsing the activity, authenticating, running the turn."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from bot.adapters import telemetry
from bot.adapters.availability import database_unavailable
from bot.adapters.service_hosts import ServiceHostPolicy, origin
from bot.domain import trace
from bot.domain.events import Event, EventKind
from bot.domain.json_text import MeasuredJson
from bot.services.host_refusals import report_refused_host
from bot.services.ports import ActivityLog, CaseStore, Clock, UnitOfWork

log = logging.getLogger(__name__)

RELEASE_ATTEMPTS, RELEASE_PAUSE_SECONDS = 60, 5.0  # a busy turn's claim: released within about 5 minutes
Parsed = TypeVar("Parsed")


async def read_activity(request: web.Request, parse: Callable[[dict[str, Any]], Parsed]) -> Parsed | web.Response:
    """The body as the edge's activity, or the refusal: 415 not JSON, 413 too large, 400 not an
    activity (`parse` raises ValueError, TypeError or AttributeError — or a subclass — for that)."""
    if "application/json" not in request.headers.get("Content-Type", ""):
        log.warning("rejected request: content type is not JSON")
        telemetry.refused("not_json")
        return web.Response(status=415)
    try:
        body = await request.json(loads=json.loads)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str) or not body["type"]:
            raise ValueError("not an activity")
        return parse(body)
    except web.HTTPRequestEntityTooLarge:
        log.warning("rejected request: body too large")
        telemetry.refused("too_large")
        return web.Response(status=413)
    except (ValueError, TypeError, AttributeError):
        log.warning("rejected request: body is not an activity")
        telemetry.refused("not_an_activity")
        return web.json_response({"error": "the body is not a Bot Framework activity"}, status=400)


async def send_now(response: web.StreamResponse, request: web.Request) -> None:
    """The answer, sent before the turn's after-answer work starts (bot/domain/trace.py)."""
    if not response.prepared:
        await response.prepare(request)
        await response.write_eof()


SendNow = Callable[[web.StreamResponse, web.Request], Awaitable[None]]


async def traced_turn(request: web.Request, conversation: Any, kind: str, verb: str | None,
                      handle: Callable[[], Awaitable[web.StreamResponse]],
                      answer_first: SendNow = send_now) -> web.StreamResponse:
    """Run `handle` as one turn: its correlation id (read by the error reply, the failure's log line
    and every audit row written until the answer goes back, bot/domain/trace.py), its span and
    metrics (the activity's type, the verb if it is one of our cards', the outcome — never card
    content), and the turn's after-answer work once the answer is sent."""
    turn = trace.begin(getattr(conversation, "conversation_type", None) or ("personal" if conversation else None),
                       getattr(conversation, "id", None))
    with telemetry.turn(kind) as noted:
        if verb is not None:
            noted.set("rr.verb", verb)
        try:
            response = await handle()
            noted.set("http.response.status_code", response.status)
            if "rr.outcome" not in noted.attributes:
                noted.set("rr.outcome", "ok" if response.status < 400 else
                          "refused" if response.status < 500 else "failed")
            if (current := trace.current()) is not None and current.after_answer:
                await answer_first(response, request)
                for work in current.after_answer:
                    work()
            return response
        except Exception:
            noted.set("rr.outcome", "failed")
            raise
        finally:
            trace.end(turn)


class Gate:
    """Who may be answered at all, after authentication: a service host the bot may send to, Teams
    (outside local mode), a tenant of the partnership. Each refusal is a 403 in one log line."""

    def __init__(self, uow: UnitOfWork, cases: CaseStore, clock: Clock, kick_outbox: Callable[[], None], *,
                 hosts: ServiceHostPolicy, local_mode: bool, allowed_tenants: frozenset[str]) -> None:
        self.uow, self.cases, self.clock, self.kick_outbox = uow, cases, clock, kick_outbox
        self.hosts = hosts  # the service hosts a reply may go to (bot/adapters/service_hosts.py)
        self.local_mode = local_mode
        self.allowed_tenants = allowed_tenants

    async def refusal(self, service_url: str, channel_id: str, tenant: str | None) -> web.Response | None:
        if not self.hosts.allows(service_url):
            # Its replies, and every later message to the conversation, would carry the bot's
            # token and the case cards to that host: refused before anything is stored.
            host = origin(service_url)
            log.warning("rejected request: service host not allowed", extra={"host": host})
            telemetry.refused("service_host")
            await report_refused_host(self.uow, self.clock, host, "incoming activity")
            self.kick_outbox()  # the managers' notice, the first time for this host
            return web.Response(status=403)
        if not self.local_mode and channel_id != "msteams":
            log.warning("rejected request: channel", extra={"channel": channel_id[:20]})
            telemetry.refused("channel")
            return web.Response(status=403)
        if self.allowed_tenants and tenant not in self.allowed_tenants:
            log.warning("rejected request: tenant not allowed")
            telemetry.refused("foreign_tenant")
            await self.cases.add_event(
                Event(kind=EventKind.FOREIGN_TENANT_REFUSED, at=self.clock.now(), actor_aad_id=None, actor_name=None,
                      detail={"tenant": (tenant or "")[:64]}))
            return web.Response(status=403)
        return None


class Bookkeeping:
    """What a turn leaves to finish after its answer: the release of a busy turn's claim. Run
    with the database's own (longer) patience; a failure is logged, never raised into a turn."""

    def __init__(self, turns: ActivityLog) -> None:
        self.turns = turns
        self._background: set[asyncio.Future[None]] = set()

    async def in_background(self, work: Coroutine[Any, Any, None], *, wait: float) -> None:
        """Run `work` to its end, waiting for it here at most `wait` seconds."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished)
        if wait > 0:
            await asyncio.wait({task}, timeout=wait)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("turn bookkeeping failed", extra={"error": type(task.exception()).__name__})

    async def release_soon(self, claim: str) -> None:
        """Forget the claim of a turn that answered busy, as soon as the database allows, so that
        Teams' retry of that very activity is handled, not taken for a duplicate."""
        await self.in_background(self._release(claim), wait=0)

    async def _release(self, claim: str) -> None:
        for _ in range(RELEASE_ATTEMPTS):
            try:
                await self.turns.release_activity(claim)
                return
            except Exception as error:
                if not database_unavailable(error):
                    raise
            await asyncio.sleep(RELEASE_PAUSE_SECONDS)
        log.warning("an activity's de-duplication claim could not be released")


def note_busy(error: BaseException) -> str:
    """Log and count a turn answered busy; the text to answer, with the turn's reference."""
    turn = trace.current()
    telemetry.note("rr.outcome", "busy")
    log.warning("turn answered busy: the database was not available in time",
                extra={"correlation": turn.correlation if turn else None, "error": type(error).__name__})
    return trace.reference(BUSY)


BUSY = "The system is busy — your answer was not saved, please press again."


def json_answer(body: dict[str, Any]) -> web.Response:
    """The invoke answer on the wire: a body measured against the size budget goes as the text
    it was measured as (bot/domain/json_text.py), not written a second time."""
    if isinstance(body, MeasuredJson):
        return web.Response(text=body.text, content_type="application/json")
    return web.json_response(body, status=200)
