"""The statutory clock in Teams: Mark done, the timeline, status, agencies' requests.

Each press handler is one row of bot/turns/routes.py; refusals are answered there.
"""

from __future__ import annotations

import asyncio

from bot.domain.case import Actor, parse_reference
from bot.services import deadlines
from bot.services.context import ServiceContext
from bot.services.refusals import ClockRefused, NotAuthorised, Refused
from bot.turns.pathway_actions import PathwayActions
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import clock_cards


class ClockActions(PathwayActions):
    """The clock's presses, and those after the decision (bot/turns/pathway_actions.py)."""

    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    # ---- card presses (bot/turns/routes.py) ------------------------------------------------------

    async def mark_done(self, p: Pressed) -> Reply:
        row = await deadlines.mark_done(self.services, p.actor, p.case, p.press.step_id, p.press.inputs.get("done_on"),
                                        p.press.inputs.get("late_reason"))
        return Reply(card=clock_cards.done_card(p.case, row, self.services.tz))

    async def timeline(self, p: Pressed) -> Reply:
        t = await deadlines.timeline(self.services, p.actor, p.case)
        return Reply(card=clock_cards.timeline_card(t, self.services.tz))

    async def record_agencies(self, p: Pressed) -> Reply:
        chosen = [a.strip() for a in p.press.inputs.get("agencies", "").split(",") if a.strip()]
        t = await deadlines.record_agency_requests(self.services, p.actor, p.case, chosen,
                                                   p.press.inputs.get("contacts"))
        return Reply(card=clock_cards.timeline_card(t, self.services.tz))

    async def show_agencies_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A refused record of the agencies asked (a contact over its cap, no agency chosen): the
        prompt again, with the refusal next to the input and the contacts as typed (cut to the cap)."""
        case = await self.services.cases.get_case(p.case)
        if case is None or refused.field not in ("agencies", "contacts"):
            return None
        return Reply(card=clock_cards.agency_prompt_card(case.summary, list(self.services.partnership.agencies),
                                                         error=str(refused), field=refused.field,
                                                         typed=p.press.inputs))

    async def agency_returned(self, p: Pressed) -> Reply:
        t = await deadlines.mark_agency_returned(self.services, p.actor, p.case, p.press.agency_request_id)
        return Reply(card=clock_cards.timeline_card(t, self.services.tz))

    # ---- typed commands ---------------------------------------------------------------------------

    async def command(self, actor: Actor, text: str) -> Reply | None:
        """`status`, `timeline RR-…` and `pathway RR-…`, in personal chat or the channel; None if none."""
        if (answer := await self.pathway_command(actor, text)) is not None:
            return answer
        try:
            if text in ("status", "open cases"):
                lines, total = await deadlines.status(self.services, actor)
                card = clock_cards.status_card(lines, total, self.services.tz)
                # Building the 25 cases' card and then measuring and sending it (bot/teams/message_size.py)
                # would hold the event loop for one long stretch: other requests get their turn in between.
                await asyncio.sleep(0)
                return Reply(card=card)
            if text.startswith("timeline"):
                reference = parse_reference(text.removeprefix("timeline"))
                if reference is None:
                    return Reply(text="Say which case, for example: **timeline RR-2026-0001**.")
                t = await deadlines.timeline(self.services, actor, reference)
                return Reply(card=clock_cards.timeline_card(t, self.services.tz))
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except ClockRefused as refused:
            return Reply(text=str(refused))
        return None
