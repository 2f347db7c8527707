"""What a message or a card press is answered, the same on both edges: who sent it is
remembered, a press goes to the route table, a typed command to the commands of the place it
was typed in. The edge then delivers the `Reply` its own way, once the referral form's dialog state is saved —
and answers personal chat's referral-form and training words itself (`personal`, with
bot/turns/referral_form.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain import trace
from bot.domain.case import Actor
from bot.services import access
from bot.services.context import ServiceContext
from bot.turns.commands import Commands, actor_of
from bot.turns.people import PeopleMemory
from bot.turns.ports import TurnContext
from bot.turns.replies import Reply
from bot.turns.routes import Router

PersonalCommand = Callable[[Any, Actor | None], Awaitable[Reply]]
UNSUPPORTED_ACTION = "Unsupported action."


class Answers:
    def __init__(self, services: ServiceContext, router: Router, commands: Commands, people: PeopleMemory) -> None:
        self.services = services
        self.router = router
        self.commands = commands
        self.people = people

    async def message(self, turn_context: TurnContext, personal: PersonalCommand) -> Reply:
        """A message: an Action.Submit press (a message with a value), or a typed command."""
        activity = turn_context.activity
        conversation_type = getattr(activity.conversation, "conversation_type", None) or "personal"
        actor = actor_of(activity)
        if actor:
            await self.people.seen(turn_context, actor)
        if activity.value:  # Action.Submit: a card press that arrived as a message
            return await self.router.press(turn_context, actor, activity.value, None)
        if conversation_type == "channel":
            return await self.commands.channel(turn_context, actor)
        if conversation_type != "personal":  # a group chat: no case is ever served there
            return Reply(text=await access.outside_answer(self.services))
        return await personal(turn_context, actor)

    async def card_action(self, turn_context: TurnContext) -> Reply:
        """An `adaptiveCard/action` invoke: Action.Execute, a press or a card's `refresh`."""
        activity = turn_context.activity
        value: dict[str, Any] = activity.value if isinstance(activity.value, dict) else {}
        action: dict[str, Any] = value["action"] if isinstance(value.get("action"), dict) else {}
        if action.get("type") not in (None, "Action.Execute"):
            return Reply(text=trace.reference(UNSUPPORTED_ACTION), status=400)
        actor = actor_of(activity)
        if activity.conversation and actor:  # first: the card rendered below lists this person
            await self.people.seen(turn_context, actor)
        return await self.router.press(turn_context, actor, action.get("data") or {}, action.get("verb"))
