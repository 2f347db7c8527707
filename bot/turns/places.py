"""Where an activity came from, read from what Teams sent: the conversation's kind and id,
the team and channel in channelData, and the tenant — the same fields in either SDK's
activity model. The gate that decides what may be
served there is bot/services/access.py."""

from __future__ import annotations

from typing import Any

from bot.services.access import Where
from bot.services.ports import THREAD_MARK


def tenant_of(activity: Any) -> str | None:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (data.get("tenant") or {}).get("id") if isinstance(data.get("tenant"), dict) else None
    if tenant:
        return str(tenant).lower()
    extra = getattr(activity.conversation, "additional_properties", None) or {}
    value = extra.get("tenantId") or getattr(activity.conversation, "tenant_id", None)
    return str(value).lower() if value else None


def _id_in(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    found = value.get("id") if isinstance(value, dict) else None
    return str(found) if found else None


def where_of(activity: Any) -> Where:
    conversation = activity.conversation
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    return Where(
        conversation_type=(getattr(conversation, "conversation_type", None) or "personal") if conversation else "",
        conversation_id=((conversation.id if conversation else None) or "").split(THREAD_MARK)[0],
        channel_id=_id_in(data, "channel"),
        team_id=_id_in(data, "team"),
        tenant_id=tenant_of(activity),
    )
