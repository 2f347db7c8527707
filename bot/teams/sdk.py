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

`ReusingBotFrameworkAuthentication` keeps one `ConnectorClient` per (app id, service URL,
audience) and one `UserTokenClient` per app id, and hands the same ones to every turn. The
clients hold no per-turn state: the conversation and activity are arguments of each call,
the credentials keep their own token cache and refresh it when it expires, and msrest's
requests session (used from its thread pool) pools connections per host. Authentication of
incoming requests is unchanged: it is still done, per request, by the SDK.

`RR_SDK_STOCK=1` (Settings.sdk_stock) builds the SDK's stock authentication instead; only
the benchmark uses it, to show the difference.
"""

from __future__ import annotations

from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)

# Teams uses a handful of service URLs (one per region); keep a few more than that.
MAX_CONNECTOR_CLIENTS = 32


def _app_id(claims_identity: ClaimsIdentity | None) -> str:
    """The bot's app id as the SDK's own factories derive it (audience claim, else appid;
    empty in local, anonymous mode)."""
    if claims_identity is None:
        return ""
    app_id = claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if app_id is None:
        app_id = claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return app_id or ""


class _ReusingConnectorFactory(ConnectorFactory):
    """The SDK's connector factory, asked only the first time for each service URL and audience."""

    def __init__(self, inner: ConnectorFactory, app_id: str, clients: dict[tuple[str, str, str], ConnectorClient]):
        self._inner = inner
        self._app_id = app_id
        self._clients = clients

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (self._app_id, service_url or "", audience or "")
        client = self._clients.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if len(self._clients) >= MAX_CONNECTOR_CLIENTS:
                self._clients.pop(next(iter(self._clients)))
            self._clients[key] = client
        return client


class ReusingBotFrameworkAuthentication(ConfigurationBotFrameworkAuthentication):
    """ConfigurationBotFrameworkAuthentication whose connector and user token clients are
    built once and reused by every turn (see the module docstring for why)."""

    def __init__(self, configuration: Any, **kwargs: Any) -> None:
        super().__init__(configuration, **kwargs)
        self._connector_clients: dict[tuple[str, str, str], ConnectorClient] = {}
        self._user_token_clients: dict[str, UserTokenClient] = {}

    def _reusing(self, factory: ConnectorFactory, claims_identity: ClaimsIdentity | None) -> ConnectorFactory:
        return _ReusingConnectorFactory(factory, _app_id(claims_identity), self._connector_clients)

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


def bot_framework_authentication(configuration: Any, *, stock: bool = False) -> BotFrameworkAuthentication:
    """What the CloudAdapter authenticates with and builds its clients from."""
    if stock:
        return ConfigurationBotFrameworkAuthentication(configuration)
    return ReusingBotFrameworkAuthentication(configuration)
