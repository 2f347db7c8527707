"""What closing a case now would stop, on the card that closes it (bot/services/closing.py):
the open steps and actions listed, and the **Close anyway** toggle that lets it close with them
stopped once a reason is given."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.services.closing import TOGGLE, described
from bot.services.ports import DeadlineRow
from cards.common import Element, escape_markdown, notice

TOGGLE_TITLE = "Close anyway: stop these steps and actions (the reason is recorded)"


def still_open_block(
    rows: Sequence[DeadlineRow],
    tz: ZoneInfo,
    typed: dict[str, str],
    reason: Element | None = None,
    *,
    listed: bool = True,
) -> list[Element]:
    """Nothing when no work is open; otherwise the list (unless the refusal next to it already
    gives it), the toggle (as typed) and, where the card has no reason of its own, its input."""
    if not rows:
        return []
    listing = notice(
        "Still open — closing stops them: " + escape_markdown(described(list(rows), tz)) + ". Wait until "
        "they are done, or close anyway with the reason.",
        style="warning",
    )
    return [
        *([listing] if listed else []),
        {
            "type": "Input.Toggle",
            "id": TOGGLE,
            "label": "Close anyway",
            "title": TOGGLE_TITLE,
            "valueOn": "true",
            "valueOff": "false",
            "value": "true" if typed.get(TOGGLE) == "true" else "false",
        },
        *([reason] if reason is not None else []),
    ]
