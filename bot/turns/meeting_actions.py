"""The rapid review meeting in Teams: the chair picks, moves or cancels the meeting, and
records the outcome afterwards. Authority from the activity and the roster only.

Each press handler is one row of bot/turns/routes.py; refusals are answered there.
"""

from __future__ import annotations

from bot.services import meeting, pathways
from bot.services.context import ServiceContext
from bot.services.ports import MeetingRecord
from bot.services.refusals import Refused
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import meeting_cards
from cards.chat import text_card


class MeetingActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def pick(self, p: Pressed) -> Reply:
        """Book this time: one of the offered slots."""
        record = await meeting.choose_time(self.services, p.actor, p.case, start_iso=p.press.inputs.get("start"),
                                           day=None, clock=None)
        return await self._booked(p.case, record)

    async def choose(self, p: Pressed) -> Reply:
        """Book at this time / Move the meeting: a date and a start time the chair typed."""
        record = await meeting.choose_time(self.services, p.actor, p.case, start_iso=None,
                                           day=p.press.inputs.get("date"), clock=p.press.inputs.get("time"))
        return await self._booked(p.case, record)

    async def invite_guests(self, p: Pressed) -> Reply:
        """Invite practitioners: the meeting card again, with them listed."""
        record = await pathways.invite_guests(self.services, p.actor, p.case, p.press.inputs.get("guests"))
        case = await self.services.cases.get_case(p.case)
        assert case is not None
        return Reply(card=meeting_cards.meeting_card(case.summary, record, None, self.services.tz, None))

    async def retry(self, p: Pressed) -> Reply:
        await meeting.retry_booking(self.services, p.actor, p.case)
        return Reply(text="Trying again now; you will get the meeting card, or a message saying what is "
                          "still wrong.")

    async def record_manual(self, p: Pressed) -> Reply:
        """Record an Outlook booking: a meeting booked by hand after the bot could not book it."""
        inputs = p.press.inputs
        record = await meeting.record_manual_booking(self.services, p.actor, p.case, day=inputs.get("date"),
                                                     clock=inputs.get("time"), join_url=inputs.get("join_url"))
        return await self._booked(p.case, record)

    async def cancel(self, p: Pressed) -> Reply:
        await meeting.cancel(self.services, p.actor, p.case)
        return Reply(card=text_card("Meeting cancelled", f"The meeting for {p.case} is cancelled and its calendar "
                                    "event withdrawn (the attendees get the cancellation). The meeting card in the "
                                    "panel channel now says so: book a new time there with 'Book a new time'."))

    async def record_outcome(self, p: Pressed) -> Reply:
        case, outcome = await meeting.record_outcome(self.services, p.actor, p.case, p.press.inputs)
        return Reply(card=meeting_cards.outcome_summary_card(case.summary, outcome))

    async def outcome_form(self, p: Pressed) -> Reply:
        """The outcome form again (from the timeline), when its prompt was lost; saving it is the
        chair's alone, checked when it is saved."""
        case = await self.services.cases.get_case(p.case)
        record = await self.services.meeting_store.get(case.id) if case is not None else None
        if case is None or record is None or record.status != "booked":
            return Reply(text="This case has no meeting whose outcome can be recorded.")
        return Reply(card=meeting_cards.outcome_card(case.summary))

    async def inquorate(self, p: Pressed) -> Reply:
        """From the outcome card (no answers): the inquorate card. From the inquorate card (who was
        present): recorded as inquorate and re-convened."""
        if not any(key in p.press.inputs for key in meeting_cards.QUORUM_INPUTS):
            case = await self.services.cases.get_case(p.case)
            if case is None:
                return Reply(text="That case could not be found.")
            return Reply(card=meeting_cards.inquorate_card(case.summary))
        case, missing = await meeting.record_inquorate(self.services, p.actor, p.case, p.press.inputs)
        return Reply(card=text_card("Meeting recorded as inquorate", f"{case.reference}: not present: "
                                    f"{', '.join(missing)}. The meeting is being booked again: you will get the new "
                                    "meeting card, or be asked to choose a time. Record the outcome after the "
                                    "re-convened meeting."))

    async def show_inquorate_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        case = await self.services.cases.get_case(p.case)
        if case is None or not any(key in p.press.inputs for key in meeting_cards.QUORUM_INPUTS):
            return None
        return Reply(card=meeting_cards.inquorate_card(case.summary, typed=p.press.inputs, error=str(refused)))

    async def show_outcome_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A refused outcome: the form again, with what was typed and the error."""
        case = await self.services.cases.get_case(p.case)
        if case is None:
            return None
        return Reply(card=meeting_cards.outcome_card(case.summary, error=str(refused), field=refused.field,
                                                     typed=p.press.inputs))

    async def _booked(self, reference: str, record: MeetingRecord) -> Reply:
        if record.start_at is None or record.end_at is None:
            return Reply(text="Booking…")
        case = await self.services.cases.get_case(reference)
        warning = await meeting.outside_window(self.services, case, record.start_at) if case is not None else None
        return Reply(card=text_card("Meeting booked", f"{reference}: "
                                    f"{meeting_cards.when(record.start_at, record.end_at, self.services.tz)}. The "
                                    "deadlines that count from the meeting have moved with it."
                                    + (f"\n\n**Outside the meeting window.** {warning}" if warning else ""),
                                    style="warning" if warning else None))
