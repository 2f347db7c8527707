"""The local review's rules (bot/domain/review.py) and the month steps that date it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from bot.domain.review import (
    ProgressCheck,
    ReviewSetup,
    action_id_of,
    action_step_id,
    is_imr_step,
    recorded_on_review_card,
)
from bot.domain.timeline import LONDON, Anchor, Owner, Step, step_due
from scheduler.calendar import EnglandCalendar

SETUP = {"lead_reviewer": "Jo Reviewer", "terms_of_reference": "The twelve months before the incident.",
         "review_panel": "Police, health and education leads"}


def test_lines_of_enquiry_are_typed_one_per_line_and_numbering_is_dropped() -> None:
    setup = ReviewSetup.model_validate({**SETUP, "lines_of_enquiry": "1. Sharing concerns\n- The child's voice\n\n"
                                                                     "3) Escalation between agencies"})
    assert setup.lines_of_enquiry == ["Sharing concerns", "The child's voice", "Escalation between agencies"]


@pytest.mark.parametrize("lines", ["Only one line", "One line\nTwo lines", "a1 line\nb2 line\nc3 line\nd4 line\ne5 line"])
def test_three_or_four_lines_of_enquiry_no_fewer_no_more(lines: str) -> None:
    with pytest.raises(ValidationError):
        ReviewSetup.model_validate({**SETUP, "lines_of_enquiry": lines})


def test_a_progress_check_says_whether_it_is_on_time() -> None:
    assert ProgressCheck.model_validate({"on_time": "yes", "quality": "Good analysis so far."}).on_time is True
    assert ProgressCheck.model_validate({"on_time": "no", "quality": "Good analysis so far."}).on_time is False
    with pytest.raises(ValidationError):
        ProgressCheck.model_validate({"on_time": "", "quality": "Good analysis so far."})


def test_action_steps_and_review_steps_are_recorded_on_the_review_card() -> None:
    assert action_id_of(action_step_id(42)) == 42 and action_id_of("action_x") is None
    assert action_id_of("desk_top_review_6_months") is None
    assert recorded_on_review_card(Anchor.ACTION_AGREED.value)
    assert recorded_on_review_card(Anchor.REVIEW_PROGRESS_CHECKED.value)
    assert not recorded_on_review_card(Anchor.PANEL_DECISION.value)  # the desk-top reviews: Mark done
    assert is_imr_step(Anchor.REVIEW_COMMISSIONED.value, Owner.AGENCIES.value)
    assert not is_imr_step(Anchor.REQUESTS_SENT.value, Owner.AGENCIES.value)


@pytest.mark.parametrize("months", [6, 12])
def test_a_month_step_never_falls_after_the_month_mark(months: int) -> None:
    """'Within 6 months' of every day of two years: on the mark when it is a working day, else
    the working day before it — never the one after."""
    calendar = EnglandCalendar()
    step = Step(id="desk_top", label="Desk-top review", anchor=Anchor.PANEL_DECISION, offset={"months": months},
                owner=Owner.PARTNERSHIP_MANAGER, source="test")
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        mark = calendar.add_months(day, months)
        due = step_due(step, day, calendar, LONDON).date()
        assert due <= mark and calendar.is_working_day(due)
        assert all(not calendar.is_working_day(d) for d in (due + timedelta(days=n) for n in range(1, (mark - due).days + 1)))
        day += timedelta(days=1)
