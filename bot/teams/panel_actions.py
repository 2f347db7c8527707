"""The virtual panel in Teams: card presses on the voting card, the referrer's answers,
"View referral", and membership commands in the panel channel.

Authority always comes from the activity's Entra object id checked against the roster
in the database (bot/services/panel.py); the card only says what was pressed.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo

from bot.domain.case import Actor
from bot.domain.events import Event, EventKind
from bot.domain.partnership import Partner, Role
from bot.services import panel
from bot.services.context import ServiceContext
from bot.services.ports import MemberRecord
from bot.services.refusals import NotAuthorised, PanelRefused
from bot.teams.notifier import TeamsNotifier
from bot.teams.replies import Reply
from cards import vote_card
from cards.actions import CardPress
from cards.referral_record import referral_record_card
from cards.roster import members_card

log = logging.getLogger(__name__)

PANEL_VERBS = frozenset({vote_card.OPEN, vote_card.REFRESH, vote_card.VOTE, vote_card.VIEW, vote_card.ANSWER})
ROLE_WORDS = {
    "local authority": (Role.PANEL, Partner.LOCAL_AUTHORITY), "la": (Role.PANEL, Partner.LOCAL_AUTHORITY),
    "police": (Role.PANEL, Partner.POLICE),
    "health": (Role.PANEL, Partner.HEALTH), "icb": (Role.PANEL, Partner.HEALTH),
    "chair": (Role.CHAIR, None), "partnership manager": (Role.MANAGER, None), "manager": (Role.MANAGER, None),
}


class PanelActions:
    def __init__(self, services: ServiceContext, notifier: TeamsNotifier) -> None:
        self.services = services
        self.notifier = notifier
        # (aad object id, Teams user id) pairs this process has already stored: a person's
        # Teams id does not change, so only their first press costs a database write.
        self._known_mris: set[tuple[str, str]] = set()

    # ---- card presses ---------------------------------------------------------------------------

    async def press(self, turn_context: TurnContext, actor: Actor, press: CardPress, reference: str) -> Reply:

        await self._learn_mri(turn_context, actor)
        try:
            if press.verb == vote_card.VIEW:
                return await self._view(turn_context, actor, reference)
            if press.verb == vote_card.ANSWER:
                case = await panel.answer_query(self.services, actor, reference, press.query,
                                                press.inputs.get("answer"))
                return Reply(card=vote_card.answered_card(case.reference))
            if press.verb == vote_card.VOTE:
                return await self._vote(actor, reference, press)
            return await self._open(actor, reference)
        except PanelRefused as refused:
            await panel.audit_refusal(self.services, actor, refused, reference)
            return await self._refused(actor, reference, press, refused)

    async def _open(self, actor: Actor, reference: str) -> Reply:
        """The card a person should see: the member's voting view, or the base card."""

        case = await panel.load_case(self.services, reference)
        view = await panel.panel_view(self.services, case)
        roles = await self.services.roster.roles_of(actor.aad_object_id)
        if len(roles.panel_partners) == 1:
            return Reply(card=vote_card.member_card(view, self.services.tz, next(iter(roles.panel_partners))))
        return Reply(card=vote_card.panel_card(view, self.services.tz))

    async def _vote(self, actor: Actor, reference: str, press: CardPress) -> Reply:
        # One roles lookup for the whole turn: the vote's authority check and the member card.
        roles = await self.services.roster.roles_of(actor.aad_object_id)
        _case, message, view = await panel.cast_vote(
            self.services, actor, reference, choice=press.inputs.get("choice"),
            rationale=press.inputs.get("rationale"), serious_harm_basis=press.inputs.get("serious_harm_basis"),
            question=press.inputs.get("question"), card_round=press.version, roles=roles,
        )
        partner = next(iter(roles.panel_partners))
        return Reply(card=vote_card.member_card(view, self.services.tz, partner, message=message))

    async def _refused(self, actor: Actor, reference: str, press: CardPress, refused: PanelRefused) -> Reply:
        """Show why, on the card when there is one to show; otherwise as an error."""

        case = await self.services.cases.get_case(reference)
        if case is None:
            return Reply(text=str(refused), status=404)
        view = await panel.panel_view(self.services, case)
        if press.verb == vote_card.ANSWER:
            query = next((q for q in view.open_queries if q.id == press.query), None)
            if query is not None and refused.field == "answer":
                return Reply(card=vote_card.query_card(view, query.question, query.partner.title, query.id,
                                                       error=str(refused), typed=press.inputs.get("answer")))
            return Reply(text=str(refused), status=403 if refused.audit else 200)
        roles = await self.services.roster.roles_of(actor.aad_object_id)
        if len(roles.panel_partners) != 1:
            return Reply(text=str(refused), status=403)
        partner = next(iter(roles.panel_partners))
        return Reply(card=vote_card.member_card(view, self.services.tz, partner, error=str(refused),
                                                error_field=refused.field, typed=press.inputs))

    async def _view(self, turn_context: TurnContext, actor: Actor, reference: str) -> Reply:

        try:
            case = await panel.view_referral(self.services, actor, reference)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        record = referral_record_card(case, self.services.tz)
        conversation_type = getattr(turn_context.activity.conversation, "conversation_type", None) or "personal"
        if conversation_type == "personal":
            return Reply(card=record)
        if await self.notifier.send_to_person(actor.aad_object_id, record):
            return Reply(text=f"The referral {case.reference} is in your personal chat with the bot.")
        return Reply(text="Open a personal chat with the bot first (say hello to it), then press View referral "
                          "again.")

    async def _learn_mri(self, turn_context: TurnContext, actor: Actor) -> None:
        sender = turn_context.activity.from_property
        if sender is not None and sender.id and self.services.panel is not None:
            key = (actor.aad_object_id, sender.id)
            if key in self._known_mris:
                return
            await self.services.roster.remember_mri(actor.aad_object_id, sender.id, self.services.clock.now())
            if len(self._known_mris) > 10_000:
                self._known_mris.clear()
            self._known_mris.add(key)

    # ---- membership, in the panel channel ------------------------------------------------------------

    async def membership_command(self, turn_context: TurnContext, actor: Actor, text: str) -> Reply:
        """`add @Name as police`, `remove @Name`, `members`. Partnership managers only."""

        if text in ("members", "list members", "panel members"):
            return Reply(card=members_card(await self.services.roster.members()))
        roles = await self.services.roster.roles_of(actor.aad_object_id)
        if not roles.manager:
            await self._audit(actor, EventKind.ACCESS_DENIED, {"action": "membership"})
            return Reply(text="Only a partnership manager can change the panel's membership.", status=403)
        mentioned = [e for e in (turn_context.activity.entities or [])
                     if getattr(e, "type", None) == "mention"
                     and (getattr(e, "additional_properties", {}) or {}).get("mentioned", {}).get("id")
                     != (turn_context.activity.recipient.id if turn_context.activity.recipient else None)]
        if not mentioned:
            return Reply(text="Mention the person, for example: **@Rapid Review add @Dan Police as police**.")
        person_id = (mentioned[0].additional_properties or {}).get("mentioned", {}).get("id")
        try:
            member = await TeamsInfo.get_member(turn_context, person_id)
        except Exception:  # noqa: BLE001 - the roster lookup failed; say so rather than guess
            return Reply(text="I could not look that person up in this team.")
        if not member.aad_object_id:
            return Reply(text="Teams did not give me that person's Entra id, so I cannot add them.")
        if text.startswith("remove"):
            removed = await self.services.roster.remove_member(member.aad_object_id, self.services.clock.now())
            await self._audit(actor, EventKind.MEMBER_REMOVED, {"member": member.aad_object_id, "rows": removed})
            return Reply(text=f"Removed {member.name} from the panel roster." if removed else
                         f"{member.name} was not on the roster.")
        match = re.search(r"\bas\s+(.+)$", text)
        role_word = match.group(1).strip() if match else ""
        if role_word not in ROLE_WORDS:
            return Reply(text="Say which role: **as local authority**, **as police**, **as health**, **as chair** "
                              "or **as partnership manager**.")
        role, partner = ROLE_WORDS[role_word]
        record = MemberRecord(role=role, partner=partner, name=(member.name or "Unknown")[:100],
                              aad_object_id=member.aad_object_id.lower(),
                              upn=(member.user_principal_name or member.email or None), source="teams")
        await self.services.roster.add_member(record, member.id, self.services.clock.now())
        await self._audit(actor, EventKind.MEMBER_ADDED, {"member": record.aad_object_id, "role": role.value,
                                                  "partner": partner.value if partner else None,
                                                  "guest": bool(getattr(member, "tenant_id", None)
                                                                and member.tenant_id != actor.tenant_id)})
        what = partner.title if partner else role.value.replace("_", " ")
        return Reply(text=f"Added {member.name} as {what}.")

    async def _audit(self, actor: Actor, kind: str, detail: dict[str, Any]) -> None:
        await self.services.cases.add_event(Event(kind=kind, at=self.services.clock.now(),
                                                 actor_aad_id=actor.aad_object_id, actor_name=actor.name,
                                                 detail=detail))
