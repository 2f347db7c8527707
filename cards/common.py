"""Building blocks every card uses.

Rules that hold on every card:
- Adaptive Cards 1.5, full width in Teams.
- Text a user typed is shown *literally*: it goes in a RichTextBlock's TextRun, which
  Teams does not parse as Markdown, so `**bold**`, `[a link](…)` and `<at>x</at>`
  stay as typed (and control characters were already removed by the domain).
  Only text written by us goes in TextBlock (Markdown-capable).
- Every action's data carries the verb twice (`verb` for botbuilder, `action` for the
  Teams SDK v2 router), the case or draft reference and the card version; the server
  reads everything else from the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.domain.limits import NAME
from bot.domain.text import truncate

CARD_VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams rejects bot messages over 40 KB (UTF-16). We stay under 28 KB, the older and
# stricter limit, so a card never bounces.
MAX_CARD_BYTES = 28 * 1024
# Teams' own limit, less room for the activity around the card: for cards that cannot
# be made to fit MAX_CARD_BYTES without losing what they are for.
HARD_MAX_CARD_BYTES = 38 * 1024

Element = dict[str, Any]


def card(
    body: list[Element],
    *,
    actions: list[Element] | None = None,
    refresh: Element | None = None,
    entities: list[Element] | None = None,
    speak: str | None = None,
) -> Element:
    """The card. `speak` (what a voice or screen-reader client reads for the card as a
    whole) defaults to the card's first heading (docs/accessibility.md)."""
    result: Element = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    spoken = speak if speak is not None else first_heading(body)
    if spoken:
        result["speak"] = plain_text(spoken)
    if actions:
        result["actions"] = actions
    if refresh:
        result["refresh"] = refresh
    if entities:
        result["msteams"]["entities"] = entities
    return result


def first_heading(body: list[Element]) -> str | None:
    """The text of the first TextBlock styled as a heading, in reading order."""
    for element in _elements(body):
        if element.get("type") == "TextBlock" and element.get("style") == "heading":
            text = element.get("text")
            return text if isinstance(text, str) else None
    return None


_MARKDOWN_MARKS = re.compile(r"\\(.)|[*_`]")


def plain_text(text: str) -> str:
    """Our Markdown as words, for `speak` and accessible names: emphasis marks and
    escapes removed; `<`, `>` and `&` (which SSML reads as markup) dropped or spelled out."""
    words = _MARKDOWN_MARKS.sub(lambda m: m.group(1) or "", text)
    return " ".join(words.replace("&", " and ").replace("<", "").replace(">", "").split())


def card_size(value: Element) -> int:
    """Bytes as Teams counts them (UTF-16)."""
    return len(json.dumps(value, ensure_ascii=False).encode("utf-16-le"))


def _elements(value: Any) -> Iterator[Element]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _elements(item)
    elif isinstance(value, list):
        for item in value:
            yield from _elements(item)


def shorten_to_fit(value: Element, limit: int = MAX_CARD_BYTES, *, floor: int = 40) -> bool:
    """Shorten the longest texts users typed (the TextRuns), in place, as little as
    needed for the card to fit in `limit` bytes. For display only: what is stored is
    never shortened. Returns whether the card fits; when even texts of `floor`
    characters would not fit, the card is left as it was."""
    if card_size(value) <= limit:
        return True
    runs = [e for e in _elements(value) if e.get("type") == "TextRun" and isinstance(e.get("text"), str)]
    originals = [run["text"] for run in runs]

    def cap_at(cap: int | None) -> None:
        for run, text in zip(runs, originals, strict=True):
            run["text"] = text if cap is None else truncate(text, cap)

    low, high, best = floor, max((len(t) for t in originals), default=0), None
    while low <= high:  # the longest cap that fits (the size grows with the cap)
        middle = (low + high) // 2
        cap_at(middle)
        if card_size(value) <= limit:
            best, low = middle, middle + 1
        else:
            high = middle - 1
    cap_at(best)
    return best is not None


# ---- text --------------------------------------------------------------------------------

# Characters that start emphasis, links, code, HTML-ish tags or strikethrough.
_MARKDOWN_SPECIALS = str.maketrans({c: "\\" + c for c in "\\*_`[]<>~|"})


def escape_markdown(text: str) -> str:
    """For our own strings that embed a value inside Markdown TextBlock text."""
    return text.translate(_MARKDOWN_SPECIALS)


def person(name: str | None, *, empty: str = "someone") -> str:
    """A person's name as a card shows it: names come from Teams (display names) or from a form
    and are capped where they are stored, but a card never trusts that — it shows at most
    `NAME` characters (bot/domain/limits.py) of any name, whatever is in the database."""
    return truncate(" ".join((name or "").split()), NAME) or empty


def heading(text: str, *, size: str = "Large") -> Element:
    """A heading: `style: heading` (Adaptive Cards 1.5) makes screen readers announce it as
    one and lets their users jump from heading to heading."""
    return {"type": "TextBlock", "text": text, "size": size, "weight": "Bolder", "wrap": True, "style": "heading"}


def subheading(text: str, *, size: str = "Default") -> Element:
    """The heading of a part of a card (a section, a child, a group): a heading to a screen
    reader, and bold text of the given size on screen. Never a bold paragraph instead."""
    return heading(text, size=size)


def para(
    text: str, *, subtle: bool = False, size: str | None = None, color: str | None = None, weight: str | None = None
) -> Element:
    """Text we wrote ourselves (may use Markdown)."""
    block: Element = {"type": "TextBlock", "text": text, "wrap": True}
    if subtle:
        block["isSubtle"] = True
    if size:
        block["size"] = size
    if color:
        block["color"] = color
    if weight:
        block["weight"] = weight
    return block


def literal(text: str, *, subtle: bool = False, weight: str | None = None, italic: bool = False) -> Element:
    """Text a user typed, shown exactly as typed (never parsed as Markdown or mentions)."""
    run: Element = {"type": "TextRun", "text": text}
    if subtle:
        run["isSubtle"] = True
    if weight:
        run["weight"] = weight
    if italic:
        run["italic"] = True
    return {"type": "RichTextBlock", "inlines": [run]}


def labelled(label: str, value: str | None, *, empty: str = "Not given") -> list[Element]:
    """A label we wrote, then the user's value literally."""
    return [
        {"type": "TextBlock", "text": label, "weight": "Bolder", "wrap": True, "spacing": "Small"},
        literal(value)
        if value
        else {"type": "TextBlock", "text": empty, "isSubtle": True, "wrap": True, "spacing": "None"},
    ]


def facts(pairs: list[tuple[str, str]]) -> Element:
    """A FactSet. FactSet values are Markdown, so values are escaped: use it only for
    our own values (dates, statuses, references), never free text a user typed."""
    return {"type": "FactSet", "facts": [{"title": k, "value": escape_markdown(v)} for k, v in pairs]}


def notice(text: str, *, style: str = "warning") -> Element:
    return {
        "type": "Container",
        "style": style,
        "bleed": False,
        "items": [{"type": "TextBlock", "text": text, "wrap": True}],
    }


def error_text(message: str) -> Element:
    return {
        "type": "TextBlock",
        "text": "⚠ " + escape_markdown(message),
        "color": "Attention",
        "size": "Small",
        "wrap": True,
        "spacing": "None",
    }


# ---- actions -----------------------------------------------------------------------------

# The data key of each kind of record id a button can carry (one kind per verb).
QUERY_ID = "query"  # a panel query (query.answer)
STEP_ID = "step"  # a deadline, i.e. a step of the statutory timeline (deadline.done)
AGENCY_REQUEST_ID = "agency_request"  # an agency's information request (agencies.returned)
ACTION_ID = "action_item"  # an action from the meeting or the review (action.done)
# Cards posted before these keys existed carry every kind of id as `q`: read as the verb's own kind.
LEGACY_ID = "q"


@dataclass(frozen=True)
class Verb:
    """One button's contract: its verb, the ids of the inputs its card renders (the only
    input keys its data may carry) and the data key of the one record id it carries."""

    name: str
    inputs: frozenset[str] = frozenset()
    id_key: str | None = None


def verbs(*declared: Verb) -> dict[str, Verb]:
    """A card module's `VERBS`: every verb its cards emit, by name."""
    table = {v.name: v for v in declared}
    if len(table) != len(declared):
        raise ValueError("a verb is declared twice")
    return table



def action_data(verb: str, ref: str | None = None, version: int | None = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"verb": verb, "action": verb}
    if ref is not None:
        data["ref"] = ref
    if version is not None:
        data["v"] = version
    data.update(extra)
    return data


def execute(
    title: str,
    verb: str,
    ref: str | None = None,
    version: int | None = None,
    *,
    validate: bool = True,
    style: str | None = None,
    secondary: bool = False,
    tooltip: str | None = None,
    **extra: Any,
) -> Element:
    """An Action.Execute (Universal Action) with an Action.Submit fallback for older
    clients; both carry the same data and reach the same handler. `tooltip` (Adaptive
    Cards 1.5) is read by screen readers as the button's description: give it to a button
    whose title repeats on the card ("Edit", "Mark done") to say which one it is."""
    data = action_data(verb, ref, version, **extra)
    action: Element = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": data,
        "associatedInputs": "auto" if validate else "none",
        "fallback": {
            "type": "Action.Submit",
            "title": title,
            "data": data,
            "associatedInputs": "auto" if validate else "none",
        },
    }
    if style:
        action["style"] = style
    if tooltip:
        action["tooltip"] = action["fallback"]["tooltip"] = tooltip
    if secondary:
        action["mode"] = "secondary"
    return action


def action_set(actions: list[Element]) -> Element:
    return {"type": "ActionSet", "actions": actions}


def marking_footer(marking: str) -> Element:
    """The foot of a card that shows a child's identifying details: its protective marking and
    "do not forward", as on the documents the bot produces."""
    return para(f"{escape_markdown(marking)} — do not forward, copy or screenshot this card. It shows "
                "identifying details of a child and family.", size="Small", color="Attention")
