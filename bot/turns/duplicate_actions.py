"""The likely-duplicate card's buttons (cards/duplicate_cards.py); the use case decides who may
(bot/services/duplicates.py: partnership managers)."""

from __future__ import annotations

from bot.services import duplicates
from bot.services.context import ServiceContext
from bot.turns.replies import Reply
from bot.turns.routes import Pressed
from cards import duplicate_cards


class DuplicateActions:
    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    async def link(self, p: Pressed) -> Reply:
        return await self._answer(p, duplicates.LINKED)

    async def dismiss(self, p: Pressed) -> Reply:
        return await self._answer(p, duplicates.DISMISSED)

    async def _answer(self, p: Pressed, status: str) -> Reply:
        flag = await duplicates.answer(self.services, p.actor, p.case, status)
        return Reply(card=duplicate_cards.answered_card(flag.case, flag.first, flag.status))
