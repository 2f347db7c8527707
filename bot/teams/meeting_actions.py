"""The rapid review meeting in Teams: the chair picks, moves or cancels the meeting, and
records the outcome afterwards. Authority from the activity and the roster only."""

from __future__ import annotations

from bot.domain.case import Actor
from bot.services import meeting
from bot.services.context import ServiceContext
from bot.services.refusals import MeetingRefused, NotAuthorised
from bot.teams.replies import Reply
from cards import meeting_cards
from cards.actions import CardPress
from cards.chat import text_card


class MeetingActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def press(self, actor: Actor, press: CardPress, reference: str) -> Reply:
        tz = self.services.tz
        try:
            if press.verb == meeting_cards.OUTCOME:
                case, outcome = await meeting.record_outcome(self.services, actor, reference, press.inputs)
                return Reply(card=meeting_cards.outcome_summary_card(case.summary, outcome))
            if press.verb == meeting_cards.CANCEL:
                await meeting.cancel(self.services, actor, reference)
                return Reply(card=text_card("Meeting cancelled", f"The meeting for {reference} is cancelled and "
                                            "its calendar event withdrawn. To book a new time, use Re-book on the "
                                            "meeting card in the panel channel."))
            if press.verb == meeting_cards.RETRY:
                await meeting.retry_booking(self.services, actor, reference)
                return Reply(text="Trying again now; you will get the meeting card, or a message saying what is "
                                  "still wrong.")
            record = await meeting.choose_time(self.services, actor, reference,
                                               start_iso=press.inputs.get("start"), day=press.inputs.get("date"),
                                               clock=press.inputs.get("time"))
            if record.start_at is None or record.end_at is None:
                return Reply(text="Booking…")
            return Reply(card=text_card("Meeting booked", f"{reference}: "
                                        f"{meeting_cards.when(record.start_at, record.end_at, tz)}. The deadlines "
                                        "that count from the meeting have moved with it."))
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except MeetingRefused as refused:
            if press.verb == meeting_cards.OUTCOME:
                case = await self.services.cases.get_case(reference)
                if case is not None:
                    return Reply(card=meeting_cards.outcome_card(case.summary, error=str(refused), field=refused.field,
                                                                 typed=press.inputs))
            return Reply(text=str(refused))
