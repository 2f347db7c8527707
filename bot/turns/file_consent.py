"""Teams' answer to a file consent card (`fileConsent/invoke`: Allow or Decline), for either edge.

What is done with the answer — the upload to the person's OneDrive through the upload-host
check, the audit, the link offered instead — is the same on both edges (bot/teams/exports.py,
`CaseExports.file_consent`, which needs no SDK). It ends in one message to the person: a short
text, a card, or the saved file's card. Each edge sends that message as its SDK's activity
(`consent_message` is its wire JSON) and answers the invoke itself, HTTP 200 with an empty body:
Teams reads nothing from it, and what went wrong is said in the chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.case import Actor
from cards.common import CONTENT_TYPE

FILE_CONSENT_INVOKE = "fileConsent/invoke"


@dataclass(frozen=True)
class ConsentAnswer:
    """The message that answers Allow or Decline: a text, a card, or the saved file's card with a note."""

    text: str | None = None
    card: dict[str, Any] | None = None
    file: dict[str, Any] | None = None  # Teams' file info attachment (cards/file_cards.py)


class FileConsent(Protocol):
    """What the edge calls with the invoke's value and the person the activity says pressed."""

    async def file_consent(self, value: Any, actor: Actor | None) -> ConsentAnswer: ...


def consent_message(answer: ConsentAnswer) -> dict[str, Any]:
    """The answer as a message's wire JSON, which either SDK's activity model reads."""
    attachments: list[dict[str, Any]] = []
    if answer.card is not None:
        attachments.append({"contentType": CONTENT_TYPE, "content": answer.card})
    if answer.file is not None:
        attachments.append(answer.file)
    return {"type": "message", **({"text": answer.text} if answer.text else {}),
            **({"attachments": attachments} if attachments else {})}
