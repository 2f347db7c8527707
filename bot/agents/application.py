"""The turns of the Agents SDK edge: an `AgentApplication` whose routes call the same route table,
typed commands and services as the botbuilder edge (bot/turns/).

Every card press — Action.Execute (invoke `adaptiveCard/action`, a card's `refresh` included)
and Action.Submit (a message with a value) — goes to one generic handler that dispatches on the
shared verb table (`Router.press`, bot/turns/routes.py): the same card-data checks, access gate,
tamper audit and refusals as on botbuilder. Typed commands go to bot/turns/commands.py. The
answer to an invoke is left for the edge, which writes it once (bot/agents/edge.py).

Teams' answer to a file consent card (`fileConsent/invoke`) goes to the same records object as
on botbuilder (bot/turns/file_consent.py); training mode's commands to the same `TrainingActions`
(bot/turns/training.py). Proactive sends go through this SDK's connector (bot/agents/notifier.py).

The referral form runs as a `microsoft_agents.hosting.dialogs` dialog (the SDK-neutral flow in
dialogs/referral_flow.py, through bot/turns/referral_form.py, as on botbuilder). Its state is kept
in the same `bot_state` rows as botbuilder's (bot/agents/storage.py), by a ConversationState of
its own: the application's turn state stores nothing (`NothingStored`). As on botbuilder, a turn
that touched the form saves it before it answers, one turn at a time per conversation, and a
press whose state another process saved first is told what changed.

Any invoke other than a card action or a file consent answer is answered `NOT_HERE_YET`, never
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
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

from bot.agents.members import AgentsMembers
from bot.domain import trace
from bot.domain.case import Actor
from bot.services.context import ServiceContext
from bot.turns.answers import Answers
from bot.turns.clock_actions import ClockActions
from bot.turns.commands import Commands, RecordCommands, actor_of, command_text
from bot.turns.duplicate_actions import DuplicateActions
from bot.turns.file_consent import FILE_CONSENT_INVOKE, FileConsent, consent_message
from bot.turns.meeting_actions import MeetingActions
from bot.turns.oversize import fitted_activity
from bot.turns.panel_actions import PanelActions
from bot.turns.people import PeopleMemory
from bot.turns.referral_form import NO_IDENTITY, OneTurnAtATime, ReferralForm
from bot.turns.replies import Reply, invoke_body
from bot.turns.report_actions import ReportActions
from bot.turns.retention_actions import RetentionActions
from bot.turns.review_actions import ReviewActions
from bot.turns.routes import OneTimeFiles, Pressed, Router, card_routes
from bot.turns.training import TrainingActions
from cards import chat
from cards.budget import fit_invoke_body
from cards.common import CONTENT_TYPE
from dialogs.agents_referral_dialog import AgentsFormStack
from dialogs.referral_flow import ReferralFlow
from dialogs.state_rows import StateConflict

NOT_HERE_YET = ("This bot's Microsoft 365 Agents SDK edge does not handle this yet, so nothing was done. "
                "Use the bot on its default (botbuilder) edge.")
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
    """A card as a reply, within the size budget (bot/turns/oversize.py): over it, the card is
    replaced by the short notice and the log says so, as botbuilder's replies are."""
    wire = fitted_activity(
        {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "content": card}]}, "reply"
    )
    return MessageFactory.attachment(CardFactory.adaptive_card(wire["attachments"][0]["content"]))


def reply_activity(reply: Reply) -> Any | None:
    if reply.card:
        return card_activity(reply.card)
    return MessageFactory.text(reply.text) if reply.text else None


async def say(context: TurnContext, reply: Reply) -> None:
    """A reply sent in the turn as a message (a training command's messages before its answer)."""
    activity = reply_activity(reply)
    if activity is not None:
        await context.send_activity(activity)


@dataclass(frozen=True)
class SharedActions:
    """The actions the composition root builds once for either edge (they hold stores)."""

    clock: ClockActions
    meeting: MeetingActions
    files: OneTimeFiles  # the records' buttons (bot/teams/exports.py, SDK-neutral)
    records: RecordCommands  # the same object's typed commands (export, record, notes, timeliness)
    consent: FileConsent  # and its answer to Teams' file consent card
    retention: RetentionActions
    training: TrainingActions  # training mode's commands; outside training mode they only refuse


class Turns:
    """One activity's answer, through the shared route table and commands (bot/turns/answers.py)."""

    def __init__(self, services: ServiceContext, shared: SharedActions, form_state: Storage) -> None:
        self.services = services
        members = AgentsMembers()
        self.people = PeopleMemory(services, members)
        flow = ReferralFlow(services)
        self.form = ReferralForm(services, AgentsFormStack(form_state, flow), flow, members)
        self.one_turn_at_a_time = OneTurnAtATime()
        panel_actions = PanelActions(services, services.notifier, members)
        router = Router(services, card_routes(self, panel_actions, shared.clock, shared.meeting,
                                              shared.files, shared.retention, ReportActions(services),
                                              ReviewActions(services), DuplicateActions(services)))
        self.consent = shared.consent
        self.training = shared.training
        self.commands = Commands(services, panel_actions, shared.clock, shared.records, shared.retention,
                                 shared.training)
        self.answers = Answers(services, router, self.commands, self.people)

    async def greet(self, context: TurnContext) -> None:
        bot_id = context.activity.recipient.id if context.activity.recipient else None
        if not any(member.id == bot_id for member in context.activity.members_added or []):
            return
        conversation_type = getattr(context.activity.conversation, "conversation_type", None) or "personal"
        actor = actor_of(context.activity)
        if conversation_type == "personal" and actor is not None:  # opened the bot: what waited for them goes now
            await self.people.seen(context, actor)
        partnership = self.services.partnership.name
        channel = conversation_type == "channel"
        card = chat.channel_welcome_card(partnership) if channel else chat.welcome_card(partnership)
        await context.send_activity(card_activity(card))

    async def message(self, context: TurnContext) -> None:
        """A typed command, or an Action.Submit press (a message with a value), answered with a
        message once the form's state (if the turn touched it) is saved."""
        async with self.one_turn_at_a_time.held(context.activity):  # answers in order, as on botbuilder
            answer = reply_activity(await self._saved(context, await self.answers.message(context, self.personal)))
            if answer is not None:
                await context.send_activity(answer)

    async def personal(self, context: Any, actor: Actor | None) -> Reply:
        """A typed command in personal chat (`context`: this SDK's turn context)."""
        text = command_text(context.activity)
        if actor is None:
            return Reply(text=NO_IDENTITY)
        if (training_reply := await self.training.command(context, actor, text, say)) is not None:
            return training_reply
        in_progress = await self.form.in_progress(context)
        form_reply = await self.form.typed(context, actor, text, in_progress)
        if form_reply is not None:
            return form_reply
        return await self.commands.personal(context, actor, text, in_progress=in_progress)

    async def start_referral(self, pressed: Pressed) -> Reply:
        """"Start a referral" on a welcome or help card: the same as typing refer."""
        pressed.turn_context.activity.text = "refer"
        return await self.personal(pressed.turn_context, pressed.actor)

    async def continue_form(self, pressed: Pressed) -> Reply:
        """A button on the referral form: the dialog takes it from here."""
        return await self.form.press(pressed.turn_context, pressed.press, pressed.actor)

    async def invoke(self, context: TurnContext) -> None:
        """Action.Execute (a press or a card's `refresh`) through the route table; Allow or Decline
        on a file consent card to the records; any other invoke is answered "not here yet", never
        dropped."""
        if context.activity.name == FILE_CONSENT_INVOKE:
            answer = await self.consent.file_consent(context.activity.value, actor_of(context.activity))
            await context.send_activity(Activity.model_validate(fitted_activity(consent_message(answer), "reply")))
            await answer_invoke(context, {})  # nothing for Teams to read (bot/turns/file_consent.py)
            return
        if context.activity.name != ADAPTIVE_CARD_ACTION:
            await answer_invoke(context, invoke_answer(trace.reference(NOT_HERE_YET), 501))
            return
        async with self.one_turn_at_a_time.held(context.activity):
            reply = await self._saved(context, await self.answers.card_action(context))
        await answer_invoke(context, invoke_body(reply))

    async def _saved(self, context: TurnContext, reply: Reply) -> Reply:
        """The turn's answer once the form's state is saved; if another process saved this
        conversation's form first, what changed instead (nothing of this turn was saved)."""
        try:
            await self.form.stack.save(context)
        except StateConflict:
            return await self.form.changed_elsewhere(context)
        return reply


def build_application(services: ServiceContext, shared: SharedActions,
                      form_state: Storage) -> AgentApplication[TurnState]:
    """The routes, one per kind of activity the edge answers. `form_state` keeps the referral
    form's dialog state (bot/agents/storage.py on the bot's database)."""
    # No typing indicator: the SDK's default sends "typing" activities on a timer during a turn,
    # extra posts the botbuilder edge never makes (and which count against Teams' rate limits).
    app: AgentApplication[TurnState] = AgentApplication(storage=NothingStored(), connection_manager=NoSignIn(),
                                                        remove_recipient_mention=True, start_typing_timer=False)
    turns = Turns(services, shared, form_state)

    @app.conversation_update("membersAdded")
    async def greet(context: TurnContext, _state: TurnState) -> None:
        await turns.greet(context)

    @app.activity(ActivityTypes.message)  # every message, with text or without (an Action.Submit)
    async def message(context: TurnContext, _state: TurnState) -> None:
        await turns.message(context)

    @app.activity(ActivityTypes.invoke)
    async def invoke(context: TurnContext, _state: TurnState) -> None:
        await turns.invoke(context)

    return app


async def answer_invoke(context: TurnContext, body: dict[str, Any]) -> None:
    """Leave the invoke's answer for the edge, which writes it once (bot/agents/edge.py)."""
    await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                         value=InvokeResponse(status=200, body=body)))

