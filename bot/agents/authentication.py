"""Who sent an activity: the Bot Connector's token, checked by the Bot Framework protocol's rules.

The Microsoft 365 Agents SDK's own check (`JwtTokenValidator`, microsoft-agents-hosting-core
1.9.0, used by its `jwt_authorization_middleware`) is not used, for four causes found in its
source:
- it fetches signing keys with PyJWKClient in a worker thread, and fetches again for every key
  id it does not know, so a burst of forged key ids is a burst of fetches (attack A10);
- it does not check the key's endorsements against the activity's channel (A13);
- it checks the issuer only when a connection opts in (`VALIDATE_ISSUER`), and the `serviceurl`
  claim only by host and only while the outbound host validator is on (A7, A8, A12);
- its 401 answers carry a JSON body and it logs through the SDK's loggers, where the edge's
  contract is one line per refusal.

So the token is checked here, against the keys of bot/adapters/signing_keys.py (the same
sources the botbuilder edge uses: bounded fetches, at most one per floor): RS256 only, a key id
the channel's key set holds and endorses for the activity's channel, issuer
`https://api.botframework.com`, audience the bot's app id, expiry with the protocol's 5-minute
clock skew, and a `serviceurl` claim equal to the activity's. The result is the SDK's
`ClaimsIdentity`, which its adapter needs to build the turn.
"""

from __future__ import annotations

from typing import Any

import jwt
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.adapters.signing_keys import CHANNEL_METADATA_URL, KeySourceCache

CHANNEL_ISSUER = "https://api.botframework.com"
CLOCK_SKEW_SECONDS = 300  # the Bot Framework protocol's tolerance (botbuilder's clock_tolerance)
MAX_TOKEN_CHARACTERS = 8192


class NotAuthenticated(Exception):
    """Any reason a request is not from the Bot Connector for this bot: the edge answers 401.
    The reason is a fixed word for the log line, never anything the request said."""


def bearer_token(header: str) -> str:
    """The token of an `Authorization: Bearer …` header, or NotAuthenticated."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token or len(token) > MAX_TOKEN_CHARACTERS:
        raise NotAuthenticated("header")
    return token


class ChannelTokens:
    """Checks the Bot Connector's tokens for one app id. With no app id (local mode, as botbuilder
    with no credentials) a request without a token is anonymous; one with a token is checked."""

    def __init__(self, app_id: str, keys: KeySourceCache) -> None:
        self.app_id = app_id
        self.keys = keys

    async def authenticate(self, header: str, channel_id: str, service_url: str) -> ClaimsIdentity:
        """The token's claims, or NotAuthenticated; SigningKeysUnavailable (503) when there are
        no keys to check against."""
        if not header and not self.app_id:
            return ClaimsIdentity({}, authentication_type="Anonymous")
        token = bearer_token(header)
        try:
            unverified = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise NotAuthenticated("malformed") from error
        if unverified.get("alg") != "RS256" or not isinstance(unverified.get("kid"), str):
            raise NotAuthenticated("algorithm")
        key = await self.keys.get(CHANNEL_METADATA_URL).get(unverified["kid"])
        if channel_id not in key.endorsements:
            raise NotAuthenticated("endorsement")
        claims = self._verified(token, key.public_key)
        if claims.get("serviceurl") != service_url:
            raise NotAuthenticated("service_url")
        return ClaimsIdentity(claims, authentication_type="Bearer")

    def _verified(self, token: str, public_key: Any) -> dict[str, Any]:
        if not self.app_id:
            raise NotAuthenticated("no_app")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, public_key, algorithms=["RS256"], audience=self.app_id, issuer=CHANNEL_ISSUER,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as error:
            raise NotAuthenticated(type(error).__name__) from error
        return claims
