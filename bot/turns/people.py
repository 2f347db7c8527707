"""Every Teams id of a person, learnt in one place as they talk to the bot.

A person is known to the roster by their Entra object id. To reach them the bot also needs
their Teams user id (what a card's `refresh` lists), their personal chat (where the bot
sends them cards) and, for members the partnership file names by UPN alone, their object id
bound to that UPN. All of it is learnt from the activities they send, stored through the
roster (bot/services/channels.py), and written once per process per person: the ids of a
person do not change, so later turns cost no database write.
"""

from __future__ import annotations

import asyncio
import logging

from bot.domain.case import Actor
from bot.services import channels, recipients
from bot.services.context import ServiceContext
from bot.services.ports import Address
from bot.turns.ports import Members, TurnContext

log = logging.getLogger(__name__)
KEPT = 10_000


class PeopleMemory:
    def __init__(self, services: ServiceContext, members: Members) -> None:
        self.services = services
        self.members = members  # the edge's reads of Teams' members (bot/turns/ports.py)
        self._seen: set[tuple[str, str | None, str | None, str | None]] = set()

    async def seen(self, turn_context: TurnContext, actor: Actor) -> None:
        """Remember what this activity says about its sender (in any conversation)."""
        activity = turn_context.activity
        conversation_type = getattr(activity.conversation, "conversation_type", None) or "personal"
        personal = conversation_type == "personal"
        teams_id = activity.from_property.id if activity.from_property else None
        key = (actor.aad_object_id, teams_id, activity.conversation.id if personal else None,
               activity.service_url if personal else None)
        if key not in self._seen:
            address = Address(activity.conversation.id, activity.service_url, actor.tenant_id,
                              activity.recipient.id if activity.recipient else None) if personal else None
            await channels.remember_person(self.services, actor.aad_object_id, teams_id, address,
                                           upn=await self._upn_if_needed(turn_context, teams_id))
            if len(self._seen) > KEPT:
                self._seen.clear()
            self._seen.add(key)
        if personal:
            # Talking to the bot in personal chat proves the app is installed for them: anything
            # that waited because Teams could not reach them goes now (bot/services/recipients.py).
            await recipients.person_is_back(self.services, actor.aad_object_id)

    async def _upn_if_needed(self, turn_context: TurnContext, teams_id: str | None) -> str | None:
        """The sender's UPN, asked of Teams only while the roster has members known by UPN alone."""
        if not teams_id or not await self.services.roster.has_unresolved_upns():
            return None
        try:
            member = await asyncio.wait_for(self.members.member(turn_context, teams_id), timeout=3)
        except Exception:  # noqa: BLE001 - binding a UPN is retried on the person's next turn
            log.info("could not read the sender's UPN from Teams")
            return None
        return member.user_principal_name or member.email or None
