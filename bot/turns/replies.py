"""What a turn answers, and how an answer becomes a Universal Actions invoke response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.turns.oversize import fitted_invoke_body
from cards.common import CONTENT_TYPE

# What a failed turn answers; the turn's reference is appended (bot/domain/trace.py).
FAILED = "Sorry, something went wrong. Nothing was changed; please try again."


@dataclass
class Reply:
    """A card, or a short message (an error when status >= 400)."""

    card: dict[str, Any] | None = None
    text: str | None = None
    status: int = 200


def invoke_body(reply: Reply) -> dict[str, Any]:
    """The Universal Actions response body, as a plain dict (docs/architecture.md, Verb table): HTTP 200
    always, the real outcome in statusCode; never over the size budget (bot/turns/oversize.py)."""
    if reply.card is not None and reply.status < 400:
        return fitted_invoke_body({"statusCode": 200, "type": CONTENT_TYPE, "value": reply.card})
    if reply.status >= 400:
        return fitted_invoke_body({
            "statusCode": reply.status,
            "type": "application/vnd.microsoft.error",
            "value": {"code": "BadRequest" if reply.status == 400 else "Forbidden", "message": reply.text or ""},
        })
    return fitted_invoke_body({"statusCode": 200, "type": "application/vnd.microsoft.activity.message",
                               "value": reply.text or "Done."})
