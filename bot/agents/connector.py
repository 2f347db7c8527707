"""The Bot Connector clients of the Agents SDK edge: built once per service URL and kept.

The Agents SDK's `RestChannelServiceClientFactory` (microsoft-agents-hosting-core 1.9.0) builds,
for every incoming activity, a new `TeamsConnectorClient` with its own aiohttp session and a
`UserTokenClient` with another — asking MSAL for a token for each — and the adapter closes both
when the turn ends: a TLS handshake and two token look-ups per press (the cause the botbuilder
edge keeps its clients for, bot/teams/sdk.py). This factory keeps one client per service URL
and refreshes only its Bearer header; the adapter's `close()` at the end of a turn is a no-op
on a kept client (`close_all` closes them when the bot stops). The bot signs nobody in, so the
user token client is one anonymous client, never given a token.

Sending is refused before any byte leaves when the service URL's host is not a Bot Framework
or Teams host (bot/adapters/service_hosts.py): the SDK's own `OutboundHostValidator` is checked
only for the inbound activity, not for every later send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from microsoft_agents.hosting.core import ChannelServiceAdapter, ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from bot.adapters.service_hosts import ServiceHostPolicy, ServiceHostRefused

BOT_CONNECTOR_SCOPE = "https://api.botframework.com/.default"
MAX_KEPT_CLIENTS = 64
WHOLE_CONVERSATION_ID = 100_000  # characters: longer than any id, so none is cut (KeptConnectorClient)
BOT_FRAMEWORK_API = "https://api.botframework.com"

TokenSource = Callable[[], Awaitable[str]]


async def no_token() -> str:
    """Local mode: no app, so nothing to sign with (the Playground and the tests' connector)."""
    return ""


class KeptConnectorClient(TeamsConnectorClient):
    """A connector client that outlives the turn that first needed it.

    Its conversations' calls take the conversation id whole. The SDK (hosting-core 1.9.0,
    `ConversationsOperations._normalize_conversation_id`) cuts every id at 150 characters before
    building the URL, a limit meant for its agentic channel (the .NET SDK applies it to that
    channel only); a Teams conversation id cut short names another conversation, or none."""

    def __init__(self, endpoint: str, token: str) -> None:
        super().__init__(endpoint=endpoint, token=token)
        self._conversations._max_conversation_id_length = WHOLE_CONVERSATION_ID  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Called by the SDK's adapter after every turn: the client is kept, so nothing."""

    async def close_for_good(self) -> None:
        await super().close()


class KeptConnectorFactory:
    """The SDK's `ChannelServiceClientFactoryBase`, with kept clients (see the module docstring)."""

    def __init__(self, token: TokenSource, hosts: ServiceHostPolicy) -> None:
        self._token = token
        self.hosts = hosts
        self._clients: dict[str, KeptConnectorClient] = {}
        self._user_tokens: UserTokenClient | None = None

    async def create_connector_client(self, context: TurnContext | None, claims_identity: ClaimsIdentity,
                                      service_url: str, audience: str, scopes: list[str] | None = None,
                                      use_anonymous: bool = False) -> KeptConnectorClient:
        return await self.client_for(service_url)

    async def client_for(self, service_url: str) -> KeptConnectorClient:
        """The kept client of this service URL, carrying the bot's current token."""
        if not self.hosts.allows(service_url):
            raise ServiceHostRefused()
        token = await self._token()
        client = self._clients.get(service_url)
        if client is None:
            if len(self._clients) >= MAX_KEPT_CLIENTS:
                await self._clients.pop(next(iter(self._clients))).close_for_good()
            client = self._clients[service_url] = KeptConnectorClient(endpoint=service_url, token=token)
        elif token:
            client.client.headers["Authorization"] = f"Bearer {token}"
        return client

    async def create_user_token_client(self, context: TurnContext, claims_identity: ClaimsIdentity,
                                       use_anonymous: bool = False) -> UserTokenClient:
        if self._user_tokens is None:
            self._user_tokens = UserTokenClient(app_id=claims_identity.get_app_id() or "", endpoint=BOT_FRAMEWORK_API,
                                                token="")
        return self._user_tokens

    async def close_all(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close_for_good()
        if self._user_tokens is not None:
            await self._user_tokens.close()
            self._user_tokens = None


def agents_adapter(factory: KeptConnectorFactory) -> ChannelServiceAdapter:
    """The SDK's aiohttp `CloudAdapter` over the kept clients. Only its `process_activity` is used
    (bot/agents/edge.py); its `process` and host validator are not."""
    from microsoft_agents.hosting.aiohttp import CloudAdapter

    return CloudAdapter(channel_service_client_factory=factory)


def msal_token_source(client_id: str, client_secret: str, tenant_id: str) -> TokenSource:
    """The bot's own token for the Bot Connector, from Entra through the SDK's MSAL provider
    (microsoft-agents-authentication-msal), which caches it until it is due for renewal."""
    from microsoft_agents.authentication.msal import MsalAuth
    from microsoft_agents.hosting.core import AgentAuthConfiguration

    auth = MsalAuth(AgentAuthConfiguration(client_id=client_id, client_secret=client_secret, tenant_id=tenant_id))

    async def token() -> str:
        found: Any = await auth.get_access_token(BOT_FRAMEWORK_API, [BOT_CONNECTOR_SCOPE])
        return str(found or "")

    return token
