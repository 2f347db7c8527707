"""How large a message to Teams may be, measured as Teams measures it, and the short notice
sent in place of a card that would not fit.

Teams refuses a bot's message over about 100 KB and Microsoft recommends staying within 80 KB
("Format your bot messages", Microsoft Learn; older pages of the same documentation said
40 KB). Teams counts the whole message — the activity's JSON with its cards, not the card
alone — in UTF-16, two bytes for most characters and four for an emoji. `payload_size`
counts the same way.

The bot's own budget, `BOT_BUDGET`, is 60 KB: 20 KB under the recommended size, room for
what Teams adds to a message on the way (the sender's and the conversation's details) and
for training mode's banner. Caps on every typed field (bot/domain/limits.py) and display
shortening in the cards that show several long answers keep every card inside it by
construction — tests/unit/test_card_budget.py builds every card with every field at its cap
and checks. Should one still not fit, the bot never sends it: `fit_activity` (proactive
messages, bot/turns/notifier.py), `fit_invoke_body` (the answer to a button) and the reply
guard in bot/teams/message_size.py send `oversize_card` instead, and the edge logs it.
"""

from __future__ import annotations

import re
from typing import Any

from bot.domain.case import parse_reference
from bot.domain.json_text import MeasuredJson, json_text, measured, utf16_size
from cards.common import CONTENT_TYPE, Element, card, first_heading, heading, para, plain_text, shorten_to_fit

TEAMS_LIMIT = 100 * 1024  # what Teams accepts today
TEAMS_RECOMMENDED = 80 * 1024  # what Microsoft recommends staying within
BOT_BUDGET = 60 * 1024  # what this bot sends at most (see the module docstring)
# What a card may weigh so that the message carrying it stays within BOT_BUDGET: the activity
# around a card (addresses, ids, the attachment's wrapper) is well under 4 KB.
CARD_BUDGET = BOT_BUDGET - 4 * 1024

OVERSIZE_TITLE = "This card is too large to show in Teams"
_REFERENCE = re.compile(r"RR-\d{4}-\d{4,}")


def fit(built: Element) -> Element:
    """A card that shows several texts people typed, shortened for display (never in storage) as
    far as needed to stay within CARD_BUDGET: a rationale with the case's identifiers removed
    can be longer than the rationale typed (bot/domain/redaction.py), so the caps alone do not
    bound it."""
    shorten_to_fit(built, CARD_BUDGET)
    return built


def fit_measured(built: Element, limit: int = CARD_BUDGET) -> MeasuredJson:
    """`fit` (to `limit` bytes), keeping the JSON text written to measure the card
    (bot/domain/json_text.py): the message or invoke answer carrying it reuses that text instead
    of writing the card again. For cards nobody changes in place after they are built (a copy is
    changed instead)."""
    text = json_text(built)
    if utf16_size(text) <= limit:
        return MeasuredJson(built, text)
    shorten_to_fit(built, limit)
    return MeasuredJson(built, json_text(built))


def payload_size(payload: Any) -> int:
    """Bytes as Teams counts them: the JSON text, encoded as UTF-16."""
    return utf16_size(payload.text if isinstance(payload, MeasuredJson) else json_text(payload))


def within_budget(payload: Any, budget: int = BOT_BUDGET) -> bool:
    return payload_size(payload) <= budget


def case_reference_of(value: Any) -> str | None:
    """The case a card (or a message carrying cards) is about: the reference its buttons carry,
    else one in a card's heading."""
    stack, in_heading = [value], None
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("ref")
            if isinstance(ref, str) and parse_reference(ref):
                return parse_reference(ref)
            if item.get("type") == "AdaptiveCard" and in_heading is None:
                found = _REFERENCE.search(first_heading(item.get("body") or []) or "")
                in_heading = found.group(0) if found else None
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return in_heading


def oversize_card(original: Element, correlation: str | None = None) -> Element:
    """The short card sent instead of one over the budget: what it was about (its heading,
    which names a case only by reference and pseudonym), that nothing is lost, and where to
    look instead. Always a few hundred bytes."""
    about = plain_text(first_heading(original.get("body") or []) or "")[:120]
    reference = case_reference_of(original)
    body: list[Element] = [heading(OVERSIZE_TITLE, size="Medium")]
    if about:
        body.append(para(f"It was: {about}", subtle=True))
    where = (f"Type **timeline {reference}** in your personal chat with the bot to open the case, or ask the "
             "partnership's business unit." if reference else "Ask the partnership's business unit.")
    body.append(para("It held more text than one Teams message can carry, so this short notice was sent in its "
                     f"place. Nothing is lost: everything is stored in the bot. {where}"))
    if correlation:
        body.append(para(f"Reference {correlation}.", subtle=True, size="Small"))
    return card(body)


def fit_activity(activity: dict[str, Any], correlation: str | None = None,
                 budget: int = BOT_BUDGET) -> tuple[dict[str, Any], int | None]:
    """A message (its wire JSON) as it may go to Teams: itself when it fits the budget;
    otherwise a copy whose cards are replaced by `oversize_card`. The second value is the
    size of the message that did not fit (None when it fitted), for the log."""
    if activity.get("attachments"):  # written once: the text measured is the text sent
        activity = measured(activity)
    size = payload_size(activity)
    if size <= budget:
        return activity, None
    fitted = dict(activity)
    fitted["attachments"] = [
        {**attachment, "content": oversize_card(attachment.get("content") or {}, correlation)}
        if attachment.get("contentType") == CONTENT_TYPE else attachment
        for attachment in activity.get("attachments") or []
    ]
    if not within_budget(fitted, budget):  # not the cards: our own text, or something else we never send
        fitted = {k: v for k, v in fitted.items() if k not in ("text", "attachments", "summary", "speak")}
        fitted["attachments"] = [{"contentType": CONTENT_TYPE, "content": oversize_card({}, correlation)}]
    return fitted, size


def fit_invoke_body(body: dict[str, Any], correlation: str | None = None,
                    budget: int = BOT_BUDGET) -> tuple[dict[str, Any], int | None]:
    """The answer to a button press (a Universal Actions invoke response) as it may go back:
    a card over the budget becomes `oversize_card`, as in `fit_activity`."""
    if "value" in body:  # written once: the text measured is the text sent
        body = measured(body)
    size = payload_size(body)
    if size <= budget:
        return body, None
    value = body.get("value")
    if body.get("type") == CONTENT_TYPE:
        return {**body, "value": oversize_card(value if isinstance(value, dict) else {}, correlation)}, size
    short = f"{OVERSIZE_TITLE}. Nothing is lost: everything is stored in the bot."
    if isinstance(value, dict):  # an error answer: its message was too long
        return {**body, "value": {**value, "message": short}}, size
    return {**body, "value": short}, size
