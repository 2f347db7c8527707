"""The one redaction step for free text that goes to a channel, a referrer or a reminder.

Text a person types (a vote's rationale, a query and its answer, the meeting's outcome)
may name the child or carry other identifiers. Two kinds are removed, in one step:

- the case's KNOWN identifiers, from the referral: each child's name (and each part of
  it), date of birth in the usual formats, where it happened and where the child is now,
  and the family members named;
- identifiers of anyone, recognised by their shape (bot/domain/identifiers.py):
  postcodes, addresses, phone numbers, e-mail addresses, NHS numbers, dates of birth.

Each is replaced with a marker ("[child]", "[postcode]"). The cards that ask for such
text refuse it while it carries an identifier of the second kind (a marker there would
change what the writer meant); this step is the safety net where the text is shown, so
that older stored text is redacted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from bot.domain.identifiers import IdentifierKind, find_identifiers, replace_found
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
            found.setdefault(part, IdentifierKind.CHILD_NAME.marker)
        if child.date_of_birth:
            for form in _date_forms(child.date_of_birth):
                found.setdefault(form, IdentifierKind.DATE_OF_BIRTH.marker)
        if child.current_location:
            found.setdefault(child.current_location, IdentifierKind.LOCATION.marker)
    if referral.incident.incident_location:
        found.setdefault(referral.incident.incident_location, IdentifierKind.LOCATION.marker)
    for text in _family_names(referral.children.family_members or ""):
        found.setdefault(text, IdentifierKind.FAMILY_NAME.marker)
    return sorted(found.items(), key=lambda item: -len(item[0]))


def _family_names(text: str) -> Iterable[str]:
    for chunk in _SPLIT.split(text):
        chunk = chunk.strip(" .-:")
        if len(chunk) >= MIN_NAME_PART:
            yield chunk
            yield from (p for p in _name_parts(chunk) if p[0].isupper())


@dataclass(frozen=True)
class Redacted:
    """Text as it may be shared, and which kinds of identifier were taken out of it."""

    text: str
    kinds: frozenset[IdentifierKind]


_KIND_OF_MARKER = {kind.marker: kind for kind in IdentifierKind}


def redaction(text: str, referral: Referral | None = None) -> Redacted:
    """The case's known identifiers (when the referral is given), then every identifier
    recognised by its shape, each replaced by its marker."""
    kinds: set[IdentifierKind] = set()
    if referral is not None:
        text = _redact_known(text, referral, kinds)
    shared = _redact_shapes(text)
    return Redacted(shared.text, shared.kinds | kinds)


@lru_cache(maxsize=2048)
def _redact_shapes(text: str) -> Redacted:
    """Cached: a card shows the same votes on every update of the case, and each vote's
    texts are redacted again for each (a fraction of a millisecond each, but per card)."""
    found = find_identifiers(text)
    return Redacted(replace_found(text, found), frozenset(f.kind for f in found))


def redact(text: str, referral: Referral | None = None) -> str:
    """The text as it may be shared (see `redaction`)."""
    return redaction(text, referral).text


def _redact_known(text: str, referral: Referral, kinds: set[IdentifierKind]) -> str:
    """One pass over the text with every known identifier at once; at each position the
    longest wins, so a full name is replaced whole before its parts could match."""
    pattern, replacements = _matcher(_known_identifiers(referral))
    if pattern is None:
        return text

    def replace(match: re.Match[str]) -> str:
        marker = replacements.get(match.group(0).casefold(), "[identifier]")
        kind = _KIND_OF_MARKER.get(marker)
        if kind is not None:
            kinds.add(kind)
        return marker

    return pattern.sub(replace, text)


_KNOWN_CACHE_SIZE = 256
_known: dict[int, tuple[Referral, tuple[tuple[str, str], ...]]] = {}


def _known_identifiers(referral: Referral) -> tuple[tuple[str, str], ...]:
    """`identifiers(referral)`, worked out once per referral object: a card redacts each vote's
    texts against the same referral (the case store keeps one object per case), and listing
    its identifiers (every date-of-birth format, every name part) cost more than the redaction
    itself. Keyed by identity, holding the referral so its id cannot be reused while cached;
    a Referral is frozen, so what was worked out stays true."""
    entry = _known.get(id(referral))
    if entry is not None and entry[0] is referral:
        return entry[1]
    found = tuple(identifiers(referral))
    if len(_known) >= _KNOWN_CACHE_SIZE:
        _known.pop(next(iter(_known)))
    _known[id(referral)] = (referral, found)
    return found


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
