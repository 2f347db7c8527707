"""The botbuilder edge's wire for the Notifier (bot/turns/notifier.py): post, update, and open
a personal chat through the Bot Framework SDK.

Proactive sends and updates go straight to the connector client that bot/teams/sdk.py keeps
for the stored address's service URL (no continuation turn), with the card message as wire
JSON. Opening a personal chat uses the adapter's `create_conversation`; with CloudAdapter the
bot's app id must be passed or the call fails ("Invalid app_id"); in local (anonymous) mode it
is the empty string, which the SDK accepts.

The SDK does not retry 429 and never retries POSTs (botbuilder's connector retry policy;
docs/architecture.md, Outbox), so failures become DeliveryError with Teams' Retry-After,
and the outbox retries them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import ChannelAccount, ConversationParameters, ErrorResponseException

from bot.adapters.service_hosts import ServiceHostRefused
from bot.services.ports import Address, DeliveryError
from bot.teams.sdk import ManagedIdentityTokenError
from bot.turns.notifier import connector_answered, refused_host

T = TypeVar("T")


def delivery_error(error: Exception) -> DeliveryError:
    """Translate a connector failure into what the outbox needs to know."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, ServiceHostRefused):  # refused by bot/teams/sdk.py before sending: never retried
        return refused_host()
    if isinstance(error, ManagedIdentityTokenError):  # no token for the bot, so nothing left it: tried again later
        return DeliveryError("bot token unavailable: managed identity endpoint", answered=True)
    if isinstance(error, ErrorResponseException) and error.response is not None:
        return connector_answered(error.response.status_code, error.response.headers.get("Retry-After"))
    return DeliveryError(f"connector unreachable: {type(error).__name__}")


class BotbuilderWire:
    def __init__(self, adapter: BotAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id or ""
        # The connector clients kept by bot/teams/sdk.py, reached without a continuation turn.
        auth = adapter.bot_framework_authentication  # type: ignore[attr-defined]
        self._connectors = auth.create_connector_factory(adapter.create_claims_identity(self._app_id))  # type: ignore[attr-defined]

    async def _with_connector(self, address: Address, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work(connector_client)` with the client kept by bot/teams/sdk.py for the address's
        service URL, used directly: a continuation turn (claims, connector factory, turn context,
        middleware) only to reach the same client was an eighth of a vote's CPU."""
        try:
            return await work(await self._connectors.create(address.service_url, None))
        except Exception as error:  # noqa: BLE001 - every connector failure becomes a delivery error
            raise delivery_error(error) from error

    async def post(self, address: Address, message: dict[str, Any]) -> str:
        """Sent with the connector's send_to_conversation: TurnContext.send_activity in a
        continuation turn would make it a *reply* to the continuation's made-up activity id.
        bot/teams/sdk.py sends a dict as it is."""

        async def work(connector: Any) -> str:
            response = await connector.conversations.send_to_conversation(address.conversation_id, message)
            return str(response.id or "") if response else ""

        return await self._with_connector(address, work)

    async def update(self, address: Address, activity_id: str, message: dict[str, Any]) -> None:
        async def work(connector: Any) -> None:
            await connector.conversations.update_activity(address.conversation_id, activity_id, message)

        await self._with_connector(address, work)

    async def open_personal_chat(self, known: Address, aad_object_id: str, bot_id: str) -> str | None:
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=bot_id),
            members=[ChannelAccount(id=aad_object_id)],
            tenant_id=known.tenant_id,
            channel_data={"tenant": {"id": known.tenant_id}} if known.tenant_id else None,
        )
        created: dict[str, str] = {}

        async def callback(turn_context: TurnContext) -> None:
            created["conversation"] = turn_context.activity.conversation.id

        try:
            await self._adapter.create_conversation(
                self._app_id, callback, params, channel_id="msteams", service_url=known.service_url
            )
        except Exception as error:  # noqa: BLE001 - every failure becomes a delivery error
            raise delivery_error(error) from error
        return created.get("conversation")
