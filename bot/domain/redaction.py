"""Removing a case's known identifiers from free text before it goes to a channel.

Text a person types (the referrer's answer to a panel query) may name the child. We
cannot recognise every identifier, but we know the ones in the referral: each child's
name (and each part of it), date of birth in the usual formats, where it happened and
where the child is now, and the family members named. Those are replaced with the
pseudonym or a marker. The card that asks for the text also tells the person it will
be shared and not to include identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from bot.domain.referral import Referral

MIN_NAME_PART = 3
_SPLIT = re.compile(r"[,;\n/()]+|\band\b", re.IGNORECASE)


def _date_forms(day: date) -> set[str]:
    return {
        day.isoformat(),
        day.strftime("%d/%m/%Y"),
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%d/%m/%y"),
        day.strftime("%d.%m.%Y"),
        day.strftime("%d-%m-%Y"),
        f"{day.day} {day.strftime('%B %Y')}",
        f"{day.day} {day.strftime('%b %Y')}",
        day.strftime("%d %B %Y"),
        day.strftime("%d %b %Y"),
    }


def _name_parts(name: str) -> set[str]:
    parts = {name.strip()}
    parts |= {p for p in re.split(r"[\s\-'\u2019]+", name) if len(p) >= MIN_NAME_PART}
    return {p for p in parts if p}


def identifiers(referral: Referral) -> list[tuple[str, str]]:
    """(text to find, replacement), longest first so full names go before their parts."""
    found: dict[str, str] = {}
    for child in referral.children.children:
        for part in _name_parts(child.name):
            found.setdefault(part, "[child]")
        if child.date_of_birth:
            for form in _date_forms(child.date_of_birth):
                found.setdefault(form, "[date of birth]")
        if child.current_location:
            found.setdefault(child.current_location, "[location]")
    if referral.incident.incident_location:
        found.setdefault(referral.incident.incident_location, "[location]")
    for text in _family_names(referral.children.family_members or ""):
        found.setdefault(text, "[family member]")
    return sorted(found.items(), key=lambda item: -len(item[0]))


def _family_names(text: str) -> Iterable[str]:
    for chunk in _SPLIT.split(text):
        chunk = chunk.strip(" .-:")
        if len(chunk) >= MIN_NAME_PART:
            yield chunk
            yield from (p for p in _name_parts(chunk) if p[0].isupper())


def redact(text: str, referral: Referral) -> str:
    """One pass over the text with every identifier at once; at each position the longest
    identifier wins, so a full name is replaced whole before its parts could match."""
    pattern, replacements = _matcher(tuple(identifiers(referral)))
    if pattern is None:
        return text
    return pattern.sub(lambda m: replacements.get(m.group(0).casefold(), "[identifier]"), text)


@lru_cache(maxsize=512)
def _matcher(found: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """Compiled once per set of identifiers: a card shows several votes of the same case,
    and compiling one pattern per identifier per vote was a measurable part of a vote turn."""
    replacements: dict[str, str] = {}
    for needle, replacement in found:
        replacements.setdefault(needle.casefold(), replacement)
    if not replacements:
        return None, replacements
    alternatives = "|".join(re.escape(n) for n in sorted(replacements, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), replacements
