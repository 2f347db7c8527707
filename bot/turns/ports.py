"""What the SDK-neutral turn code needs from an edge, as protocols each edge implements.

Both SDKs' turn contexts carry the activity with the same attribute names (conversation,
channel_data, from_property, recipient, entities, service_url), so the neutral code reads the
activity directly and needs the SDK only to ask Teams about a person.
"""

from __future__ import annotations

from typing import Any, Protocol


class TurnContext(Protocol):
    """Either SDK's turn context (botbuilder's or the Agents SDK's): the activity it carries."""

    @property
    def activity(self) -> Any: ...


class Members(Protocol):
    """Teams' answers about the people of a conversation, read through the edge's SDK."""

    async def member(self, turn_context: Any, member_id: str) -> Any:
        """The member as Teams knows them (a `TeamsChannelAccount` of the edge's SDK: `id`, `name`,
        `aad_object_id`, `user_principal_name`, `email`, `tenant_id`); raises when Teams does not
        answer."""
        ...

    def mentioned(self, turn_context: Any) -> list[str]:
        """The Teams ids of the people @mentioned in the activity, in order (the bot included)."""
        ...
