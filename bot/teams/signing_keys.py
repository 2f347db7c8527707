"""The keys that sign incoming Bot Connector tokens: fetched with a bound, cached, refreshed rarely.

botbuilder validates every incoming token (PyJWT, in botframework-connector's
`JwtTokenExtractor`) against keys it takes from a per-URL cache of `_OpenIdMetadata` objects
(`JwtTokenExtractor.metadataCache`). Those fetch the OpenID metadata document and the key set
with a blocking `requests.get` without a timeout, on the event loop, and again on every
request while the fetch fails: when Microsoft's endpoint hung, the whole bot stopped answering,
/healthz included; while it answered 500, every request fetched it again.

The validation stays botbuilder's; only the key source is replaced. `install` puts the
process's `KeySourceCache` (bot/adapters/signing_keys.py, shared with the Agents SDK edge) in the
SDK's place, so every metadata URL the SDK asks for gets a `SigningKeySource` (the rules of
fetching, caching and refreshing are there).
"""

from __future__ import annotations

from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

from bot.adapters import signing_keys as sources
from bot.adapters.signing_keys import (
    CHANNEL_METADATA_URL,
    EMULATOR_METADATA_URL,
    KEY_LIFETIME,
    LAST_KNOWN_GOOD,
    KeySourceCache,
    KeySourceSettings,
    SigningKey,
    SigningKeySource,
    SigningKeysUnavailable,
    UnknownSigningKey,
)

__all__ = ["CHANNEL_METADATA_URL", "EMULATOR_METADATA_URL", "KEY_LIFETIME", "LAST_KNOWN_GOOD", "KeySourceCache",
           "KeySourceSettings", "SigningKey", "SigningKeySource", "SigningKeysUnavailable", "UnknownSigningKey",
           "install", "key_sources", "reset"]


def _in_botbuilder(cache: KeySourceCache) -> KeySourceCache:
    """botbuilder's token extractor reads its (process-wide) key cache at every validation."""
    JwtTokenExtractor.metadataCache = cache
    return cache


def key_sources() -> KeySourceCache:
    """The process's key sources (bot/adapters/signing_keys.py), the ones botbuilder uses."""
    return _in_botbuilder(sources.key_sources())


def install(settings: KeySourceSettings) -> KeySourceCache:
    """Use these settings for every key source, keeping any keys already fetched."""
    return _in_botbuilder(sources.install(settings))


def reset() -> None:
    """Forget every key source (tests start from nothing)."""
    _in_botbuilder(sources.reset())
