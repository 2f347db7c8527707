"""The referral's rules (bot/domain/referral.py) as a safeguarding lead would check
them, through the public API: `validate_section` (what the card shows next to each
field), `required_fields`, the age rules and the `likely_notifiable` indicator."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bot.domain.referral import (
    CARE_LEAVER_MAX_AGE,
    DEFAULT_EARLIEST_INCIDENT_DATE,
    ChildDetails,
    ChildrenDetails,
    Declaration,
    FormContext,
    IncidentDetails,
    PathwayChoice,
    ReferrerDetails,
    ReferrerViews,
    Section,
    age_on,
    incident_date_needs_confirmation,
    likely_notifiable,
    required_fields,
    validate_section,
)
from tests.conftest import make_referral

TODAY = date(2026, 11, 23)
INCIDENT = date(2026, 11, 20)
AGENCIES = ("Education (school or college)", "Police", "GP / primary care")
CTX = FormContext(today=TODAY, agencies=AGENCIES, incident_date=INCIDENT)


def born_years_before(years: int, *, on: date = INCIDENT, days_later: int = 0) -> str:
    born = on.replace(year=on.year - years)
    return date.fromordinal(born.toordinal() + days_later).isoformat()


def child(**kw: Any) -> dict[str, Any]:
    return {"name": "Test Child", "date_of_birth": "2017-02-03", "gender": "female"} | kw


def children(*kids: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    return validate_section(Section.CHILDREN, {"children": list(kids) or [child()]}, CTX)


REFERRER = {"agency": "Police", "name": "Riley Referrer", "email": "riley@example.org",
            "job_title": "Designated safeguarding lead", "discussed_with": "Head teacher"}
INCIDENT_ANSWERS = {"incident_date": "2026-11-20", "outcome": "seriously_harmed", "abuse_or_neglect": "suspected",
                    "looked_after": "no", "summary": "Admitted to hospital with unexplained injuries."}
VIEWS = {"meets_criteria": "Serious injury.", "family_consulted": "yes", "key_worker_consulted": "yes"}


# ---- what is required -------------------------------------------------------------------------------


def test_only_what_the_panel_cannot_screen_without_is_required() -> None:
    assert required_fields(ReferrerDetails) == {"agency", "name", "email", "job_title", "discussed_with"}
    assert required_fields(PathwayChoice) == {"pathway"}
    assert required_fields(IncidentDetails) == {"incident_date", "outcome", "abuse_or_neglect", "looked_after",
                                                "summary"}
    assert required_fields(ChildDetails) == {"name", "gender"}  # and a date of birth or an estimated age
    assert required_fields(ChildrenDetails) == {"children"}
    assert required_fields(ReferrerViews) == {"meets_criteria", "family_consulted", "key_worker_consulted"}
    assert required_fields(Declaration) == {"senior_manager_reviewed"}


@pytest.mark.parametrize(("section", "answers"), [
    (Section.REFERRER, REFERRER), (Section.INCIDENT, INCIDENT_ANSWERS), (Section.VIEWS, VIEWS),
])
def test_each_required_answer_left_blank_is_named(section: Section, answers: dict[str, Any]) -> None:
    parsed, errors = validate_section(section, answers, CTX)
    assert parsed is not None and errors == {}
    for name in answers:
        _, errors = validate_section(section, {k: v for k, v in answers.items() if k != name}, CTX)
        assert errors == {name: "This is required."}, name
        if name != "incident_date":  # Teams sends an empty input as ""
            _, errors = validate_section(section, answers | {name: ""}, CTX)
            assert errors == {name: "This is required."}, name


def test_the_referrer_chooses_an_agency_from_the_partnership_list_and_gives_a_real_email() -> None:
    _, errors = validate_section(Section.REFERRER, REFERRER | {"agency": "Somewhere else"}, CTX)
    assert errors == {"agency": "Choose your agency from the list."}
    _, errors = validate_section(Section.REFERRER, REFERRER | {"email": "riley at school"}, CTX)
    assert errors == {"email": "Enter an e-mail address like name@example.org."}
    _, errors = validate_section(Section.REFERRER, REFERRER | {"telephone": "call me"}, CTX)
    assert errors == {"telephone": "Use digits, spaces and + ( ) - only."}


def test_the_pathway_is_one_of_a_b_c() -> None:
    parsed, errors = validate_section(Section.PATHWAY, {"pathway": "A"}, CTX)
    assert errors == {} and parsed.pathway.value == "A"
    _, errors = validate_section(Section.PATHWAY, {"pathway": "D"}, CTX)
    assert errors == {"pathway": "Choose one of the options."}


def test_the_senior_manager_declaration_must_be_ticked() -> None:
    assert validate_section(Section.REVIEW, {"senior_manager_reviewed": "true"}, CTX)[1] == {}
    _, errors = validate_section(Section.REVIEW, {"senior_manager_reviewed": "false"}, CTX)
    assert "senior manager" in errors["senior_manager_reviewed"]


def test_not_consulting_the_family_or_key_worker_needs_a_reason() -> None:
    _, errors = validate_section(Section.VIEWS, VIEWS | {"family_consulted": "no"}, CTX)
    assert errors == {"family_not_consulted_reason": "Say why the family has not been consulted."}
    _, errors = validate_section(Section.VIEWS, VIEWS | {"key_worker_consulted": "no"}, CTX)
    assert errors == {"key_worker_not_consulted_reason": "Say why the key worker has not been consulted."}
    parsed, errors = validate_section(Section.VIEWS, VIEWS | {"family_consulted": "no",
                                                              "family_not_consulted_reason": "Police advice."}, CTX)
    assert errors == {} and parsed.family_not_consulted_reason == "Police advice."


# ---- dates --------------------------------------------------------------------------------------------


def test_the_incident_cannot_be_in_the_future_and_today_is_fine() -> None:
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"incident_date": "2026-11-24"}, CTX)
    assert errors == {"incident_date": "This date is in the future. Enter the date it happened."}
    assert validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"incident_date": "2026-11-23"}, CTX)[1] == {}


@pytest.mark.parametrize("typed", ["20/11/2026", "2026-02-30", "yesterday"])
def test_a_date_that_is_not_a_date_says_so(typed: str) -> None:
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"incident_date": typed}, CTX)
    assert errors == {"incident_date": "Enter a real date (for example 2026-03-14)."}


def test_a_date_before_1900_is_refused() -> None:
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"incident_date": "1026-11-20"}, CTX)
    assert errors == {"incident_date": "Enter a real date (for example 2026-03-14)."}


def test_the_local_authority_cannot_have_become_aware_before_the_incident() -> None:
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"la_aware_date": "2026-11-19"}, CTX)
    assert errors == {"la_aware_date": "The local authority cannot have become aware before the incident."}
    parsed, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"la_aware_date": "2026-11-20"}, CTX)
    assert errors == {} and parsed.la_aware_date == INCIDENT
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"la_aware_date": "2026-11-25"}, CTX)
    assert "future" in errors["la_aware_date"]


def test_a_date_of_birth_after_the_incident_is_refused() -> None:
    _, errors = children(child(date_of_birth="2026-11-21"))
    assert errors == {"children.0.date_of_birth": "The date of birth is after the date of the incident."}


# ---- the children and the age rules ----------------------------------------------------------------


def test_a_child_needs_a_date_of_birth_or_an_estimated_age() -> None:
    _, errors = children(child(date_of_birth=""))
    assert errors == {"children.0.date_of_birth": "Enter the date of birth, or an estimated age if it is not known."}
    parsed, errors = children(child(date_of_birth="", estimated_age="7"))
    assert errors == {} and parsed.children[0].age_at(INCIDENT) == 7


def test_at_least_one_child_and_no_more_than_four() -> None:
    _, errors = validate_section(Section.CHILDREN, {"children": []}, CTX)
    assert errors == {"children": "Add at least one child."}
    _, errors = validate_section(Section.CHILDREN, {"children": [child()] * 5}, CTX)
    assert errors == {"children": "No more than 4 here."}
    assert validate_section(Section.CHILDREN, {"children": [child()] * 4}, CTX)[1] == {}


def test_age_is_counted_in_whole_years_at_the_incident() -> None:
    assert age_on(date(2008, 11, 20), INCIDENT) == 18
    assert age_on(date(2008, 11, 21), INCIDENT) == 17  # 18 the day after
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17  # a leap-day birthday
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_a_seventeen_year_old_is_in_scope_the_day_before_their_birthday() -> None:
    parsed, errors = children(child(date_of_birth=born_years_before(18, days_later=1)))
    assert errors == {} and parsed.children[0].age_at(INCIDENT) == 17


@pytest.mark.parametrize("care_status", ["none", "looked_after"])
def test_an_eighteen_year_old_who_is_not_a_care_leaver_is_questioned(care_status: str) -> None:
    _, errors = children(child(date_of_birth=born_years_before(18), care_status=care_status))
    message = errors["children.0.date_of_birth"]
    assert message.startswith("This person was 18 at the incident.")
    assert "care leavers up to and including 24" in message and "Safeguarding Adults Review" in message


@pytest.mark.parametrize("age", [18, 21, CARE_LEAVER_MAX_AGE])
def test_a_care_leaver_up_to_and_including_24_is_in_scope(age: int) -> None:
    parsed, errors = children(child(date_of_birth=born_years_before(age), care_status="care_leaver"))
    assert errors == {} and parsed.children[0].age_at(INCIDENT) == age


def test_a_care_leaver_of_25_is_questioned() -> None:
    _, errors = children(child(date_of_birth=born_years_before(25), care_status="care_leaver"))
    assert errors["children.0.date_of_birth"].startswith("This person was 25 at the incident.")


def test_an_estimated_age_follows_the_same_rules_and_is_named_as_the_field() -> None:
    _, errors = children(child(date_of_birth="", estimated_age="19"))
    assert list(errors) == ["children.0.estimated_age"]
    assert children(child(date_of_birth="", estimated_age="19", care_status="care_leaver"))[1] == {}
    _, errors = children(child(date_of_birth="", estimated_age="31"))
    assert errors == {"children.0.estimated_age": "Enter a number between 0 and 30."}


def test_each_child_is_checked_on_its_own() -> None:
    _, errors = children(child(), child(name="Older Sibling", date_of_birth=born_years_before(19)))
    assert list(errors) == ["children.1.date_of_birth"]


# ---- the likely-notifiable indicator ------------------------------------------------------------------


def _incident(**kw: Any) -> IncidentDetails:
    return IncidentDetails.model_validate(INCIDENT_ANSWERS | kw)


def _child(**kw: Any) -> ChildDetails:
    return ChildDetails.model_validate(child(**kw))


@pytest.mark.parametrize("outcome", ["died", "seriously_harmed"])
@pytest.mark.parametrize("abuse", ["known", "suspected"])
def test_death_or_serious_harm_with_abuse_or_neglect_known_or_suspected_is_likely_notifiable(
        outcome: str, abuse: str) -> None:
    assert likely_notifiable(_incident(outcome=outcome, abuse_or_neglect=abuse), [_child()])


@pytest.mark.parametrize(("outcome", "abuse"), [("seriously_harmed", "not_suspected"), ("neither", "known"),
                                                ("neither", "suspected"), ("died", "not_suspected")])
def test_otherwise_it_is_not(outcome: str, abuse: str) -> None:
    assert not likely_notifiable(_incident(outcome=outcome, abuse_or_neglect=abuse), [_child()])


def test_the_death_of_a_looked_after_child_is_likely_notifiable_even_without_suspected_abuse() -> None:
    died = {"outcome": "died", "abuse_or_neglect": "not_suspected"}
    assert likely_notifiable(_incident(**died, looked_after="yes"), [_child()])
    assert likely_notifiable(_incident(**died), [_child(care_status="looked_after")])
    assert not likely_notifiable(_incident(**died, looked_after="unknown"), [_child()])
    # serious harm of a looked-after child without suspected abuse: not by itself
    assert not likely_notifiable(_incident(outcome="seriously_harmed", abuse_or_neglect="not_suspected",
                                           looked_after="yes"), [_child(care_status="looked_after")])


def test_the_death_of_a_care_leaver_up_to_24_is_likely_notifiable() -> None:
    died = _incident(outcome="died", abuse_or_neglect="not_suspected")
    assert likely_notifiable(died, [_child(date_of_birth=born_years_before(24), care_status="care_leaver")])
    assert not likely_notifiable(died, [_child(date_of_birth=born_years_before(25), care_status="care_leaver")])


def test_the_indicator_is_on_the_whole_referral() -> None:
    assert make_referral().likely_notifiable  # seriously harmed, abuse suspected


# ---- plausible incident dates --------------------------------------------------------------------------


def test_an_incident_before_the_earliest_date_is_refused_with_the_reason() -> None:
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"incident_date": "1900-01-01"}, CTX)
    assert errors == {"incident_date": "This date is before 1 January 1990, the earliest incident date this "
                                       "partnership accepts. Check the year; if it is right, contact the "
                                       "partnership's business unit."}


def test_the_earliest_incident_date_is_the_partnerships() -> None:
    ctx = FormContext(today=TODAY, agencies=AGENCIES, earliest_incident_date=date(2010, 4, 1))
    answers = INCIDENT_ANSWERS | {"incident_date_confirmed": "true"}
    _, errors = validate_section(Section.INCIDENT, answers | {"incident_date": "2010-03-31"}, ctx)
    assert "before 1 April 2010" in errors["incident_date"]
    assert validate_section(Section.INCIDENT, answers | {"incident_date": "2010-04-01"}, ctx)[1] == {}
    assert DEFAULT_EARLIEST_INCIDENT_DATE == date(1990, 1, 1) == CTX.earliest_incident_date


def test_a_future_incident_is_refused_before_the_earliest_date_rule() -> None:
    _, errors = validate_section(Section.INCIDENT, INCIDENT_ANSWERS | {"incident_date": "2027-01-01"}, CTX)
    assert errors == {"incident_date": "This date is in the future. Enter the date it happened."}


CONFIRM = "The incident date is more than a year before the referral: confirm it is correct, or correct it."


def test_an_incident_more_than_a_year_before_the_referral_asks_for_confirmation() -> None:
    old = INCIDENT_ANSWERS | {"incident_date": "2025-11-22"}  # 366 days before TODAY
    _, errors = validate_section(Section.INCIDENT, old, CTX)
    assert errors == {"incident_date_confirmed": CONFIRM}
    parsed, errors = validate_section(Section.INCIDENT, old | {"incident_date_confirmed": "true"}, CTX)
    assert errors == {} and isinstance(parsed, IncidentDetails) and parsed.incident_date_confirmed
    _, errors = validate_section(Section.INCIDENT, old | {"incident_date_confirmed": "false"}, CTX)
    assert errors == {"incident_date_confirmed": CONFIRM}


def test_an_incident_a_year_or_less_before_the_referral_needs_no_confirmation() -> None:
    recent = INCIDENT_ANSWERS | {"incident_date": "2025-11-23"}  # 365 days before TODAY
    parsed, errors = validate_section(Section.INCIDENT, recent, CTX)
    assert errors == {} and isinstance(parsed, IncidentDetails) and not parsed.incident_date_confirmed


def test_the_gap_is_counted_to_the_date_the_local_authority_became_aware() -> None:
    answers = INCIDENT_ANSWERS | {"incident_date": "2024-01-10"}
    _, errors = validate_section(Section.INCIDENT, answers | {"la_aware_date": "2025-02-01"}, CTX)
    assert errors == {"incident_date_confirmed": CONFIRM}
    _, errors = validate_section(Section.INCIDENT, answers | {"la_aware_date": "2024-06-01"}, CTX)
    assert errors == {}  # the local authority knew within the year; the referral came later
    assert incident_date_needs_confirmation(date(2024, 1, 10), None, TODAY)
    assert not incident_date_needs_confirmation(date(2024, 1, 10), date(2025, 1, 9), TODAY)


def test_a_stored_referral_is_read_without_the_form_rules() -> None:
    """No context (a referral read back from the database): old referrals load as stored."""
    incident = IncidentDetails.model_validate(INCIDENT_ANSWERS | {"incident_date": "1985-05-05"})
    assert incident.incident_date == date(1985, 5, 5) and not incident.incident_date_confirmed
