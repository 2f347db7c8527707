"""MicrosoftAppType=UserAssignedMSI: the bot's Bot Connector token comes from the platform's managed
identity endpoint (MSAL's ManagedIdentityClient), never from a client secret.

The endpoint is faked on 127.0.0.1, as App Service and Container Apps expose it (IDENTITY_ENDPOINT and
IDENTITY_HEADER), and as the instance metadata service of a virtual machine (redirected with MSAL's
AZURE_POD_IDENTITY_AUTHORITY_HOST). The bot runs as in production (BotHarness: the real aiohttp app, a fake
Bot Connector); every HTTP request made through `requests` (MSAL's transport) is recorded, and building
a client-secret MSAL application fails the test.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import msal
import pytest
import requests
from aiohttp import web
from botframework.connector.auth.managedidentity_app_credentials import ManagedIdentityAppCredentials

from bot.services.ports import Address, DeliveryError
from tests.support import activities as A
from tests.support.harness import BotHarness

MSI_CLIENT_ID = "7c3a9e21-5b4d-4f6e-8a1b-2d3c4e5f6a7b"  # the user-assigned identity's client id = MicrosoftAppId
IDENTITY_HEADER = "per-host-identity-header-value"
MSI_TOKEN = "token-from-the-managed-identity-endpoint"
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "hello"}]}

MSI = {"app_id": MSI_CLIENT_ID, "app_type": "UserAssignedMSI", "app_tenant_id": A.TENANT,
       "environment": "production"}


class IdentityEndpoint:
    """App Service's / Container Apps' identity endpoint (api-version 2019-08-01) and the instance
    metadata service (/metadata/identity/oauth2/token), on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.fail = False
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _token(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query), dict(request.headers)))
        if self.fail:
            # App Service's answer when the identity is not assigned to the app (a 5xx would be held back by
            # MSAL's throttle for a few seconds, as it should).
            return web.json_response({"statusCode": 400, "message": "Unable to load the proper Managed Identity."},
                                     status=400)
        expires = int(time.time()) + 3600
        if request.path.startswith("/metadata/"):  # IMDS answers in OAuth2 form
            return web.json_response({"access_token": MSI_TOKEN, "expires_in": "3600", "token_type": "Bearer",
                                      "resource": request.query.get("resource")})
        return web.json_response({"access_token": MSI_TOKEN, "expires_on": str(expires), "token_type": "Bearer",
                                  "resource": request.query.get("resource"), "client_id": MSI_CLIENT_ID})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/msi/token", self._token)
        app.router.add_get("/metadata/identity/oauth2/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def endpoint() -> AsyncIterator[IdentityEndpoint]:
    fake = IdentityEndpoint()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def outgoing(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every request sent through `requests` (method, URL, body) — MSAL's and botbuilder's transport —
    and no client-secret MSAL application may even be built."""
    sent: list[tuple[str, str, str]] = []
    real_send = requests.Session.send

    def recording_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        sent.append((request.method or "", request.url or "", body))
        if not (request.url or "").startswith(("http://127.0.0.1:", "http://127.0.0.2:")):  # nothing leaves the machine
            raise requests.ConnectionError(f"the test refused a request to {request.url}")
        return real_send(self, request, **kwargs)

    def no_secret_app(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a client-secret MSAL application was built with a managed identity")

    monkeypatch.setattr(requests.Session, "send", recording_send)
    monkeypatch.setattr(msal, "ConfidentialClientApplication", no_secret_app)
    monkeypatch.setattr(ManagedIdentityAppCredentials, "global_token_cache", msal.TokenCache())  # no earlier token
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
                 "IDENTITY_SERVER_THUMBPRINT", "AZURE_POD_IDENTITY_AUTHORITY_HOST"):
        monkeypatch.delenv(name, raising=False)
    return sent


def _assert_no_secret_and_no_login(sent: list[tuple[str, str, str]]) -> None:
    assert sent, "the token was not fetched through MSAL's transport"
    for _method, url, body in sent:
        assert url.startswith(("http://127.0.0.1:", "http://127.0.0.2:")), f"the bot asked {url} for a token"
        assert "login.microsoftonline.com" not in url and "client_secret" not in body + url


async def _send_and_update(h: BotHarness) -> list[Any]:
    notifier = h.c.services.notifier
    channel = Address(A.PANEL_CHANNEL_ID, h.url, A.TENANT, A.BOT_ID)
    activity_id = await notifier.send_card(channel, CARD)
    await notifier.update_card(channel, activity_id, {**CARD, "body": [{"type": "TextBlock", "text": "updated"}]})
    return h.connector.requests_of("send") + h.connector.requests_of("update")


async def test_app_service_identity_endpoint_gives_the_bearer_of_proactive_sends(
        tmp_path, endpoint, outgoing, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{endpoint.port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    async with BotHarness(tmp_path, env=MSI) as h:
        assert h.c.adapter.bot_framework_authentication  # started in production mode with no secret at all
        sent_to_teams = await _send_and_update(h)
        assert len(sent_to_teams) == 2
        assert all(r.headers.get("Authorization") == f"Bearer {MSI_TOKEN}" for r in sent_to_teams)
        [update] = h.connector.updates()
        assert "updated" in json.dumps(update.activity)
    # One token, asked once (MSAL caches it), for the Bot Framework, for this identity, with the host's header.
    [(path, query, headers)] = endpoint.requests
    assert path == "/msi/token"
    assert query == {"api-version": "2019-08-01", "resource": BOT_FRAMEWORK_RESOURCE, "client_id": MSI_CLIENT_ID}
    assert headers.get("X-IDENTITY-HEADER") == IDENTITY_HEADER
    _assert_no_secret_and_no_login(outgoing)
    assert [method for method, _url, _body in outgoing] == ["GET"]


@pytest.mark.skipif("AZURE_POD_IDENTITY_AUTHORITY_HOST" not in inspect.getsource(msal.managed_identity),
                    reason="this msal cannot be pointed at a fake metadata service (AZURE_POD_IDENTITY_AUTHORITY_HOST)")
async def test_the_instance_metadata_service_gives_the_bearer_on_a_virtual_machine(
        tmp_path, endpoint, outgoing, monkeypatch):
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{endpoint.port}")
    async with BotHarness(tmp_path, env=MSI) as h:
        sent_to_teams = await _send_and_update(h)
        assert all(r.headers.get("Authorization") == f"Bearer {MSI_TOKEN}" for r in sent_to_teams)
    [(path, query, headers)] = endpoint.requests
    assert path == "/metadata/identity/oauth2/token"
    assert query["resource"] == BOT_FRAMEWORK_RESOURCE and query["client_id"] == MSI_CLIENT_ID
    assert headers.get("Metadata") == "true"
    _assert_no_secret_and_no_login(outgoing)


async def test_no_token_from_the_endpoint_sends_nothing_and_is_retried_later(
        tmp_path, endpoint, outgoing, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{endpoint.port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    endpoint.fail = True
    async with BotHarness(tmp_path, env=MSI) as h:
        notifier = h.c.services.notifier
        channel = Address(A.PANEL_CHANNEL_ID, h.url, A.TENANT, A.BOT_ID)
        with pytest.raises(DeliveryError) as raised:
            await notifier.send_card(channel, CARD)
        assert not raised.value.permanent and raised.value.answered  # nothing left the bot; the outbox retries
        assert "managed identity" in raised.value.reason
        assert h.connector.requests_of("send") == []  # no unauthenticated post to Teams
        endpoint.fail = False  # the identity is assigned again: the next attempt goes through
        await notifier.send_card(channel, CARD)
        [post] = h.connector.requests_of("send")
        assert post.headers.get("Authorization") == f"Bearer {MSI_TOKEN}"
    _assert_no_secret_and_no_login(outgoing)


async def test_the_identity_endpoint_is_reached_directly_not_through_the_proxy(tmp_path, outgoing, monkeypatch):
    """A local authority's egress proxy (HTTPS_PROXY/HTTP_PROXY) carries the bot's calls to Teams, but the
    identity endpoint is the host's own: the token request never goes to the proxy (here a dead one)."""
    endpoint = IdentityEndpoint(host="127.0.0.2")  # loopback too, but not exempted from the proxy below
    await endpoint.start()
    try:
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.2:{endpoint.port}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the fake connector only
        monkeypatch.delenv("no_proxy", raising=False)
        async with BotHarness(tmp_path, env=MSI) as h:
            sent_to_teams = await _send_and_update(h)
            assert all(r.headers.get("Authorization") == f"Bearer {MSI_TOKEN}" for r in sent_to_teams)
        assert len(endpoint.requests) == 1
    finally:
        await endpoint.stop()
    _assert_no_secret_and_no_login(outgoing)
