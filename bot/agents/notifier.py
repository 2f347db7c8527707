"""The Agents SDK edge's wire for the Notifier (bot/turns/notifier.py): post, update, and open a
personal chat through the Microsoft 365 Agents SDK's Bot Connector client.

The client is the one bot/agents/connector.py keeps per service URL (the same the edge's turns
answer through), used directly, without a continuation turn. The message goes as the SDK's
`Activity` built from the same wire JSON the botbuilder edge sends.

Kept from the botbuilder edge, because the SDK does not do it: `ConversationsOperations`
(microsoft-agents-hosting-core 1.9.0, connector/client/connector_client.py) makes each call once
with a plain aiohttp session — no retry policy — and raises `aiohttp.ClientResponseError` on any
status other than 2xx (`_handle_request_error`), its headers (Retry-After) included. So every
failure becomes a DeliveryError here, and the outbox retries it after Teams' Retry-After, as on
botbuilder. The SDK puts the conversation id into the URL as it is (a thread's `;messageid=`
included), as its own turns' replies do, and cuts it at 150 characters (`max_conversation_id_length`),
longer than any Teams conversation id the bot stores.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from microsoft_agents.activity import Activity, ConversationParameters

from bot.adapters.service_hosts import ServiceHostRefused
from bot.agents.connector import KeptConnectorClient, KeptConnectorFactory
from bot.services.ports import Address, DeliveryError
from bot.turns.notifier import connector_answered, refused_host

log = logging.getLogger(__name__)


def delivery_error(error: Exception) -> DeliveryError:
    """Translate a failed call of the SDK's connector client into what the outbox needs to know."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, aiohttp.ClientResponseError):
        return connector_answered(error.status, error.headers.get("Retry-After") if error.headers else None)
    return DeliveryError(f"connector unreachable: {type(error).__name__}")


def sdk_activity(message: dict[str, Any]) -> Activity:
    """The SDK's model of the wire JSON. The model refuses an empty id, which the bot's own is in
    local mode (no app): the sender is then left out, as the Bot Connector takes it from the token."""
    sender = message.get("from")
    if isinstance(sender, dict) and not sender.get("id"):
        message = {key: value for key, value in message.items() if key != "from"}
    return Activity.model_validate(message)


class AgentsWire:
    def __init__(self, connectors: KeptConnectorFactory) -> None:
        self._connectors = connectors

    async def _client(self, service_url: str) -> KeptConnectorClient:
        """The kept client, with the bot's token. Nothing has left when this fails."""
        try:
            return await self._connectors.client_for(service_url)
        except ServiceHostRefused:  # the host gate of bot/agents/connector.py: never retried
            raise refused_host() from None
        except Exception as error:  # noqa: BLE001 - no token (Entra unreachable): tried again later
            log.warning("no Bot Connector token for a send", extra={"error": type(error).__name__})
            raise DeliveryError("bot token unavailable", answered=True) from error

    async def post(self, address: Address, message: dict[str, Any]) -> str:
        client = await self._client(address.service_url)
        try:
            response = await client.conversations.send_to_conversation(address.conversation_id,
                                                                        sdk_activity(message))
        except Exception as error:  # noqa: BLE001 - every connector failure becomes a delivery error
            raise delivery_error(error) from error
        return str(response.id or "") if response else ""

    async def update(self, address: Address, activity_id: str, message: dict[str, Any]) -> None:
        client = await self._client(address.service_url)
        try:
            await client.conversations.update_activity(address.conversation_id, activity_id,
                                                       sdk_activity(message))
        except Exception as error:  # noqa: BLE001 - every connector failure becomes a delivery error
            raise delivery_error(error) from error

    async def open_personal_chat(self, known: Address, aad_object_id: str, bot_id: str) -> str | None:
        """POST /v3/conversations, as botbuilder's `create_conversation` makes it (the tenant in the
        parameters and in channelData: Teams reads the latter)."""
        client = await self._client(known.service_url)
        wanted: dict[str, Any] = {"isGroup": False, "members": [{"id": aad_object_id}]}
        if bot_id:  # none in local mode (see `sdk_activity`)
            wanted["bot"] = {"id": bot_id}
        if known.tenant_id:
            wanted |= {"tenantId": known.tenant_id, "channelData": {"tenant": {"id": known.tenant_id}}}
        params = ConversationParameters.model_validate(wanted)
        try:
            created = await client.conversations.create_conversation(params)
        except Exception as error:  # noqa: BLE001 - every connector failure becomes a delivery error
            raise delivery_error(error) from error
        return created.id or None
