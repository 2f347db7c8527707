"""Signed, expiring links to files the bot serves (.ics invitations, the record).

Teams cannot take a file from a bot in personal chat without the file-consent flow, so
the chair gets a link to the bot's own `/files/…` route instead. The link carries the
case id, the kind of file and an expiry, signed with HMAC-SHA256 under a secret kept in
the database (shared by every bot process); a tampered or expired link is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

# How long a process keeps the secret it read: after `admin links rotate-secret`, links signed
# under the old secret are refused by every running process within this many seconds.
SECRET_REFRESH_SECONDS = 60.0


class LinkSigner:
    """`secret` reads the shared secret (made once, kept in the database) on first use, so
    the signer can be built before the database is reachable; it is read again once it is
    older than SECRET_REFRESH_SECONDS (`monotonic`: a test's fake seconds)."""

    def __init__(self, secret: Callable[[], Awaitable[bytes]], base_url: str, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._read_secret = secret
        self._secret: bytes | None = None
        self._read_at = 0.0
        self._monotonic = monotonic
        self.base_url = base_url.rstrip("/")

    async def url(self, case_id: str, kind: str, expires: datetime) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(
            {"c": case_id, "k": kind, "e": int(expires.timestamp())}, separators=(",", ":")).encode()).decode()
        return f"{self.base_url}/files/{payload}.{await self._sign(payload)}"

    async def _sign(self, payload: str) -> str:
        if self._secret is None or self._monotonic() - self._read_at >= SECRET_REFRESH_SECONDS:
            self._secret = await self._read_secret()
            self._read_at = self._monotonic()
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:40]

    async def verify(self, token: str, now: datetime) -> tuple[str, str] | None:
        """(case id, kind) for a valid, unexpired link; None otherwise."""
        payload, _, signature = token.rpartition(".")
        if not payload or not hmac.compare_digest(await self._sign(payload), signature):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        except ValueError:
            return None
        if int(data.get("e", 0)) < now.timestamp():
            return None
        return str(data["c"]), str(data["k"])
