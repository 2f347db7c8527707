"""The notice and the answers shown back when a referral form press could not be saved
because the form changed meanwhile (dialogs/referral_dialog.py, present_changed_elsewhere)."""

from __future__ import annotations

from datetime import date

from bot.domain.referral import MAX_CHILDREN, Section
from cards import referral_form as form
from cards.common import HARD_MAX_CARD_BYTES, card_size

TODAY = date(2026, 11, 23)


def test_the_notice_says_who_changed_what_and_when_with_the_name_escaped():
    text = form.changed_elsewhere_banner("Alex **Smith** [x](https://evil.example)", "changed 'Incident date'",
                                         "10:42", another_window=True)
    assert text.startswith("Alex \\*\\*Smith\\*\\* \\[x\\](https://evil.example) changed 'Incident date' at 10:42 "
                           "from another window; your answer was not saved — here is the form as it is now.")
    assert form.changed_elsewhere_banner(None, None, None, another_window=True) == (
        "This referral was changed from another window; your answer was not saved — here is the form as it is now.")
    assert form.changed_elsewhere_banner("Alex", "saved the referral", "10:42", another_window=False).startswith(
        "That card was out of date: Alex saved the referral at 10:42 on a newer copy;")


def test_only_answers_that_differ_from_the_form_as_it_is_now_are_shown_back_by_label_and_choice_title():
    typed = {"incident_location": "School gate", "incident_time": "14:30", "outcome": "died", "not_an_input": "x"}
    stored = {"incident_location": "Park", "incident_time": "14:30", "outcome": "seriously_harmed"}
    shown = form.unsaved_answers(Section.INCIDENT, typed, stored, 1)
    assert shown == (("Where it happened (confidential)", "School gate"),
                     ("Did the child die or was the child seriously harmed?", "The child died"))
    children = form.unsaved_answers(Section.CHILDREN, {"c2_name": "Sam"}, {}, 2)
    assert children == (("Child 2: Name (confidential)", "Sam"),)


def test_a_card_showing_back_every_answer_of_four_children_at_length_still_fits_teams():
    ids = form.section_input_ids(Section.CHILDREN, MAX_CHILDREN)
    typed = {i: "Ω" * 4000 for i in ids}
    unsaved = form.unsaved_answers(Section.CHILDREN, typed, {}, MAX_CHILDREN)
    assert len(unsaved) == len(ids)
    view = form.FormView(draft_id="d", version=3, today=TODAY, agencies=("Police",), child_count=MAX_CHILDREN,
                         banner=form.changed_elsewhere_banner("Alex", "added a child", "10:42", another_window=True),
                         unsaved=unsaved)
    card = form.section_card(Section.CHILDREN, {}, view)
    assert card_size(card) <= HARD_MAX_CARD_BYTES
    assert "What you typed (not saved)" in str(card)
