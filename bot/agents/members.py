"""Teams' answers about people, on the Microsoft 365 Agents SDK: the port of bot/turns/ports.py
(`Members`), as botbuilder's `TeamsInfo.get_member` reads them — the team's member when the
activity comes from a team, else the conversation's — through the turn's connector client
(bot/agents/connector.py, a `TeamsConnectorClient`)."""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity.teams import TeamsChannelAccount
from microsoft_agents.hosting.core import TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient


class AgentsMembers:
    async def member(self, turn_context: TurnContext, member_id: str) -> TeamsChannelAccount:
        client = turn_context.services.get(ConnectorClientBase)  # type: ignore[type-abstract] # the SDK's own key
        if not isinstance(client, TeamsConnectorClient):
            raise LookupError("no Teams connector client on this turn")
        activity = turn_context.activity
        data: dict[str, Any] = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        team = data.get("team") if isinstance(data.get("team"), dict) else None
        where = (team or {}).get("id") or (activity.conversation.id if activity.conversation else "")
        return await client.get_conversation_member(where, member_id)

    def mentioned(self, turn_context: TurnContext) -> list[str]:
        """The Agents SDK parses a mention entity into a `Mention` with its `mentioned` account."""
        found: list[str] = []
        for entity in turn_context.activity.entities or []:
            if getattr(entity, "type", None) != "mention":
                continue
            mentioned = getattr(entity, "mentioned", None)
            found.append(str(getattr(mentioned, "id", None) or ""))
        return found
