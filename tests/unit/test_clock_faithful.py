"""The statutory clock read faithfully: "within 6 months" never falls after six months, a
calendar-day step on a weekend says so, the virtual panel's deadline is a profile step marked
local policy, moot steps are superseded, and the statutory steps are known as such
(docs/sources.md, "How the bot reads these numbers")."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.timeline import (
    Anchor,
    Step,
    compute_deadlines,
    is_statutory,
    non_working_day_note,
    superseded,
)
from bot.services.deadlines import PANEL_VOTE_STEP, PANEL_VOTE_WORKING_DAYS, panel_vote_step
from scheduler.calendar import EnglandCalendar
from scheduler.profiles import list_profiles, load_profile

LONDON = ZoneInfo("Europe/London")
CALENDAR = EnglandCalendar()


def _months_profile(months: int):  # noqa: ANN202
    return load_profile("national_minimum").model_copy(update={"steps": [Step(
        id="local_review", label="Local review", anchor=Anchor.REVIEW_COMMISSIONED, offset={"months": months},
        owner="partnership_manager", source="Working Together 2023")]})


@settings(max_examples=300, deadline=None)
@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2034, 12, 31)),
       months=st.sampled_from([1, 3, 6, 12]))
def test_within_n_months_never_falls_after_n_months_and_always_on_a_working_day(start: date, months: int) -> None:
    deadline = compute_deadlines(_months_profile(months), {Anchor.REVIEW_COMMISSIONED: start}, CALENDAR,
                                 pathway="rapid_review", facts={"review_commissioned"}, tz=LONDON)[0]
    assert deadline.due_at is not None
    due = deadline.due_at.date()
    assert due <= CALENDAR.add_months(start, months)  # never after the six (or N) months
    assert CALENDAR.is_working_day(due)
    assert (CALENDAR.add_months(start, months) - due).days <= 6  # Christmas and a weekend at most


def test_six_months_ending_on_a_sunday_is_the_friday_before() -> None:
    deadline = compute_deadlines(_months_profile(6), {Anchor.REVIEW_COMMISSIONED: date(2026, 8, 31)}, CALENDAR,
                                 pathway="rapid_review", facts={"review_commissioned"}, tz=LONDON)[0]
    assert deadline.due_at == datetime(2027, 2, 26, 17, 0, tzinfo=LONDON)  # not Monday 1 March


def test_a_date_on_a_weekend_or_bank_holiday_says_it_is_not_a_working_day() -> None:
    assert non_working_day_note(date(2026, 1, 3), CALENDAR) == "a Saturday, not a working day"
    assert non_working_day_note(date(2025, 12, 25), CALENDAR) == "a bank holiday or closure day, not a working day"
    assert non_working_day_note(date(2026, 1, 5), CALENDAR) is None


def test_surreys_four_weeks_landing_on_a_saturday_is_kept_and_flagged() -> None:
    surrey = load_profile("surrey")
    found = {d.step_id: d for d in compute_deadlines(
        surrey, {Anchor.AWARE: date(2025, 12, 1), Anchor.REVIEW_COMMISSIONED: date(2026, 1, 5)}, CALENDAR,
        pathway="rapid_review", facts={"review_commissioned"}, tz=LONDON)}
    imr = found["agency_information_management_reports"]
    assert imr.due_at is not None and imr.due_at.date() == date(2026, 2, 2)  # Monday: 28 days, no note
    found = {d.step_id: d for d in compute_deadlines(
        surrey, {Anchor.AWARE: date(2025, 12, 1), Anchor.REVIEW_COMMISSIONED: date(2026, 1, 3)}, CALENDAR,
        pathway="rapid_review", facts={"review_commissioned"}, tz=LONDON)}
    imr = found["agency_information_management_reports"]
    assert imr.due_at is not None and imr.due_at.date() == date(2026, 1, 31)  # as written: not moved
    assert non_working_day_note(imr.due_at.date(), CALENDAR) == "a Saturday, not a working day"


@pytest.mark.parametrize("name", list_profiles())
def test_every_shipped_profile_states_the_panel_vote_as_local_policy(name: str) -> None:
    step = load_profile(name).step(PANEL_VOTE_STEP)
    assert step.local_policy and step.source.startswith("Local policy")
    assert step.offset is not None and step.offset.working_days == PANEL_VOTE_WORKING_DAYS
    assert step.anchor is Anchor.REFERRAL_RECEIVED


def test_an_override_changes_the_panel_vote_and_its_label_says_local_policy(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('[[steps]]\nid = "panel_vote"\noffset = { working_days = 3 }\n', encoding="utf-8")
    step = panel_vote_step(load_profile("stockport", overrides))
    assert step.offset is not None and step.offset.working_days == 3
    deadline = compute_deadlines(load_profile("stockport", overrides).model_copy(update={"steps": [step]}),
                                 {Anchor.REFERRAL_RECEIVED: date(2026, 11, 23)}, CALENDAR, pathway="rapid_review",
                                 tz=LONDON)[0]
    assert deadline.due_at == datetime(2026, 11, 26, 17, 0, tzinfo=LONDON)
    assert deadline.label.endswith("(local policy)")


def test_a_profile_without_the_step_falls_back_to_the_documented_default(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('remove = ["panel_vote"]\n', encoding="utf-8")
    step = panel_vote_step(load_profile("stockport", overrides))
    assert step.local_policy and step.offset is not None and step.offset.working_days == PANEL_VOTE_WORKING_DAYS


@pytest.mark.parametrize(("name", "step_id", "by"), [
    ("stockport", "papers_to_panel", Anchor.MEETING_HELD),
    ("stockport", "agencies_return_information", Anchor.MEETING_HELD),
    ("west_midlands", "papers_to_panel", Anchor.MEETING_HELD),
    ("west_midlands", "agencies_return_information", Anchor.MEETING_HELD),
    ("surrey", "papers_to_panel", Anchor.MEETING_HELD),
    ("surrey", "agencies_return_information", Anchor.MEETING_HELD),
    ("surrey", "set_meeting_date", Anchor.MEETING),
])
def test_steps_the_meeting_makes_moot_are_superseded_by_it(name: str, step_id: str, by: Anchor) -> None:
    profile = load_profile(name)
    assert profile.step(step_id).superseded_by is by
    anchors = {Anchor.AWARE: date(2026, 3, 2), Anchor.REFERRAL_RECEIVED: date(2026, 3, 2),
               Anchor.PANEL_DECISION: date(2026, 3, 3), Anchor.REQUESTS_SENT: date(2026, 3, 4),
               Anchor.NATIONAL_PANEL_NOTIFIED: date(2026, 3, 4), Anchor.MEETING: date(2026, 3, 12)}
    found = {d.step_id: d for d in compute_deadlines(profile, anchors, CALENDAR, pathway="rapid_review", tz=LONDON)}
    assert not superseded(found[step_id], anchors) or by is Anchor.MEETING
    assert superseded(found[step_id], {**anchors, Anchor.MEETING_HELD: date(2026, 3, 12)})


def test_only_the_national_panel_steps_are_statutory() -> None:
    for name in list_profiles():
        statutory = {s.id for s in load_profile(name).steps if s.statutory}
        assert "notify_national_panel" in statutory
        assert statutory <= {"notify_national_panel", "report_to_national_panel"}
    assert is_statutory("report_submitted") and is_statutory("national_panel_notified")
    assert not is_statutory("meeting_held") and not is_statutory(None)


def test_a_step_cannot_be_superseded_by_its_own_anchor() -> None:
    with pytest.raises(ValueError, match="superseded_by"):
        Step(id="x", label="X", anchor=Anchor.MEETING, offset={"working_days": -1}, owner="business_unit",
             superseded_by=Anchor.MEETING, source="Stockport Rapid Review Process (2019)")
