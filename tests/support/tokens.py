"""Bot Framework channel tokens minted locally, so auth tests never touch the network.

botbuilder 4.17.1 validates a channel token against the signing keys it takes, per
OpenID metadata URL, from ``JwtTokenExtractor.metadataCache``, where the bot puts its own
key sources (bot/teams/signing_keys.py). So a locally generated signing key is preloaded
into the key source of the channel issuer's metadata URL and no network is needed:
:class:`LocalSigningKey` generates an RSA key, preloads its JWK — with a ``kid`` and
``"endorsements"`` — and mints RS256 tokens shaped like the ones the Bot Connector sends
to a bot::

    with LocalSigningKey() as key:                  # installed; restored on exit
        token = key.token(app_id=APP_ID, service_url=activity["serviceUrl"])
        headers = {"Authorization": f"Bearer {token}"}

:meth:`LocalSigningKey.forge` makes every forgery listed below by name (see
:data:`FORGERIES`). The token shapes are botbuilder's: these helpers are pinned to
botbuilder / botframework-connector 4.17.1 (checked on import).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import jwt
from botframework.connector.auth.authentication_constants import AuthenticationConstants
from botframework.connector.auth.channel_validation import ChannelValidation
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.teams.signing_keys import SigningKeySource, key_sources

# The token shapes below are botbuilder's. (botframework.connector.about still says 4.17.0 in 4.17.1,
# so ask the installed distribution.)
CONNECTOR_VERSION = version("botframework-connector")
if CONNECTOR_VERSION != "4.17.1":
    raise ImportError(f"tests/support/tokens.py is written against botframework-connector 4.17.1, "
                      f"not {CONNECTOR_VERSION}: re-check JwtTokenExtractor before updating the pin")

ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER  # https://api.botframework.com
_MISSING = object()

# name -> what the forgery is
FORGERIES: dict[str, str] = {
    "expired": "exp an hour ago (A4)",
    "expired_beyond_leeway": "exp 6 minutes ago, past the SDK's 5-minute clock skew (A5)",
    "wrong_aud": "aud is another app id (A6)",
    "wrong_iss": "iss is https://evil.example (A7)",
    "no_iss": "no iss claim (A8)",
    "wrong_key": "the trusted kid, signed by an attacker's key (A9)",
    "unknown_kid": "a kid the metadata does not list (A10)",
    "alg_none": "alg=none, no signature (A11)",
    "hs256": "HS256, HMAC-signed with a guessed secret (A11b)",
    "serviceurl_mismatch": "serviceurl claim is not the activity's serviceUrl (A12)",
    "not_endorsed": "signed by a trusted key endorsed only for webchat, used for msteams (A13, token side)",
}


def metadata_url() -> str:
    """The OpenID metadata URL whose keys the SDK uses for channel (Bot Connector) tokens."""
    return ChannelValidation.open_id_metadata_endpoint or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class LocalSigningKey:
    """A locally generated RSA signing key trusted by the SDK while installed.

    Use as a context manager (or :meth:`install` / :meth:`restore`). Installing replaces
    the channel metadata URL's key source with one that lists this key (plus any
    ``extra_keys``, e.g. a key with other endorsements) and was "fetched" just now, so
    nothing is fetched; restoring puts back whatever was there before (or nothing).
    """

    def __init__(self, *, kid: str | None = None, endorsements: Iterable[str] = ("msteams",),
                 extra_keys: Iterable[LocalSigningKey] = ()) -> None:
        self.kid = kid or f"local-{uuid.uuid4().hex[:12]}"
        self.endorsements = list(endorsements)
        self.private_key = new_private_key()
        self.extra_keys = list(extra_keys)
        self.metadata: SigningKeySource | None = None
        self._saved: Any = _MISSING

    # ---- the JWK and the SDK's cache -----------------------------------------------------------

    def jwk(self) -> dict[str, Any]:
        key = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        key.update({"kid": self.kid, "use": "sig", "endorsements": list(self.endorsements)})
        return key

    def install(self) -> SigningKeySource:
        if self.metadata is not None:
            return self.metadata
        url = metadata_url()
        cache = key_sources()
        self._saved = dict.get(cache, url, _MISSING)
        metadata = SigningKeySource(url, cache.settings)
        metadata.preload([self.jwk(), *(k.jwk() for k in self.extra_keys)])
        cache[url] = metadata
        self.metadata = metadata
        return metadata

    def restore(self) -> None:
        if self.metadata is None:
            return
        url = metadata_url()
        cache = key_sources()
        if self._saved is _MISSING:
            cache.pop(url, None)
        else:
            cache[url] = self._saved
        self.metadata = None
        self._saved = _MISSING

    def __enter__(self) -> LocalSigningKey:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    # ---- minting -----------------------------------------------------------------------------

    def claims(self, *, app_id: str, service_url: str, now: datetime | None = None,
               lifetime: timedelta = timedelta(hours=1), expires_at: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        exp = expires_at or now + lifetime
        return {
            "iss": ISSUER,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": int(min(now, exp - timedelta(hours=1)).timestamp()) - 60,
            "exp": int(exp.timestamp()),
        }

    def token(self, *, app_id: str, service_url: str, now: datetime | None = None,
              lifetime: timedelta = timedelta(hours=1), expires_at: datetime | None = None,
              omit: Iterable[str] = (), kid: str | None | object = _MISSING,
              sign_with: rsa.RSAPrivateKey | None = None, headers: Mapping[str, Any] | None = None,
              **claims: Any) -> str:
        """An RS256 token as the Bot Connector would send it; keyword claims override
        (``aud=...``, ``iss=...``, ``serviceurl=...``), ``omit`` drops claims, ``kid`` sets
        the header kid (None: no kid), ``sign_with`` signs with another private key."""
        payload = self.claims(app_id=app_id, service_url=service_url, now=now, lifetime=lifetime,
                              expires_at=expires_at)
        payload.update(claims)
        for name in omit:
            payload.pop(name, None)
        header: dict[str, Any] = {"typ": "JWT", "x5t": self.kid}
        chosen_kid = self.kid if kid is _MISSING else kid
        if chosen_kid is not None:
            header["kid"] = chosen_kid
        header.update(headers or {})
        return jwt.encode(payload, sign_with or self.private_key, algorithm="RS256", headers=header)

    def unsigned_token(self, *, app_id: str, service_url: str, **claims: Any) -> str:
        """``alg=none``: a header and payload with an empty signature."""
        payload = {**self.claims(app_id=app_id, service_url=service_url), **claims}
        header = {"alg": "none", "typ": "JWT", "kid": self.kid}
        return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), ""])

    def hmac_token(self, *, app_id: str, service_url: str, secret: str = "guessed-secret-guessed-secret-0123456789", **claims: Any) -> str:
        """HS256 signed with a guessed secret, carrying the trusted kid."""
        payload = {**self.claims(app_id=app_id, service_url=service_url), **claims}
        return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": self.kid})

    def forge(self, kind: str, *, app_id: str, service_url: str) -> str:
        """One of :data:`FORGERIES`. ``not_endorsed`` needs a key from :meth:`webchat_only_key`
        among ``extra_keys``."""
        now = datetime.now(UTC)
        base = {"app_id": app_id, "service_url": service_url}
        if kind == "expired":
            return self.token(**base, expires_at=now - timedelta(hours=1))
        if kind == "expired_beyond_leeway":
            return self.token(**base, expires_at=now - timedelta(minutes=6))
        if kind == "wrong_aud":
            return self.token(**base, aud=str(uuid.uuid4()))
        if kind == "wrong_iss":
            return self.token(**base, iss="https://evil.example")
        if kind == "no_iss":
            return self.token(**base, omit=("iss",))
        if kind == "wrong_key":
            return self.token(**base, sign_with=new_private_key())
        if kind == "unknown_kid":
            return self.token(**base, kid=f"unknown-{uuid.uuid4().hex[:8]}")
        if kind == "alg_none":
            return self.unsigned_token(**base)
        if kind == "hs256":
            return self.hmac_token(**base)
        if kind == "serviceurl_mismatch":
            return self.token(**base, serviceurl="https://attacker.example/")
        if kind == "not_endorsed":
            webchat = next((k for k in self.extra_keys if "msteams" not in k.endorsements), None)
            if webchat is None:
                raise ValueError("install a key without the msteams endorsement in extra_keys first")
            return webchat.token(**base)
        raise ValueError(f"unknown forgery {kind!r}; one of {sorted(FORGERIES)}")

    @staticmethod
    def webchat_only_key() -> LocalSigningKey:
        """A trusted key endorsed for webchat only (pass as ``extra_keys``)."""
        return LocalSigningKey(endorsements=("webchat",))
