"""Hygiene for text that people type.

Everything a user types ends up on a card someone else reads, in the database and
possibly in an exported record. Control characters (including bidi overrides and
zero-width characters that can disguise text) are removed here, once, so that no
later layer has to remember to.
"""

from __future__ import annotations

import re
import unicodedata

from bot.domain.limits import length, within

# C0/C1 controls except tab and newline, plus the format characters that reorder or
# hide text (bidi overrides and isolates, zero-width joiners/spaces, BOM).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")

SHORT_TEXT = 200
LONG_TEXT = 2000


def clean_text(value: str) -> str:
    """Normalise line endings, drop control characters and trim the ends."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = _CONTROL.sub("", value)
    return _MANY_BLANK_LINES.sub("\n\n", value).strip()


def clean_line(value: str) -> str:
    """A single-line field: like clean_text, with newlines and tabs folded to spaces."""
    return " ".join(clean_text(value).split())


def truncate(value: str, limit: int) -> str:
    """Shorten for display only; the stored value is never truncated. `limit` counts characters
    as Teams does (UTF-16 code units, bot/domain/limits.py), so a shortened text weighs the same
    on a card in any alphabet."""
    return value if length(value) <= limit else within(value, limit - 1).rstrip() + "…"


def yes_no(value: str | None) -> str:
    """A stored yes / no / unknown answer as people read it on a card or the record: "Yes",
    "No", "Not known" (never the stored lower-case value)."""
    return {"yes": "Yes", "no": "No", "unknown": "Not known", "true": "Yes", "false": "No"}.get(
        (value or "").lower(), (value or "Not known").capitalize())
