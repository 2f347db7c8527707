"""The Teams activity handler: activities in, use cases called, cards out.

Identity and authority come from the activity (`from.aadObjectId`, the tenant in
channelData), checked against the database; card data is intent only (cards/actions.py).
Card presses go through one route table (bot/turns/routes.py) whether a press came as
Action.Execute (an invoke, answered in the invoke response) or Action.Submit (a message
with a value, answered with a new message).
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import CardFactory, ConversationState, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, DeliveryModes
from botbuilder.schema.teams import TeamInfo, TeamsChannelAccount
from botframework.connector.models import InvokeResponse

from bot.domain.case import Actor
from bot.domain.json_text import outgoing
from bot.services.context import ServiceContext
from bot.teams.exports import CaseExports
from bot.teams.members import BotbuilderMembers
from bot.teams.message_size import keep_replies_within_budget
from bot.teams.storage import StateConflict
from bot.turns.answers import Answers
from bot.turns.clock_actions import ClockActions
from bot.turns.commands import Commands, actor_of, command_text
from bot.turns.duplicate_actions import DuplicateActions
from bot.turns.file_consent import FILE_CONSENT_INVOKE, consent_message
from bot.turns.meeting_actions import MeetingActions
from bot.turns.panel_actions import PanelActions
from bot.turns.people import PeopleMemory
from bot.turns.referral_form import NO_IDENTITY, OneTurnAtATime, ReferralForm
from bot.turns.replies import Reply, invoke_body
from bot.turns.report_actions import ReportActions
from bot.turns.retention_actions import RetentionActions
from bot.turns.review_actions import ReviewActions
from bot.turns.routes import Pressed, Router, card_routes
from bot.turns.training import TrainingActions
from cards import chat
from dialogs.referral_dialog import BotbuilderFormStack
from dialogs.referral_flow import ReferralFlow

log = logging.getLogger(__name__)

PENDING_ANSWER = "rr.pending_answer"  # a message turn's answer, sent once its state is saved


class RapidReviewBot(TeamsActivityHandler):
    def __init__(self, services: ServiceContext, conversation_state: ConversationState, app_id: str,
                 panel_actions: PanelActions, clock_actions: ClockActions, meeting_actions: MeetingActions,
                 exports: CaseExports, retention: RetentionActions, training: TrainingActions | None = None,
                 report_actions: ReportActions | None = None) -> None:
        self.services = services
        self.exports = exports
        self.retention = retention
        self.training = training or TrainingActions(services)  # production: refuses the training commands
        self.meeting_actions = meeting_actions
        self.panel_actions = panel_actions
        self.clock_actions = clock_actions
        self.conversation_state = conversation_state
        self.app_id = app_id
        self.one_turn_at_a_time = OneTurnAtATime()
        flow = ReferralFlow(services)
        self.form = ReferralForm(services, BotbuilderFormStack(conversation_state, flow), flow, BotbuilderMembers())
        self.people = PeopleMemory(services, BotbuilderMembers())
        self.commands = Commands(services, panel_actions, clock_actions, exports, retention, self.training)
        self.report_actions = report_actions or ReportActions(services)
        self.router = Router(services, card_routes(self, panel_actions, clock_actions, meeting_actions, exports,
                                                   retention, self.report_actions, ReviewActions(services),
                                                   DuplicateActions(services)))
        self.answers = Answers(services, self.router, self.commands, self.people)

    # ---- the turn ---------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        turn_context.on_send_activities(keep_replies_within_budget)  # no reply over Teams' size limit
        async with self.one_turn_at_a_time.held(turn_context.activity):
            try:
                await super().on_turn(turn_context)
                await self.form.stack.save(turn_context)
            except StateConflict:  # another process saved this conversation's form first
                self._replace_answer(turn_context, await self.form.changed_elsewhere(turn_context))
            except BaseException:
                # The answer prepared before the failure says what was not saved: never send it.
                turn_context.turn_state.pop(TurnContext._INVOKE_RESPONSE_KEY, None)
                raise
            await self._send_answer(turn_context)  # only now: what it says has been saved

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        reply = await self.answers.message(turn_context, self._personal_command)
        await self._answer(turn_context, reply)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name == FILE_CONSENT_INVOKE:  # Allow or Decline on a file consent card
            answer = await self.exports.file_consent(activity.value, actor_of(activity))
            await turn_context.send_activity(Activity.deserialize(consent_message(answer)))
            return answer_invoke(turn_context, {})  # nothing for Teams to read (bot/turns/file_consent.py)
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        reply = await self.answers.card_action(turn_context)
        return answer_invoke(turn_context, invoke_body(reply))

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        """Teams also sends conversationUpdate(membersAdded: the bot) on install; we greet
        there, once, so nothing here."""

    async def on_teams_members_added(self, members_added: list[TeamsChannelAccount], team_info: TeamInfo,
                                     turn_context: TurnContext) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m.id == bot_id for m in members_added):
            await self._greet(turn_context)

    async def on_members_added_activity(self, members_added: list[ChannelAccount],
                                        turn_context: TurnContext) -> None:
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        if any(m.id == bot_id for m in members_added):
            await self._greet(turn_context)

    # ---- commands -----------------------------------------------------------------------------

    async def _personal_command(self, turn_context: TurnContext, actor: Actor | None) -> Reply:
        text = command_text(turn_context.activity)
        if actor is None:
            return Reply(text=NO_IDENTITY)
        training_reply = await self.training.command(turn_context, actor, text, say)
        if training_reply is not None:
            return training_reply
        in_progress = await self.form.in_progress(turn_context)
        form_reply = await self.form.typed(turn_context, actor, text, in_progress)
        if form_reply is not None:
            return form_reply
        return await self.commands.personal(turn_context, actor, text, in_progress)

    # ---- card presses ---------------------------------------------------------------------------

    async def start_referral(self, p: Pressed) -> Reply:
        """"Start a referral" on a welcome or help card: the same as typing refer."""
        p.turn_context.activity.text = "refer"
        return await self._personal_command(p.turn_context, p.actor)

    async def continue_form(self, p: Pressed) -> Reply:
        """A button on the referral form: the dialog takes it from here."""
        return await self.form.press(p.turn_context, p.press, p.actor)

    # ---- helpers --------------------------------------------------------------------------------

    async def _answer(self, turn_context: TurnContext, reply: Reply) -> None:
        """The turn's answer to a message, sent by `on_turn` once the conversation's state is
        saved (an invoke answers through its invoke response)."""
        if turn_context.activity.type != ActivityTypes.invoke:
            turn_context.turn_state[PENDING_ANSWER] = reply

    async def _send_answer(self, turn_context: TurnContext) -> None:
        reply: Reply | None = turn_context.turn_state.pop(PENDING_ANSWER, None)
        if reply is not None:
            await say(turn_context, reply)

    def _replace_answer(self, turn_context: TurnContext, reply: Reply) -> None:
        """Answer with `reply` instead of what the turn had prepared (which was not saved)."""
        if turn_context.activity.type == ActivityTypes.invoke:
            turn_context.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = Activity(
                type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=invoke_body(reply)))
        else:
            turn_context.turn_state[PENDING_ANSWER] = reply

    async def _greet(self, turn_context: TurnContext) -> None:
        conversation_type = getattr(turn_context.activity.conversation, "conversation_type", None) or "personal"
        actor = actor_of(turn_context.activity)
        if conversation_type == "personal" and actor is not None:  # opened the bot: what waited for them goes now
            await self.people.seen(turn_context, actor)
        if conversation_type == "channel":
            card = chat.channel_welcome_card(self.services.partnership.name)
        else:
            card = chat.welcome_card(self.services.partnership.name)
        await say(turn_context, Reply(card=card))


def answer_invoke(turn_context: TurnContext, body: dict[str, Any]) -> InvokeResponse:
    """The invoke's answer, handed to the adapter here. Returned bare, ActivityHandler.on_turn
    passes it through TurnContext.send_activity, which deep-copies the activity — the whole
    card — only to leave it in turn_state (about 1 ms a vote, tests/bench/bench.py)."""
    response = InvokeResponse(status=200, body=body)
    turn_context.turn_state[TurnContext._INVOKE_RESPONSE_KEY] = Activity(
        type=ActivityTypes.invoke_response, value=response)
    return response


async def say(turn_context: TurnContext, reply: Reply) -> None:
    """A reply sent in the turn as a message: its card, else its text. The card goes as
    `outgoing` JSON, written once: botbuilder's copy of the activity shares it instead of
    copying every node, and the text measured against the size budget is the text sent
    (bot/domain/json_text.py). Not to a caller who asked for the replies in the HTTP answer
    (deliveryMode expectReplies): botbuilder writes those with msrest, which writes any dict
    but a plain one as its Python repr."""
    if reply.card:
        expects_replies = turn_context.activity.delivery_mode == DeliveryModes.expect_replies
        card = reply.card if expects_replies else outgoing(reply.card)
        await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
    elif reply.text:
        await turn_context.send_activity(MessageFactory.text(reply.text))
