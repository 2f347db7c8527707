"""Identifiers of anyone, found by their shape (bot/domain/identifiers.py), and the one
redaction step that removes them with the case's known identifiers (bot/domain/redaction.py).

The tables hold the forms people really type (lower-case postcodes, "flat 3, 12 …",
"+44 7…", "943 476 5919") and the ordinary text of a rapid review that must pass untouched
(case references, meeting dates, times, counts, agency names). The properties generate
postcodes, phone numbers and NHS numbers in every spacing and case.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.identifiers import IdentifierKind, find_identifiers, nhs_check_digit_valid
from bot.domain.redaction import redact, redaction
from bot.services.refusals import PanelRefused, Refused
from bot.services.shared_text import identifier_message, refuse_identifiers
from tests.unit.test_redaction import FULL

K = IdentifierKind
PROPERTY = settings(max_examples=200, deadline=None)


# ---- each kind, in the forms people type ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "identifier", "kind"),
    [
        # postcodes: full, lower case, without the space, and outward codes that can be nothing else
        ("She lives at SW1A 1AA with her aunt.", "SW1A 1AA", K.POSTCODE),
        ("She lives at sw1a 1aa with her aunt.", "sw1a 1aa", K.POSTCODE),
        ("moved to m14 5ab last month", "m14 5ab", K.POSTCODE),
        ("postcode SW1A1AA", "SW1A1AA", K.POSTCODE),
        ("Home: M1 1AE.", "M1 1AE", K.POSTCODE),
        ("B33 8TH is the address given", "B33 8TH", K.POSTCODE),
        ("Family moved to SW1A last year.", "SW1A", K.POSTCODE),
        ("Known to services in OL16.", "OL16", K.POSTCODE),
        ("The postcode is m14, the rest unknown.", "m14", K.POSTCODE),
        ("no fixed abode (ZZ99 3VZ)", "ZZ99 3VZ", K.POSTCODE),
        # addresses: a house number and a street, with a flat before it
        ("Seen at flat 3, 12 Acacia Avenue on Monday.", "flat 3, 12 Acacia Avenue", K.ADDRESS),
        ("Seen at Flat 3, 12 acacia avenue on Monday.", "Flat 3, 12 acacia avenue", K.ADDRESS),
        ("Lives at 12 High Street with mother.", "12 High Street", K.ADDRESS),
        ("found at 3 mill lane, late evening", "3 mill lane", K.ADDRESS),
        ("The house at 14b Church Rd was searched.", "14b Church Rd", K.ADDRESS),
        ("Now at 7 St Mary's Close.", "7 St Mary's Close", K.ADDRESS),
        ("Flat 3, Tower House has no heating.", "Flat 3, Tower House", K.ADDRESS),
        ("Apartment 12, 4 Wharf Road, third floor", "Apartment 12, 4 Wharf Road", K.ADDRESS),
        # phone numbers: UK mobile and landline, international, brackets
        ("Mother's mobile +44 7700 900123 (evenings).", "+44 7700 900123", K.PHONE),
        ("Call 07700 900123 before noon.", "07700 900123", K.PHONE),
        ("Call 07700900123 before noon.", "07700900123", K.PHONE),
        ("School office 0161 496 0000.", "0161 496 0000", K.PHONE),
        ("School office (0161) 4960000.", "(0161) 4960000", K.PHONE),
        ("Dad on +44 (0)161 496 0000.", "+44 (0)161 496 0000", K.PHONE),
        ("Grandmother in France: +33 1 23 45 67 89.", "+33 1 23 45 67 89", K.PHONE),
        ("ring 020 7946 0000 or 0161-496-0000", "020 7946 0000", K.PHONE),
        ("Tel:07700900123 (work)", "07700900123", K.PHONE),
        ("Tel.07700 900123", "07700 900123", K.PHONE),
        # e-mail addresses
        ("Write to jo.bloggs@example.org for the notes.", "jo.bloggs@example.org", K.EMAIL),
        ("Contact: Mark.O'Neill+school@hotmail.co.uk", "Mark.O'Neill+school@hotmail.co.uk", K.EMAIL),
        # NHS numbers: 3-3-4 in any separator whatever the check digit, ten digits only when it checks
        ("NHS number 943 476 5919.", "943 476 5919", K.NHS_NUMBER),
        ("NHS 9434765919 on the letter", "9434765919", K.NHS_NUMBER),
        ("NHS no. 943-476-5919", "943-476-5919", K.NHS_NUMBER),
        ("her number is 401 023 2137", "401 023 2137", K.NHS_NUMBER),
        ("number 123 456 7890 on the form", "123 456 7890", K.NHS_NUMBER),
        # dates of birth, when the text says so
        ("Child DOB 01/02/2015, seen at school.", "01/02/2015", K.DATE_OF_BIRTH),
        ("born 1 February 2015 in Leeds", "1 February 2015", K.DATE_OF_BIRTH),
        ("Born on the 1st of February 2015.", "1st of February 2015", K.DATE_OF_BIRTH),
        ("d.o.b. 01.02.15 (per GP)", "01.02.15", K.DATE_OF_BIRTH),
        ("Date of birth: 2015-02-01", "2015-02-01", K.DATE_OF_BIRTH),
        ("Twins, 01/02/2015 (DOB), both at home", "01/02/2015", K.DATE_OF_BIRTH),
        ("born in February 2015", "February 2015", K.DATE_OF_BIRTH),
        ("DOB: Feb 1, 2015", "Feb 1, 2015", K.DATE_OF_BIRTH),
    ],
)
def test_each_identifier_is_found_and_redacted(text: str, identifier: str, kind: IdentifierKind) -> None:
    found = find_identifiers(text)
    assert [(f.kind, text[f.start:f.end]) for f in found][:1] == [(kind, identifier)]
    shared = redaction(text)
    assert identifier not in shared.text
    assert kind.marker in shared.text
    assert kind in shared.kinds


def test_several_identifiers_in_one_text_are_each_replaced_by_their_kind() -> None:
    text = ("Mum (jo.bloggs@example.org, 07700 900123) lives at flat 3, 12 Acacia Avenue, sw1a 1aa; "
            "NHS 943 476 5919, DOB 01/02/2015.")
    assert redact(text) == ("Mum ([email address], [phone number]) lives at [address], [postcode]; "
                            "NHS [NHS number], DOB [date of birth].")
    assert redaction(text).kinds == {K.EMAIL, K.PHONE, K.ADDRESS, K.POSTCODE, K.NHS_NUMBER, K.DATE_OF_BIRTH}


def test_the_cases_known_identifiers_and_the_shapes_go_in_one_step() -> None:
    shared = redaction("Anna Smith (born 3 February 2017) lives at ZZ99 9ZZ Canary Lane; mum on 07700 900123.", FULL)
    assert shared.text == "[child] (born [date of birth]) lives at [location]; mum on [phone number]."
    assert shared.kinds == {K.CHILD_NAME, K.DATE_OF_BIRTH, K.LOCATION, K.PHONE}


# ---- what must pass untouched ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "RR-2026-0001 meets the criteria; see also RR-2025-0412.",
        "We meet on 12/03/2026 at 10:30 in the usual room.",
        "Papers by 2026-12-01, the meeting on Wed 2 Dec 2026, 10:00–12:00.",
        "Seen 04/02/2017 and again 2/3/2017 by the school nurse.",
        "3 agencies returned their information; 2 of 3 agencies replied on time.",
        "Police, Health (ICB) and Children's Social Care agreed.",
        "The ICB, the local authority (LA) and the police (West Yorkshire Police) attended.",
        "Referral at 4pm, strategy meeting 10am-4pm, call back at 16:45.",
        "NHS 111 was called; 999 attended; Childline 0800 1111 was mentioned.",
        "Year 10 pupil (Y10, KS4), attends 2nd term; KS2 SATs last year.",
        "An FY1 doctor and an ST3 registrar examined her; CT scan normal.",
        "Travelled on the M6 and A1; vitamin B12 low; lives in S1 of the school (Scottish year).",
        "Visited 2 homes on the street and 3 people in the park.",
        "Two Family Court hearings and 1 Crown Court hearing are listed.",
        "£1,500 in arrears; ages 3-5; page 12; between 2019 and 2021; 12:00-13:00.",
        "Injuries on 3 separate occasions over 18 months; 2 fractures, 1 burn.",
        "Section 47 enquiry opened 20/11/2026; child protection plan from 01/12/2026.",
        "Reference 1234567890 on the police log.",  # ten digits that fail the NHS check digit
        "Born prematurely; seen 12/03/2026, born to a young mother.",
        "The report is due in 15 working days (by 14 December 2026).",
        "",
    ],
)
def test_ordinary_text_of_a_rapid_review_passes_untouched(text: str) -> None:
    assert find_identifiers(text) == []
    assert redact(text) == text


def test_the_redaction_step_is_idempotent() -> None:
    text = "Seen at flat 3, 12 Acacia Avenue (sw1a 1aa), 07700 900123, DOB 01/02/2015."
    once = redact(text, FULL)
    assert redact(once, FULL) == once


# ---- the NHS number's check digit -----------------------------------------------------------------


@pytest.mark.parametrize(("number", "valid"), [
    ("9434765919", True), ("4010232137", True), ("9434765910", False), ("1234567890", False),
    ("123456789", False), ("94347659x9", False),
])
def test_the_nhs_numbers_modulus_11_check_digit(number: str, valid: bool) -> None:
    assert nhs_check_digit_valid(number) is valid


# ---- properties -----------------------------------------------------------------------------------

AREAS = ["SW", "M", "B", "OL", "SK", "LS", "EC", "W", "NE", "CF", "BT"]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@st.composite
def postcodes(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(AREAS))
    district = str(draw(st.integers(1, 99 if len(area) == 2 else 9)))
    if len(district) == 1 and draw(st.booleans()):
        district += draw(st.sampled_from("ABEHMNPRVWXY"))
    inward = str(draw(st.integers(0, 9))) + draw(st.text(alphabet=INWARD_LETTERS, min_size=2, max_size=2))
    code = area + district + draw(st.sampled_from([" ", ""])) + inward
    if re.fullmatch(r".*\d(ST|ND|RD|TH)", code):  # "… 1ST" in lower case reads as an ordinal: keep capitals
        return code
    return draw(st.sampled_from([code, code.lower(), code.title()]))


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    subscriber = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    kind = draw(st.sampled_from(["mobile", "city", "london", "international"]))
    if kind == "mobile":
        return draw(st.sampled_from([f"07700 9{subscriber[:5]}", f"077009{subscriber[:5]}",
                                     f"+44 7700 9{subscriber[:5]}", f"+447700{subscriber}"[:13]]))
    if kind == "city":
        return draw(st.sampled_from([f"0161 {subscriber[:3]} {subscriber[3:]}0", f"(0161) {subscriber}0",
                                     f"0161-{subscriber[:3]}-{subscriber[3:]}0"]))
    if kind == "london":
        return f"020 7946 {subscriber[:4]}"
    return f"+44 (0)113 {subscriber[:3]} {subscriber[3:]}1"


@st.composite
def nhs_numbers(draw: st.DrawFn) -> str:
    while True:
        first = draw(st.sampled_from("4689")) + draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
        for check in "0123456789":
            if nhs_check_digit_valid(first + check):
                number = first + check
                separator = draw(st.sampled_from([" ", "-", ""]))
                return separator.join([number[:3], number[3:6], number[6:]])


SENTENCES = ["Seen at {} yesterday.", "{}", "Details ({}) from the school.", "Mother said: {}, then left.",
             "Line one.\n{}\nLine three."]


@PROPERTY
@given(code=postcodes(), sentence=st.sampled_from(SENTENCES))
def test_a_generated_postcode_never_survives(code: str, sentence: str) -> None:
    shared = redaction(sentence.format(code))
    assert code not in shared.text and K.POSTCODE in shared.kinds, (code, shared.text)
    assert shared.text == sentence.format("[postcode]")


@PROPERTY
@given(number=phone_numbers(), sentence=st.sampled_from(SENTENCES))
def test_a_generated_phone_number_never_survives(number: str, sentence: str) -> None:
    shared = redaction(sentence.format(number))
    assert shared.text == sentence.format("[phone number]"), (number, shared.text)


@PROPERTY
@given(number=nhs_numbers(), sentence=st.sampled_from(SENTENCES))
def test_a_generated_nhs_number_never_survives(number: str, sentence: str) -> None:
    shared = redaction(sentence.format(number))
    assert shared.text == sentence.format("[NHS number]"), (number, shared.text)


@PROPERTY
@given(
    day=st.dates(), count=st.integers(0, 999), year=st.integers(2000, 2099), serial=st.integers(1, 9999),
    hour=st.integers(0, 23), minute=st.integers(0, 59),
)
def test_references_dates_times_and_counts_are_never_taken_for_identifiers(
    day: object, count: int, year: int, serial: int, hour: int, minute: int
) -> None:
    assert hasattr(day, "strftime")
    text = (f"RR-{year}-{serial:04d}: meet on {day:%d/%m/%Y} ({day.isoformat()}, {day:%d %B %Y}) at "
            f"{hour:02d}:{minute:02d}; {count} agencies, {count} children, page {count}.")
    assert redact(text) == text


# ---- refusing it on the form -------------------------------------------------------------------


def test_the_refusal_names_the_kind_and_quotes_only_the_start_of_it() -> None:
    text = "Call mum on 07700 900123 after school."
    [found] = find_identifiers(text)
    message = identifier_message(text, found)
    assert message == ('This looks like a phone number ("07700 9…"): remove it before sending — the channel '
                       "must not hold identifiers.")
    assert "900123" not in message


@pytest.mark.parametrize(("text", "start"), [
    ("jo.bloggs@example.org", 'an email address ("jo.blogg…")'),
    ("Lives at 12 High Street", 'an address ("12 High…")'),
    ("NHS 943 476 5919", 'an NHS number ("943 476…")'),
    ("sw1a 1aa", 'a postcode ("sw1a…")'),
    ("DOB 01/02/2015", 'a date of birth ("01/02/…")'),
])
def test_the_refusal_reads_naturally_for_each_kind(text: str, start: str) -> None:
    with pytest.raises(Refused) as refused:
        refuse_identifiers({"rationale": text}, PanelRefused)
    assert str(refused.value).startswith(f"This looks like {start}"), str(refused.value)
    assert refused.value.field == "rationale"


def test_the_first_field_with_an_identifier_is_named_and_clean_fields_pass() -> None:
    refuse_identifiers({"rationale": "Meets the criteria: serious harm, abuse suspected.", "question": None},
                       PanelRefused)
    with pytest.raises(PanelRefused) as refused:
        refuse_identifiers({"rationale": "Meets the criteria.", "serious_harm_basis": "",
                            "question": "Is 3 Mill Lane the right address?"}, PanelRefused)
    assert refused.value.field == "question"


def test_a_text_searched_again_gives_the_same_identifiers_whatever_an_earlier_caller_did_with_its_list() -> None:
    """The search is worked out once per text (a rationale is checked when cast and redacted
    when shown): each caller still gets its own list."""
    text = "Seen at 12 Acacia Avenue, M14 5TQ; call 07700 900123."
    first = find_identifiers(text)
    assert [f.kind for f in first] == [K.ADDRESS, K.POSTCODE, K.PHONE]
    first.clear()
    again = find_identifiers(text)
    assert [f.kind for f in again] == [K.ADDRESS, K.POSTCODE, K.PHONE] and again is not first
    assert redact(text) == "Seen at [address], [postcode]; call [phone number]."
