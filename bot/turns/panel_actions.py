"""The virtual panel in Teams: card presses on the voting card, the referrer's answers,
"View referral", and the Teams side of membership commands in the panel channel.

Authority always comes from the activity's Entra object id checked against the roster
in the database (bot/services/panel.py, bot/services/membership.py); the card only says
what was pressed. Each press handler is one row of bot/turns/routes.py.
"""

from __future__ import annotations

import logging

from bot.domain.case import Actor, parse_reference
from bot.services import membership, owners, panel
from bot.services.context import ServiceContext
from bot.services.membership import TeamsPerson
from bot.services.ports import DeliveryError, Notifier
from bot.services.referrals import PANEL_CHANNEL
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.ports import Members, TurnContext
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import vote_card
from cards.referral_record import referral_record_card
from cards.roster import members_card

log = logging.getLogger(__name__)

MEMBER_LISTING = ("members", "list members", "panel members")
SHOW = "show"


class PanelActions:
    def __init__(self, services: ServiceContext, notifier: Notifier, members: Members) -> None:
        self.services = services
        self.notifier = notifier
        self.members = members  # the edge's reads of Teams' members (bot/turns/ports.py)

    # ---- card presses (bot/turns/routes.py) ------------------------------------------------------

    async def open(self, p: Pressed) -> Reply:
        """Vote, and the card's refresh: the card this person should see — the member's
        voting view, or the base card."""
        case = await panel.load_case(self.services, p.case)
        view = await panel.panel_view(self.services, case)
        roles = p.roles or await self.services.roster.roles_of(p.actor.aad_object_id)
        if len(roles.panel_partners) == 1:
            return Reply(card=vote_card.member_card(view, self.services.tz, next(iter(roles.panel_partners))))
        if p.press.verb == vote_card.OPEN and not view.decided:  # pressed Vote: say why there is nothing to fill in
            await panel.vote_refused(self.services, p.actor, case.id, partners=len(roles.panel_partners))
            reason = vote_card.SEVERAL_PARTNERS if roles.panel_partners else vote_card.NOT_A_VOTER
            return Reply(card=vote_card.not_a_voter_card(view, self.services.tz, reason))
        return Reply(card=vote_card.panel_card(view, self.services.tz))

    async def vote(self, p: Pressed) -> Reply:
        # One roles lookup for the whole turn (the access gate's): the vote's authority check and the member card.
        roles = p.roles or await self.services.roster.roles_of(p.actor.aad_object_id)
        inputs = p.press.inputs
        _case, message, view = await panel.cast_vote(
            self.services, p.actor, p.case, choice=inputs.get("choice"), rationale=inputs.get("rationale"),
            serious_harm_basis=inputs.get("serious_harm_basis"), question=inputs.get("question"),
            card_round=p.press.version, roles=roles,
        )
        partner = next(iter(roles.panel_partners))
        return Reply(card=vote_card.member_card(view, self.services.tz, partner, message=message))

    async def view(self, p: Pressed) -> Reply:
        """View referral: the full record, in personal chat only."""
        conversation_type = getattr(p.turn_context.activity.conversation, "conversation_type", None) or "personal"
        personal = conversation_type == "personal"
        case = await panel.view_referral(self.services, p.actor, p.case, record_view=personal)
        record = referral_record_card(case, self.services.tz, self.services.partnership.protective_marking)
        if personal:  # the answer to this press is the record itself
            return Reply(card=record)
        try:
            delivered = await self.notifier.send_to_person(p.actor.aad_object_id, record)
        except DeliveryError:
            delivered = False
        if delivered:  # audited as viewed only once it has reached them
            await panel.referral_viewed(self.services, p.actor, case)
            return Reply(text=f"The referral {case.reference} is in your personal chat with the bot.")
        return Reply(text="I could not reach your personal chat with the bot, so the referral was not sent. Open "
                          "the Rapid Review bot in Teams (say hello to it), then press View referral again.")

    async def answer(self, p: Pressed) -> Reply:
        case = await panel.answer_query(self.services, p.actor, p.case, p.press.query_id,
                                        p.press.inputs.get("answer"))
        return Reply(card=vote_card.answered_card(case.reference))

    async def show_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A refused vote (or open, or view): on the member's card, next to the input."""
        case = await self.services.cases.get_case(p.case)
        if case is None:  # the same status as any other refusal: no existence oracle
            return Reply(text=str(refused), status=403)
        view = await panel.panel_view(self.services, case)
        roles = p.roles or await self.services.roster.roles_of(p.actor.aad_object_id)
        if len(roles.panel_partners) != 1:
            return Reply(text=str(refused), status=403)
        partner = next(iter(roles.panel_partners))
        return Reply(card=vote_card.member_card(view, self.services.tz, partner, error=str(refused),
                                                error_field=refused.field, typed=p.press.inputs))

    async def show_answer_refusal(self, p: Pressed, refused: Refused) -> Reply | None:
        """A refused answer: on the question's card again when it is about the answer."""
        case = await self.services.cases.get_case(p.case)
        if case is None:
            return Reply(text=str(refused), status=403)
        view = await panel.panel_view(self.services, case)
        query = next((q for q in view.open_queries if q.id == p.press.query_id), None)
        if query is None or refused.field != "answer":
            return None
        return Reply(card=vote_card.query_card(view, query.question, query.partner.title, query.id,
                                               error=str(refused), typed=p.press.inputs.get("answer")))

    # ---- `show RR-…`, in the panel channel or personal chat ---------------------------------------------

    async def show_command(self, turn_context: TurnContext, actor: Actor, text: str) -> Reply:
        """Post the case's live card in the panel channel again; the new post is the one
        kept up to date (bot/services/panel.py, `repost_card`)."""
        reference = parse_reference(text.removeprefix(SHOW))
        if reference is None:
            return Reply(text="Say which case, for example: **show RR-2026-0001**.")
        if getattr(turn_context.activity.conversation, "conversation_type", None) == "channel":
            bound = await self.services.roster.channel(PANEL_CHANNEL)
            here = (turn_context.activity.conversation.id or "").split(";messageid=")[0]
            if bound is not None and bound.conversation_id != here:
                return Reply(text="Type **show RR-…** in the panel channel or in your personal chat with the bot.")
        try:
            case = await panel.repost_card(self.services, actor, reference)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))
        return Reply(text=f"The card for {case.reference} is posted again in the panel channel; the new post is "
                          "kept up to date from now on.")

    # ---- membership, in the panel channel ------------------------------------------------------------

    async def membership_command(self, turn_context: TurnContext, actor: Actor, text: str) -> Reply:
        """`add @Name as police`, `remove @Name`, `members`: the Teams lookup of the person
        mentioned; the use case (partnership managers only) is bot/services/membership.py."""

        if text in MEMBER_LISTING:
            return Reply(card=members_card(await membership.members(self.services)))
        try:
            await membership.authorise(self.services, actor)
            person = await self._mentioned_person(turn_context)
            if isinstance(person, Reply):
                return person
            if text.startswith("remove"):
                removed = await membership.remove_member(self.services, actor, person)
                left = await owners.owned_by(self.services, person.aad_object_id)
                still = (f" {person.name} still owns {left.describe()}: type **replace owner {person.name} with "
                         "<name>** in your personal chat with me to give it to someone else." if left.count else "")
                return Reply(text=(f"Removed {person.name} from the panel roster." if removed else
                                   f"{person.name} was not on the roster.") + still)
            record = await membership.add_member(self.services, actor, person, membership.role_word_of(text))
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))
        what = record.partner.title if record.partner else record.role.value.replace("_", " ")
        return Reply(text=f"Added {person.name} as {what}.")

    async def _mentioned_person(self, turn_context: TurnContext) -> TeamsPerson | Reply:
        """The first person @mentioned (not the bot), as Teams knows them; or why not."""
        bot_id = turn_context.activity.recipient.id if turn_context.activity.recipient else None
        mentioned = [person for person in self.members.mentioned(turn_context) if person != bot_id]
        if not mentioned:
            return Reply(text="Mention the person, for example: **@Rapid Review add @Dan Police as police**.")
        person_id = mentioned[0]
        try:
            member = await self.members.member(turn_context, person_id)
        except Exception:  # noqa: BLE001 - the roster lookup failed; say so rather than guess
            return Reply(text="I could not look that person up in this team.")
        if not member.aad_object_id:
            return Reply(text="Teams did not give me that person's Entra id, so I cannot add them.")
        return TeamsPerson(aad_object_id=member.aad_object_id, name=member.name, teams_id=member.id,
                           upn=member.user_principal_name or member.email or None,
                           tenant_id=getattr(member, "tenant_id", None))
