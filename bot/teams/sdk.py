"""Bot Framework clients built once per process instead of once per activity.

botbuilder 4.17.1's CloudAdapter, for every incoming activity (`process_activity`) and
every proactive send (`continue_conversation`, `create_conversation`), builds:

- a new `ConnectorClient` (`_ConnectorFactoryImpl.create`), and
- a new `UserTokenClient` (`create_user_token_client`), which this bot never uses (no
  OAuth sign-in).

Each of them constructs an msrest `Configuration`, whose `ClientRetryPolicy` computes
`[i for i in range(999) if i not in safe_codes]` with `safe_codes` a 500-item *list*:
about half a million comparisons, ~6 ms of CPU per client, ~13 ms per turn, on the event
loop — more than the whole rest of a vote or a dialog step (measured by
tests/bench/bench.py; see the README's performance section). A new client also means:

- a new `requests.Session`, so no connection is ever reused: every outgoing call opens a
  new TCP (in Teams, TLS) connection;
- new `MicrosoftAppCredentials` with a new MSAL application and an empty token cache, so
  with real credentials every outgoing call first asks Entra ID for a token — a blocking
  HTTP call inside msrest's credentials policy, i.e. on the event loop.

And every call goes out through `requests`, run by msrest in asyncio's default thread pool
(min(32, cores + 4) threads: 6 on 2 cores); its urllib3 Retry sleeps *in that thread* on a
429 with Retry-After (PUT and GET, up to 3 times), so a throttled channel can starve every
other outgoing call of the process, in-turn replies included.

And msrest turns each outgoing activity into JSON by first *deserialising* the model again
and then serialising it, walking every node of the Adaptive Card in the attachment twice in
Python: 1.5–1.8 ms for one of the referral form's cards, against 0.06 ms for json.dumps.

`ReusingBotFrameworkAuthentication` keeps one `ConnectorClient` per (app id, service URL,
audience) and one `UserTokenClient` per app id, and hands the same ones to every turn. The
clients hold no per-turn state: the conversation and activity are arguments of each call,
and the credentials keep their own token cache. Each kept connector client sends through
one aiohttp session on the event loop (`_AiohttpPipeline`) instead of `requests` in threads;
the bearer token, when there are credentials, is fetched off the loop (MSAL answers from its
cache and refreshes it when due). The kept clients serialise an activity's
attachments as the plain JSON they already are (`_LightBodySerializer`; anything else still
goes through msrest). The retries msrest's urllib3 policy made are kept, awaited
instead of slept in a thread: GET/PUT/DELETE are re-sent up to 3 times on 408, 5xx (not 501,
505) and on 413/429/503 with Retry-After, honouring it; POSTs are not re-sent (a send could
be doubled). Errors look as before (ErrorResponseException with `.response.status_code` and
`.response.headers`; ClientRequestError when the connector cannot be reached), so the outbox
treats them as it did (bot/teams/notifier.py). Authentication of incoming requests is
the SDK's, per request, with the keys it checks tokens against taken from
bot/teams/signing_keys.py (bounded fetches, cached, refreshed at most once per floor).

With MicrosoftAppType=UserAssignedMSI the bot's token comes from the platform's managed identity endpoint
through MSAL's ManagedIdentityClient (`_BoundedManagedIdentity`): bounded, never through the egress proxy, and a
failure is a retryable ManagedIdentityTokenError; there is no secret to send.

This is the only way the bot builds its clients. The benchmark's "before" (botbuilder's stock
clients) is a launcher of its own, tests/bench/stock_sdk_bot.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import msal
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    MicrosoftAppCredentials,
    UserTokenClient,
)
from botframework.connector.auth.managedidentity_app_credentials import ManagedIdentityAppCredentials
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Request, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Serializer
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict

from bot.adapters.outbound_http import MSAL_TIMEOUT, client_session, proxy_for, requests_verify
from bot.adapters.service_hosts import PRODUCTION, ServiceHostPolicy, ServiceHostRefused
from bot.domain.json_text import MeasuredJson, json_text
from bot.teams import signing_keys
from bot.teams.activity_json import activity_to_json

# Teams uses a handful of service URLs (one per region); keep a few more than that.
MAX_CONNECTOR_CLIENTS = 32

Sleep = Callable[[float], Awaitable[None]]


def _app_id(claims_identity: ClaimsIdentity | None) -> str:
    """The bot's app id as the SDK's own factories derive it (audience claim, else appid;
    empty in local, anonymous mode)."""
    if claims_identity is None:
        return ""
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id or ""


class _BearerToken(AsyncHTTPPolicy):
    """The Authorization header msrest's requests credentials policy would set, without
    blocking the event loop: MSAL's token lookup (and, when due, its refresh over HTTP) runs in
    a worker thread. Anonymous (local mode) credentials add no header, as in the SDK."""

    def __init__(self, credentials: Any, hosts: ServiceHostPolicy = PRODUCTION) -> None:
        super().__init__()
        self._credentials = credentials
        self._hosts = hosts
        app_id = getattr(credentials, "microsoft_app_id", None)
        self._needed = bool(app_id) and app_id != AuthenticationConstants.ANONYMOUS_SKILL_APP_ID
        _bound_token_fetch(credentials)

    async def send(self, request: Request, **kwargs: Any) -> Response:
        if not self._hosts.allows(request.http_request.url):
            raise ServiceHostRefused()  # not even a token is fetched for it
        if self._needed:
            token = await asyncio.to_thread(self._credentials.get_access_token)
            request.http_request.headers["Authorization"] = f"Bearer {token}"
        assert self.next is not None  # a policy always sits in a pipeline with a sender after it
        return await self.next.send(request, **kwargs)


class _Answer:
    """The connector's answer as msrest's errors expose it (`ErrorResponseException.response`):
    with the requests driver that is a requests.Response, and callers (delivery_error in
    bot/teams/notifier.py) read `status_code` and `headers`, so this keeps those names."""

    def __init__(self, status: int, headers: CIMultiDict[str], reason: str | None, content: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.reason = reason
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)


class _AiohttpResponse(AsyncClientResponse):
    def __init__(self, request: Any, status: int, headers: CIMultiDict[str], reason: str | None,
                 content: bytes) -> None:
        super().__init__(request, _Answer(status, headers, reason, content))
        self.status_code = status
        self.headers = headers
        self.reason = reason
        self._content = content

    def body(self) -> bytes:
        return self._content


class _WrittenBody:
    """A request body already written as JSON text (bot/domain/json_text.py). `json.dumps`
    refuses it, so msrest's `ClientRequest.add_content` keeps it as it is instead of writing
    the message again, and `_AiohttpSender` sends its bytes."""

    __slots__ = ("content",)

    def __init__(self, text: str) -> None:
        self.content = text.encode()


class _AiohttpSender(AsyncHTTPSender):
    """Sends msrest's request with the process's aiohttp session; the body is read in full,
    as msrest's own senders do for these calls. `sleep` is what it awaits between retries
    (asyncio.sleep; tests inject one that does not wait in real time). A URL whose host
    `hosts` does not allow is refused before anything is sent (bot/adapters/service_hosts.py):
    the last line of defence, whoever built the request."""

    def __init__(self, session: Any, timeout: float, sleep: Sleep = asyncio.sleep,
                 hosts: ServiceHostPolicy = PRODUCTION) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._hosts = hosts

    async def __aenter__(self) -> _AiohttpSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http = request.http_request
        if not self._hosts.allows(http.url):
            raise ServiceHostRefused()
        if http.files:
            # Only the SDK's attachment upload sends multipart, and this bot never uploads (files
            # go out as signed links): refuse like any failed request, so callers handle it.
            raise ClientRequestError("multipart uploads are not sent by this bot")
        session = await self._session()
        idempotent = http.method.upper() in IDEMPOTENT
        data = http.data.content if isinstance(http.data, _WrittenBody) else http.data
        for attempt in range(RETRIES + 1):
            try:
                async with session.request(http.method, http.url, headers=dict(http.headers), data=data,
                                           timeout=self._timeout, proxy=proxy_for(http.url)) as answer:
                    content = await answer.read()
                    response = _AiohttpResponse(http, answer.status, CIMultiDict(answer.headers), answer.reason,
                                                content)
            except (aiohttp.ClientError, TimeoutError) as error:
                # Not connected at all: safe to re-send anything; otherwise only what is idempotent.
                if attempt < RETRIES and (idempotent or isinstance(error, aiohttp.ClientConnectorError)):
                    await self._sleep(_backoff(attempt))
                    continue
                raise ClientRequestError(f"Error occurred in request: {type(error).__name__}") from error
            wait = _retry_wait(response, attempt) if idempotent and attempt < RETRIES else None
            if wait is None:
                return Response(request, response, context={})
            await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


# The retries of msrest's urllib3 policy (botframework-connector 4.17.1 on urllib3 2), kept.
RETRIES = 3
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE"})
RETRY_AFTER_STATUSES = frozenset({413, 429, 503})
BACKOFF_FACTOR, BACKOFF_MAX = 0.8, 90.0


def _backoff(attempt: int) -> float:
    return 0.0 if attempt == 0 else min(BACKOFF_FACTOR * 2 ** attempt, BACKOFF_MAX)


def _retry_wait(response: _AiohttpResponse, attempt: int) -> float | None:
    """How long to wait before re-sending, or None to return this answer."""
    status = response.status_code or 0
    retry_after = response.headers.get("Retry-After")
    if status in RETRY_AFTER_STATUSES and retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return _backoff(attempt)
    if status == 408 or (status >= 500 and status not in (501, 505)):
        return _backoff(attempt)
    return None


class _AiohttpPipeline(AsyncPipeline):
    """msrest's default async pipeline (user agent, credentials, raw deserializer, logger)
    with `_BearerToken` and `_AiohttpSender` in place of requests."""

    def __init__(self, config: Any, session: Any, sleep: Sleep = asyncio.sleep,
                 hosts: ServiceHostPolicy = PRODUCTION) -> None:
        policies = [config.user_agent_policy, _BearerToken(config.credentials, hosts), RawDeserializer(),
                    config.http_logger_policy]
        super().__init__(policies, _AiohttpSender(session, float(config.connection.timeout), sleep, hosts))


class _LightBodySerializer(Serializer):
    """msrest's request body serialiser, except that an Activity's attachment contents — the
    cards, plain JSON built by cards/ — are left out of msrest's deserialise-then-serialise
    round trip and put back as they are. Contents that are not plain JSON (json.dumps
    refuses them) take msrest's own path."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if data_type == "Activity" and isinstance(data, MeasuredJson):
            # Written once already, to measure it against the size budget: sent as that text.
            return _WrittenBody(data.text)
        if data_type == "Activity" and isinstance(data, dict):
            # Already the wire JSON (bot/teams/notifier.py builds its card messages so):
            # msrest's walk of the Activity model was a third of a card update's CPU.
            return data
        if data_type == "Activity" and isinstance(data, Activity):  # a reply in a turn: msrest's JSON, faster
            body = activity_to_json(data, lambda activity: self._msrest_body(activity, data_type, **kwargs))
            if any(isinstance(item.get("content"), MeasuredJson) for item in body.get("attachments") or []):
                # Written by orjson (bot/domain/json_text.py), as it was measured
                # (bot/teams/message_size.py), not by msrest's walk of the dict.
                return _WrittenBody(json_text(body))
            return body
        return self._msrest_body(data, data_type, **kwargs)

    def _msrest_body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        attachments = getattr(data, "attachments", None) if data_type == "Activity" else None
        if not attachments:
            return super().body(data, data_type, **kwargs)
        contents = [attachment.content for attachment in attachments]
        try:
            json.dumps(contents)
        except (TypeError, ValueError):
            return super().body(data, data_type, **kwargs)
        for attachment in attachments:
            attachment.content = None
        try:
            body = super().body(data, data_type, **kwargs)
        finally:
            for attachment, content in zip(attachments, contents, strict=True):
                attachment.content = content
        for item, content in zip(body.get("attachments") or [], contents, strict=False):
            if content is not None:
                item["content"] = content
        return body


class _BoundedMsal:
    """Stands in `credentials.app`, where botbuilder keeps the MSAL application for the bot's own
    token and builds one on first use: this builds it the same way (client id, secret, the
    authority from configuration: login URL and MicrosoftAppTenantId) plus a timeout on each call
    and the CA bundle of the environment (bot/adapters/outbound_http.py); botbuilder's waits
    forever and trusts only `requests`' own list. Built on first use too, which is in a worker
    thread (`_BearerToken`): msal fetches the authority's metadata, with blocking HTTP, when the
    application is built."""

    def __init__(self, credentials: MicrosoftAppCredentials) -> None:
        self._credentials = credentials
        self._app: msal.ConfidentialClientApplication | None = None
        self._building = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy, pickle and friends probing, or a half-built instance: not MSAL's API
            raise AttributeError(name)
        with self._building:
            if self._app is None:
                credentials = self._credentials
                self._app = msal.ConfidentialClientApplication(
                    client_id=credentials.microsoft_app_id, client_credential=credentials.microsoft_app_password,
                    authority=credentials.oauth_endpoint, timeout=MSAL_TIMEOUT, verify=requests_verify())
        return getattr(self._app, name)


class ManagedIdentityTokenError(ClientRequestError):
    """The managed identity endpoint gave no token (not reachable, or the identity is not assigned to
    this host). A ClientRequestError, so the outbox keeps the message and tries again later
    (bot/teams/notifier.py), as when the connector cannot be reached."""


class _IdentityEndpointSession(requests.Session):
    """The HTTP client of MSAL's managed identity client: every call bounded by MSAL_TIMEOUT (requests
    waits forever by default), and no proxy: the identity endpoint is the host's own (App Service and
    Container Apps: IDENTITY_ENDPOINT on the local host; virtual machines: 169.254.169.254), never on the
    internet, and a corporate proxy must not see the request for a token."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # not HTTPS_PROXY/HTTP_PROXY, not ~/.netrc

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", MSAL_TIMEOUT)
        return super().request(*args, **kwargs)


class _BoundedManagedIdentity:
    """Stands in `credentials.app` of botbuilder's ManagedIdentityAppCredentials (MicrosoftAppType=
    UserAssignedMSI), whose `get_access_token` asks it for the Bot Connector token. MSAL's
    ManagedIdentityClient for the user-assigned identity whose client id is MicrosoftAppId, which finds the
    endpoint of the platform itself (App Service / Container Apps: IDENTITY_ENDPOINT with IDENTITY_HEADER;
    otherwise the instance metadata service) and caches the token until it is due for renewal. No client
    secret exists on this path, so none is ever sent. botbuilder's own client waits forever on a
    requests.Session that honours the proxy variables, and a failure surfaces as a KeyError; this one is
    bounded, goes to the platform directly and fails with ManagedIdentityTokenError."""

    def __init__(self, credentials: ManagedIdentityAppCredentials) -> None:
        self._client_id = credentials.microsoft_app_id
        self._app: msal.ManagedIdentityClient | None = None
        self._building = threading.Lock()

    def acquire_token_for_client(self, *, resource: str) -> dict[str, Any]:
        with self._building:
            if self._app is None:
                self._app = msal.ManagedIdentityClient(
                    msal.UserAssignedManagedIdentity(client_id=self._client_id),
                    http_client=_IdentityEndpointSession(),
                    token_cache=ManagedIdentityAppCredentials.global_token_cache)
        try:
            result: dict[str, Any] = self._app.acquire_token_for_client(resource=resource)
        except (requests.RequestException, ValueError) as error:  # no answer, or not JSON
            raise ManagedIdentityTokenError(
                f"managed identity endpoint: no token ({type(error).__name__})") from error
        if not result.get("access_token"):
            raise ManagedIdentityTokenError(f"managed identity endpoint: no token ({result.get('error', 'error')})")
        return result


def _bound_token_fetch(credentials: Any) -> None:
    if isinstance(credentials, ManagedIdentityAppCredentials):
        if not isinstance(getattr(credentials, "app", None), _BoundedManagedIdentity):
            credentials.app = _BoundedManagedIdentity(credentials)
        return
    if (isinstance(credentials, MicrosoftAppCredentials) and getattr(credentials, "app", None) is None
            and credentials.microsoft_app_id and credentials.microsoft_app_password):
        credentials.app = _BoundedMsal(credentials)


def _keep(client: ConnectorClient, session: Any, sleep: Sleep = asyncio.sleep,
          hosts: ServiceHostPolicy = PRODUCTION) -> ConnectorClient:
    """Fit a connector client for reuse: aiohttp transport, light body serialiser, service
    host check, a bounded token fetch (`_BearerToken`)."""
    client.config.pipeline = _AiohttpPipeline(client.config, session, sleep, hosts)
    serializer = _LightBodySerializer(client._serialize.dependencies)
    client._serialize = client.conversations._serialize = client.attachments._serialize = serializer
    return client


class _ReusingConnectorFactory(ConnectorFactory):
    """The SDK's connector factory, asked only the first time for each service URL and audience."""

    def __init__(self, inner: ConnectorFactory, app_id: str, owner: ReusingBotFrameworkAuthentication) -> None:
        self._inner = inner
        self._app_id = app_id
        self._owner = owner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._app_id, service_url or "", audience or "")
        clients = self._owner.connector_clients
        client = clients.get(key)
        if client is None:
            client = _keep(await self._inner.create(service_url, audience), self._owner.http_session,
                           self._owner.sleep, self._owner.hosts)
            if len(clients) >= MAX_CONNECTOR_CLIENTS:
                clients.pop(next(iter(clients)))
            clients[key] = client
        return client


class ReusingBotFrameworkAuthentication(ConfigurationBotFrameworkAuthentication):
    """ConfigurationBotFrameworkAuthentication whose connector and user token clients are
    built once and reused by every turn (see the module docstring for why). `sleep` is what the
    kept clients await between retries (asyncio.sleep; tests pass one that does not wait);
    `hosts` the service hosts they may send to (bot/adapters/service_hosts.py); `keys` where and
    how the keys of incoming tokens are fetched (bot/teams/signing_keys.py)."""

    def __init__(self, configuration: Any, *, sleep: Sleep = asyncio.sleep,
                 hosts: ServiceHostPolicy = PRODUCTION, keys: signing_keys.KeySourceSettings | None = None,
                 **kwargs: Any) -> None:
        super().__init__(configuration, **kwargs)
        signing_keys.install(keys or signing_keys.KeySourceSettings())
        self.sleep = sleep
        self.hosts = hosts
        self.connector_clients: dict[tuple[str, str, str], ConnectorClient] = {}
        self._user_token_clients: dict[str, UserTokenClient] = {}
        self._session: aiohttp.ClientSession | None = None

    async def http_session(self) -> aiohttp.ClientSession:
        """The one aiohttp session every kept connector client sends through (made on first use,
        on the running loop; closed by `close`)."""
        if self._session is None or self._session.closed:
            # The proxy and CA bundle of the environment (bot/adapters/outbound_http.py).
            self._session = client_session("connector", limit=64, limit_per_host=32)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.connector_clients.clear()

    def _reusing(self, factory: ConnectorFactory, claims_identity: ClaimsIdentity | None) -> ConnectorFactory:
        return _ReusingConnectorFactory(factory, _app_id(claims_identity), self)

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = self._reusing(result.connector_factory, result.claims_identity)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._reusing(super().create_connector_factory(claims_identity), claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = _app_id(claims_identity)
        client = self._user_token_clients.get(app_id)
        if client is None:
            client = self._user_token_clients[app_id] = await super().create_user_token_client(claims_identity)
        return client


def bot_framework_authentication(configuration: Any, *, sleep: Sleep = asyncio.sleep,
                                 hosts: ServiceHostPolicy = PRODUCTION,
                                 keys: signing_keys.KeySourceSettings | None = None) -> BotFrameworkAuthentication:
    """What the CloudAdapter authenticates with and builds its clients from."""
    return ReusingBotFrameworkAuthentication(configuration, sleep=sleep, hosts=hosts, keys=keys)
