"""Finding identifiers of any person in free text, whatever case they belong to.

The case's own identifiers (the child's name, date of birth, the places and family named
in the referral) are removed by bot/domain/redaction.py, which knows them. Text people
type can also carry identifiers the referral never mentioned: a postcode, a house
address, a phone number, an e-mail address, an NHS number, a date of birth. These are
recognised here by their shape, so that what goes to the panel channel, to a referrer or
into a reminder never carries them (docs/architecture.md, Redaction).

The shapes are chosen so that ordinary text of a rapid review passes untouched: case
references (RR-2026-0001), dates of meetings and deadlines (a date is a date of birth only
when the text says so), times, counts ("3 agencies") and agency names. Pure functions, no
I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class IdentifierKind(Enum):
    """What was found; the value is how a person would call it."""

    POSTCODE = "postcode"
    ADDRESS = "address"
    PHONE = "phone number"
    EMAIL = "email address"
    NHS_NUMBER = "NHS number"
    DATE_OF_BIRTH = "date of birth"
    CHILD_NAME = "child's name"
    FAMILY_NAME = "family member's name"
    LOCATION = "location"

    @property
    def marker(self) -> str:
        """What replaces it in redacted text."""
        return MARKERS[self]


MARKERS: dict[IdentifierKind, str] = {
    IdentifierKind.POSTCODE: "[postcode]",
    IdentifierKind.ADDRESS: "[address]",
    IdentifierKind.PHONE: "[phone number]",
    IdentifierKind.EMAIL: "[email address]",
    IdentifierKind.NHS_NUMBER: "[NHS number]",
    IdentifierKind.DATE_OF_BIRTH: "[date of birth]",
    IdentifierKind.CHILD_NAME: "[child]",
    IdentifierKind.FAMILY_NAME: "[family member]",
    IdentifierKind.LOCATION: "[location]",
}


@dataclass(frozen=True)
class Found:
    """One identifier in a text: its kind and where it is (text[start:end])."""

    kind: IdentifierKind
    start: int
    end: int


# ---- e-mail addresses ------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _emails(text: str) -> Iterator[Found]:
    for match in _EMAIL.finditer(text):
        yield Found(IdentifierKind.EMAIL, match.start(), match.end())


# ---- postcodes -------------------------------------------------------------------------------------

# The UK's postcode areas (the letters before the first digit), Crown dependencies included.
POSTCODE_AREAS = frozenset(
    "AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT DY E EC EH EN "
    "EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA LD LE LL LN LS LU M ME MK ML "
    "N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS ST SW SY TA TD "
    "TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV YO ZE".split()
) | {"ZZ"}  # ZZ99: the NHS's code for no fixed abode
# Areas whose outward code alone reads as something else in this work (FY1 and ST3 are
# doctors' grades, CT1 a trainee or a scan, CO2 a gas, PE1 a school subject, LA1 the local
# authority): only the full postcode, or "postcode ST3", counts for these.
_AMBIGUOUS_AREAS = frozenset({"FY", "ST", "CT", "CO", "PE", "LA"})

# A full postcode: outward code, optional space, inward code (a digit and two letters; the
# inward letters never include C, I, K, M, O or V, which keeps "4pm" and "10am" out).
_FULL_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?P<area>[A-PR-UWYZ][A-Z]?)(?P<district>\d[A-Z0-9]?)\s?(?P<inward>\d[ABD-HJLNP-Z]{2})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"\d(?:st|nd|rd|th)")
# An outward code said to be one ("postcode M14", "post code: sk4").
_NAMED_OUTWARD = re.compile(r"\bpost\s?code\s*(?:is|was|:|-)?\s*(?P<code>[A-Z]{1,2}\d[A-Z0-9]?)(?![A-Za-z0-9])",
                            re.IGNORECASE)
# An outward code on its own, in capitals as written on an envelope: SW1A, EC2M, W1A, OL16, SK4.
_BARE_OUTWARD = re.compile(r"(?<![A-Za-z0-9-])(?P<area>[A-Z]{1,2})(?P<district>\d[A-Z]|\d{1,2})(?![A-Za-z0-9-])")


def _postcodes(text: str) -> Iterator[Found]:
    for match in _FULL_POSTCODE.finditer(text):
        area, inward = match.group("area").upper(), match.group("inward")
        if area not in POSTCODE_AREAS:
            continue
        if _ORDINAL.fullmatch(inward):  # "a1 1st", "y10 2nd": lower-case ordinals are not postcodes
            continue
        yield Found(IdentifierKind.POSTCODE, match.start(), match.end())
    for match in _NAMED_OUTWARD.finditer(text):
        yield Found(IdentifierKind.POSTCODE, match.start("code"), match.end("code"))
    for match in _BARE_OUTWARD.finditer(text):
        if _unambiguous_outward(match.group("area"), match.group("district")):
            yield Found(IdentifierKind.POSTCODE, match.start(), match.end())


def _unambiguous_outward(area: str, district: str) -> bool:
    """SW1A and W1A (a district letter) are postcodes; so is OL16 (a two-letter area and a
    number); M6, B12 and S1 (one letter and a number) are motorways, vitamins and school
    years as often as districts, so they count only as part of a full postcode."""
    if area not in POSTCODE_AREAS:
        return False
    if district[-1].isalpha():
        return True
    return len(area) == 2 and area not in _AMBIGUOUS_AREAS


# ---- phone numbers ---------------------------------------------------------------------------------

# A run of digit groups joined by spaces, hyphens or brackets, perhaps after "+".
_NUMBER_RUN = re.compile(r"(?<![\w+/-])(?:\+\s?)?\(?\d(?:[ \-()]{0,3}\d)*")
_DIGIT_GROUP = re.compile(r"\d+")


def _is_phone(digits: str, international: bool) -> bool:
    """International (+ or 00) with 8 to 15 digits, or a UK number: 0 and 10 or 11 digits."""
    if international:
        return 8 <= len(digits) <= 15
    if digits.startswith("00"):
        return 10 <= len(digits) <= 17
    return digits.startswith("0") and len(digits) in (10, 11)


def _phones(text: str) -> Iterator[Found]:
    for run in _NUMBER_RUN.finditer(text):
        groups = list(_DIGIT_GROUP.finditer(text, run.start(), run.end()))
        first = 0
        while first < len(groups):
            international = first == 0 and text[run.start()] == "+"
            last = _longest_phone(groups, first, international)
            if last is None:
                first += 1
                continue
            start, end = run.start() if first == 0 else groups[first].start(), groups[last].end()
            if text[start] == "(" and ")" not in text[start:end]:
                start += 1  # "(020 7946 0000)": the bracket is the sentence's, not the number's
            yield Found(IdentifierKind.PHONE, start, end)
            first = last + 1


def _longest_phone(groups: list[re.Match[str]], first: int, international: bool) -> int | None:
    digits, found = "", None
    for index in range(first, len(groups)):
        digits += groups[index].group()
        if len(digits) > 17:
            break
        if _is_phone(digits, international):
            found = index
    return found


# ---- NHS numbers -----------------------------------------------------------------------------------

_NHS_NUMBER = re.compile(r"(?<![\w/.+-])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\w/-])")


def nhs_check_digit_valid(number: str) -> bool:
    """The NHS number's modulus-11 check: weights 10 down to 2 on the first nine digits;
    11 minus the remainder is the tenth digit (11 counts as 0; 10 never occurs)."""
    if len(number) != 10 or not number.isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(number[9])


def _nhs_numbers(text: str) -> Iterator[Found]:
    """Written 3-3-4 (spaces or hyphens) it is an NHS number whatever its check digit; ten
    digits in a row only when the check digit is right (so most other numbers pass)."""
    for match in _NHS_NUMBER.finditer(text):
        number = match.group(1) + match.group(3) + match.group(4)
        if number.startswith("0"):
            continue  # a phone number's shape; NHS numbers never start with 0
        if match.group(2) or nhs_check_digit_valid(number):
            yield Found(IdentifierKind.NHS_NUMBER, match.start(), match.end())


# ---- dates of birth --------------------------------------------------------------------------------

_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
          r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"
    rf"|{_MONTH}\s+{_DAY},?\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{4}}"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}"
    rf"|\d{{1,2}}[/.\-]\d{{4}})(?![\w/])"
)
_BIRTH = r"(?:d\.\s?o\.\s?b\b\.?|dob\b|date\s+of\s+birth|birth\s?date|birthday|born)"
_DATE_AFTER_BIRTH = re.compile(
    rf"\b{_BIRTH}(?:\s+(?:is|was|on|in))?(?:\s+the)?\s*[:=(\-–]?\s*(?P<date>{_DATE})", re.IGNORECASE
)
# After the date only the abbreviations mark it ("01/02/2015 (DOB)"): "seen 12/03/2026, born
# prematurely" is a date of seeing.
_BIRTH_MARK = r"(?:d\.\s?o\.\s?b\b\.?|dob\b|date\s+of\s+birth)"
_DATE_BEFORE_BIRTH = re.compile(rf"(?<![\w/])(?P<date>{_DATE})\s*[(\[,]?\s*{_BIRTH_MARK}", re.IGNORECASE)


def _dates_of_birth(text: str) -> Iterator[Found]:
    """A date is a date of birth only when the text says so ("DOB 01/02/2015", "born 1
    February 2015", "01/02/2015 (d.o.b.)"); "meet on 12/03/2026" is a meeting."""
    for pattern in (_DATE_AFTER_BIRTH, _DATE_BEFORE_BIRTH):
        for match in pattern.finditer(text):
            yield Found(IdentifierKind.DATE_OF_BIRTH, match.start("date"), match.end("date"))


# ---- addresses -------------------------------------------------------------------------------------

# Street words a house number may precede. In lower case only the words that can be
# nothing but a street ("12 high street"); with capitals the shorter and commoner ones too.
_STREETS = ("street|road|lane|avenue|crescent|terrace|gardens|grove|mews|boulevard|cottages|villas")
_TITLE_STREETS = (
    "Street|St|Road|Rd|Lane|Ln|Avenue|Ave|Close|Cl|Drive|Dr|Way|Court|Ct|Crescent|Cres|Place|Pl|Gardens|Gdns"
    "|Grove|Terrace|Walk|Row|Mews|Square|Sq|Hill|Park|Green|Parade|Wharf|Yard|Fold|Brow|Croft|Mead|Meadows"
    "|Heights|Villas|Cottages|Estate|Wynd|Boulevard"
)
_FLAT = r"(?:(?:flat|apartment|apt\.?|unit)\s+\d{1,4}[A-Za-z]?\s*,?\s*)"
_HOUSE = r"\d{1,4}[A-Za-z]?(?:\s?[-–]\s?\d{1,4}[A-Za-z]?)?"
# Words that join a sentence, not a street's name: "2 homes on the street" is no address.
_NOT_A_NAME = r"(?!(?:the|a|an|on|in|at|of|and|or|to|their|his|her|its|our|same|this|that|from|by|for|with)\b)"
_LOWER_ADDRESS = re.compile(
    rf"(?<![\w/.-]){_FLAT}?{_HOUSE},?\s+(?:{_NOT_A_NAME}[A-Za-z][\w'’-]*\s+){{1,3}}(?:{_STREETS})\b",
    re.IGNORECASE,
)
_TITLE_ADDRESS = re.compile(
    rf"(?<![\w/.-])(?i:{_FLAT})?{_HOUSE},?\s+(?:(?:St\.?\s+)?[A-Z][\w'’-]*\s+){{1,3}}(?:{_TITLE_STREETS})\b"
)
# A flat with the building's name: "Flat 3, Tower House".
_FLAT_IN_BUILDING = re.compile(r"\b(?i:flat|apartment|apt\.?)\s+\d{1,4}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]*\s?){1,3}"
                               r"(?:House|Court|Block|Tower|Lodge|Building|Mansions|Point)\b")
# Courts and the like that are not where anyone lives: "2 Family Court hearings".
_NOT_HOMES = re.compile(r"\b(?:family|crown|youth|magistrates'?|county|high|supreme|coroners?'?s?)\s+court\b",
                        re.IGNORECASE)


def _addresses(text: str) -> Iterator[Found]:
    for pattern in (_LOWER_ADDRESS, _TITLE_ADDRESS, _FLAT_IN_BUILDING):
        for match in pattern.finditer(text):
            if _NOT_HOMES.search(match.group()):
                continue
            yield Found(IdentifierKind.ADDRESS, match.start(), match.end())


# ---- all of them -----------------------------------------------------------------------------------

_FINDERS = (_emails, _addresses, _postcodes, _phones, _nhs_numbers, _dates_of_birth)


def find_identifiers(text: str) -> list[Found]:
    """Every identifier in the text, in order, none overlapping: where two overlap the one
    that starts first (then the longer) is kept, so "flat 3, 12 Acacia Avenue" is one
    address and not a flat, a number and a street."""
    return list(_identifiers_in(text))


@lru_cache(maxsize=256)
def _identifiers_in(text: str) -> tuple[Found, ...]:
    """Worked out once per text: a text typed on a card is searched when it is refused or
    accepted, and again when it is redacted to be shown (a vote's rationale on the answer
    and the channel card of the same turn); every finder's pattern over it is the cost.
    The most recent few hundred texts are kept (the redaction keeps more of its own results:
    bot/domain/redaction.py); the result is a tuple, and each caller gets its own list."""
    candidates = sorted((f for finder in _FINDERS for f in finder(text)), key=lambda f: (f.start, -f.end))
    kept: list[Found] = []
    for found in candidates:
        if kept and found.start < kept[-1].end:
            continue
        kept.append(found)
    return tuple(kept)


def first_identifier(text: str) -> Found | None:
    """The first identifier in the text, if any: what a form asks the writer to remove."""
    found = find_identifiers(text)
    return found[0] if found else None


def replace_found(text: str, found: list[Found]) -> str:
    """The text with each identifier replaced by its kind's marker ("[postcode]")."""
    parts: list[str] = []
    position = 0
    for item in found:
        parts.append(text[position:item.start])
        parts.append(item.kind.marker)
        position = item.end
    parts.append(text[position:])
    return "".join(parts)
