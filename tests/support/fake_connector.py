"""A local stand-in for the Bot Connector service (Bot Framework REST API v3, Teams flavour).

The bot's outgoing activities carry ``serviceUrl`` = :attr:`FakeConnector.url`, so botbuilder's
``ConnectorClient`` (msrest) talks to this server instead of ``smba.trafficmanager.net``.

In-process use (pytest)::

    async with FakeConnector() as fake:
        fake.add_user("29:alice", "Alice Smith", email="alice@example.org")
        ...  # drive the bot with service_url=fake.url
        sent = await fake.wait_for_sent(1)
        assert "Rapid review" in sent[0].text

Out-of-process use (benchmark)::

    python -m tests.support.fake_connector --port 0 [--enforce-rate 7] [--latency 0.02]
    # stdout: "READY http://127.0.0.1:PORT/"; on SIGTERM/SIGINT prints the stats JSON on one line.
    # Control endpoints (never recorded, never faulted):
    #   GET  /_stats           counts as JSON
    #   POST /_faults          {"fail_next": n, "status": 429, "retry_after": 1, "route_kind": "send"}
    #                          {"enforce_rate": 7, "per_conversation": true} ({"enforce_rate": null} = off)
    #                          {"teams_limits": true, "reply_chains_together": true}: every Teams limit,
    #                          per thread and per tenant, refusals counted as violations
    #                          {"latency": 0.05}   {"reset": true}
    #   POST /_users           a user dict, a list of them, or {"users": [...]}
    #   POST /_teams           {"id": ..., "name": ..., "aadGroupId": ..., "channels": [{"id":..,"name":..}]}
    #   POST /_clear           forget recordings and counters (keeps users, teams and faults)
    #   GET  /_sent            accepted activities (?conversation=<id prefix>; with &exact=1, only
    #                          that conversation and its threads, looked up without a scan; with
    #                          &last=1 as well, {"count": n, "last": the newest or null})
    #   GET  /_payload_text    every recorded request body as JSON text (for confidentiality canaries)

Route kinds (used by ``fail_next``/``set_latency`` and stored on each :class:`Recorded`):
``send`` (POST .../activities), ``reply`` (POST .../activities/{id}), ``update`` (PUT),
``delete``, ``create`` (POST /v3/conversations), ``members`` (members, member, pagedmembers),
``teams`` (/v3/teams/...), ``conversations`` (GET /v3/conversations), ``other`` (unknown route, 404).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import inspect
import itertools
import json
import math
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["ROUTE_KINDS", "FakeConnector", "Recorded", "SentActivity"]

ROUTE_KINDS = frozenset(
    {"send", "reply", "update", "delete", "create", "members", "teams", "conversations", "other"}
)
DEFAULT_TENANT_ID = "00000000-0000-4000-8000-00000000f4ce"
# Teams' documented limits (learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit), enforced by
# enforce_teams_limits(): per bot per thread (window seconds, messages), and per app per tenant per second.
TEAMS_THREAD_LIMITS = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
TEAMS_TENANT_PER_SECOND = 50
_THREAD_KINDS = frozenset({"send", "reply", "update", "delete"})
_TENANT_KINDS = _THREAD_KINDS | {"create", "members", "teams", "conversations"}

_ERROR_CODES = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    412: "PreconditionFailed",
    413: "MessageSizeTooBig",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "ServiceError",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(slots=True)
class Recorded:
    """One request the fake received (control endpoints excluded)."""

    method: str
    path: str  # decoded path, no query string
    conversation_id: str | None
    activity_id: str | None
    body: Any  # parsed JSON; the raw text if it was not JSON; None if empty
    headers: dict[str, str]
    at: float  # FakeConnector.monotonic() on arrival (time.monotonic unless a test gives a fake clock)
    kind: str = "other"
    status: int = 0  # the status we answered with (0 while still in flight)
    query: dict[str, str] = field(default_factory=dict)
    response: Any = None  # the JSON we answered with, if any


@dataclass(slots=True, frozen=True)
class SentActivity:
    """An activity the fake accepted (2xx): a send, a reply, a create's activity or an update."""

    kind: str  # "send" | "reply" | "create" | "update"
    conversation_id: str
    activity_id: str
    activity: dict[str, Any]
    reply_to_id: str | None
    at: float

    @property
    def text(self) -> str | None:
        return self.activity.get("text")

    @property
    def attachments(self) -> list[dict[str, Any]]:
        return self.activity.get("attachments") or []


@dataclass(slots=True)
class _Fault:
    remaining: int
    status: int
    retry_after: float | None
    route_kind: str | None
    code: str | None
    message: str | None
    conversation: str | None = None  # only requests to conversations whose id starts with this


def _format_retry_after(seconds: float) -> str:
    # urllib3 (used by msrest's requests sender) only accepts integer seconds or an HTTP date and
    # raises InvalidHeader on "0.5"; keep integers integral, pass fractions through verbatim.
    if float(seconds).is_integer():
        return str(int(seconds))
    return repr(float(seconds))


def _error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    code = code or _ERROR_CODES.get(status, f"Http{status}")
    return {"error": {"code": code, "message": message or f"Fake Bot Connector answered {status} {code}"}}


def _takes_argument(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        and (p.default is p.empty or p.kind is p.VAR_POSITIONAL)
        for p in params
    )


def _without_thread(conversation_id: str) -> str:
    """A channel thread's conversation id is the channel's with ";messageid=<root id>"."""
    return conversation_id.partition(";")[0]


def _pick(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return default


class FakeConnector:
    """Bot Connector v3 stand-in on 127.0.0.1 with recording, fault injection and rate limiting."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        max_records: int | None = None,
        shutdown_timeout: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        # Arrival times (Recorded.at, the rate limit, peaks per second) are read from this clock;
        # a test that paces on a fake clock gives the connector the same one.
        self.monotonic = monotonic
        self._port_wanted = port
        self.tenant_id = tenant_id
        self.max_records = max_records
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

        self.requests: list[Recorded] = []
        self.throttled: list[Recorded] = []  # answered 429 by the rate limiter
        self.faulted: list[Recorded] = []  # answered by a fail_next() rule
        self._sent: list[SentActivity] = []
        self._updates: list[SentActivity] = []
        # Both, per conversation (a thread's id without its ";messageid="): a benchmark's client
        # reads one conversation's activities between turns, and a scan of every activity so far
        # grows with the run (31 ms at 350,000) and was timed as the bot's.
        self._by_conversation: dict[str, collections.deque[SentActivity]] = {}

        self._users: dict[str, dict[str, Any]] = {}  # id -> TeamsChannelAccount JSON
        self._user_alias: dict[str, str] = {}  # lower-cased aadObjectId / UPN -> id
        self._user_scope: dict[str, frozenset[str] | None] = {}  # id -> conversation ids (None: all)
        self._teams: dict[str, dict[str, Any]] = {}
        self._one_to_one: dict[tuple[str, str], str] = {}

        self._faults: list[_Fault] = []
        self._latency: dict[str | None, float] = {}
        self._hold: list[Any] | None = None  # [seconds, conversation id prefix, posts still answered at once]
        self._rate: float | None = None
        self._rate_per_conversation = True
        self._rate_kinds: frozenset[str] = frozenset({"send", "reply"})
        self._teams_limits: dict[str, Any] | None = None  # enforce_teams_limits()

        self._ids = itertools.count(int(time.time() * 1000))
        self._reset_counters()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeConnector is not started")
        return f"http://{self.host}:{self._port}/"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeConnector is not started")
        return self._port

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        r = app.router
        r.add_get("/_stats", self._ctl_stats)
        r.add_post("/_faults", self._ctl_faults)
        r.add_post("/_users", self._ctl_users)
        r.add_post("/_teams", self._ctl_teams)
        r.add_post("/_clear", self._ctl_clear)
        r.add_get("/_sent", self._ctl_sent)
        r.add_get("/_payload_text", self._ctl_payload_text)
        r.add_post("/v3/conversations", self._create)
        r.add_get("/v3/conversations", self._list_conversations)
        r.add_post("/v3/conversations/{conversationId}/activities", self._send)
        r.add_post("/v3/conversations/{conversationId}/activities/{activityId}", self._reply)
        r.add_put("/v3/conversations/{conversationId}/activities/{activityId}", self._update)
        r.add_delete("/v3/conversations/{conversationId}/activities/{activityId}", self._delete)
        r.add_get("/v3/conversations/{conversationId}/members", self._members)
        r.add_get("/v3/conversations/{conversationId}/pagedmembers", self._paged_members)
        r.add_get("/v3/conversations/{conversationId}/members/{memberId}", self._member)
        r.add_get("/v3/teams/{teamId}", self._team_details)
        r.add_get("/v3/teams/{teamId}/conversations", self._team_channels)
        r.add_route("*", "/{tail:.*}", self._unknown)
        return app

    async def start(self) -> FakeConnector:
        if self._runner is not None:
            return self
        runner = web.AppRunner(
            self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port_wanted, backlog=1024)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self.stop_thread)
            return
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeConnector:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 10.0) -> FakeConnector:
        """Serve from a private event loop in a daemon thread.

        Needed when the code under test makes *blocking* connector calls on the test's event loop,
        e.g. ``TeamsInfo.get_team_details``/``get_team_channels`` (they use the synchronous
        ``TeamsConnectorClient``): an in-loop server could never answer them.
        """
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                runner, self._runner = self._runner, None
                if runner is not None:
                    loop.run_until_complete(runner.cleanup())
                loop.close()

        thread = threading.Thread(target=run, name="fake-bot-connector", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("FakeConnector thread did not start")
        if failure:
            raise failure[0]
        self._thread, self._thread_loop = thread, loop
        return self

    def stop_thread(self, timeout: float = 10.0) -> None:
        thread, loop = self._thread, self._thread_loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = self._thread_loop = None

    def __enter__(self) -> FakeConnector:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # ------------------------------------------------------------------ registry

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        aad_object_id: str | None = None,
        email: str | None = None,
        user_principal_name: str | None = None,
        tenant_id: str | None = None,
        user_role: str = "user",
        given_name: str | None = None,
        surname: str | None = None,
        conversations: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Register a member. ``conversations`` limits membership to those conversation/team ids
        (compared without any ``;messageid=`` suffix); None means a member of every conversation.
        Lookups by ``/members/{memberId}`` accept the id, the aadObjectId or the UPN."""
        account = {
            "id": user_id,
            "name": name,
            "aadObjectId": aad_object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-aad:{user_id}")),
            "givenName": given_name or (name.split(" ", 1)[0] if name else None),
            "surname": surname or (name.split(" ", 1)[1] if name and " " in name else None),
            "email": email,
            "userPrincipalName": user_principal_name or email,
            "tenantId": tenant_id or self.tenant_id,
            "userRole": user_role,
        }
        self.remove_user(user_id)
        self._users[user_id] = account
        self._user_alias[account["aadObjectId"].lower()] = user_id
        if account["userPrincipalName"]:
            self._user_alias[account["userPrincipalName"].lower()] = user_id
        self._user_scope[user_id] = (
            None if conversations is None else frozenset(c.split(";", 1)[0] for c in conversations)
        )
        return account

    def add_users(self, users: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Register users from dicts in camelCase (TeamsChannelAccount JSON) or snake_case."""
        added = []
        for u in users:
            added.append(
                self.add_user(
                    _pick(u, "id", "user_id"),
                    _pick(u, "name", default=""),
                    aad_object_id=_pick(u, "aadObjectId", "aad_object_id"),
                    email=_pick(u, "email"),
                    user_principal_name=_pick(u, "userPrincipalName", "user_principal_name", "upn"),
                    tenant_id=_pick(u, "tenantId", "tenant_id"),
                    user_role=_pick(u, "userRole", "user_role", default="user"),
                    given_name=_pick(u, "givenName", "given_name"),
                    surname=_pick(u, "surname"),
                    conversations=_pick(u, "conversations"),
                )
            )
        return added

    def remove_user(self, user_id: str) -> None:
        old = self._users.pop(user_id, None)
        self._user_scope.pop(user_id, None)
        if old:
            for alias in (old.get("aadObjectId"), old.get("userPrincipalName")):
                if alias and self._user_alias.get(alias.lower()) == user_id:
                    del self._user_alias[alias.lower()]

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        return dict(self._users)

    def add_team(
        self,
        team_id: str,
        name: str,
        *,
        aad_group_id: str | None = None,
        channels: Mapping[str, str | None] | Iterable[tuple[str, str | None]] = (),
    ) -> dict[str, Any]:
        """Register a team. The General channel (id == team id, name None) is always present."""
        chans = dict(channels.items() if isinstance(channels, Mapping) else channels)
        chans.setdefault(team_id, None)
        team = {
            "id": team_id,
            "name": name,
            "aadGroupId": aad_group_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-group:{team_id}")),
            "type": "standard",
            "channels": chans,
        }
        self._teams[team_id] = team
        return team

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        n: int = 1,
        status: int = 429,
        retry_after: float | None = 1,
        route_kind: str | None = None,
        *,
        code: str | None = None,
        message: str | None = None,
        conversation: str | None = None,
    ) -> None:
        """The next ``n`` requests of ``route_kind`` (None: any) get ``status`` with a Bot Connector
        style error body (``{"error": {"code", "message"}}``) and ``Retry-After`` when given.
        ``conversation`` narrows the fault to conversations whose id starts with it (one
        person's personal chat, e.g. a 404 for someone who has not installed the app).

        Beware: msrest's urllib3 Retry transparently re-sends PUT/GET/DELETE (not POST) that get a
        429/503 with Retry-After (sleeping that long, up to 3 retries), and 5xx other than 501/505
        even without it; a fractional Retry-After ("0.5") makes urllib3 raise InvalidHeader, which
        surfaces as ``msrest.exceptions.ClientRequestError`` for those verbs."""
        if route_kind is not None and route_kind not in ROUTE_KINDS:
            raise ValueError(f"route_kind must be one of {sorted(ROUTE_KINDS)} or None, not {route_kind!r}")
        if n > 0:
            self._faults.append(_Fault(n, status, retry_after, route_kind, code, message, conversation))

    def set_latency(self, seconds: float, route_kind: str | None = None) -> None:
        """Delay every answer (or only those of ``route_kind``) by ``seconds``; 0 removes it."""
        if route_kind is not None and route_kind not in ROUTE_KINDS:
            raise ValueError(f"unknown route_kind {route_kind!r}")
        if seconds > 0:
            self._latency[route_kind] = float(seconds)
        else:
            self._latency.pop(route_kind, None)

    def hold_answers(self, seconds: float, conversation_id_prefix: str | None = None, *, after: int = 0) -> None:
        """Record and accept each new post (send or reply) in the conversation, then keep its 200
        answer back for `seconds`: the message is there but the bot does not know it yet (a test
        kills the bot in that window). The first `after` posts are answered at once.
        `hold_answers(0)` stops holding."""
        self._hold = [seconds, conversation_id_prefix, after] if seconds > 0 else None

    def enforce_rate(
        self,
        per_second: float | None,
        per_conversation: bool = True,
        kinds: Iterable[str] = ("send", "reply"),
    ) -> None:
        """Answer 429 + Retry-After when a conversation (or, with per_conversation=False, the whole
        service) already accepted ``per_second`` requests of ``kinds`` in the last second.
        Rejected requests do not use up the allowance. None or 0 switches the limiter off."""
        self._rate = per_second or None
        self._rate_per_conversation = per_conversation
        self._rate_kinds = frozenset(kinds)
        self._rate_windows.clear()

    def enforce_teams_limits(self, on: bool = True, *, reply_chains_together: bool = True,
                             thread_limits: Iterable[tuple[float, int]] = TEAMS_THREAD_LIMITS,
                             tenant_per_second: int = TEAMS_TENANT_PER_SECOND) -> None:
        """Teams' documented limits, each refusal counted as a violation (stats: `violations` and
        `violations_by_limit`): per bot per thread 7 messages per second, 8 per 2 s, 60 per 30 s
        and 1,800 per hour (sends, replies, updates and deletes); per app per tenant 50 requests
        per second across all threads. A thread is a chat or a channel, all its reply chains
        together (`reply_chains_together=False`: each reply chain on its own). A refused request
        gets 429 with Retry-After and does not use up the allowance."""
        self._teams_limits = ({"together": reply_chains_together, "thread": tuple(thread_limits),
                               "tenant": tenant_per_second} if on else None)
        self._teams_sent.clear()

    def reset_faults(self) -> None:
        self._faults.clear()
        self._latency.clear()
        self._rate = None
        self._rate_windows.clear()
        self._teams_limits = None
        self._teams_sent.clear()

    # ------------------------------------------------------------------ inspection

    def sent_activities(self) -> list[SentActivity]:
        """Accepted sends, replies and create_conversation activities, in arrival order."""
        return list(self._sent)

    def updates(self) -> list[SentActivity]:
        """Accepted update_activity (PUT) calls, in arrival order."""
        return list(self._updates)

    def activities_to(self, conversation_id_prefix: str, include_updates: bool = False) -> list[SentActivity]:
        found = [a for a in self._sent if a.conversation_id.startswith(conversation_id_prefix)]
        if include_updates:
            found += [a for a in self._updates if a.conversation_id.startswith(conversation_id_prefix)]
            found.sort(key=lambda a: a.at)
        return found

    def activities_in(self, conversation_id: str, include_updates: bool = False) -> list[SentActivity]:
        """The activities of one conversation and its threads, in arrival order, from the index."""
        kept = self._by_conversation.get(_without_thread(conversation_id), ())
        found = [a for a in kept if (include_updates or a.kind != "update")
                 and (a.conversation_id == conversation_id or a.conversation_id.startswith(conversation_id + ";"))]
        return sorted(found, key=lambda a: a.at)

    def requests_of(self, kind: str) -> list[Recorded]:
        return [r for r in self.requests if r.kind == kind]

    async def wait_for(
        self, predicate: Callable[..., Any], timeout: float = 5.0, interval: float = 0.01
    ) -> Any:
        """Poll ``predicate()`` (or ``predicate(fake)``) until truthy; return its value.

        Raises TimeoutError describing what was recorded."""
        with_self = _takes_argument(predicate)
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self) if with_self else predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"condition not met within {timeout}s; {len(self.requests)} requests recorded: "
                    + ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[-10:])
                )
            await asyncio.sleep(interval)

    async def wait_for_sent(
        self, n: int, conversation_id_prefix: str = "", timeout: float = 5.0
    ) -> list[SentActivity]:
        """Wait until at least ``n`` activities were accepted (to conversations with that prefix)."""
        return await self.wait_for(
            lambda: (found := self.activities_to(conversation_id_prefix)) and len(found) >= n and found,
            timeout,
        )

    def all_payload_text(self) -> str:
        """Every recorded request body as JSON text (non-ASCII kept), joined by newlines."""
        return "\n".join(
            r.body if isinstance(r.body, str) else json.dumps(r.body, ensure_ascii=False)
            for r in self.requests
            if r.body is not None
        )

    def clear(self) -> None:
        """Forget recordings and counters; users, teams and fault settings stay."""
        self.requests.clear()
        self.throttled.clear()
        self.faulted.clear()
        self._sent.clear()
        self._updates.clear()
        self._by_conversation.clear()
        self._reset_counters()

    def stats(self) -> dict[str, Any]:
        return {
            **self._counts,
            "violations": sum(self._violations.values()),
            "violations_by_limit": dict(self._violations),
            "by_conversation": {k: dict(v) for k, v in self._by_conv.items()},
        }

    # ------------------------------------------------------------------ internals

    def _reset_counters(self) -> None:
        self._counts: dict[str, int] = dict.fromkeys(
            (
                "requests",
                "sends",
                "replies",
                "updates",
                "deletes",
                "creates",
                "members",
                "teams",
                "not_found",
                "throttled",
                "faulted",
            ),
            0,
        )
        self._by_conv: dict[str, dict[str, int]] = {}
        self._windows: dict[str, collections.deque[float]] = {}
        self._rate_windows: dict[str, collections.deque[float]] = {}
        self._teams_sent: dict[str, collections.deque[float]] = {}  # per thread (and "*tenant"): accepted times
        self._violations: collections.Counter[str] = collections.Counter()

    def _conv_stats(self, conversation_id: str) -> dict[str, int]:
        s = self._by_conv.get(conversation_id)
        if s is None:
            s = self._by_conv[conversation_id] = {
                "sends": 0,
                "creates": 0,
                "updates": 0,
                "deletes": 0,
                "throttled": 0,
                "peak_per_second": 0,
            }
        return s

    def _append(self, target: list[Any], item: Any) -> None:
        target.append(item)
        cap = self.max_records
        if cap is not None and len(target) > cap:
            del target[: len(target) - cap // 2]

    def _keep(self, target: list[SentActivity], item: SentActivity) -> None:
        """Record an accepted activity in `target` and in the per-conversation index, forgetting the
        oldest from both past `max_records`."""
        self._by_conversation.setdefault(_without_thread(item.conversation_id), collections.deque()).append(item)
        target.append(item)
        cap = self.max_records
        if cap is not None and len(target) > cap:
            dropped = len(target) - cap // 2
            for old in target[:dropped]:
                key = _without_thread(old.conversation_id)
                kept = self._by_conversation[key]
                kept.remove(old)  # among the oldest of its conversation: found near the front
                if not kept:
                    del self._by_conversation[key]
            del target[:dropped]

    def _next_id(self) -> str:
        return str(next(self._ids))

    async def _begin(
        self, request: web.Request, kind: str, conversation_id: str | None, activity_id: str | None
    ) -> tuple[Recorded, web.Response | None]:
        """Record the request, apply latency and faults. A response means 'answer with this'."""
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        rec = Recorded(
            request.method,
            request.path,
            conversation_id,
            activity_id,
            body,
            dict(request.headers),
            self.monotonic(),
            kind,
            query=dict(request.query) if request.query_string else {},
        )
        self._append(self.requests, rec)
        self._counts["requests"] += 1

        fault_response = self._take_fault(rec) or self._check_teams_limits(rec) or self._check_rate(rec)
        if self._latency:
            delay = self._latency.get(kind, self._latency.get(None, 0.0))
            if delay:
                await asyncio.sleep(delay)
        return rec, fault_response

    def _take_fault(self, rec: Recorded) -> web.Response | None:
        if not self._faults:
            return None
        for i, f in enumerate(self._faults):
            if (f.route_kind is None or f.route_kind == rec.kind) and (
                    f.conversation is None or (rec.conversation_id or "").startswith(f.conversation)):
                f.remaining -= 1
                if f.remaining <= 0:
                    del self._faults[i]
                self._counts["faulted"] += 1
                self._append(self.faulted, rec)
                return self._error(rec, f.status, f.retry_after, f.code, f.message)
        return None

    def _check_teams_limits(self, rec: Recorded) -> web.Response | None:
        limits = self._teams_limits
        if limits is None or rec.kind not in _TENANT_KINDS:
            return None
        now, conv = rec.at, rec.conversation_id or ""
        thread = conv.split(";messageid=", 1)[0] if limits["together"] else conv
        counted = [("*tenant", ((1.0, limits["tenant"]),))]
        if rec.kind in _THREAD_KINDS:
            counted.append((thread, limits["thread"]))
        for key, windows in counted:
            times = self._teams_sent.setdefault(key, collections.deque())
            longest = max(window for window, _ in windows)
            while times and now - times[0] >= longest:
                times.popleft()
            for window, most in windows:
                in_window = sum(1 for u in times if now - u < window)
                if in_window >= most:
                    name = f"{'tenant' if key == '*tenant' else 'thread'} {most} per {window:g} s"
                    self._violations[name] += 1
                    self._counts["throttled"] += 1
                    self._conv_stats(conv)["throttled"] += 1
                    self._append(self.throttled, rec)
                    oldest = [u for u in times if now - u < window][-most]
                    wait = max(1, math.ceil(window - (now - oldest)))
                    return self._error(rec, 429, wait, "TooManyRequests", f"Teams limit exceeded: {name}")
        for key, _ in counted:
            self._teams_sent[key].append(now)
        return None

    def _check_rate(self, rec: Recorded) -> web.Response | None:
        kind, now, conv = rec.kind, rec.at, rec.conversation_id or ""
        if self._rate is not None and kind in self._rate_kinds:
            key = conv if self._rate_per_conversation else "*"
            window = self._rate_windows.get(key)
            if window is None:
                window = self._rate_windows[key] = collections.deque()
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= self._rate:
                wait = max(1, math.ceil(1.0 - (now - window[0])))
                self._counts["throttled"] += 1
                self._conv_stats(conv)["throttled"] += 1
                self._append(self.throttled, rec)
                return self._error(
                    rec, 429, wait, "TooManyRequests", f"Rate limit of {self._rate:g}/s exceeded"
                )
            window.append(now)
        if kind == "send" or kind == "reply":  # peak sends per sliding second, for stats
            window = self._windows.get(conv)
            if window is None:
                window = self._windows[conv] = collections.deque()
            while window and now - window[0] >= 1.0:
                window.popleft()
            window.append(now)
            s = self._conv_stats(conv)
            if len(window) > s["peak_per_second"]:
                s["peak_per_second"] = len(window)
        return None

    @staticmethod
    def _error(
        rec: Recorded,
        status: int,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> web.Response:
        headers = {"Retry-After": _format_retry_after(retry_after)} if retry_after is not None else None
        body = _error_body(status, code, message)
        rec.status, rec.response = status, body
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def _ok(rec: Recorded, body: Any, status: int = 200) -> web.Response:
        rec.status, rec.response = status, body
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    # ------------------------------------------------------------------ Bot Connector routes

    async def _send(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        rec, fault = await self._begin(request, "send", conv, None)
        if fault is not None:
            return fault
        answer = self._accept_post(rec, conv, "send", None)
        await self._held(conv)
        return answer

    async def _reply(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        reply_to = request.match_info["activityId"]
        rec, fault = await self._begin(request, "reply", conv, reply_to)
        if fault is not None:
            return fault
        answer = self._accept_post(rec, conv, "reply", reply_to)
        await self._held(conv)
        return answer

    async def _held(self, conversation_id: str) -> None:
        hold = self._hold
        if hold is None or not (hold[1] is None or conversation_id.startswith(hold[1])):
            return
        if hold[2] > 0:
            hold[2] -= 1
            return
        await asyncio.sleep(hold[0])

    def _accept_post(self, rec: Recorded, conv: str, kind: str, reply_to: str | None) -> web.Response:
        new_id = self._next_id()
        activity = rec.body if isinstance(rec.body, dict) else {}
        self._keep(
            self._sent,
            SentActivity(kind, conv, new_id, activity, reply_to or activity.get("replyToId"), rec.at),
        )
        self._counts["sends"] += 1
        if kind == "reply":
            self._counts["replies"] += 1
        self._conv_stats(conv)["sends"] += 1
        return self._ok(rec, {"id": new_id})

    async def _update(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        act = request.match_info["activityId"]
        rec, fault = await self._begin(request, "update", conv, act)
        if fault is not None:
            return fault
        activity = rec.body if isinstance(rec.body, dict) else {}
        self._keep(self._updates, SentActivity("update", conv, act, activity, None, rec.at))
        self._counts["updates"] += 1
        self._conv_stats(conv)["updates"] += 1
        return self._ok(rec, {"id": act})

    async def _delete(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        rec, fault = await self._begin(request, "delete", conv, request.match_info["activityId"])
        if fault is not None:
            return fault
        self._counts["deletes"] += 1
        self._conv_stats(conv)["deletes"] += 1
        return self._ok(rec, None)

    async def _create(self, request: web.Request) -> web.Response:
        rec, fault = await self._begin(request, "create", None, None)
        if fault is not None:
            return fault
        params = rec.body if isinstance(rec.body, dict) else {}
        activity = params.get("activity") if isinstance(params.get("activity"), dict) else None
        channel_data = params.get("channelData") if isinstance(params.get("channelData"), dict) else {}
        channel = channel_data.get("channel") if isinstance(channel_data.get("channel"), dict) else {}
        tenant = params.get("tenantId") or (channel_data.get("tenant") or {}).get("id") or self.tenant_id
        activity_id = self._next_id() if activity is not None else None

        if channel.get("id") and activity is not None:
            conv = f"{channel['id']};messageid={activity_id}"
        elif params.get("isGroup"):
            conv = f"19:{uuid.uuid4().hex}@thread.v2"
        else:
            members = params.get("members") or []
            member_id = members[0].get("id", "") if members and isinstance(members[0], dict) else ""
            key = (tenant, member_id)
            conv = self._one_to_one.get(key)
            if conv is None:
                conv = self._one_to_one[key] = f"a:{uuid.uuid4().hex}"
        rec.conversation_id = conv
        rec.activity_id = activity_id

        self._counts["creates"] += 1
        self._conv_stats(conv)["creates"] += 1
        if activity is not None:
            self._keep(self._sent, SentActivity("create", conv, activity_id, activity, None, rec.at))
        response: dict[str, Any] = {"id": conv, "serviceUrl": self.url}
        if activity_id is not None:
            response["activityId"] = activity_id
        return self._ok(rec, response)

    async def _list_conversations(self, request: web.Request) -> web.Response:
        rec, fault = await self._begin(request, "conversations", None, None)
        if fault is not None:
            return fault
        convs = [{"id": c, "members": []} for c in self._by_conv]
        return self._ok(rec, {"conversations": convs})

    def _members_of(self, conversation_id: str) -> list[dict[str, Any]]:
        base = conversation_id.split(";", 1)[0]
        return [
            acc
            for uid, acc in self._users.items()
            if (scope := self._user_scope.get(uid)) is None or base in scope
        ]

    async def _members(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        rec, fault = await self._begin(request, "members", conv, None)
        if fault is not None:
            return fault
        self._counts["members"] += 1
        return self._ok(rec, self._members_of(conv))

    async def _paged_members(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        rec, fault = await self._begin(request, "members", conv, None)
        if fault is not None:
            return fault
        self._counts["members"] += 1
        members = self._members_of(conv)
        try:
            size = max(1, int(rec.query.get("pageSize") or 200))
            start = int(rec.query.get("continuationToken") or 0)
        except ValueError:
            return self._error(rec, 400, code="BadArgument", message="bad pageSize or continuationToken")
        page: dict[str, Any] = {"members": members[start : start + size]}
        if start + size < len(members):
            page["continuationToken"] = str(start + size)
        return self._ok(rec, page)

    async def _member(self, request: web.Request) -> web.Response:
        conv = request.match_info["conversationId"]
        member_id = request.match_info["memberId"]
        rec, fault = await self._begin(request, "members", conv, None)
        if fault is not None:
            return fault
        self._counts["members"] += 1
        uid = member_id if member_id in self._users else self._user_alias.get(member_id.lower())
        if uid is not None:
            scope = self._user_scope.get(uid)
            if scope is None or conv.split(";", 1)[0] in scope:
                return self._ok(rec, self._users[uid])
        self._counts["not_found"] += 1
        return self._error(
            rec,
            404,
            code="MemberNotFoundInConversation",
            message=f"The member {member_id} was not found in conversation {conv}",
        )

    def _team(self, team_id: str) -> dict[str, Any]:
        team = self._teams.get(team_id)
        if team is None:  # unregistered teams still answer plausibly
            team = self.add_team(team_id, f"Fake team {team_id[-8:]}")
        return team

    async def _team_details(self, request: web.Request) -> web.Response:
        team_id = request.match_info["teamId"]
        rec, fault = await self._begin(request, "teams", team_id, None)
        if fault is not None:
            return fault
        self._counts["teams"] += 1
        team = self._team(team_id)
        return self._ok(
            rec,
            {
                "id": team["id"],
                "name": team["name"],
                "aadGroupId": team["aadGroupId"],
                "type": team["type"],
                "channelCount": len(team["channels"]),
                "memberCount": len(self._members_of(team_id)),
            },
        )

    async def _team_channels(self, request: web.Request) -> web.Response:
        team_id = request.match_info["teamId"]
        rec, fault = await self._begin(request, "teams", team_id, None)
        if fault is not None:
            return fault
        self._counts["teams"] += 1
        chans = self._team(team_id)["channels"]
        return self._ok(rec, {"conversations": [{"id": cid, "name": name} for cid, name in chans.items()]})

    async def _unknown(self, request: web.Request) -> web.Response:
        rec, fault = await self._begin(request, "other", None, None)
        if fault is not None:
            return fault
        self._counts["not_found"] += 1
        return self._error(
            rec,
            404,
            code="NotFound",
            message=f"Fake Bot Connector has no route {request.method} {request.path}",
        )

    # ------------------------------------------------------------------ control endpoints

    async def _ctl_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _ctl_faults(self, request: web.Request) -> web.Response:
        try:
            cfg = await request.json()
            if cfg.get("reset"):
                self.reset_faults()
            if "fail_next" in cfg:
                self.fail_next(
                    int(cfg["fail_next"]),
                    status=int(cfg.get("status", 429)),
                    retry_after=cfg.get("retry_after", 1),
                    route_kind=cfg.get("route_kind"),
                    code=cfg.get("code"),
                    message=cfg.get("message"),
                )
            if "enforce_rate" in cfg:
                self.enforce_rate(
                    cfg["enforce_rate"],
                    per_conversation=bool(cfg.get("per_conversation", True)),
                    kinds=cfg.get("kinds") or ("send", "reply"),
                )
            if "teams_limits" in cfg:
                self.enforce_teams_limits(bool(cfg["teams_limits"]),
                                          reply_chains_together=bool(cfg.get("reply_chains_together", True)))
            if "latency" in cfg:
                self.set_latency(float(cfg["latency"] or 0), cfg.get("latency_route_kind"))
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(
            {
                "pending_faults": [asdict(f) for f in self._faults],
                "enforce_rate": self._rate,
                "per_conversation": self._rate_per_conversation,
                "latency": {k or "*": v for k, v in self._latency.items()},
            }
        )

    async def _ctl_users(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
            if isinstance(payload, dict):
                payload = payload.get("users", [payload])
            added = self.add_users(payload)
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"added": len(added), "users": len(self._users)})

    async def _ctl_teams(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
            for t in payload if isinstance(payload, list) else [payload]:
                chans = [(c["id"], c.get("name")) for c in t.get("channels") or []]
                self.add_team(t["id"], t.get("name", ""), aad_group_id=t.get("aadGroupId"), channels=chans)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"teams": len(self._teams)})

    async def _ctl_clear(self, request: web.Request) -> web.Response:
        self.clear()
        return web.json_response({"cleared": True})

    async def _ctl_sent(self, request: web.Request) -> web.Response:
        prefix = request.query.get("conversation", "")
        found = (self.activities_in(prefix, include_updates=True) if request.query.get("exact")
                 else self.activities_to(prefix, include_updates=True))
        if request.query.get("last"):  # a client between turns: how many, and what it shows now
            return web.json_response({"count": len(found), "last": asdict(found[-1]) if found else None})
        return web.json_response([asdict(a) for a in found])

    async def _ctl_payload_text(self, request: web.Request) -> web.Response:
        return web.Response(text=self.all_payload_text())


# ---------------------------------------------------------------------- CLI


async def _serve(args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeConnector(args.host, args.port, max_records=args.max_records)
    if args.enforce_rate:
        fake.enforce_rate(args.enforce_rate)
    if args.latency:
        fake.set_latency(args.latency)
    await fake.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {fake.url}", flush=True)
    await stop.wait()
    stats = fake.stats()
    await fake.stop()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_connector", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--enforce-rate", type=float, default=None, help="max sends per conversation per second"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument(
        "--max-records",
        type=int,
        default=200_000,
        help="keep at most about this many recorded requests in memory (counters stay exact)",
    )
    parser.add_argument("--stats-file", default=None, help="also write the final stats JSON here")
    args = parser.parse_args(argv)
    stats = asyncio.run(_serve(args))
    text = json.dumps(stats, sort_keys=True)
    if args.stats_file:
        with open(args.stats_file, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
