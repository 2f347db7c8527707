"""The bot's token goes only to Microsoft, through the network a local authority gives it.

The bot runs as in production (credentials, signed tokens, a dummy outbound token). A local
HTTPS server with a self-signed CA the test trusts (SSL_CERT_FILE) stands in for a remote host,
reached through a local CONNECT proxy (HTTPS_PROXY; loopback is in NO_PROXY, so the fake
Bot Connector is reached directly):

- as a hostile host (`evil.example.test`, not a Teams service host), named by a stored
  conversation address or by an incoming activity: it receives nothing — no request, no
  Authorization header — and the proxy is not even asked for it; the refusal is audited and
  each partnership manager is told once, in a personal message, however often it happens
  and across a restart;
- as an allowed Teams host (`connector.example.test`, in ALLOWED_SERVICE_HOSTS): the card and
  the token reach it, through the proxy and trusted only through the CA bundle;
- as the Microsoft identity platform (`login.microsoftonline.com`, the authority of the tenant
  in MicrosoftAppTenantId): msal's request for the bot's own token goes there, through the
  proxy, trusting the CA bundle, and that token is what the Bot Connector receives;
- as Microsoft Graph and its sign-in service (tests/support/fake_graph.py): msal's token
  request and the Graph call both go through the proxy and trust the CA bundle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botframework.connector.auth.microsoft_app_credentials import MicrosoftAppCredentials
from sqlalchemy import select, update

from bot.adapters.db import schema as t
from bot.adapters.meetings import GraphMeetingProvider
from bot.domain.outbox import OutboxKind
from bot.services.ports import Attendee, OutboxMessage
from bot.teams import signing_keys
from tests.support import activities as A
from tests.support.fake_graph import FakeGraph
from tests.support.harness import BotHarness, texts
from tests.support.tls import ConnectProxy, RecordingTlsServer, make_certificates
from tests.support.tokens import LocalSigningKey

APP_ID = "5f0c7a1e-3b7d-4c2a-9e51-0d6f2b8a4c11"
OUTBOUND_TOKEN = "dummy-outbound-token-for-the-tls-test"
HOSTILE, ALLOWED = "evil.example.test", "connector.example.test"
LOGIN = "login.microsoftonline.com"  # where the bot's own token comes from: the configured tenant's authority
NOTICE_TITLE = "A message was not sent"


def clear_network_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY",
                 "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def certificates(tmp_path, monkeypatch):
    clear_network_environment(monkeypatch)
    files = make_certificates(tmp_path, names=(HOSTILE, ALLOWED, LOGIN))
    monkeypatch.setenv("SSL_CERT_FILE", str(files.ca_file))
    return files


@pytest.fixture
async def remote(certificates) -> AsyncIterator[RecordingTlsServer]:
    """The stand-in remote host: answers a Bot Connector send, records everything."""
    async with RecordingTlsServer(certificates, default_status=201) as server:
        server.answers["/emea/v3/conversations/a:riley-personal/activities"] = {"id": "remote-1"}
        yield server


@pytest.fixture
async def proxy(remote, monkeypatch) -> AsyncIterator[ConnectProxy]:
    async with ConnectProxy(routes={HOSTILE: remote.port, ALLOWED: remote.port}) as server:
        monkeypatch.setenv("HTTPS_PROXY", server.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield server


@pytest.fixture
def signer() -> Iterator[LocalSigningKey]:
    signing_keys.reset()
    with LocalSigningKey() as key:
        yield key
    signing_keys.reset()


@pytest.fixture
async def bot(tmp_path, database_url, signer, proxy, monkeypatch) -> AsyncIterator[BotHarness]:
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token",
                        lambda self, force_refresh=False: OUTBOUND_TOKEN)
    env = {"app_id": APP_ID, "app_password": "secret", "app_tenant_id": A.TENANT, "app_type": "SingleTenant",
           "environment": "production", "allowed_service_hosts": ALLOWED}
    async with BotHarness(tmp_path, database_url=database_url, env=env) as harness:
        yield harness


async def post(h: BotHarness, signer: LocalSigningKey, activity: dict[str, Any]) -> int:
    token = signer.token(app_id=APP_ID, service_url=activity["serviceUrl"])
    status, _ = await h.post(activity, {"Authorization": f"Bearer {token}"})
    return status


async def greet(h: BotHarness, signer: LocalSigningKey, *people: A.Person) -> None:
    """Each says hello in a personal chat, so the bot keeps an address for each."""
    for person in people:
        assert await post(h, signer, A.message(h.url, person, "hello")) in (200, 201)


async def point_address_at(h: BotHarness, person: A.Person, service_url: str) -> None:
    async with h.c.db.write() as conn:
        result = await conn.execute(update(t.conversation_refs).where(t.conversation_refs.c.key == f"user:{person.aad}")
                                    .values(service_url=service_url, conversation_id="a:riley-personal"))
        assert result.rowcount == 1


async def notify(h: BotHarness, person: A.Person, key: str) -> None:
    """A personal message for `person`, as a use case enqueues one, delivered by the outbox."""
    await h.c.stores.outbox.enqueue([OutboxMessage(key=key, kind=OutboxKind.PERSON_NOTICE, payload={
        "to": person.aad, "notice": "no_panel_channel", "reference": "RR-TEST"})], h.clock.now())
    await h.flush()


def notices_to(h: BotHarness, person: A.Person) -> list[str]:
    """The refused-host notices the fake connector delivered to `person`'s personal chat."""
    found = []
    for sent in h.connector.sent_activities():
        for attachment in sent.activity.get("attachments") or []:
            text = texts(attachment.get("content") or {})
            if NOTICE_TITLE in text and person.key in sent.conversation_id:
                found.append(text)
    return found


async def refusals(h: BotHarness) -> list[dict[str, Any]]:
    async with h.c.db.read() as conn:
        rows = await conn.execute(select(t.events).where(t.events.c.kind == "service_host_refused"))
        return [dict(row.detail) for row in rows]


async def test_a_stored_address_on_a_hostile_host_gets_nothing_and_the_managers_are_told_once(
        bot, signer, remote, proxy):
    await greet(bot, signer, A.PAT, A.RILEY)
    await point_address_at(bot, A.RILEY, f"https://{HOSTILE}/emea/")

    await notify(bot, A.RILEY, "first")
    await notify(bot, A.RILEY, "second")

    assert remote.received == []  # no request at all, so no Authorization header and no card
    assert proxy.tunnelled == []  # not even a connection was asked for
    assert [d["host"] for d in await refusals(bot)] == [f"https://{HOSTILE}"] * 2
    told = notices_to(bot, A.PAT)
    assert len(told) == 1
    assert HOSTILE in told[0] and "ALLOWED_SERVICE_HOSTS" in told[0] and "/emea" not in told[0]

    await bot.restart()  # the notice is remembered in the database, not in memory
    await notify(bot, A.RILEY, "third")
    assert remote.received == [] and proxy.tunnelled == []
    assert len(await refusals(bot)) == 3
    assert len(notices_to(bot, A.PAT)) == 0  # the restarted fake connector saw no new notice
    async with bot.c.db.read() as conn:
        keys = [r.key for r in await conn.execute(select(t.outbox).where(t.outbox.c.key.like("notice:service_host%")))]
    assert len(keys) == 1


async def test_an_activity_from_a_hostile_host_is_refused_audited_and_reported_once(bot, signer, remote, proxy):
    await greet(bot, signer, A.PAT)
    for text in ("hello", "status", "help"):
        assert await post(bot, signer, A.message(f"https://{HOSTILE}/emea/", A.RILEY, text)) == 403
    await bot.flush()

    assert remote.received == [] and proxy.tunnelled == []
    assert [(d["host"], d["source"]) for d in await refusals(bot)] == [(f"https://{HOSTILE}", "incoming activity")] * 3
    assert len(notices_to(bot, A.PAT)) == 1


async def test_an_allowed_host_is_reached_through_the_proxy_trusting_the_ca_bundle(bot, signer, remote, proxy):
    await greet(bot, signer, A.RILEY)
    await point_address_at(bot, A.RILEY, f"https://{ALLOWED}/emea/")

    await notify(bot, A.RILEY, "allowed")

    posts = [r for r in remote.received if r.method == "POST"]
    assert len(posts) == 1 and posts[0].path == "/emea/v3/conversations/a:riley-personal/activities"
    assert posts[0].headers["Authorization"] == f"Bearer {OUTBOUND_TOKEN}"
    assert proxy.tunnelled == [f"{ALLOWED}:443"]
    assert await refusals(bot) == []


async def test_microsoft_graph_and_its_sign_in_go_through_the_proxy_trusting_the_ca_bundle(monkeypatch):
    clear_network_environment(monkeypatch)
    with FakeGraph() as graph:
        monkeypatch.setenv("SSL_CERT_FILE", str(graph.ca_file))
        secure_port = int(graph.login_url.rsplit(":", 1)[1])
        async with ConnectProxy(routes={"127.0.0.1": secure_port}) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            base = f"{graph.login_url}/v1.0"
            provider = GraphMeetingProvider(**graph.provider_kwargs(http_client=None, base_url=base))
            start = datetime(2026, 11, 24, 9, tzinfo=UTC)
            busy = await provider.busy([Attendee(name="Dan", email="dan.police@example.org")], start,
                                       start + timedelta(hours=8))
        assert busy == {"dan.police@example.org": []}
        assert graph.counts["token"] == 1 and graph.counts["getSchedule"] == 1
        # msal (requests) for the discovery document and the token, aiohttp for Graph: all tunnelled
        assert len(proxy.tunnelled) >= 2 and set(proxy.tunnelled) == {f"127.0.0.1:{secure_port}"}


def identity_platform(server: RecordingTlsServer, token: str) -> None:
    """The two answers msal needs for a client-credentials token of the bot's tenant."""
    base = f"https://{LOGIN}/{A.TENANT}"
    server.answers[f"/{A.TENANT}/v2.0/.well-known/openid-configuration"] = {
        "token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize", "jwks_uri": f"{base}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post"], "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256"], "subject_types_supported": ["pairwise"]}
    server.answers[f"/{A.TENANT}/oauth2/v2.0/token"] = {"token_type": "Bearer", "expires_in": 3599,
                                                        "ext_expires_in": 3599, "access_token": token}


async def test_the_bots_own_token_comes_from_the_configured_authority_through_the_proxy(
        tmp_path, database_url, certificates, signer, monkeypatch):
    async with RecordingTlsServer(certificates) as login, ConnectProxy(routes={LOGIN: login.port}) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        identity_platform(login, "token-from-the-configured-authority")
        env = {"app_id": APP_ID, "app_password": "secret", "app_tenant_id": A.TENANT, "app_type": "SingleTenant",
               "environment": "production"}
        async with BotHarness(tmp_path, database_url=database_url, env=env) as h:
            await greet(h, signer, A.RILEY, A.PAT)

            replies = [r for r in h.connector.requests if r.method == "POST" and "/activities" in r.path]
            assert len(replies) == 2
            assert {r.headers.get("Authorization") for r in replies} == {"Bearer token-from-the-configured-authority"}
        token_requests = [r for r in login.received if r.path.endswith("/oauth2/v2.0/token")]
        assert len(token_requests) == 1  # msal's cache answers the second reply
        assert f"client_id={APP_ID}" in token_requests[0].body.decode()
        assert {r.path.split("/")[1] for r in login.received} == {A.TENANT}  # the configured tenant, only
        assert set(proxy.tunnelled) == {f"{LOGIN}:443"}
