"""The incident card's date confirmation (cards/referral_form.py): the checkbox appears, and is
required, only for an incident more than a year before the local authority became aware (or
the referral); the form's buttons may carry it (the verb table)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.domain.referral import FormContext, Section, validate_section
from cards import referral_form
from cards.referral_form import FormView

TODAY = date(2026, 11, 24)
VIEW = FormView(draft_id="draft-1", version=1, today=TODAY, agencies=("Police",))
TITLE = "I confirm the incident date is correct: it is more than a year before the referral."


def _inputs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in card["body"] if str(e.get("type", "")).startswith("Input.")}


def test_a_recent_incident_has_no_confirmation() -> None:
    assert "incident_date_confirmed" not in _inputs(referral_form.incident_card({"incident_date": "2026-11-20"}, VIEW))
    assert "incident_date_confirmed" not in _inputs(referral_form.incident_card({}, VIEW))
    assert "incident_date_confirmed" not in _inputs(referral_form.incident_card({"incident_date": "junk"}, VIEW))


def test_an_old_incident_asks_for_a_required_confirmation() -> None:
    toggle = _inputs(referral_form.incident_card({"incident_date": "2020-03-01"}, VIEW))["incident_date_confirmed"]
    assert toggle["type"] == "Input.Toggle" and toggle["title"] == TITLE
    assert toggle["isRequired"] and toggle["errorMessage"] and toggle["label"]
    assert toggle["value"] == "false"
    ticked = {"incident_date": "2020-03-01", "incident_date_confirmed": "true"}
    assert _inputs(referral_form.incident_card(ticked, VIEW))["incident_date_confirmed"]["value"] == "true"


def test_the_gap_counts_to_the_date_the_local_authority_became_aware() -> None:
    raw = {"incident_date": "2020-03-01", "la_aware_date": "2020-05-01"}
    assert "incident_date_confirmed" not in _inputs(referral_form.incident_card(raw, VIEW))


def test_the_domains_error_is_shown_next_to_the_checkbox() -> None:
    raw = {"incident_date": "2020-03-01", "outcome": "died", "abuse_or_neglect": "known", "looked_after": "no",
           "summary": "x"}
    _, errors = validate_section(Section.INCIDENT, referral_form.answers_from_raw(Section.INCIDENT, raw, 1),
                                 FormContext(today=TODAY))
    errors = referral_form.errors_for_inputs(Section.INCIDENT, errors)
    assert set(errors) == {"incident_date_confirmed"}
    card = referral_form.incident_card(raw, FormView(**{**VIEW.__dict__, "errors": errors}))
    ids = [e.get("id") for e in card["body"]]
    at = ids.index("incident_date_confirmed")
    assert card["body"][at + 1]["text"].endswith(errors["incident_date_confirmed"])


def test_the_form_buttons_may_carry_the_confirmation() -> None:
    assert "incident_date_confirmed" in referral_form.section_input_ids(Section.INCIDENT)
    assert all("incident_date_confirmed" in verb.inputs for verb in referral_form.VERBS.values())
