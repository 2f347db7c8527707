"""PUT a file the person accepted into their OneDrive, at the upload URL Teams gave.

The upload URL of a `fileConsent/invoke` is a OneDrive upload session, pre-authenticated for
this one file: no Authorization header is sent (the bot's tokens are for the Bot Connector and
Graph, and never go with a file). The URL comes from the activity, so it is checked first —
https, a OneDrive / SharePoint host (bot/adapters/service_hosts.py `upload_allowed`) — and a URL
anywhere else gets nothing. Proxy and certificate authorities come from
bot/adapters/outbound_http.py like every other outgoing call; redirects are not followed.
"""

from __future__ import annotations

import logging

import aiohttp

from bot.adapters.outbound_http import client_session, proxy_for
from bot.adapters.service_hosts import origin, upload_allowed

log = logging.getLogger(__name__)
UPLOAD_TIMEOUT = 60.0  # seconds for the whole PUT


class UploadRefused(Exception):
    """The upload URL is not a OneDrive host (or not https): nothing was sent."""

    def __init__(self, host: str) -> None:
        super().__init__("upload host not allowed")
        self.host = host


class UploadFailed(Exception):
    """OneDrive did not take the file (its answer, or no answer)."""


class OneDriveUploader:
    def __init__(self, *, local_mode: bool) -> None:
        self.local_mode = local_mode  # loopback allowed only in local mode (tests' stand-in for OneDrive)

    def check(self, upload_url: str) -> None:
        if not upload_allowed(upload_url, local_mode=self.local_mode):
            host = origin(upload_url)
            log.warning("refused to upload a file: upload host not allowed", extra={"host": host})
            raise UploadRefused(host)

    async def put(self, upload_url: str, content: bytes) -> None:
        """The whole file in one request (Content-Range covering every byte)."""
        self.check(upload_url)
        size = len(content)
        headers = {"Content-Length": str(size), "Content-Range": f"bytes 0-{size - 1}/{size}"}
        try:
            async with client_session() as session, session.put(
                    upload_url, data=content, headers=headers, proxy=proxy_for(upload_url), allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)) as response:
                if response.status not in (200, 201):
                    raise UploadFailed(f"OneDrive answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UploadFailed(f"OneDrive unreachable: {type(error).__name__}") from error
