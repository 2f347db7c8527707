"""The keys that sign incoming Bot Connector tokens: fetched with a bound, cached, refreshed rarely.

SDK-neutral: both edges check tokens against these sources. The botbuilder edge hands them to
botbuilder's `JwtTokenExtractor` in place of its own key cache (bot/teams/signing_keys.py); the
Microsoft 365 Agents SDK edge validates with them itself (bot/agents/authentication.py), because
the Agents SDK's `JwtTokenValidator` fetches keys through PyJWKClient — a blocking fetch in a
thread, again for every unknown key id — and checks neither endorsements nor the service URL.

botbuilder's own `_OpenIdMetadata` objects fetch the OpenID metadata document and the key set
with a blocking `requests.get` without a timeout, on the event loop, and again on every
request while the fetch fails: when Microsoft's endpoint hung, the whole bot stopped answering,
/healthz included; while it answered 500, every request fetched it again. Here, every metadata
URL gets a `SigningKeySource`:

- each fetch (metadata document and key set together) gives up after `timeout` (≤ 5 s), on
  the event loop without blocking it, through the proxy and CA bundle of the environment
  (bot/adapters/outbound_http.py);
- keys are used for `KEY_LIFETIME` without asking again; after that a refresh is tried,
  and while it fails the last keys fetched stay in use for `LAST_KNOWN_GOOD` more;
- at most one fetch per source is in flight; every request that needs keys meanwhile waits
  for that one (bounded by its timeout);
- at most one fetch per `refresh_floor` (5 minutes), whatever arrives — a token with a key
  id nobody knows included; while there are no keys at all, one per `NO_KEYS_RETRY`;
- with no keys to check a token against, `SigningKeysUnavailable` (the edge answers 503 with
  Retry-After) — never a pass, never a wait longer than the timeout.

Where the keys come from is configuration only (bot/settings.py `OPENID_METADATA_URL`,
`EMULATOR_OPENID_METADATA_URL`, Microsoft's by default): the URL an edge names is mapped to
the configured one. Nothing in a request chooses it; a token's `jku`/`x5u` headers are never
read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from jwt.algorithms import RSAAlgorithm

from bot.adapters.outbound_http import client_session, proxy_for
from bot.adapters.service_hosts import origin

log = logging.getLogger(__name__)

KEY_LIFETIME = 24 * 3600.0  # as botbuilder: keys a day old are fetched again
LAST_KNOWN_GOOD = 24 * 3600.0  # and, while that fails, still trusted for another day
NO_KEYS_RETRY = 30.0  # the floor while there are no keys at all (every request is a 503)
MAX_DOCUMENT_BYTES = 1024 * 1024

# The Bot Framework protocol's OpenID metadata (botframework-connector's AuthenticationConstants
# TO_BOT_FROM_CHANNEL_/TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL; tests/unit checks they agree).
CHANNEL_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
EMULATOR_METADATA_URL = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"


class SigningKeysUnavailable(Exception):
    """No keys to check the token against (the metadata endpoint failed or hung): answer 503."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("signing keys unavailable")
        self.retry_after = retry_after


class UnknownSigningKey(Exception):
    """The token names a key the current key set does not hold: not authenticated."""


@dataclass(frozen=True)
class SigningKey:
    """What JwtTokenExtractor reads from its key source (the SDK's `_OpenIdConfig`)."""

    public_key: Any
    endorsements: list[str]


@dataclass(frozen=True)
class KeySourceSettings:
    """`urls` maps a metadata URL the SDK names to the one fetched instead (from settings)."""

    urls: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 5.0
    refresh_floor: float = 300.0
    monotonic: Callable[[], float] = time.monotonic

    def fetch_url(self, sdk_url: str) -> str:
        return self.urls.get(sdk_url, sdk_url)


class SigningKeySource:
    """The keys published at one metadata URL (see the module docstring for the rules)."""

    def __init__(self, sdk_url: str, settings: KeySourceSettings) -> None:
        self.sdk_url = sdk_url
        self.settings = settings
        self.url = settings.fetch_url(sdk_url)
        self.fetches = 0  # fetches started, for the log and the tests
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None  # last success
        self._attempted_at: float | None = None
        self._failed = False  # the last attempt failed
        self._refresh: asyncio.Task[None] | None = None

    def configure(self, settings: KeySourceSettings) -> None:
        self.settings = settings
        self.url = settings.fetch_url(self.sdk_url)

    def preload(self, jwks: list[dict[str, Any]]) -> None:
        """Keys known without fetching (tests sign tokens with a local key this way)."""
        self._keys = _parse(jwks)
        self._fetched_at = self._attempted_at = self.settings.monotonic()
        self._failed = False

    # ---- what JwtTokenExtractor calls ---------------------------------------------------------

    async def get(self, key_id: str | None) -> SigningKey:
        now = self.settings.monotonic()
        if self._wants_refresh(key_id, now) and self._may_refresh(now):
            await self._join_refresh(now)
            now = self.settings.monotonic()
        if not self._usable(now):
            raise SigningKeysUnavailable(self._retry_after(now))
        key = self._keys.get(key_id or "")
        if key is None:
            if self._failed:  # perhaps a new key we could not fetch: ask again later, don't refuse for good
                raise SigningKeysUnavailable(self._retry_after(now))
            raise UnknownSigningKey()
        return key

    # ---- the rules ---------------------------------------------------------------------------

    def _usable(self, now: float) -> bool:
        return bool(self._keys) and self._fetched_at is not None and now - self._fetched_at < KEY_LIFETIME + LAST_KNOWN_GOOD

    def _wants_refresh(self, key_id: str | None, now: float) -> bool:
        return (self._fetched_at is None or now - self._fetched_at >= KEY_LIFETIME
                or (key_id or "") not in self._keys)

    def _floor(self, now: float) -> float:
        return self.settings.refresh_floor if self._usable(now) else min(NO_KEYS_RETRY, self.settings.refresh_floor)

    def _in_flight(self) -> asyncio.Task[None] | None:
        task = self._refresh
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            return None
        return task

    def _may_refresh(self, now: float) -> bool:
        return (self._in_flight() is not None or self._attempted_at is None
                or now - self._attempted_at >= self._floor(now))

    def _retry_after(self, now: float) -> int:
        if self._attempted_at is None:
            return 1
        return max(1, math.ceil(self._attempted_at + self._floor(now) - now))

    async def _join_refresh(self, now: float) -> None:
        task = self._in_flight()
        if task is None:
            self._attempted_at = now
            self.fetches += 1
            task = self._refresh = asyncio.get_running_loop().create_task(self._fetch(), name="signing-keys")
        await asyncio.shield(task)  # a request that goes away does not cancel the fetch others wait for

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self.settings.timeout):
                keys = await _download(self.url)
        except Exception as error:  # noqa: BLE001 - any failure leaves the last keys in place
            self._failed = True
            log.warning("signing keys not fetched", extra={"host": origin(self.url), "reason": type(error).__name__})
            return
        self._keys, self._fetched_at, self._failed = keys, self.settings.monotonic(), False
        log.info("signing keys fetched", extra={"host": origin(self.url), "keys": len(keys)})


async def _download(metadata_url: str) -> dict[str, SigningKey]:
    async with client_session("signing_keys") as session:
        metadata = await _get_json(session, metadata_url)
        jwks_uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise ValueError("the metadata document names no https jwks_uri")
        jwks = await _get_json(session, jwks_uri)
    keys = _parse(jwks.get("keys") if isinstance(jwks, dict) else None)
    if not keys:
        raise ValueError("the key set holds no usable key")
    return keys


async def _get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url, proxy=proxy_for(url), allow_redirects=False) as response:
        response.raise_for_status()
        body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError("document too large")
    return json.loads(body)


def _parse(jwks: Any) -> dict[str, SigningKey]:
    """The RSA keys of a key set, by kid; anything else is left out."""
    keys: dict[str, SigningKey] = {}
    for jwk in jwks if isinstance(jwks, list) else []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        try:
            public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        except Exception:  # noqa: BLE001 - a key we cannot read signs nothing we accept
            log.info("signing key skipped", extra={"kty": str(jwk.get("kty"))[:10]})
            continue
        endorsements = jwk.get("endorsements")
        keys[jwk["kid"]] = SigningKey(public_key, list(endorsements) if isinstance(endorsements, list) else [])
    return keys


class KeySourceCache(dict[str, SigningKeySource]):
    """The key source of each metadata URL, made on first use. botbuilder asks it with
    `.get(url, None)` (it stands in for `JwtTokenExtractor.metadataCache`) and so gets this
    module's source, never botbuilder's own."""

    def __init__(self, settings: KeySourceSettings) -> None:
        super().__init__()
        self.settings = settings

    def get(self, url: str, default: Any = None) -> SigningKeySource:  # type: ignore[override]
        source = super().get(url)
        if source is None:
            source = self[url] = SigningKeySource(url, self.settings)
        return source


_SOURCES = KeySourceCache(KeySourceSettings())


def key_sources() -> KeySourceCache:
    """The process's key sources, one per metadata URL, shared by both edges."""
    return _SOURCES


def install(settings: KeySourceSettings) -> KeySourceCache:
    """Use these settings for every key source, keeping any keys already fetched."""
    _SOURCES.settings = settings
    for source in _SOURCES.values():
        source.configure(settings)
    return _SOURCES


def reset() -> KeySourceCache:
    """Forget every key source (tests start from nothing)."""
    global _SOURCES
    _SOURCES = KeySourceCache(KeySourceSettings())
    return _SOURCES
