"""Reading the panel channel's recent messages back through Microsoft Graph (app-only).

Used only to settle a send left in doubt by a crash (bot/services/sends.py): did the card the
bot was posting when it died reach the channel? `GET /teams/{team-id}/channels/{channel-id}/messages`
lists the channel's messages newest first (`.../messages/{message-id}/replies` the replies in one
post's thread, where a case's posts go), each card as its JSON text; the one whose card carries
the send key is the message that was posted. The call needs the resource-specific consent
permission ChannelMessage.Read.Group, which the Teams app declares in its manifest for the bot's
own Entra app (appPackage/manifest.json, webApplicationInfo), so a team owner grants it by
installing the app: the bot reads the channels of the teams it is installed in, and no others.

msal is synchronous, so the token call runs in a thread; msal caches and refreshes the token.
Proxy and CA bundle: bot/adapters/outbound_http.py.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.adapters.graph_token import GraphToken
from bot.adapters.outbound_http import client_session, proxy_for
from bot.services.ports import ChannelMessageError

PAGE_SIZE = 50  # Graph's largest page for channel messages
PAGES = 4  # the 200 newest messages: a crashed send is among the last few
LASTING = frozenset({400, 401, 403, 404})  # no consent, or no such team or channel: asking again will not help


class GraphChannelMessages:
    def __init__(self, *, tenant_id: str, client_id: str, client_credential: str | dict[str, str],
                 base_url: str = "https://graph.microsoft.com/v1.0",
                 authority_host: str = "https://login.microsoftonline.com", http_client: Any = None,
                 timeout_seconds: float = 10.0) -> None:
        self._graph = GraphToken(tenant_id=tenant_id, client_id=client_id, client_credential=client_credential,
                                 authority_host=authority_host, http_client=http_client)
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def _token(self) -> str:
        try:
            result = await asyncio.to_thread(self._graph.acquire)
        except Exception as error:  # noqa: BLE001 - msal raises on unreachable or invalid authorities
            raise ChannelMessageError("the sign-in service could not be reached") from error
        if "access_token" not in result:
            raise ChannelMessageError(f"no Graph token ({result.get('error', 'unknown error')})", lasting=True)
        return str(result["access_token"])

    async def find_sent(self, team_id: str, channel_id: str, send_key: str, reply_to: str | None = None) -> str | None:
        # A case's posts are replies in its thread: `.../messages/{root id}/replies` lists them.
        thread = f"/{quote(reply_to, safe='')}/replies" if reply_to else ""
        url: str | None = (f"{self._base}/teams/{quote(team_id, safe='')}/channels/{quote(channel_id, safe=':@.')}"
                           f"/messages{thread}?$top={PAGE_SIZE}")
        headers = {"Authorization": f"Bearer {await self._token()}"}
        try:
            async with client_session() as session:
                for _ in range(PAGES):
                    if url is None:
                        return None
                    async with session.get(url, headers=headers, proxy=proxy_for(url), timeout=self._timeout) as response:
                        if response.status != 200:
                            raise ChannelMessageError(f"Graph answered {response.status}",
                                                      lasting=response.status in LASTING)
                        page = await response.json()
                    found = next((str(m["id"]) for m in page.get("value", []) if _carries(m, send_key)), None)
                    if found:
                        return found
                    url = page.get("@odata.nextLink")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise ChannelMessageError(f"Graph could not be read: {type(error).__name__}") from error
        return None


def _carries(message: dict[str, Any], send_key: str) -> bool:
    """Whether one of the message's cards carries the send key (a 32-character hash: it
    cannot turn up in a card by chance)."""
    for attachment in message.get("attachments") or []:
        content = attachment.get("content")
        if content is not None and send_key in (content if isinstance(content, str) else str(content)):
            return True
    return False
