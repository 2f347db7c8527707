"""Training mode at either Teams edge: acting as someone else, the per-person inbox, the
banner on every card, and the training commands (`act as`, `inbox`, `advance`, `today`,
`demo case`).

Only the composition root builds these, and only with TRAINING_MODE on (bot/app.py): a
production bot has no `TrainingEdge` (so identity is never rewritten) and answers the
training commands with one line. The rules themselves are in bot/services/training.py.

SDK-neutral: both SDKs' activities and turn contexts carry the same attribute names
(`from_property`, `turn_state`, `on_send_activities`, an attachment's `content_type` and
`content`), and what a command sends before its answer goes through the edge's `Say`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.case import Actor
from bot.domain.dates import format_moment
from bot.domain.limits import excerpt
from bot.services import deadlines, training
from bot.services.context import ServiceContext
from bot.services.outbox import OutboxDispatcher
from bot.services.ports import Address
from bot.services.training import NOT_IN_TRAINING, Person, TrainingClockPort, TrainingState
from bot.turns.commands import is_training_command
from bot.turns.notifier import CardNotifier
from bot.turns.oversize import fitted_invoke_body
from bot.turns.replies import Reply
from cards import training_cards
from cards.common import CONTENT_TYPE

log = logging.getLogger(__name__)

REAL_USER = "training.real_user"

# Sends one message in the turn, in the edge's SDK (a training command's messages before its answer).
Say = Callable[[Any, Reply], Awaitable[None]]


def when(moment: datetime, services: ServiceContext) -> str:
    return format_moment(moment, services.tz)


@dataclass
class RealUser:
    """Who is at the keyboard this turn, and whom they act as (changes with `act as`)."""

    aad_object_id: str
    name: str
    acting: Person | None


class TrainingEdge:
    """Called by either edge's /api/messages endpoint in training mode only."""

    def __init__(self, services: ServiceContext, state: TrainingState, clock: TrainingClockPort) -> None:
        self.services = services
        self.state = state
        self.clock = clock

    async def before_turn(self, activity: Any) -> RealUser | None:
        """The ONLY place identity is rewritten: a keyboard user who acts as someone arrives as them."""
        await self.clock.refresh()
        sender = activity.from_property
        aad = getattr(sender, "aad_object_id", None) if sender else None
        if not aad:
            return None
        real = RealUser(str(aad).lower(), sender.name or "", None)
        conversation_type = getattr(activity.conversation, "conversation_type", None) or "personal"
        if conversation_type == "personal" and activity.conversation and activity.service_url:
            tenant = (activity.channel_data or {}).get("tenant", {}).get("id") if isinstance(
                activity.channel_data, dict) else None
            await self.state.remember_keyboard(real.aad_object_id, Address(
                activity.conversation.id, activity.service_url, tenant,
                activity.recipient.id if activity.recipient else None), self.clock.now())
        real.acting = await self.state.acting(real.aad_object_id)
        if real.acting is not None:
            sender.aad_object_id = real.acting.aad_object_id
            sender.name = real.acting.name
            sender.id = f"29:training-{real.acting.aad_object_id}"
        return real

    def around(self, real: RealUser | None, logic: Any) -> Any:
        """The turn, with the real user in turn_state and the banner on every card it sends."""

        async def run(turn_context: Any) -> None:
            turn_context.turn_state[REAL_USER] = real

            async def banner(_ctx: Any, activities: list[Any], next_send: Any) -> Any:
                for activity in activities:
                    for attachment in getattr(activity, "attachments", None) or []:
                        if attachment.content_type == CONTENT_TYPE and isinstance(attachment.content, dict):
                            attachment.content = self.wrap(attachment.content, real)
                return await next_send()

            turn_context.on_send_activities(banner)
            await logic(turn_context)

        return run

    def wrap(self, card: dict[str, Any], real: RealUser | None) -> dict[str, Any]:
        acting = real.acting.label if real is not None and real.acting is not None else None
        return training_cards.with_banner(card, when(self.clock.now(), self.services), acting)

    def wrap_invoke_body(self, body: dict[str, Any], real: RealUser | None) -> dict[str, Any]:
        if body.get("type") == CONTENT_TYPE and isinstance(body.get("value"), dict):
            return fitted_invoke_body({**body, "value": self.wrap(body["value"], real)})
        return body


class TrainingNotifier(CardNotifier):
    """The notifier in training mode: every card carries the banner, and a message to someone
    nobody is sitting at as themselves waits in their inbox instead of being dropped."""

    def __init__(self, *args: Any, state: TrainingState, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    def card_message(self, address: Address, card: dict[str, Any], activity_id: str | None = None,
                     attachment: dict[str, Any] | None = None) -> dict[str, Any]:
        if attachment is not None:  # a file consent card: Teams' own card, no banner to add
            return super().card_message(address, card, activity_id, attachment)
        date = format_moment(self._clock.now(), self._tz)
        return super().card_message(address, training_cards.with_banner(card, date), activity_id)

    async def send_to_person(self, aad_object_id: str, card: dict[str, Any]) -> bool:
        aad = aad_object_id.lower()
        for real in await self.state.actors_of(aad):  # someone is acting as them: to that window
            address = await self.state.keyboard(real)
            if address is not None:
                date = format_moment(self._clock.now(), self._tz)
                acted = await self.state.acting(real)
                await self.send_card(address, training_cards.with_banner(card, date, acted.label if acted else None))
                return True
        if await self.state.acting(aad) is None:  # at a keyboard as themselves
            address = await self.state.keyboard(aad)
            if address is not None:
                await self.send_card(address, card)
                return True
        await self.state.keep(aad, card, self._clock.now())
        return True


class TrainingActions:
    """The training commands in personal chat. In production it only refuses them."""

    def __init__(self, services: ServiceContext, *, state: TrainingState | None = None,
                 clock: TrainingClockPort | None = None, outbox: OutboxDispatcher | None = None) -> None:
        self.services = services
        self.state = state
        self.clock = clock
        self.outbox = outbox

    @property
    def enabled(self) -> bool:
        return self.state is not None

    def help(self, card: dict[str, Any]) -> dict[str, Any]:
        return training_cards.with_training_help(card) if self.enabled else card

    async def command(self, turn_context: Any, actor: Actor, text: str, say: Say) -> Reply | None:
        """A training command's answer (None when `text` is none); what comes before the answer
        (the `act as` note, the inbox's cards) is sent with the edge's `say`."""
        if not is_training_command(text):
            return None
        if self.state is None or self.clock is None or self.outbox is None:
            return Reply(text=NOT_IN_TRAINING)
        real: RealUser = turn_context.turn_state.get(REAL_USER) or RealUser(actor.aad_object_id, actor.name, None)
        if text.startswith("act as"):
            return await self._act_as(turn_context, real, text.removeprefix("act as").strip(), say)
        if text == "inbox":
            person = real.acting or Person(real.aad_object_id, real.name, "you")
            shown = await self._show_inbox(turn_context, person, say)
            return Reply(text=None if shown else f"No messages are waiting for {person.name}.")
        if text.startswith("advance"):
            return await self._advance(text.removeprefix("advance").strip())
        if text == "demo case":
            return await self._demo_case(actor)
        return Reply(text=f"Training date: **{when(self.clock.now(), self.services)}** (Europe/London). "
                          "Type **advance 2 working days** to move it on.")

    async def _act_as(self, turn_context: Any, real: RealUser, wanted: str, say: Say) -> Reply:
        assert self.state is not None
        everyone = await training.people(self.services)
        if wanted in ("me", "myself", ""):
            person = None
        else:
            person = training.match_person(everyone, wanted)
            if person is None:
                names = ", ".join(p.label for p in everyone)
                return Reply(text=f"I do not know who {excerpt(wanted)!r} is. You can act as: {names}; or "
                                  "**act as me**.")
            if person.aad_object_id == real.aad_object_id:
                person = None
        await self.state.set_acting(real.aad_object_id, person, self.services.clock.now())
        real.acting = person
        shown_as = person or Person(real.aad_object_id, real.name, "you")
        waiting = await self.state.waiting(shown_as.aad_object_id)
        intro = (f"You are now acting as **{person.label}**. Everything you type or press counts as theirs, "
                 "until you type **act as me**." if person else f"You are yourself again ({real.name}).")
        intro += f" {waiting} message{'s are' if waiting != 1 else ' is'} waiting in {'their' if person else 'your'} inbox."
        await say(turn_context, Reply(text=intro))
        await self._show_inbox(turn_context, shown_as, say)
        return Reply()

    async def _show_inbox(self, turn_context: Any, person: Person, say: Say) -> int:
        """Send the person's waiting cards, oldest first, and mark them read."""
        assert self.state is not None
        items = await self.state.inbox(person.aad_object_id)
        for item in items:
            card = {**item.card, "body": [training_cards.inbox_note(person.name, when(item.at, self.services)),
                                          *item.card.get("body", [])]}
            await say(turn_context, Reply(card=card))
        await self.state.mark_read([item.key for item in items])
        return len(items)

    async def _advance(self, argument: str) -> Reply:
        assert self.state is not None and self.clock is not None
        await self.clock.refresh()
        before = self.clock.now()
        try:
            target, how = await training.advance_target(self.services, self.state, argument, before)
            if target < before:
                raise training.AdvanceError(
                    f"That is before the training date ({when(before, self.services)}): the training clock only "
                    "moves forwards. Start a new training database to begin again.")
            await self.clock.move_to(target)
        except ValueError as error:
            return Reply(text=str(error))
        sent = await self.run_due()
        return Reply(text=f"Training date moved {how}: now **{when(self.clock.now(), self.services)}**. "
                          f"{sent} message{'s' if sent != 1 else ''} went out (reminders, prompts and cards that "
                          "fell due).")

    async def run_due(self) -> int:
        """What the scheduler and the outbox would have done by now: the sweep, then delivery
        (twice: a delivery can refresh deadlines that fall due at once)."""
        assert self.outbox is not None
        sent = 0
        for _ in range(3):
            await deadlines.sweep(self.services, clock_moved=True)  # not late: the trainer moved the clock
            delivered = await self.outbox.dispatch_due()
            sent += delivered
            if not delivered:
                break
        return sent

    async def _demo_case(self, actor: Actor) -> Reply:
        submitted = await training.submit_demo_case(self.services, actor.tenant_id)
        await self.run_due()
        case = submitted.case
        where = ("It is on the panel channel's card: act as **Laura** (local authority), **police** and **health** "
                 "and press **Vote**." if submitted.panel_channel_bound else
                 "No panel channel is bound yet: act as **Pat** and, in the panel channel, type "
                 "**@Rapid Review use this channel for the panel**.")
        return Reply(text=f"Demo case **{case.reference} · {case.pseudonym}** submitted as Riley Referrer "
                          f"(a synthetic referral about *Demo Child*). {where}")
