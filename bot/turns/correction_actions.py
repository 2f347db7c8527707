"""A partnership manager's corrections after submission, typed in personal chat:

    correct RR-2026-0001 incident 2026-11-19     the incident date
    correct RR-2026-0001 aware 2026-11-20        the date the local authority became aware
    withdraw RR-2026-0001 <reason>               withdraw a referral the panel has not decided

The use cases (bot/services/corrections.py) decide who may; here commands are read and the
answer written. The reason is taken as typed (the command text is lower-cased for matching).
"""

from __future__ import annotations

import re
from datetime import date

from bot.domain.case import Actor, parse_reference
from bot.services import corrections
from bot.services.context import ServiceContext
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.replies import Reply
from cards import correction_cards as cards

CORRECT_USAGE = ("Say which case, which date and the correct date, for example: **correct RR-2026-0001 incident "
                 "2026-11-19** or **correct RR-2026-0001 aware 2026-11-20**.")
WITHDRAW_USAGE = "Say which case and why, for example: **withdraw RR-2026-0001 referred to the wrong partnership**."
_WITHDRAW = re.compile(r"^\s*withdraw\s+(\S+)\s*(.*)$", re.IGNORECASE | re.DOTALL)


def _day(word: str) -> date | None:
    try:
        return date.fromisoformat(word)
    except ValueError:
        return None


class CorrectionActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def command(self, actor: Actor, text: str, typed: str) -> Reply | None:
        """The reply to `correct …` or `withdraw …` (`text` normalised, `typed` as typed);
        None for any other text."""
        word = text.split(" ", 1)[0]
        if word not in ("correct", "withdraw"):
            return None
        try:
            if word == "correct":
                return await self._correct(actor, text.split()[1:])
            return await self._withdraw(actor, typed)
        except NotAuthorised as denied:
            return Reply(text=str(denied), status=403)
        except Refused as refused:
            return Reply(text=str(refused))

    async def _correct(self, actor: Actor, words: list[str]) -> Reply:
        reference = parse_reference(words[0]) if words else None
        day = _day(words[2]) if len(words) == 3 else None
        if reference is None or day is None:
            await corrections.require_manager(self.services, actor, "correct_referral", reference)
            return Reply(text=CORRECT_USAGE)
        done = await corrections.correct_date(self.services, actor, reference, words[1], day)
        return Reply(text=cards.corrected_text(done.case, done.field, done.changed))

    async def _withdraw(self, actor: Actor, typed: str) -> Reply:
        match = _WITHDRAW.match(typed)
        reference = parse_reference(match.group(1)) if match else None
        if match is None or reference is None:
            await corrections.require_manager(self.services, actor, "withdraw_referral", reference)
            return Reply(text=WITHDRAW_USAGE)
        case = await corrections.withdraw(self.services, actor, reference, match.group(2))
        return Reply(text=cards.withdrawn_text(case))
