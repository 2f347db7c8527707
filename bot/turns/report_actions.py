"""The rapid review report in Teams: start it, comment, edit, send the final draft, sign off,
record it sent, the National Panel's response and how the rapid review ends. Authority from
the activity and the roster only (bot/services/report.py decides).

The report card holds texts about the child's case, so it is shown only in personal chat: a
press in the channel sends it there. Each press handler is one row of bot/turns/routes.py;
refusals are answered there (`show_refusal` puts one next to its input on the card again).
"""

from __future__ import annotations

from bot.domain.case import Actor
from bot.domain.report import Stage
from bot.services import report
from bot.services.context import ServiceContext
from bot.services.ports import DeliveryError
from bot.services.refusals import Refused
from bot.services.report import ReportView
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import report_cards


class ReportActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def _card(self, actor: Actor, shown: ReportView, *, error: str | None = None, field: str | None = None,
                    typed: dict[str, str] | None = None, message: str | None = None) -> dict[str, object]:
        roles = await self.services.roster.roles_of(actor.aad_object_id)
        return report_cards.report_card(
            shown, self.services.tz, manages=roles.chair or roles.manager,
            comments=bool(roles.panel_partners) or roles.chair, marking=self.services.partnership.protective_marking,
            error=error, field=field, typed=typed, message=message)

    async def _reply(self, p: Pressed, shown: ReportView, message: str | None = None, *,
                     error: str | None = None) -> Reply:
        """The report card: the answer itself in personal chat; from a channel, sent to the
        person's personal chat (a channel's reply would be read by everyone in it)."""
        built = await self._card(p.actor, shown, message=message, error=error)
        conversation_type = getattr(p.turn_context.activity.conversation, "conversation_type", None) or "personal"
        if conversation_type == "personal":
            return Reply(card=built)
        try:
            delivered = await self.services.notifier.send_to_person(p.actor.aad_object_id, built)
        except DeliveryError:
            delivered = False
        if delivered:
            return Reply(text=f"The report for {p.case} is in your personal chat with the bot.")
        return Reply(text="I could not reach your personal chat with the bot. Open the Rapid Review bot in Teams (say "
                          f"hello to it), then type **timeline {p.case}** there.")

    # ---- card presses (bot/turns/routes.py) ------------------------------------------------------

    async def open(self, p: Pressed) -> Reply:
        return await self._reply(p, await report.open_report(self.services, p.actor, p.case))

    async def start(self, p: Pressed) -> Reply:
        shown = await report.start(self.services, p.actor, p.case)
        return await self._reply(p, shown, "Report started: the panel members and the chair are asked for comments.")

    async def comment(self, p: Pressed) -> Reply:
        try:
            shown = await report.comment(self.services, p.actor, p.case, p.press.inputs.get("comment"))
        except report.CommentsClosed as closed:  # an old request card: said, with the report as it is now
            return await self._reply(p, await report.open_report(self.services, p.actor, p.case), error=str(closed))
        return await self._reply(p, shown, "Thank you: your comment is recorded.")

    async def edit(self, p: Pressed) -> Reply:
        shown = await report.open_for_editing(self.services, p.actor, p.case)
        return Reply(card=report_cards.edit_card(shown))

    async def save(self, p: Pressed) -> Reply:
        shown = await report.save_items(self.services, p.actor, p.case, p.press.inputs)
        return await self._reply(p, shown, "Report saved.")

    async def final(self, p: Pressed) -> Reply:
        shown = await report.send_final(self.services, p.actor, p.case)
        return await self._reply(p, shown, "The final draft has gone to the chair and the partnership managers "
                                           "for sign-off.")

    async def sign(self, p: Pressed) -> Reply:
        shown = await report.sign_off(self.services, p.actor, p.case)
        done = shown.report is not None and shown.report.signed_off
        return await self._reply(p, shown, "Signed off." + (" Both sign-offs are in: the report can go to the "
                                                            "National Panel." if done else ""))

    async def sent(self, p: Pressed) -> Reply:
        shown = await report.record_sent(self.services, p.actor, p.case, p.press.inputs.get("sent_on"),
                                         p.press.inputs.get("late_reason"))
        return await self._reply(p, shown, "Recorded as sent to the National Panel.")

    async def response(self, p: Pressed) -> Reply:
        inputs = p.press.inputs
        shown = await report.record_response(self.services, p.actor, p.case, inputs.get("response"),
                                             inputs.get("response_on"), inputs.get("asked_for"))
        reopened = shown.report is not None and shown.report.stage is Stage.DRAFT
        return await self._reply(p, shown, "Response recorded." + (" The report is reopened for the information "
                                                                   "the National Panel asked for." if reopened else ""))

    async def close(self, p: Pressed) -> Reply:
        inputs = p.press.inputs
        shown = await report.close(self.services, p.actor, p.case, inputs.get("closure"), inputs.get("reason"),
                                   inputs.get("close_anyway"))
        closed = not shown.case.summary.status.is_open
        return await self._reply(p, shown, "The case is closed: every deadline and reminder for it has stopped."
                                 if closed else "A local child safeguarding practice review is commissioned: the "
                                                "case is now \"" + shown.case.summary.status.title.lower() + "\".")

    async def show_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A refusal about an input: the report card again, the refusal next to the input and
        what was typed kept. Other refusals are answered as a message by the router."""
        if refused.field is None:
            return None
        try:
            shown = await report.open_report(self.services, p.actor, p.case)
        except Refused:
            return None
        if p.press.verb == report_cards.SAVE:
            return Reply(card=report_cards.edit_card(shown, error=str(refused), field=refused.field,
                                                     typed=p.press.inputs))
        return Reply(card=await self._card(p.actor, shown, error=str(refused), field=refused.field,
                                           typed=p.press.inputs))
