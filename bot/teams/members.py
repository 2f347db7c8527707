"""Teams' answers about people, on botbuilder: the port of bot/turns/ports.py (`Members`)."""

from __future__ import annotations

from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema.teams import TeamsChannelAccount


class BotbuilderMembers:
    async def member(self, turn_context: TurnContext, member_id: str) -> TeamsChannelAccount:
        return await TeamsInfo.get_member(turn_context, member_id)

    def mentioned(self, turn_context: TurnContext) -> list[str]:
        """botbuilder keeps a mention's `mentioned` account among the entity's additional properties."""
        found: list[str] = []
        for entity in turn_context.activity.entities or []:
            if getattr(entity, "type", None) != "mention":
                continue
            extra: dict[str, Any] = getattr(entity, "additional_properties", {}) or {}
            mentioned: dict[str, Any] = extra.get("mentioned") or {}
            found.append(mentioned.get("id") or "")
        return found
