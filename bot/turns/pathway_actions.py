"""After the decision, in Teams: the hand-over and its confirmation, a challenge to "no further
action", who tells the family, the agencies told, each agency's information return
(bot/services/pathways.py). Authority from the activity and the roster only.

Each press handler is one row of bot/turns/routes.py; refusals are answered there, and a
refusal about one input is shown on the card again next to it.
"""

from __future__ import annotations

from bot.domain.case import Actor, parse_reference
from bot.services import pathways
from bot.services.context import ServiceContext
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import pathway_cards

COMMAND = "pathway"


class PathwayActions:
    services: ServiceContext

    async def _card(self, reference: str, actor: Actor, said: str | None = None) -> Reply:
        view = await pathways.pathway(self.services, actor, reference)
        return Reply(card=pathway_cards.pathway_card(view, self.services.tz, said=said))

    async def show_pathway(self, p: Pressed) -> Reply:
        return await self._card(p.case, p.actor)

    async def handover(self, p: Pressed) -> Reply:
        chosen = [a.strip() for a in p.press.inputs.get("agencies", "").split(",") if a.strip()]
        view = await pathways.record_handover(self.services, p.actor, p.case, process=p.press.inputs.get("process"),
                                              owner=p.press.inputs.get("owner"), agencies=chosen)
        said = ("Hand-over recorded. " + ("The case is closed." if view.closed else
                f"{view.handover.owner_name if view.handover else 'The owner'} is asked to confirm it."))
        return Reply(card=pathway_cards.pathway_card(view, self.services.tz, said=said))

    async def confirm(self, p: Pressed) -> Reply:
        view = await pathways.confirm_handover(self.services, p.actor, p.case, p.press.inputs.get("confirmed_on"))
        said = "Hand-over confirmed." + (" The case is closed." if view.closed else
                                         " The case closes when the challenge period ends, unless it is challenged.")
        return Reply(card=pathway_cards.pathway_card(view, self.services.tz, said=said))

    async def challenge(self, p: Pressed) -> Reply:
        view = await pathways.record_challenge(self.services, p.actor, p.case, agency=p.press.inputs.get("agency"),
                                               reason=p.press.inputs.get("reason"))
        return Reply(card=pathway_cards.pathway_card(
            view, self.services.tz, said="Challenge recorded: the case stays open and the partnership manager is "
                                         "asked to hand it to the escalation process."))

    async def family(self, p: Pressed) -> Reply:
        view = await pathways.agree_family(self.services, p.actor, p.case, teller=p.press.inputs.get("teller"),
                                           tell_by=p.press.inputs.get("tell_by"))
        name = view.family.teller_name if view.family else "They"
        return Reply(card=pathway_cards.pathway_card(
            view, self.services.tz, said=f"Recorded. {name} gets the family letter in their chat with the bot."))

    async def agencies_told(self, p: Pressed) -> Reply:
        view = await pathways.record_agencies_told(self.services, p.actor, p.case)
        return Reply(card=pathway_cards.pathway_card(view, self.services.tz, said="Recorded: the agencies are told."))

    async def agency_returns(self, p: Pressed) -> Reply:
        case, returns = await pathways.agency_return_list(self.services, p.actor, p.case)
        return Reply(card=pathway_cards.agency_returns_card(case, returns))

    async def agency_information_form(self, p: Pressed) -> Reply:
        chosen = p.press.inputs.get("request", "")
        case, request, stored = await pathways.agency_return(self.services, p.actor, p.case,
                                                             int(chosen) if chosen.isdigit() else None)
        return Reply(card=pathway_cards.agency_return_card(case, request, stored,
                                                           recorded_by=stored.get("recorded_by")))

    async def show_return_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A refused return (an identifier, too long): the card again, as typed, the refusal by its input."""
        if refused.field is None:
            return None
        case, request, _ = await pathways.agency_return(self.services, p.actor, p.case, p.press.agency_request_id)
        return Reply(card=pathway_cards.agency_return_card(case, request, dict(p.press.inputs), error=str(refused),
                                                           field=refused.field))

    async def agency_information(self, p: Pressed) -> Reply:
        await pathways.record_agency_return(self.services, p.actor, p.case, p.press.agency_request_id,
                                            dict(p.press.inputs))
        case, returns = await pathways.agency_return_list(self.services, p.actor, p.case)
        return Reply(card=pathway_cards.agency_returns_card(case, returns))

    async def pathway_command(self, actor: Actor, text: str) -> Reply | None:
        if text.split(" ", 1)[0] != COMMAND:
            return None
        reference = parse_reference(text.removeprefix(COMMAND))
        if reference is None:
            return Reply(text="Say which case, for example: **pathway RR-2026-0001**.")
        try:
            return await self._card(reference, actor)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))
