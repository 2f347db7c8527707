"""The benchmark's "before" of the SDK fixes in bot/teams/: the real bot on botbuilder's stock clients.

`python tests/bench/stock_sdk_bot.py` starts exactly what `python -m bot` starts (same settings,
same environment variables), after swapping, at start-up and in this process only, what
bot/teams/ changed about the SDK:

- the CloudAdapter authenticates with botbuilder's own `ConfigurationBotFrameworkAuthentication`,
  so every activity and every proactive send gets a new ConnectorClient and UserTokenClient
  (msrest + requests in threads, msrest's serialisation), instead of the clients kept by
  bot/teams/sdk.py;
- the notifier reaches the connector through a continuation turn (`continue_conversation`,
  the client from the turn state) and sends an `Activity` model, as it did before
  bot/teams/notifier.py (its botbuilder wire) used the kept client directly with the wire JSON;
- a reply's card is handed to botbuilder as a plain card, not as JSON written once, which only
  the kept clients' serializer sends as it is.

Only tests/bench/bench.py uses it (the stock rounds and `--sdk-stock`); the bot has one code path.
"""

from __future__ import annotations

import sys
from typing import Any


def install() -> None:
    """Patch the composition root and the notifier for the stock SDK path."""
    from botbuilder.core import CardFactory, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import ActivityTypes, ChannelAccount, ConversationAccount, ConversationReference

    import bot.app
    import bot.teams.handler
    from bot.services.outbox import DeliveryError
    from bot.teams.notifier import BotbuilderWire, delivery_error
    from bot.turns.notifier import CardNotifier

    def stock_authentication(configuration: Any, **_ours: Any) -> ConfigurationBotFrameworkAuthentication:
        """botbuilder's own, without the bot's options (service hosts, signing keys)."""
        return ConfigurationBotFrameworkAuthentication(configuration)

    async def with_connector(self: BotbuilderWire, address: Any, work: Any) -> Any:
        """A continuation turn per send, `work` given the turn's (new, per-turn) connector client."""
        result: dict[str, Any] = {}
        reference = ConversationReference(
            channel_id="msteams", service_url=address.service_url,
            bot=ChannelAccount(id=address.bot_id or self._app_id),
            conversation=ConversationAccount(id=address.conversation_id, tenant_id=address.tenant_id))

        async def callback(turn_context: TurnContext) -> None:
            try:  # raised out of the callback, the adapter's on_turn_error would swallow it
                result["value"] = await work(turn_context.turn_state[self._adapter.BOT_CONNECTOR_CLIENT_KEY])
            except Exception as error:  # noqa: BLE001 - re-raised below as a DeliveryError
                result["error"] = error

        try:
            await self._adapter.continue_conversation(reference, callback, self._app_id)
        except DeliveryError:
            raise
        except Exception as error:  # noqa: BLE001 - every connector failure becomes a retryable delivery error
            raise delivery_error(error) from error
        failed = result.get("error")
        if isinstance(failed, DeliveryError):
            raise failed
        if failed is not None:
            raise delivery_error(failed) from failed
        return result.get("value")

    def card_activity(self: CardNotifier, address: Any, card: dict[str, Any], activity_id: str | None = None) -> Any:
        """The card message as an Activity model, serialised by msrest."""
        activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
        activity.type = ActivityTypes.message
        activity.conversation = ConversationAccount(id=address.conversation_id, tenant_id=address.tenant_id)
        activity.from_property = ChannelAccount(id=address.bot_id or self._app_id)
        activity.channel_id = "msteams"
        activity.service_url = address.service_url
        activity.id = activity_id
        return activity

    # botbuilder's own clients write a reply with msrest, which writes any dict but a plain one as
    # its Python repr: the reply's card goes as it did before bot/teams/ wrote it once (botbuilder's
    # copy of a measured card is a plain dict, bot/domain/json_text.py).
    bot.teams.handler.outgoing = lambda card: card  # type: ignore[assignment,return-value]
    bot.app.bot_framework_authentication = stock_authentication  # type: ignore[assignment]
    BotbuilderWire._with_connector = with_connector  # type: ignore[method-assign]
    CardNotifier.card_message = card_activity  # type: ignore[method-assign]


def main() -> int:
    install()
    from bot.__main__ import main as bot_main

    return bot_main()


if __name__ == "__main__":
    sys.exit(main())
