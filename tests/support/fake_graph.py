"""A local stand-in for Microsoft Graph's calendar API and the Microsoft identity platform.

It answers the few calls the bot's `GraphMeetingProvider` makes, with the shapes Graph
documents, so the provider's real code runs against it: msal (synchronous, `requests`)
fetches the tenant's discovery document and a client-credentials token, and the bot
then calls Graph with aiohttp.

* identity (HTTPS, because msal only accepts an https authority and token endpoint):
  ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (msal asks for it when the
  client application is built, with ``instance_discovery=False``) and
  ``POST /{tenant}/oauth2/v2.0/token`` (``grant_type=client_credentials``) →
  ``{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": …}``.
* Graph v1.0 (served on plain HTTP as well, so the provider's own per-call aiohttp
  session is used unchanged; ``graph_base`` is that address):
  ``POST /v1.0/users/{organiser}/calendar/getSchedule`` → ``{"value": [scheduleInformation]}``
  (an ``error`` object for a calendar it may not read); ``POST /v1.0/users/{organiser}/events``
  → 201 with the event (``id``, ``onlineMeeting.joinUrl``), and the *same* event again
  for a repeated ``transactionId``; ``PATCH /v1.0/users/{organiser}/events/{id}`` → 200 with
  the event; ``POST /v1.0/users/{organiser}/events/{id}/cancel`` → 202, no body;
  ``GET /v1.0/teams/{team-id}/channels/{channel-id}/messages`` (``$top``, ``@odata.nextLink``)
  → the channel's messages newest first, as chatMessage resources built from what a recording
  Bot Connector (tests/support/fake_connector.py) accepted for that channel, updates applied,
  each card as its JSON text in ``attachments[].content`` (``show_channel`` links the two).
  Every Graph call needs a bearer token the token endpoint issued.

The server runs on its own thread and event loop: msal builds its authority (a blocking
HTTP GET) when the client application is constructed, which a test does on its own loop.

Faults (``fail_next``): the next ``n`` calls to a route answer ``status`` with Graph's
error body (``{"error": {"code", "message", "innerError"}}``) and ``Retry-After`` when
given; with ``after_commit`` the call takes effect first (the event *is* created) and
only the answer is lost, either as that error or, with ``drop``, as a connection closed
without an answer.

Routes, for ``fail_next``, ``requests_of`` and ``counts``: ``discovery``, ``token``,
``getSchedule``, ``createEvent``, ``updateEvent``, ``cancelEvent``, ``other``.

    with FakeGraph() as graph:
        graph.add_busy("dan.police@example.org", start, end)
        provider = GraphMeetingProvider(**graph.provider_kwargs())
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import itertools
import json
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

__all__ = ["GRAPH_SCOPE", "ROUTES", "FakeGraph", "GraphCall"]

ROUTES = frozenset({"discovery", "token", "getSchedule", "createEvent", "updateEvent", "cancelEvent",
                    "channelMessages", "installApp", "other"})
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TENANT_ID = "00000000-0000-0000-0000-0000000000aa"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "fake-graph-client-secret"
ORGANISER = "rapid.review@example.org"
UTC_ZONES = ("UTC", "Etc/UTC", "tzone://Microsoft/Utc")
AVAILABILITY = {"free": "0", "workingelsewhere": "0", "tentative": "1", "busy": "2", "oof": "3", "unknown": "0"}
_ERROR_CODES = {400: "ErrorInvalidRequest", 401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied",
                404: "ErrorItemNotFound", 429: "ApplicationThrottled", 500: "UnknownError",
                503: "ServiceUnavailable", 504: "GatewayTimeout"}
_ERROR_MESSAGES = {403: "Access is denied. Check credentials and try again.",
                   429: "Application is over its MailboxConcurrency limit.",
                   503: "The service is currently unavailable. Please try again later."}


@dataclass
class GraphCall:
    """One request the server received, as it received it."""

    route: str
    method: str
    path: str
    headers: dict[str, str]
    text: str  # the raw body (JSON or form)
    body: Any  # parsed: a dict for JSON and forms, None when empty
    status: int | None = None  # what it was answered (None: the connection was dropped)
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class _Fault:
    route: str
    remaining: int
    status: int
    retry_after: float | None
    code: str | None
    message: str | None
    after_commit: bool
    drop: bool


@dataclass
class _Block:
    start: dt.datetime
    end: dt.datetime
    status: str
    subject: str = "Busy"


@dataclass
class _Mailbox:
    blocks: list[_Block] = field(default_factory=list)
    readable: bool = True
    working_days: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday")
    working_start: str = "08:00:00.0000000"
    working_end: str = "17:00:00.0000000"


# ---- helpers ------------------------------------------------------------------------------------


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("use aware datetimes")
    return moment.astimezone(dt.UTC)


def _graph_time(moment: dt.datetime) -> dict[str, str]:
    return {"dateTime": _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def _read_time(value: Any, name: str) -> dt.datetime:
    """A dateTimeTimeZone from the request. Only UTC is understood here: the bot always
    sends UTC, and a fake that guessed other zones would hide a bug."""
    if not isinstance(value, dict) or "dateTime" not in value or "timeZone" not in value:
        raise _BadRequest(f"{name} must be a dateTimeTimeZone with dateTime and timeZone")
    if value["timeZone"] not in UTC_ZONES:
        raise _BadRequest(f"{name}: this fake only understands UTC, not {value['timeZone']!r}")
    try:
        moment = dt.datetime.fromisoformat(str(value["dateTime"]).split(".")[0])
    except ValueError as error:
        raise _BadRequest(f"{name}: cannot read {value['dateTime']!r}") from error
    if moment.tzinfo is not None:
        raise _BadRequest(f"{name}: dateTime must not carry an offset")
    return moment.replace(tzinfo=dt.UTC)


class _BadRequest(Exception):
    """A request Graph would answer with 400; the message is Graph's error text."""


def _error_body(status: int, code: str | None, message: str | None) -> dict[str, Any]:
    return {"error": {"code": code or _ERROR_CODES.get(status, f"Http{status}"),
                      "message": message or _ERROR_MESSAGES.get(status, f"Fake Graph answered {status}."),
                      "innerError": {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                                     "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}}


def _make_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake Graph test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, cert_file, key_file


# ---- the server -----------------------------------------------------------------------------------


class FakeGraph:
    """Microsoft Graph (calendar) and the identity platform's token endpoint, on 127.0.0.1."""

    def __init__(self, *, tenant_id: str = TENANT_ID, client_id: str = CLIENT_ID,
                 client_secret: str = CLIENT_SECRET, organiser: str = ORGANISER, host: str = "127.0.0.1") -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.organiser = organiser
        self.host = host
        self.calls: list[GraphCall] = []
        self.counts: Counter[str] = Counter()  # per route, plus "events_created"
        self.events: dict[str, dict[str, Any]] = {}  # id -> the event as Graph would return it
        self.installed_apps: dict[str, set[str]] = {}  # user id -> Teams app ids installed for them
        self._by_transaction: dict[str, str] = {}
        self._mailboxes: dict[str, _Mailbox] = {}
        self._faults: list[_Fault] = []
        self._tokens: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-graph-")
        self.ca_file, self._cert_file, self._key_file = _make_certificate(Path(self._tmp.name))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ports: tuple[int, int] | None = None
        self._channels: dict[tuple[str, str], tuple[Any, str]] = {}  # (team, channel) -> (connector, conversation)

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def login_url(self) -> str:
        """The authority host (https), e.g. for `authority_host`."""
        assert self._ports is not None, "FakeGraph is not started"
        return f"https://{self.host}:{self._ports[0]}"

    @property
    def graph_base(self) -> str:
        """Graph's v1.0 root (plain http), e.g. for `base_url`."""
        assert self._ports is not None, "FakeGraph is not started"
        return f"http://{self.host}:{self._ports[1]}/v1.0"

    def start(self, timeout: float = 10.0) -> FakeGraph:
        if self._thread is not None:
            return self
        ready = threading.Event()
        problem: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as error:  # noqa: BLE001 - reported to the starting thread
                problem.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-graph", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("FakeGraph did not start")
        if problem:
            raise RuntimeError("FakeGraph did not start") from problem[0]
        return self

    async def _serve(self) -> None:
        app = web.Application()
        r = app.router
        r.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery)
        r.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        r.add_post("/v1.0/users/{user}/calendar/getSchedule", self._get_schedule)
        r.add_post("/v1.0/users/{user}/events", self._create_event)
        r.add_patch("/v1.0/users/{user}/events/{event_id}", self._update_event)
        r.add_post("/v1.0/users/{user}/events/{event_id}/cancel", self._cancel_event)
        r.add_post("/v1.0/users/{user}/teamwork/installedApps", self._install_app)
        r.add_get("/v1.0/teams/{team}/channels/{channel}/messages", self._channel_messages)
        r.add_get("/v1.0/teams/{team}/channels/{channel}/messages/{message}/replies", self._channel_messages)
        r.add_route("*", "/{tail:.*}", self._unknown)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._cert_file, self._key_file)
        secure = web.TCPSite(runner, self.host, 0, ssl_context=context)
        plain = web.TCPSite(runner, self.host, 0)
        await secure.start()
        await plain.start()
        self._runner = runner
        ports = [address[1] for address in runner.addresses]
        self._ports = (ports[0], ports[1])

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None
        self._tmp.cleanup()

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- wiring the bot's provider to it ------------------------------------------------------------

    def http_client(self) -> Any:
        """A requests.Session for msal that trusts this server's certificate (and ignores any
        proxy settings of the environment)."""
        import requests

        session = requests.Session()
        session.verify = str(self.ca_file)
        session.trust_env = False
        return session

    def provider_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for `GraphMeetingProvider` pointing every seam here."""
        return {"tenant_id": self.tenant_id, "client_id": self.client_id, "client_credential": self.client_secret,
                "organiser": self.organiser, "base_url": self.graph_base, "authority_host": self.login_url,
                "http_client": self.http_client(), **overrides}

    # ---- calendars ------------------------------------------------------------------------------

    def _mailbox(self, email: str) -> _Mailbox:
        return self._mailboxes.setdefault(email.lower(), _Mailbox())

    def add_busy(self, email: str, start: dt.datetime, end: dt.datetime, status: str = "busy",
                 subject: str = "Busy") -> None:
        """A calendar item of `email` (status as Graph spells it: busy, tentative, oof, free,
        workingElsewhere)."""
        with self._lock:
            self._mailbox(email).blocks.append(_Block(_utc(start), _utc(end), status, subject))

    def set_unreadable(self, email: str) -> None:
        """getSchedule answers an `error` for this calendar (e.g. a guest in another tenant)."""
        with self._lock:
            self._mailbox(email).readable = False

    def set_working_hours(self, email: str, days: tuple[str, ...], start: str, end: str) -> None:
        with self._lock:
            box = self._mailbox(email)
            box.working_days, box.working_start, box.working_end = days, start, end

    # ---- channels ------------------------------------------------------------------------------------

    def show_channel(self, team_id: str, channel_id: str, connector: Any, conversation_id: str | None = None) -> None:
        """Answer the channel's messages from what `connector` (a FakeConnector) accepted in the
        conversation `conversation_id` (a Teams channel's conversation id is its channel id)."""
        with self._lock:
            self._channels[(team_id, channel_id)] = (connector, conversation_id or channel_id)

    def _chat_messages(self, team_id: str, channel_id: str, root: str | None = None) -> list[dict[str, Any]] | None:
        """The channel's top-level posts, or (with `root`) the replies in that post's thread."""
        with self._lock:
            linked = self._channels.get((team_id, channel_id))
        if linked is None:
            return None
        connector, conversation = linked
        wanted = conversation if root is None else f"{conversation};messageid={root}"
        latest = {u.activity_id: u.activity for u in connector.updates()}
        messages = []
        for sent in connector.activities_to(conversation):
            if sent.kind != "send" or sent.conversation_id != wanted:
                continue
            activity = latest.get(sent.activity_id, sent.activity)
            attachments = [{"id": f"{sent.activity_id}-{n}", "contentType": a.get("contentType"), "contentUrl": None,
                            "content": json.dumps(a.get("content")), "name": None, "thumbnailUrl": None}
                           for n, a in enumerate(activity.get("attachments") or [])]
            messages.append({
                "id": sent.activity_id, "replyToId": root, "messageType": "message",
                "createdDateTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "from": {"application": {"id": self.client_id, "displayName": "Rapid Review",
                                         "applicationIdentityType": "bot"}, "user": None, "device": None},
                "body": {"contentType": "html", "content": activity.get("text") or "".join(
                    f'<attachment id="{a["id"]}"></attachment>' for a in attachments)},
                "attachments": attachments,
                "channelIdentity": {"teamId": team_id, "channelId": channel_id},
            })
        return list(reversed(messages))  # newest first

    async def _channel_messages(self, request: web.Request) -> web.Response:
        call = await self._record(request, "channelMessages")
        fault = self._take_fault("channelMessages")
        if fault is not None:
            return self._fault_answer(request, call, fault)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self._tokens:
            return self._error(call, 401, "InvalidAuthenticationToken", "Invalid token.")
        team, channel = request.match_info["team"], request.match_info["channel"]
        root = request.match_info.get("message")
        messages = self._chat_messages(team, channel, root)
        if messages is None:
            return self._error(call, 404, "NotFound", "No team found with Group Id " + team)
        top = min(int(request.query.get("$top", "20")), 50)
        skip = int(request.query.get("$skiptoken", "0"))
        path = f"/teams/{team}/channels/{channel}/messages" + (f"/{root}/replies" if root else "")
        page: dict[str, Any] = {"@odata.context": f"{self.graph_base}/$metadata#teams('{team}')/channels('{channel}')"
                                                  "/messages", "value": messages[skip:skip + top]}
        if skip + top < len(messages):
            page["@odata.nextLink"] = f"{self.graph_base}{path}?$top={top}&$skiptoken={skip + top}"
        return self._json(call, page)

    # ---- faults and inspection ----------------------------------------------------------------------

    def fail_next(self, route: str, n: int = 1, status: int = 429, *, retry_after: float | None = None,
                  code: str | None = None, message: str | None = None, after_commit: bool = False,
                  drop: bool = False) -> None:
        if route not in ROUTES:
            raise ValueError(f"route must be one of {sorted(ROUTES)}")
        with self._lock:
            self._faults.append(_Fault(route, n, status, retry_after, code, message, after_commit, drop))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests_of(self, route: str) -> list[GraphCall]:
        with self._lock:
            return [c for c in self.calls if c.route == route]

    def graph_bodies(self) -> str:
        """Every request body sent to Graph (not the token endpoint), as text."""
        with self._lock:
            return "\n".join(c.text for c in self.calls if c.route not in ("token", "discovery"))

    @property
    def events_created(self) -> int:
        return self.counts["events_created"]

    @property
    def token_requests(self) -> int:
        return self.counts["token"]

    def live_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events.values() if not e.get("isCancelled")]

    # ---- plumbing ---------------------------------------------------------------------------------

    async def _record(self, request: web.Request, route: str) -> GraphCall:
        raw = (await request.read()).decode("utf-8", "replace")
        body: Any = None
        if raw:
            if request.content_type == "application/x-www-form-urlencoded":
                body = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
        call = GraphCall(route, request.method, request.path, dict(request.headers), raw, body)
        with self._lock:
            self.calls.append(call)
            self.counts[route] += 1
        return call

    def _take_fault(self, route: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.route == route:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[i]
                    return fault
        return None

    @staticmethod
    def _json(call: GraphCall, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        call.status = status
        return web.json_response(body, status=status, headers=headers)

    def _error(self, call: GraphCall, status: int, code: str | None = None, message: str | None = None,
               retry_after: float | None = None) -> web.Response:
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
        return self._json(call, _error_body(status, code, message), status, headers)

    def _fault_answer(self, request: web.Request, call: GraphCall, fault: _Fault) -> web.Response:
        if fault.drop:
            call.status = None
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing more is written on a dropped connection
        return self._error(call, fault.status, fault.code, fault.message, fault.retry_after)

    async def _graph(self, request: web.Request, route: str) -> tuple[GraphCall, _Fault | None, web.Response | None]:
        """Record, check the bearer token and the organiser; apply a fault that comes before
        the call takes effect. Returns (call, fault for after the commit, or an answer now)."""
        call = await self._record(request, route)
        fault = self._take_fault(route)
        if fault is not None and not fault.after_commit:
            return call, None, self._fault_answer(request, call, fault)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self._tokens:
            return call, None, self._error(call, 401, "InvalidAuthenticationToken",
                                           "Access token is empty." if not auth else "Invalid token.")
        user = request.match_info.get("user", "")
        if user.lower() != self.organiser.lower():
            return call, None, self._error(call, 404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        return call, fault, None

    # ---- identity -----------------------------------------------------------------------------------

    async def _discovery(self, request: web.Request) -> web.Response:
        call = await self._record(request, "discovery")
        fault = self._take_fault("discovery")
        if fault is not None:
            return self._fault_answer(request, call, fault)
        tenant = request.match_info["tenant"]
        if tenant != self.tenant_id:
            return self._json(call, {"error": "invalid_tenant", "error_description":
                                     f"AADSTS90002: Tenant '{tenant}' not found."}, 400)
        base = f"{self.login_url}/{tenant}"
        return self._json(call, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{self.login_url}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "name", "tid", "ver", "email"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })

    async def _token(self, request: web.Request) -> web.Response:
        call = await self._record(request, "token")
        fault = self._take_fault("token")
        if fault is not None:
            return self._fault_answer(request, call, fault)
        form = call.body if isinstance(call.body, dict) else {}
        if request.match_info["tenant"] != self.tenant_id:
            return self._json(call, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found.",
                                     "error_codes": [90002]}, 400)
        if form.get("grant_type") != "client_credentials":
            return self._json(call, {"error": "unsupported_grant_type",
                                     "error_description": "AADSTS70003: grant type not supported here."}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self._json(call, {"error": "invalid_client", "error_description":
                                     "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215]}, 401)
        if form.get("scope", "").split() != [GRAPH_SCOPE]:
            return self._json(call, {"error": "invalid_scope", "error_description":
                                     "AADSTS1002012: The provided value for scope is not valid."}, 400)
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        with self._lock:
            self._tokens.add(token)
        return self._json(call, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                 "access_token": token})

    # ---- Graph ------------------------------------------------------------------------------------

    async def _get_schedule(self, request: web.Request) -> web.Response:
        call, fault, answer = await self._graph(request, "getSchedule")
        if answer is not None:
            return answer
        try:
            body = call.body if isinstance(call.body, dict) else {}
            schedules = body.get("schedules") or body.get("Schedules")
            if not isinstance(schedules, list) or not schedules or len(schedules) > 100:
                raise _BadRequest("schedules must list 1 to 100 addresses")
            start = _read_time(body.get("startTime") or body.get("StartTime"), "startTime")
            end = _read_time(body.get("endTime") or body.get("EndTime"), "endTime")
            if end <= start:
                raise _BadRequest("endTime must be after startTime")
            interval = int(body.get("availabilityViewInterval", 30))
            if not 5 <= interval <= 1440:
                raise _BadRequest("availabilityViewInterval must be 5 to 1440 minutes")
        except (_BadRequest, ValueError) as error:
            return self._error(call, 400, "ErrorInvalidRequest", str(error))
        value = []
        with self._lock:
            for address in schedules:
                box = self._mailboxes.get(str(address).lower(), _Mailbox())
                if not box.readable:
                    value.append({"scheduleId": address, "availabilityView": "",
                                  "error": {"message": "Microsoft.Exchange.InfoWorker.Common.Availability."
                                            "MailRecipientNotFoundException: Unable to resolve e-mail address "
                                            f"<>SMTP:{address} to an Active Directory object.",
                                            "responseCode": "ErrorMailRecipientNotFound"},
                                  "scheduleItems": []})
                    continue
                blocks = sorted((b for b in box.blocks if b.start < end and start < b.end), key=lambda b: b.start)
                view, slot = [], start
                while slot < end:
                    slot_end = slot + dt.timedelta(minutes=interval)
                    codes = [AVAILABILITY.get(b.status.lower(), "0") for b in blocks
                             if b.start < slot_end and slot < b.end]
                    view.append(max(codes, default="0"))
                    slot = slot_end
                value.append({
                    "scheduleId": address,
                    "availabilityView": "".join(view),
                    "scheduleItems": [{"isPrivate": False, "status": b.status, "subject": b.subject, "location": "",
                                       "start": _graph_time(b.start), "end": _graph_time(b.end)} for b in blocks],
                    "workingHours": {"daysOfWeek": list(box.working_days), "startTime": box.working_start,
                                     "endTime": box.working_end, "timeZone": {"name": "GMT Standard Time"}},
                })
        return self._json(call, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection("
                                                   "microsoft.graph.scheduleInformation)", "value": value})

    def _event_json(self, event_id: str, body: dict[str, Any], start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        online = bool(body.get("isOnlineMeeting"))
        content = (body.get("body") or {}).get("content", "")
        return {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{self.organiser}')/events/$entity",
            "@odata.etag": f'W/"{uuid.uuid4().hex}"',
            "id": event_id,
            "createdDateTime": now,
            "lastModifiedDateTime": now,
            "changeKey": uuid.uuid4().hex,
            "transactionId": body.get("transactionId"),
            "iCalUId": "040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper(),
            "subject": body.get("subject", ""),
            "bodyPreview": content[:255],
            "body": {"contentType": (body.get("body") or {}).get("contentType", "text"), "content": content},
            "importance": "normal",
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "allowNewTimeProposals": body.get("allowNewTimeProposals", True),
            "showAs": "busy",
            "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "start": _graph_time(start),
            "end": _graph_time(end),
            "location": {"displayName": "Microsoft Teams Meeting" if online else ""},
            "attendees": [{"type": a.get("type", "required"),
                           "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                           "emailAddress": a.get("emailAddress", {})} for a in body.get("attendees", [])],
            "organizer": {"emailAddress": {"name": "Rapid Review", "address": self.organiser}},
            "isOnlineMeeting": online,
            "onlineMeetingProvider": body.get("onlineMeetingProvider", "unknown") if online else "unknown",
            "onlineMeeting": ({"joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{event_id}"
                                          "%40thread.v2/0?context=%7b%7d"} if online else None),
        }

    async def _create_event(self, request: web.Request) -> web.Response:
        call, fault, answer = await self._graph(request, "createEvent")
        if answer is not None:
            return answer
        body = call.body if isinstance(call.body, dict) else {}
        try:
            start, end = _read_time(body.get("start"), "start"), _read_time(body.get("end"), "end")
            if end <= start:
                raise _BadRequest("end must be after start")
            attendees = body.get("attendees", [])
            if not isinstance(attendees, list) or any(
                    not isinstance(a, dict) or "address" not in (a.get("emailAddress") or {}) for a in attendees):
                raise _BadRequest("each attendee needs emailAddress.address")
        except _BadRequest as error:
            return self._error(call, 400, "ErrorInvalidRequest", str(error))
        transaction = body.get("transactionId")
        with self._lock:
            existing = self._by_transaction.get(transaction) if transaction else None
            if existing is not None:  # a retried create: the event already made, not a second one
                event = self.events[existing]
            else:
                event_id = "AAMkAGFha2VHcmFwaABGAAAAAAD" + base64.urlsafe_b64encode(
                    f"event-{next(self._ids)}".encode()).decode().rstrip("=")
                event = self._event_json(event_id, body, start, end)
                self.events[event_id] = event
                self.counts["events_created"] += 1
                if transaction:
                    self._by_transaction[transaction] = event_id
        if fault is not None:
            return self._fault_answer(request, call, fault)
        return self._json(call, event, 201)

    def _find_event(self, call: GraphCall, event_id: str) -> dict[str, Any] | web.Response:
        event = self.events.get(event_id)
        if event is None or event.get("isCancelled"):
            return self._error(call, 404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    async def _update_event(self, request: web.Request) -> web.Response:
        call, fault, answer = await self._graph(request, "updateEvent")
        if answer is not None:
            return answer
        body = call.body if isinstance(call.body, dict) else {}
        with self._lock:
            found = self._find_event(call, request.match_info["event_id"])
            if isinstance(found, web.Response):
                return found
            try:
                for name in ("start", "end"):
                    if name in body:
                        found[name] = _graph_time(_read_time(body[name], name))
            except _BadRequest as error:
                return self._error(call, 400, "ErrorInvalidRequest", str(error))
            for name in ("subject", "attendees", "body", "isOnlineMeeting"):
                if name in body:
                    found[name] = body[name]
            if isinstance(body.get("body"), dict):  # Graph derives the preview from the body, as on create
                found["bodyPreview"] = str(body["body"].get("content", ""))[:255]
            found["lastModifiedDateTime"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
            event = dict(found)
        if fault is not None:
            return self._fault_answer(request, call, fault)
        return self._json(call, event)

    async def _cancel_event(self, request: web.Request) -> web.Response:
        call, fault, answer = await self._graph(request, "cancelEvent")
        if answer is not None:
            return answer
        with self._lock:
            found = self._find_event(call, request.match_info["event_id"])
            if isinstance(found, web.Response):
                return found
            found["isCancelled"] = True
            found["cancellationComment"] = (call.body or {}).get("comment") if isinstance(call.body, dict) else None
        if fault is not None:
            return self._fault_answer(request, call, fault)
        call.status = 202
        return web.Response(status=202)  # Graph documents 202 Accepted with no body

    async def _install_app(self, request: web.Request) -> web.Response:
        """POST /users/{id}/teamwork/installedApps with a `teamsApp@odata.bind` to the app
        catalog: 201 when installed, 409 when it already was (as Graph answers)."""
        call = await self._record(request, "installApp")
        fault = self._take_fault("installApp")
        if fault is not None:
            return self._fault_answer(request, call, fault)
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self._tokens:
            return self._error(call, 401, "InvalidAuthenticationToken", "Invalid token.")
        bind = (call.body or {}).get("teamsApp@odata.bind", "") if isinstance(call.body, dict) else ""
        if "/appCatalogs/teamsApps/" not in bind:
            return self._error(call, 400, "BadRequest", "teamsApp@odata.bind is required.")
        app_id = bind.rsplit("/", 1)[-1]
        with self._lock:
            installed = self.installed_apps.setdefault(request.match_info["user"], set())
            if app_id in installed:
                return self._error(call, 409, "Conflict", "App is already installed.")
            installed.add(app_id)
        call.status = 201
        return web.Response(status=201)

    async def _unknown(self, request: web.Request) -> web.Response:
        call = await self._record(request, "other")
        return self._error(call, 400 if request.path.startswith("/v1.0/") else 404, "BadRequest",
                           f"Resource not found for the segment '{request.path}'.")
