"""Removing a case's known identifiers from free text before it reaches a channel.

`redact(text, referral)` is the last line of defence for what the referrer and panel
members type (bot/domain/redaction.py). The tables pin each kind of identifier; the
properties say that a generated child name or date of birth never survives.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.redaction import redact
from bot.domain.referral import Referral

PROPERTY = settings(max_examples=200, deadline=None)


def referral(
    *children: dict[str, Any],
    incident_location: str | None = None,
    family: str | None = None,
) -> Referral:
    """A valid referral; each child a dict of ChildDetails fields (name and gender at least)."""
    return Referral.model_validate({
        "referrer": {"agency": "Education (school or college)", "name": "Riley Referrer",
                     "email": "riley.referrer@example.org", "job_title": "Designated safeguarding lead",
                     "discussed_with": "Head teacher"},
        "pathway": {"pathway": "A"},
        "incident": {"incident_date": "2026-11-20", "incident_location": incident_location,
                     "outcome": "seriously_harmed", "abuse_or_neglect": "suspected", "looked_after": "no",
                     "summary": "Admitted to hospital with unexplained injuries."},
        "children": {"children": [{"gender": "female", "estimated_age": 9} | c for c in children],
                     "family_members": family},
        "views": {"meets_criteria": "Serious injury.", "family_consulted": "yes", "key_worker_consulted": "yes"},
        "declaration": {"senior_manager_reviewed": True},
    })


ANNA = referral({"name": "Anna Smith"})


# ---- children's names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Anna Smith was seen.", "[child] was seen.", id="the full name is one marker"),
        pytest.param("Anna was seen.", "[child] was seen.", id="the first name alone is removed"),
        pytest.param("Ms Smith's daughter", "Ms [child]'s daughter", id="the surname alone is removed"),
        pytest.param("ANNA SMITH and anna smith", "[child] and [child]", id="any case is removed"),
        pytest.param("aNNa", "[child]", id="mixed case is removed"),
        pytest.param("(Anna), Anna. Anna's: Anna-", "([child]), [child]. [child]'s: [child]-",
                     id="punctuation next to the name does not protect it"),
        pytest.param("Anna\nSmith", "[child]\n[child]", id="a name split over lines loses both parts"),
        pytest.param("Annabel and Hannah", "Annabel and Hannah", id="a name inside a longer word stays"),
        pytest.param("Smithson, Goldsmith", "Smithson, Goldsmith", id="a surname inside a longer word stays"),
        pytest.param("Annas", "Annas", id="a name with letters after it is another word"),
    ],
)
def test_the_childs_name_and_each_part_are_removed_as_whole_words_only(text: str, expected: str) -> None:
    assert redact(text, ANNA) == expected


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param("Jo Anna Smith", "Jo Anna Smith", "[child]", id="a full name with a short part is removed"),
        pytest.param("Jo Anna Smith", "Anna and Smith", "[child] and [child]", id="each long part is removed"),
        pytest.param("Jo Anna Smith", "Jo said so", "Jo said so",
                     id="a part under three letters is not removed on its own"),
        pytest.param("Mary-Jane Watson", "Mary Jane", "[child] [child]", id="each part of a hyphenated name"),
        pytest.param("Zoe O'Brien", "Zoe O'Brien; Brien", "[child]; [child]", id="a name with an apostrophe"),
        pytest.param("Zoe O\u2019Brien", "Zoe O'Brien; Zoe O\u2019Brien", "[child] O'[child]; [child]",
                     id="a curly apostrophe in the referral does not protect the straight spelling"),
        pytest.param("Zoe O'Brien", "O\u2019Brien", "O\u2019[child]",
                     id="a curly apostrophe in the text does not protect the surname"),
        pytest.param("Émilie Durand", "émilie ÉMILIE", "[child] [child]", id="accented names in any case"),
    ],
)
def test_name_parts_of_three_letters_or_more_are_removed(name: str, text: str, expected: str) -> None:
    assert redact(text, referral({"name": name})) == expected


def test_every_childs_name_is_removed() -> None:
    case = referral({"name": "Anna Smith"}, {"name": "Bertie Jones"}, {"name": "Cara Lee"})
    assert redact("Anna, Bertie Jones and Cara Lee; also Jones and Lee.", case) == (
        "[child], [child] and [child]; also [child] and [child]."
    )


# ---- dates of birth ------------------------------------------------------------------------------


BORN = referral({"name": "Anna Smith", "date_of_birth": "2017-02-03"})


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("2017-02-03", id="ISO"),
        pytest.param("03/02/2017", id="dd/mm/yyyy"),
        pytest.param("3/2/2017", id="d/m/yyyy"),
        pytest.param("03/02/17", id="dd/mm/yy"),
        pytest.param("03.02.2017", id="dd.mm.yyyy"),
        pytest.param("03-02-2017", id="dd-mm-yyyy"),
        pytest.param("3 February 2017", id="d Month yyyy"),
        pytest.param("03 February 2017", id="dd Month yyyy"),
        pytest.param("3 Feb 2017", id="d Mon yyyy"),
        pytest.param("03 Feb 2017", id="dd Mon yyyy"),
        pytest.param("3 FEBRUARY 2017", id="a month in capitals"),
        pytest.param("03 feb 2017", id="a month in lower case"),
    ],
)
def test_the_date_of_birth_is_removed_in_the_usual_formats(written: str) -> None:
    assert redact(f"Born {written}, seen on 2026-11-20.", BORN) == "Born [date of birth], seen on 2026-11-20."


def test_other_dates_and_the_american_order_of_the_same_day_are_left_alone() -> None:
    text = "Seen 2026-11-20, 04/02/2017 and 2/3/2017."
    assert redact(text, BORN) == text


# ---- places --------------------------------------------------------------------------------------


PLACES = referral({"name": "Anna Smith", "current_location": "Ward 7, Northgate Hospital"},
                  incident_location="ZZ99 9ZZ Canary Lane")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("It happened at ZZ99 9ZZ Canary Lane.", "It happened at [location].",
                     id="the incident location is removed"),
        pytest.param("at zz99 9zz canary lane", "at [location]", id="the incident location in any case"),
        pytest.param("She is on Ward 7, Northgate Hospital now.", "She is on [location] now.",
                     id="the childs current location is removed"),
    ],
)
def test_the_incident_location_and_the_childs_current_location_are_removed(text: str, expected: str) -> None:
    assert redact(text, PLACES) == expected


# ---- family members ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "text", "gone", "kept"),
    [
        pytest.param("Jane Doe (mother), Mark Roe (stepfather)", "Jane Doe and Mark Roe came; Jane, Doe, Roe.",
                     ["Jane", "Doe", "Mark", "Roe"], [], id="names followed by the relationship"),
        pytest.param("Mother: Jane Doe; stepfather: Mark Roe", "Jane told Mark.",
                     ["Jane", "Mark"], [], id="the relationship then a colon then the name"),
        pytest.param("Jane Doe and Mark Roe", "Doe and Roe", ["Doe", "Roe"], [], id="names joined by and"),
        pytest.param("Jane Doe\nMark Roe / Olive Green", "Olive, Jane, Mark", ["Olive", "Jane", "Mark"], [],
                     id="names on separate lines or split by a slash"),
        pytest.param("Mother (Jane Doe), stepfather (Mark Roe)", "Jane Doe and Mark Roe came; Jane, Roe.",
                     ["Jane", "Doe", "Mark", "Roe"], [], id="names in brackets after the relationship"),
        pytest.param("Jane Doe (mother)", "Janet Doerr was not involved.", [], ["Janet", "Doerr"],
                     id="a family name inside a longer word stays"),
    ],
)
def test_named_family_members_are_removed(family: str, text: str, gone: list[str], kept: list[str]) -> None:
    redacted = redact(text, referral({"name": "Anna Smith"}, family=family))
    assert ("[family member]" in redacted) is bool(gone)
    for word in gone:
        assert word.lower() not in redacted.lower(), (word, redacted)
    for word in kept:
        assert word in redacted, (word, redacted)


# ---- ordinary text -------------------------------------------------------------------------------


FULL = referral({"name": "Anna Smith", "date_of_birth": "2017-02-03", "current_location": "Northgate Hospital"},
                incident_location="ZZ99 9ZZ Canary Lane", family="Jane Doe (mother)")


@pytest.mark.parametrize(
    "text",
    [
        "The panel agrees this meets the threshold for a rapid review.",
        "Serious harm: fractures needing surgery; abuse suspected.",
        "Police are investigating; the school raised concerns in 2025.",
        "Ask the GP whether the earlier bruising was recorded.",
        "",
        "Child K was seen at hospital on 2026-11-20 by the paediatric team.",
    ],
)
def test_text_without_the_cases_identifiers_is_left_exactly_as_it_was(text: str) -> None:
    assert redact(text, FULL) == text


# ---- properties ----------------------------------------------------------------------------------

# Letters that appear neither in the sentences around the name nor in the markers, so a
# surviving letter run can only be the canary.
CANARY_ALPHABET = "QXZJVKWYBÆØÉqxzjvkwybæøé"
SURROUND = "Update: {name} met staff; {upper}'s tutor rang ({lower}). {first}, {last}!"

name_parts = st.text(alphabet=CANARY_ALPHABET, min_size=3, max_size=12)
canary_names = st.tuples(
    st.lists(name_parts, min_size=1, max_size=3),
    st.sampled_from([" ", "-", " - ", "  "]),
)


@PROPERTY
@given(canary=canary_names)
def test_a_canary_childs_name_never_survives_redaction(canary: tuple[list[str], str]) -> None:
    parts, joiner = canary
    name = joiner.join(parts)
    case = referral({"name": name})
    text = SURROUND.format(name=" ".join(parts), upper=name.upper(), lower=name.lower(),
                           first=parts[0], last=parts[-1])
    redacted = redact(text, case)
    assert name not in redacted
    for part in parts:
        assert part.casefold() not in redacted.casefold(), (part, redacted)


@PROPERTY
@given(canary=name_parts)
def test_a_canary_name_in_the_middle_of_ordinary_text_is_replaced_and_nothing_else_changes(canary: str) -> None:
    redacted = redact(f"Spoke to {canary} at the unit.", referral({"name": canary}))
    assert redacted == "Spoke to [child] at the unit."


@PROPERTY
@given(born=st.dates(min_value=date(2000, 1, 1), max_value=date(2026, 11, 20)))
def test_a_date_of_birth_never_survives_in_any_of_the_usual_formats(born: date) -> None:
    case = referral({"name": "Anna Smith", "date_of_birth": born.isoformat()})
    forms = [
        born.isoformat(),
        born.strftime("%d/%m/%Y"),
        f"{born.day}/{born.month}/{born.year}",
        f"{born.day} {born.strftime('%B %Y')}",
        born.strftime("%d %b %Y"),
    ]
    redacted = redact("; ".join(f"born {form}" for form in forms), case)
    assert redacted == "; ".join(["born [date of birth]"] * len(forms))
