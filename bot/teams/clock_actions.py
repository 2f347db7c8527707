"""The statutory clock in Teams: Mark done, the timeline, status, agencies' requests."""

from __future__ import annotations

from bot.domain.case import Actor, parse_reference
from bot.services import deadlines
from bot.services.context import ServiceContext
from bot.services.refusals import ClockRefused, NotAuthorised
from bot.teams.replies import Reply
from cards import clock_cards
from cards.actions import CardPress


class ClockActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def press(self, actor: Actor, press: CardPress, reference: str) -> Reply:
        tz = self.services.tz
        try:
            if press.verb == clock_cards.MARK_DONE:
                row = await deadlines.mark_done(self.services, actor, reference, press.query,
                                                press.inputs.get("done_on"))
                return Reply(card=clock_cards.done_card(reference, row, tz))
            if press.verb == clock_cards.AGENCIES_RECORD:
                chosen = [a.strip() for a in press.inputs.get("agencies", "").split(",") if a.strip()]
                t = await deadlines.record_agency_requests(self.services, actor, reference, chosen,
                                                           press.inputs.get("contacts"))
                return Reply(card=clock_cards.timeline_card(t, tz))
            if press.verb == clock_cards.AGENCY_RETURNED:
                t = await deadlines.mark_agency_returned(self.services, actor, reference, press.query)
                return Reply(card=clock_cards.timeline_card(t, tz))
            t = await deadlines.timeline(self.services, actor, reference)
            return Reply(card=clock_cards.timeline_card(t, tz))
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except ClockRefused as refused:
            return Reply(text=str(refused), status=200)

    async def command(self, actor: Actor, text: str) -> Reply | None:
        """`status` and `timeline RR-…`, in personal chat or the channel; None if neither."""
        try:
            if text in ("status", "open cases"):
                lines, total = await deadlines.status(self.services, actor)
                return Reply(card=clock_cards.status_card(lines, total, self.services.tz))
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
