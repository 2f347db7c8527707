"""Text written to be shared is refused while it carries an identifier.

A vote's rationale, a query to the referrer, the referrer's answer and the meeting's
outcome are read in the panel channel or by the referrer. Replacing a phone number with
"[phone number]" after the fact could change what the writer meant, so these are checked
when they are submitted: the card shows the refusal next to the input, with what was
typed kept, and asks the writer to remove the identifier. (The redaction step of
bot/domain/redaction.py still runs where the text is shown, for anything stored before.)

One check, separate from any other rule about the same fields (length, required), so the
use cases can compose them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.domain.identifiers import Found, IdentifierKind, first_identifier
from bot.services.refusals import Refused

CHANNEL_REASON = "the channel must not hold identifiers"
OUTCOME_REASON = "the outcome is shared with the referrer and must not hold identifiers"

_ARTICLE = {IdentifierKind.EMAIL: "an", IdentifierKind.ADDRESS: "an", IdentifierKind.NHS_NUMBER: "an"}
QUOTE_AT_MOST = 8


def quoted(text: str) -> str:
    """The start of the identifier, enough for the writer to find it, never all of it."""
    shown = text[: min(QUOTE_AT_MOST, len(text) // 2 + 1)].rstrip()
    return f"{shown}…"


def identifier_message(text: str, found: Found, *, reason: str = CHANNEL_REASON, verb: str = "sending") -> str:
    """'This looks like a phone number ("07700 9…"): remove it before sending — the channel
    must not hold identifiers.'"""
    article = _ARTICLE.get(found.kind, "a")
    return (f'This looks like {article} {found.kind.value} ("{quoted(text[found.start:found.end])}"): '
            f"remove it before {verb} — {reason}.")


def refuse_identifiers(fields: Mapping[str, str | None], refusal: Callable[[str, str], Refused], *,
                       reason: str = CHANNEL_REASON, verb: str = "sending") -> None:
    """Raise `refusal(message, field)` for the first field (in the order given) that holds
    an identifier; nothing when none does."""
    for field, text in fields.items():
        if not text:
            continue
        found = first_identifier(text)
        if found is not None:
            raise refusal(identifier_message(text, found, reason=reason, verb=verb), field)
