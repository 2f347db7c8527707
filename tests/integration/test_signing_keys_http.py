"""Authentication fails closed without freezing: the OpenID metadata endpoint that publishes the
signing keys of Bot Connector tokens is a local HTTPS server (a self-signed CA the test trusts
through SSL_CERT_FILE), configured as OPENID_METADATA_URL, and the bot runs as in production
(credentials set, real signed tokens from tests/support/tokens.py).

- it hangs: a request gets 503 (with Retry-After) within the fetch timeout, /healthz answers at
  once meanwhile, and concurrent requests share one fetch;
- it answers 500: a hundred requests make one fetch, each gets 503;
- a token names a key nobody published: 401, and at most one fetch per refresh floor;
- it recovers: requests authenticate again;
- a token's `jku`/`x5u` headers point elsewhere: nothing is fetched from there.

Time: the fetch timeout is 1 s (settings); the refresh floor is measured on a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from botframework.connector.auth.microsoft_app_credentials import MicrosoftAppCredentials

from bot.teams import signing_keys
from tests.support import activities as A
from tests.support.fake_time import FakeMonotonic
from tests.support.harness import BotHarness
from tests.support.tls import RecordingTlsServer, make_certificates
from tests.support.tokens import LocalSigningKey

APP_ID = "5f0c7a1e-3b7d-4c2a-9e51-0d6f2b8a4c11"
FETCH_TIMEOUT = 1.0
FLOOR = 300.0
METADATA, KEYS = "/v1/.well-known/openidconfiguration", "/v1/.well-known/keys"


@pytest.fixture
def fresh_key_sources() -> Iterator[None]:
    signing_keys.reset()
    yield
    signing_keys.reset()


@pytest.fixture
def trusted_ca(tmp_path, monkeypatch):
    certificates = make_certificates(tmp_path)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
                 "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))
    return certificates


@pytest.fixture
def signer() -> LocalSigningKey:
    """The Bot Connector's signing key: published by the metadata server, never preloaded."""
    return LocalSigningKey()


@pytest.fixture
async def openid(trusted_ca, signer) -> AsyncIterator[RecordingTlsServer]:
    async with RecordingTlsServer(trusted_ca) as server:
        server.answers[METADATA] = {"issuer": "https://api.botframework.com", "jwks_uri": server.url(KEYS)}
        server.answers[KEYS] = {"keys": [signer.jwk()]}
        yield server


@pytest.fixture
async def bot(tmp_path, fresh_key_sources, openid, monkeypatch) -> AsyncIterator[BotHarness]:
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token", lambda self, force_refresh=False: "outbound")
    env = {"app_id": APP_ID, "app_password": "secret", "app_tenant_id": A.TENANT, "app_type": "SingleTenant",
           "environment": "production", "openid_metadata_url": openid.url(METADATA),
           "openid_fetch_timeout_seconds": FETCH_TIMEOUT, "openid_refresh_floor_seconds": FLOOR}
    async with BotHarness(tmp_path, env=env) as harness:
        yield harness


@pytest.fixture
def clock() -> FakeMonotonic:
    """The key sources' clock, moved by the test (the floor is five minutes)."""
    fake = FakeMonotonic()
    cache = signing_keys.key_sources()
    signing_keys.install(replace(cache.settings, monotonic=fake))
    return fake


def fetches(server: RecordingTlsServer) -> int:
    return server.count(METADATA)


async def post_signed(bot: BotHarness, signer: LocalSigningKey, **token: Any) -> tuple[int, Any, float]:
    activity = A.message(bot.url, A.RILEY, "help")
    jwt = signer.token(app_id=APP_ID, service_url=activity["serviceUrl"], **token)
    assert bot.client is not None
    started = time.monotonic()
    response = await bot.client.post("/api/messages", json=activity, headers={"Authorization": f"Bearer {jwt}"})
    return response.status, response.headers, time.monotonic() - started


async def test_keys_come_from_the_configured_endpoint_and_are_fetched_once(bot, openid, signer, clock):
    for _ in range(5):
        status, _, _ = await post_signed(bot, signer)
        assert status == 201
    assert fetches(openid) == 1 and openid.count(KEYS) == 1
    assert all("authorization" not in {k.lower() for k in r.headers} for r in openid.received)


async def test_a_hanging_endpoint_gives_503_within_the_timeout_and_health_answers_meanwhile(bot, openid, signer,
                                                                                          clock):
    openid.hang = True
    requests = [asyncio.create_task(post_signed(bot, signer)) for _ in range(10)]
    await asyncio.sleep(0.2)
    assert bot.client is not None
    started = time.monotonic()
    health = await bot.client.get("/healthz")
    assert health.status == 200 and time.monotonic() - started < 0.5  # the loop is not blocked
    assert not any(task.done() for task in requests)  # still waiting for the one fetch, within its bound
    answers = await asyncio.gather(*requests)
    for status, headers, took in answers:
        assert status == 503 and int(headers["Retry-After"]) >= 1
        assert took < FETCH_TIMEOUT + 2
    assert fetches(openid) == 1  # one fetch in flight, shared by all ten


async def test_an_endpoint_answering_500_is_not_asked_again_on_every_request(bot, openid, signer, clock):
    openid.status = 500
    statuses = [(await post_signed(bot, signer))[0] for _ in range(100)]
    assert set(statuses) == {503}
    assert fetches(openid) <= 2


async def test_unknown_key_ids_cause_at_most_one_refresh_per_floor(bot, openid, signer, clock):
    assert (await post_signed(bot, signer))[0] == 201
    assert fetches(openid) == 1
    for n in range(50):
        status, _, _ = await post_signed(bot, signer, kid=f"unknown-{n}")
        assert status == 401
    assert fetches(openid) == 1  # the keys were fetched just now: the floor holds
    clock.now += FLOOR
    for n in range(50):
        status, _, _ = await post_signed(bot, signer, kid=f"other-{n}")
        assert status == 401
    assert fetches(openid) == 2  # one refresh for the fifty
    assert (await post_signed(bot, signer))[0] == 201  # the real key still works, without a fetch
    assert fetches(openid) == 2


async def test_a_rotated_key_is_picked_up_by_the_refresh_it_triggers(bot, openid, signer, clock):
    assert (await post_signed(bot, signer))[0] == 201
    rotated = LocalSigningKey()
    openid.answers[KEYS] = {"keys": [signer.jwk(), rotated.jwk()]}
    clock.now += FLOOR
    assert (await post_signed(bot, rotated))[0] == 201
    assert fetches(openid) == 2


async def test_requests_authenticate_again_when_the_endpoint_recovers(bot, openid, signer, clock):
    openid.status = 500
    status, headers, _ = await post_signed(bot, signer)
    assert status == 503
    retry_after = int(headers["Retry-After"])
    assert (await post_signed(bot, signer))[0] == 503  # within the floor: no new fetch
    assert fetches(openid) == 1
    openid.status = None
    clock.now += retry_after
    assert (await post_signed(bot, signer))[0] == 201
    assert fetches(openid) == 2


async def test_a_token_cannot_point_the_bot_at_another_key_server(bot, openid, signer, clock, trusted_ca):
    async with RecordingTlsServer(trusted_ca) as elsewhere:
        elsewhere.answers["/keys"] = {"keys": [signer.jwk()]}
        impostor = LocalSigningKey(kid="impostor")
        elsewhere.answers["/impostor"] = {"keys": [impostor.jwk()]}
        status, _, _ = await post_signed(bot, impostor,
                                         headers={"jku": elsewhere.url("/impostor"), "x5u": elsewhere.url("/impostor")})
        assert status == 401
        assert elsewhere.received == []


async def test_keys_outlive_a_failing_refresh_for_a_day_then_requests_get_503(bot, openid, signer, clock):
    assert (await post_signed(bot, signer))[0] == 201
    openid.status = 500
    clock.now += signing_keys.KEY_LIFETIME  # due for a refresh, which fails
    assert (await post_signed(bot, signer))[0] == 201  # the last keys fetched still hold
    assert fetches(openid) == 2
    clock.now += signing_keys.LAST_KNOWN_GOOD  # two days without a successful fetch
    status, headers, _ = await post_signed(bot, signer)
    assert status == 503 and "Retry-After" in headers
