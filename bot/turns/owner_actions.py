"""`replace owner <old name> with <new name>`, a partnership manager's command in personal
chat (bot/services/owners.py): a leaver's open actions, hand-overs and family contacts move to
the new owner, and so do their reminders."""

from __future__ import annotations

import re

from bot.domain.case import Actor
from bot.services import owners
from bot.services.context import ServiceContext
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.replies import Reply

COMMAND = "replace owner"
USAGE = ("Say who has left and who takes over, by their names on the roster, for example: **replace owner Dan "
         "Police with Dee Deputy**.")
_PARTS = re.compile(r"^\s*replace owner\s+(.+?)\s+with\s+(.+?)\s*$", re.IGNORECASE)


class OwnerActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def command(self, actor: Actor, text: str, typed: str) -> Reply | None:
        if not text.startswith(COMMAND):
            return None
        try:
            match = _PARTS.match(typed)
            if match is None:
                await owners.require_manager(self.services, actor)
                return Reply(text=USAGE)
            done = await owners.replace_owner(self.services, actor, match.group(1), match.group(2))
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))
        if not done.owned.count:
            return Reply(text=f"{done.old_name} owns nothing open. Nothing was changed.")
        return Reply(text=f"{done.new_name} now has {done.old_name}'s {done.owned.describe()} "
                          f"({', '.join(done.cases)}); their reminders go to {done.new_name} from now on.")
