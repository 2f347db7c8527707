"""The turns of the Agents SDK edge: an `AgentApplication` whose routes call the same services
and cards as the botbuilder edge.

Built so far (docs/agents-edge.md lists the rest, and `MISSING` names it for start-up, which
refuses `TEAMS_EDGE=agents` while anything is missing): the greeting when the bot is added, and
`help`. Every other message and every card press is answered — never dropped — with
`NOT_HERE_YET`, so an edge started for a test says plainly what it cannot do.
"""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.core import (
    AgentApplication,
    ApplicationError,
    CardFactory,
    MessageFactory,
    Storage,
    StoreItem,
    TurnContext,
    TurnState,
)
from microsoft_agents.hosting.core.storage.storage import StoreItemT

from bot.domain import trace
from bot.services.context import ServiceContext
from cards import chat
from cards.budget import fit_invoke_body

# What the Agents SDK edge does not do yet; start-up names these when TEAMS_EDGE=agents.
MISSING = (
    "the card verb table (Action.Execute and Action.Submit presses)",
    "the typed commands other than help (status, timeline RR-…, show RR-…, my referrals, …)",
    "the referral dialog on microsoft_agents.hosting.dialogs",
    "proactive sends and card updates through the outbox (the notifier is still botbuilder's)",
    "training mode",
)
NOT_HERE_YET = ("This bot's Microsoft 365 Agents SDK edge does not handle this yet, so nothing was done. "
                "Use the bot on its default (botbuilder) edge.")
HELP_WORDS = frozenset({"help", "?", "hi", "hello"})
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"


class NothingStored(Storage):
    """`AgentApplication` loads and saves a turn state from its storage on every turn. This edge
    keeps everything in the bot's own tables through the use cases, and no route reads the SDK's
    turn state, so there is nothing to store: a memory store would only grow with every
    conversation (and be lost at a restart)."""

    async def read(self, keys: list[str], *, target_cls: type[StoreItemT], **kwargs: Any) -> dict[str, StoreItemT]:
        return {}

    async def write(self, changes: dict[str, StoreItem]) -> None:
        return None

    async def delete(self, keys: list[str]) -> None:
        return None


class NoSignIn:
    """The SDK's `Connections`, which `AgentApplication` requires for its user sign-in flows. This
    bot signs nobody in (identity comes from the Teams activity) and gets its own Bot Connector
    token through bot/agents/connector.py, so nothing here is ever asked for a token."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ApplicationError("this bot signs nobody in: no OAuth connection is configured")

    get_connection = get_default_connection = get_token_provider = _refuse
    get_token_provider_from_activity = get_default_connection_configuration = _refuse


def invoke_answer(text: str, status: int) -> dict[str, Any]:
    """A Universal Actions invoke body carrying a message or an error (HTTP 200 always, the
    outcome in statusCode), within the size budget (cards/budget.py)."""
    if status >= 400:
        body: dict[str, Any] = {"statusCode": status, "type": "application/vnd.microsoft.error",
                                "value": {"code": "BadRequest" if status < 500 else "NotImplemented", "message": text}}
    else:
        body = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}
    fitted, _ = fit_invoke_body(body)
    return fitted


def card_activity(card: dict[str, Any]) -> Any:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


def build_application(services: ServiceContext) -> AgentApplication[TurnState]:
    """The routes, one per kind of activity the edge answers."""
    # No typing indicator: the SDK's default sends "typing" activities on a timer during a turn,
    # extra posts the botbuilder edge never makes (and which count against Teams' rate limits).
    app: AgentApplication[TurnState] = AgentApplication(storage=NothingStored(), connection_manager=NoSignIn(),
                                                        remove_recipient_mention=True, start_typing_timer=False)
    partnership = services.partnership.name

    @app.conversation_update("membersAdded")
    async def greet(context: TurnContext, _state: TurnState) -> None:
        bot_id = context.activity.recipient.id if context.activity.recipient else None
        if not any(member.id == bot_id for member in context.activity.members_added or []):
            return
        channel = getattr(context.activity.conversation, "conversation_type", None) == "channel"
        card = chat.channel_welcome_card(partnership) if channel else chat.welcome_card(partnership)
        await context.send_activity(card_activity(card))

    @app.activity(ActivityTypes.message)  # every message, with text or without (an Action.Submit)
    async def message(context: TurnContext, _state: TurnState) -> None:
        text = " ".join((context.activity.text or "").split()).strip().lower()
        if context.activity.value is None and text in HELP_WORDS:
            channel = getattr(context.activity.conversation, "conversation_type", None) == "channel"
            card = chat.channel_help_card() if channel else chat.help_card(partnership)
            await context.send_activity(card_activity(card))
            return
        await context.send_activity(MessageFactory.text(trace.reference(NOT_HERE_YET)))

    @app.activity(ActivityTypes.invoke)
    async def invoke(context: TurnContext, _state: TurnState) -> None:
        await answer_invoke(context, invoke_answer(trace.reference(NOT_HERE_YET), 501))

    return app


async def answer_invoke(context: TurnContext, body: dict[str, Any]) -> None:
    """Leave the invoke's answer for the edge, which writes it once (bot/agents/edge.py)."""
    await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                         value=InvokeResponse(status=200, body=body)))

