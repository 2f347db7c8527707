"""The referral form's turns, the same on both Teams edges: `refer`, `resume` and `cancel` typed
in personal chat, every press on the form, a press on a form no longer open, a state another
window saved first, and the referrer's name and e-mail pre-filled from Teams.

The form itself is the SDK-neutral flow (dialogs/referral_flow.py), run as a dialog by each
edge's thin wrapper; this module reaches the dialog stack through the edge's `FormStack` (its
SDK's dialog set and ConversationState, dialogs/referral_dialog.py and
dialogs/agents_referral_dialog.py). Both stacks keep the draft in the same `bot_state` row, so a
referral half-way through on one edge goes on on the other (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from bot.domain import trace
from bot.domain.case import Actor
from bot.services.context import ServiceContext
from bot.turns.commands import CANCEL_WORDS, REFER_WORDS, RESUME_WORDS
from bot.turns.ports import Members
from bot.turns.replies import Reply
from cards import referral_form as form
from cards.actions import CardPress
from dialogs.referral_flow import FORM_ACTION, FORM_ACTOR, FORM_REPLY, FORM_RESULT, FormTurn, ReferralFlow

log = logging.getLogger(__name__)

ALREADY_IN_PROGRESS = (
    "You already have a referral in progress. Here it is; type **cancel** to discard it and start again."
)
NO_IDENTITY = "I could not tell who you are from Teams, so I cannot take a referral here."
PREFILL_SECONDS = 3


class FormStack(Protocol):
    """One SDK's dialog stack holding the referral form, on the conversation's stored state."""

    async def open_draft(self, turn_context: Any) -> dict[str, Any] | None:
        """The open draft (the dialog's state), or None when no referral is in progress."""
        ...

    async def begin(self, turn_context: Any, prefill: dict[str, str]) -> None: ...

    async def press(self, turn_context: Any) -> bool:
        """Hand the turn's press to the open dialog; False when no draft is open."""
        ...

    async def reload(self, turn_context: Any) -> None:
        """Read the stored state again, as another turn left it."""
        ...

    async def save(self, turn_context: Any) -> None:
        """Save what the turn changed; `StateConflict` when another turn saved first."""
        ...


class OneTurnAtATime:
    """One turn at a time per conversation in this process: a double-click must not race its own
    dialog state. (Across processes the state's eTag catches it.)"""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def held(self, activity: Any) -> AsyncIterator[None]:
        conversation = activity.conversation.id if activity.conversation else ""
        lock = self._locks.setdefault(conversation, asyncio.Lock())
        async with lock:
            yield
        if not lock.locked() and len(self._locks) > 10_000:
            self._locks.pop(conversation, None)


class ReferralForm:
    def __init__(self, services: ServiceContext, stack: FormStack, flow: ReferralFlow, members: Members) -> None:
        self.services = services
        self.stack = stack
        self.flow = flow
        self.members = members

    async def in_progress(self, turn_context: Any) -> bool:
        return await self.stack.open_draft(turn_context) is not None

    async def typed(self, turn_context: Any, actor: Actor, text: str, in_progress: bool) -> Reply | None:
        """`refer`, `resume` or `cancel` typed in personal chat; None for any other text."""
        if text in REFER_WORDS:
            if in_progress:
                return await self.press(turn_context, CardPress(verb=form.RESUME), actor, note=ALREADY_IN_PROGRESS)
            turn_context.turn_state[FORM_ACTOR] = actor
            await self.stack.begin(turn_context, await self._prefill(turn_context, actor))
            return Reply(card=turn_context.turn_state.get(FORM_REPLY))
        if text in RESUME_WORDS:
            if not in_progress:
                return Reply(text="You have no referral in progress. Type **refer** to start one.")
            return await self.press(turn_context, CardPress(verb=form.RESUME), actor)
        if text in CANCEL_WORDS:
            if not in_progress:
                return Reply(text="There is no referral in progress to cancel.")
            return await self.press(turn_context, CardPress(verb=form.CANCEL), actor)
        return None

    async def press(self, turn_context: Any, press: CardPress, actor: Actor, note: str | None = None) -> Reply:
        """A button on the referral form (or a typed resume or cancel): the dialog takes it."""
        turn_context.turn_state[FORM_ACTION] = press
        turn_context.turn_state[FORM_ACTOR] = actor
        if not await self.stack.press(turn_context):
            return await self._no_draft(press, actor)
        card = turn_context.turn_state.get(FORM_REPLY)
        if card is None:
            return await self._no_draft(press, actor)
        if note:
            card = {
                **card,
                "body": [{"type": "TextBlock", "text": note, "wrap": True, "color": "Accent"}, *card["body"]],
            }
        return Reply(card=card)

    async def _no_draft(self, press: CardPress, actor: Actor) -> Reply:
        """A press on a form that is no longer open: most often the second click of a
        double-click on Submit, which must not submit twice."""
        if press.verb == form.SUBMIT and press.ref:
            case = await self.services.cases.summary_by_draft(press.ref)
            if case is not None and case.referrer_aad_id == actor.aad_object_id:
                return Reply(
                    card=form.submitted_card(
                        case.reference,
                        case.pseudonym,
                        likely_notifiable=case.likely_notifiable,
                        channel_bound=True,
                        partnership=self.services.partnership.name,
                        already=True,
                    )
                )
        return Reply(
            text="This referral form is no longer open (it was submitted or discarded). Type **refer** to "
            "start a new one, or **my referrals** to see yours."
        )

    async def changed_elsewhere(self, turn_context: Any) -> Reply:
        """This turn's form state lost the race with another window's: say who changed what and
        when, show the form as it is now and what this press typed (nothing of it was saved)."""
        press: CardPress | None = turn_context.turn_state.get(FORM_ACTION)
        actor: Actor | None = turn_context.turn_state.get(FORM_ACTOR)
        submitted = turn_context.turn_state.get(FORM_RESULT)
        await self.stack.reload(turn_context)
        if submitted is not None:  # submitted here (stored once, by its draft id) while the other window changed it
            return Reply(
                card=form.submitted_card(
                    submitted.case.reference,
                    submitted.case.pseudonym,
                    likely_notifiable=submitted.case.likely_notifiable,
                    channel_bound=submitted.panel_channel_bound,
                    partnership=self.services.partnership.name,
                )
            )
        draft = await self.stack.open_draft(turn_context)
        if press is None or actor is None or draft is None:
            if press is not None and actor is not None:
                return await self._no_draft(press, actor)
            return Reply(
                text=trace.reference(
                    "That was changed a moment ago from another window, so this was not "
                    "saved. Type **resume** to see the referral as it is now."
                ),
                status=409,
            )
        turn = FormTurn(action=press, actor=actor)
        self.flow.present_changed_elsewhere(turn, draft, press, another_window=True)
        return Reply(card=turn.reply)

    async def _prefill(self, turn_context: Any, actor: Actor) -> dict[str, str]:
        """Name and e-mail from Teams, so the referrer does not type them."""
        prefill = {"name": actor.name}
        try:
            member = await asyncio.wait_for(
                self.members.member(turn_context, turn_context.activity.from_property.id), timeout=PREFILL_SECONDS
            )
            email = member.email or member.user_principal_name
            if email:
                prefill["email"] = email
            if member.name:
                prefill["name"] = member.name
        except Exception:  # noqa: BLE001 - pre-filling is a convenience; the referrer can type it
            log.info("could not read the member's e-mail from Teams")
        return prefill
