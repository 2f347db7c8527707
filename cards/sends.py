"""What a message the outbox sends carries so that it can be recognised, and re-sent, after a crash.

The send key travels in the card's top-level `metadata` (an Adaptive Card property Teams keeps
and never shows): read back from the channel through Microsoft Graph, it tells the bot that a
message it was not sure about did arrive (bot/services/sends.py). The key is a hash of the
outbox message and the conversation: it says nothing about a case or a person.
"""

from __future__ import annotations

import copy

from cards.common import Element, notice

SEND_KEY_FIELD = "sendKey"
RESENT_LINE = "Re-sent after a restart — you may see this twice."


def with_send_key(card: Element, send_key: str) -> Element:
    """A copy of the card carrying the send key."""
    keyed = copy.copy(card)
    keyed["metadata"] = {**(card.get("metadata") or {}), SEND_KEY_FIELD: send_key}
    return keyed


def send_key_of(card: object) -> str | None:
    if not isinstance(card, dict):
        return None
    metadata = card.get("metadata")
    key = metadata.get(SEND_KEY_FIELD) if isinstance(metadata, dict) else None
    return key if isinstance(key, str) else None


def with_resent_line(card: Element) -> Element:
    """A copy of the card that says, at the top, it may be the second of two."""
    marked = copy.copy(card)
    marked["body"] = [notice(RESENT_LINE, style="attention"), *(card.get("body") or [])]
    return marked
