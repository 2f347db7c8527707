"""The local review, the actions and the learning in Teams: the review and actions card's
buttons (cards/review_cards.py). Authority from the activity and the roster only; the use
cases are bot/services/review.py.

Each press handler is one row of bot/turns/routes.py; refusals are answered there, and a
refusal about an input is shown on the card again, next to it, with what was typed.
"""

from __future__ import annotations

from bot.services import review
from bot.services.context import ServiceContext
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import review_cards


class ReviewActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    def _card(self, v: review.ReviewView) -> Reply:
        return Reply(card=review_cards.review_actions_card(v, self.services.tz))

    async def open(self, p: Pressed) -> Reply:
        return self._card(await review.view(self.services, p.actor, p.case))

    async def set_up(self, p: Pressed) -> Reply:
        return self._card(await review.set_up(self.services, p.actor, p.case, p.press.inputs))

    async def agency_report(self, p: Pressed) -> Reply:
        return self._card(await review.agency_report(self.services, p.actor, p.case, p.press.inputs.get("agency")))

    async def progress(self, p: Pressed) -> Reply:
        return self._card(await review.progress_check(self.services, p.actor, p.case, p.press.inputs))

    async def report_sent(self, p: Pressed) -> Reply:
        return self._card(await review.report_sent(self.services, p.actor, p.case, p.press.inputs.get("sent_on")))

    async def published(self, p: Pressed) -> Reply:
        inputs = p.press.inputs
        return self._card(await review.published(self.services, p.actor, p.case, inputs.get("published_on"),
                                                 inputs.get("late_reason"), inputs.get("close_anyway"),
                                                 inputs.get("close_reason")))

    async def learning(self, p: Pressed) -> Reply:
        return self._card(await review.record_learning(self.services, p.actor, p.case, p.press.inputs.get("learning")))

    async def add_action(self, p: Pressed) -> Reply:
        return self._card(await review.add_action(self.services, p.actor, p.case, p.press.inputs))

    async def action_done(self, p: Pressed) -> Reply:
        return self._card(await review.action_done(self.services, p.actor, p.case, p.press.action_id,
                                                   p.press.inputs.get("evidence")))

    async def show_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """The card again with the refusal next to the input it is about and what was typed kept."""
        if refused.field is None or isinstance(refused, NotAuthorised):
            return None
        try:
            v = await review.view(self.services, p.actor, p.case)
        except Refused:
            return None
        typed = dict(p.press.inputs)
        if p.press.action_id is not None:
            typed["_action"] = str(p.press.action_id)
        return Reply(card=review_cards.review_actions_card(v, self.services.tz, error=str(refused), field=refused.field,
                                                   typed=typed))
