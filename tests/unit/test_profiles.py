"""Timeline profiles: every shipped number against its seed, worked examples on real dates,
partnership overrides, and errors that name the file, the step and the problem."""

from __future__ import annotations

import ast
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.timeline import (
    Anchor,
    Deadline,
    OffsetUnit,
    Step,
    TimelineProfile,
    compute_deadlines,
)
from scheduler.calendar import EnglandCalendar
from scheduler.profiles import ProfileError, list_profiles, load_profile

LONDON = ZoneInfo("Europe/London")
CALENDAR = EnglandCalendar()
REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["gloucestershire", "national_minimum", "stockport", "surrey", "west_midlands"]
CITES = {  # each profile's source document, by the citation name docs/sources.md gives it
    "national_minimum": "docs/sources.md",
    "stockport": "Stockport Rapid Review Process (2019)",
    "west_midlands": "West Midlands procedures",
    "surrey": "Surrey Rapid Review & CSPR flowchart",
    "gloucestershire": "Gloucestershire Rapid Reviews Coffee Break Briefing",
}
ALL_PATHWAYS = ("rapid_review", "practice_review", "escalation", "no_further_action")


@cache
def shipped(name: str) -> TimelineProfile:
    return load_profile(name)


def at(text: str) -> datetime:
    """A wall-clock time in London, e.g. at("2026-03-30 17:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def WD(n: int) -> dict[str, int]:  # noqa: N802 - reads like the DESIGN table
    return {"working_days": n}


def window(earliest: int, latest: int) -> tuple[int, int]:
    return (earliest, latest)


# --- every shipped step against the number its source gives --------------------------------
# (profile, step, anchor, offset or window, owner, condition): docs/sources.md's timescales
# table, row by row.

EXPECTED_STEPS: list[tuple[str, str, str, Any, str, str | None]] = [
    # No source gives the virtual panel a number of days: every profile states the bot's default
    # as a step marked local policy (docs/sources.md, "The virtual panel's deadline").
    *[(name, "panel_vote", "referral_received", WD(2), "panel", None)
      for name in ("national_minimum", "stockport", "west_midlands", "surrey", "gloucestershire")],
    ("national_minimum", "notify_national_panel", "aware", WD(5), "local_authority", None),
    ("national_minimum", "report_to_national_panel", "national_panel_notified", WD(15), "panel", None),
    (
        "national_minimum",
        "local_cspr_report",
        "review_commissioned",
        {"months": 6},
        "partnership_manager",
        "review_commissioned",
    ),
    ("stockport", "notify_national_panel", "aware", WD(5), "local_authority", None),
    ("stockport", "send_information_requests", "panel_decision", WD(2), "business_unit", None),
    ("stockport", "agencies_return_information", "requests_sent", WD(8), "agencies", None),
    ("stockport", "papers_to_panel", "meeting", WD(-1), "business_unit", None),
    ("stockport", "rapid_review_meeting", "panel_decision", window(7, 13), "chair", None),
    ("stockport", "report_to_national_panel", "referral_received", WD(15), "partnership_manager", None),
    (
        "stockport",
        "local_cspr_report",
        "review_commissioned",
        {"months": 6},
        "partnership_manager",
        "review_commissioned",
    ),
    ("stockport", "desk_top_review_6_months", "panel_decision", {"months": 6}, "partnership_manager", None),
    ("stockport", "desk_top_review_12_months", "panel_decision", {"months": 12}, "partnership_manager", None),
    ("west_midlands", "notify_national_panel", "aware", WD(5), "local_authority", None),
    ("west_midlands", "send_information_requests", "referral_received", WD(2), "business_unit", None),
    ("west_midlands", "agencies_return_information", "requests_sent", WD(5), "agencies", None),
    ("west_midlands", "papers_to_panel", "meeting", {"hours": 0}, "business_unit", None),
    ("west_midlands", "rapid_review_meeting", "referral_received", window(7, 13), "chair", None),
    ("west_midlands", "report_to_national_panel", "meeting_held", WD(2), "panel", None),
    ("west_midlands", "rapid_review_completed", "aware", WD(15), "panel", None),
    ("surrey", "notify_national_panel", "aware", WD(5), "local_authority", None),
    ("surrey", "set_meeting_date", "aware", WD(1), "business_unit", None),
    ("surrey", "send_information_requests", "aware", WD(1), "business_unit", None),
    ("surrey", "agencies_return_information", "national_panel_notified", WD(5), "agencies", None),
    ("surrey", "papers_to_panel", "meeting", {"hours": -48}, "business_unit", None),
    ("surrey", "rapid_review_meeting", "aware", window(9, 10), "chair", None),
    ("surrey", "draft_outcome_report", "meeting_held", {"hours": 48}, "business_unit", None),
    ("surrey", "final_draft_to_chair_and_executive", "comments_received", {"hours": 48}, "business_unit", None),
    ("surrey", "report_to_national_panel", "aware", WD(15), "business_unit", None),
    ("surrey", "child_death_notification_ecdop", "aware", {"hours": 24}, "child_death_team", "child_death"),
    (
        "surrey",
        "agency_information_management_reports",
        "review_commissioned",
        {"calendar_days": 28},
        "agencies",
        "review_commissioned",
    ),
    ("surrey", "local_cspr_report", "review_commissioned", {"months": 6}, "partnership_manager", "review_commissioned"),
    ("gloucestershire", "notify_national_panel", "aware", WD(5), "local_authority", None),
    ("gloucestershire", "send_information_requests", "national_panel_notified", window(2, 3), "business_unit", None),
    ("gloucestershire", "report_to_national_panel", "national_panel_notified", WD(15), "business_unit", None),
    # After the decision, in every profile (bot/domain/pathways.py): the hand-over of another pathway
    # (local policy: no source gives its time) and the family told by the date agreed (agenda template).
    *[(name, "handover_confirmed", "panel_decision", WD(10), "handover_owner", None) for name in CITES],
    *[(name, "tell_family", "family_tell_by", {"calendar_days": 0}, "family_contact", None) for name in CITES],
    # after the meeting: comments on the draft report, and answering the National Panel's request for
    # more information — no source gives a number, so each is local policy with a documented default
    ("national_minimum", "comments_on_draft_report", "report_started", WD(2), "panel", None),
    ("stockport", "comments_on_draft_report", "report_started", WD(2), "panel", None),
    ("west_midlands", "comments_on_draft_report", "report_started", WD(1), "panel", None),
    ("gloucestershire", "comments_on_draft_report", "report_started", WD(2), "panel", None),
    ("surrey", "comments_on_draft_report", "report_started", {"hours": 48}, "panel", None),
    ("national_minimum", "resubmit_to_national_panel", "national_panel_asked", WD(5), "partnership_manager",
     "more_information_asked"),
    ("stockport", "resubmit_to_national_panel", "national_panel_asked", WD(5), "partnership_manager",
     "more_information_asked"),
    ("west_midlands", "resubmit_to_national_panel", "national_panel_asked", WD(5), "partnership_manager",
     "more_information_asked"),
    ("surrey", "resubmit_to_national_panel", "national_panel_asked", WD(5), "partnership_manager",
     "more_information_asked"),
    ("gloucestershire", "resubmit_to_national_panel", "national_panel_asked", WD(5), "partnership_manager",
     "more_information_asked"),
    # the local review (bot/domain/review.py): two intervals are local policy, marked in each profile
    ("national_minimum", "lcspr_lead_reviewer_and_terms", "review_commissioned", WD(20), "partnership_manager",
     "review_commissioned"),
    ("national_minimum", "lcspr_progress_check", "review_progress_checked", WD(20), "partnership_manager",
     "review_commissioned"),
    ("national_minimum", "lcspr_published", "review_commissioned", {"months": 6}, "partnership_manager",
     "review_commissioned"),
    ("stockport", "agency_information_management_reports", "review_commissioned", {"calendar_days": 28}, "agencies",
     "review_commissioned"),
    ("stockport", "lcspr_lead_reviewer_and_terms", "review_commissioned", WD(20), "partnership_manager",
     "review_commissioned"),
    ("stockport", "lcspr_progress_check", "review_progress_checked", WD(20), "partnership_manager",
     "review_commissioned"),
    ("stockport", "lcspr_published", "review_commissioned", {"months": 6}, "partnership_manager",
     "review_commissioned"),
    ("west_midlands", "lcspr_lead_reviewer_and_terms", "review_commissioned", WD(20), "partnership_manager",
     "review_commissioned"),
    ("west_midlands", "lcspr_progress_check", "review_progress_checked", WD(20), "partnership_manager",
     "review_commissioned"),
    ("west_midlands", "lcspr_published", "review_commissioned", {"months": 6}, "partnership_manager",
     "review_commissioned"),
    ("surrey", "lcspr_lead_reviewer_and_terms", "review_commissioned", WD(20), "partnership_manager",
     "review_commissioned"),
    ("surrey", "lcspr_progress_check", "review_progress_checked", WD(20), "partnership_manager",
     "review_commissioned"),
    ("surrey", "lcspr_published", "review_commissioned", {"months": 6}, "partnership_manager",
     "review_commissioned"),
    ("gloucestershire", "lcspr_lead_reviewer_and_terms", "review_commissioned", WD(20), "partnership_manager",
     "review_commissioned"),
    ("gloucestershire", "lcspr_progress_check", "review_progress_checked", WD(20), "partnership_manager",
     "review_commissioned"),
    ("gloucestershire", "lcspr_published", "review_commissioned", {"months": 6}, "partnership_manager",
     "review_commissioned"),
]
# Steps every profile shares, citing the documents they come from rather than the profile's own.
SHARED_STEPS = {"handover_confirmed": "Local policy", "tell_family": "SSCP Rapid Review Panel Agenda template"}


@pytest.mark.parametrize(
    ("profile", "step_id", "anchor", "amount", "owner", "condition"),
    [pytest.param(*row, id=f"{row[0]}/{row[1]}") for row in EXPECTED_STEPS],
)
def test_each_shipped_step_counts_what_its_seed_says(
    profile: str, step_id: str, anchor: str, amount: Any, owner: str, condition: str | None
) -> None:
    step = shipped(profile).step(step_id)
    assert (step.anchor, step.owner, step.condition) == (anchor, owner, condition)
    if isinstance(amount, tuple):
        assert step.window is not None and step.offset is None
        assert step.window.earliest.unit is OffsetUnit.WORKING_DAYS
        assert (step.window.earliest.value, step.window.latest.value) == amount
    else:
        assert step.window is None and step.offset is not None
        assert step.offset.model_dump(exclude_none=True) == amount
    if step.local_policy:  # no source sets it: the profile says so, and names the source that is silent
        assert step_id == "panel_vote" and step.source.startswith("Local policy")
    else:
        assert SHARED_STEPS.get(step_id, CITES[profile]) in step.source


def test_the_table_above_covers_every_shipped_step_and_nothing_else() -> None:
    shipped_steps = {(name, step.id) for name in list_profiles() for step in shipped(name).steps}
    assert shipped_steps == {(row[0], row[1]) for row in EXPECTED_STEPS}


def test_the_five_profiles_ship_and_each_is_named_after_its_file() -> None:
    assert list_profiles() == SHIPPED
    assert [shipped(name).id for name in SHIPPED] == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_profile_notifies_the_national_panel_within_5_working_days_of_awareness(name: str) -> None:
    step = shipped(name).step("notify_national_panel")
    assert step.anchor is Anchor.AWARE and step.offset is not None and step.offset.working_days == 5
    assert step.asks_for_date and step.records is Anchor.NATIONAL_PANEL_NOTIFIED


def test_the_child_death_notice_applies_on_every_pathway_but_only_after_a_death() -> None:
    step = shipped("surrey").step("child_death_notification_ecdop")
    assert tuple(step.pathways) == ALL_PATHWAYS
    assert step.condition == "child_death"


# --- worked examples: one case per profile, on real dates ----------------------------------


def deadlines_by_step(
    profile: str, anchors: dict[Anchor, datetime], facts: set[str], pathway: str = "rapid_review"
) -> dict[str, Deadline]:
    """The steps after the panel's decision; the panel's own vote deadline (`panel_vote`, which
    the case's clock dates from receipt before any pathway is known) has its own test."""
    found = compute_deadlines(shipped(profile), anchors, CALENDAR, pathway=pathway, facts=facts, tz=LONDON)
    # The steps shared by every profile (SHARED_STEPS) have their own tests; the worked examples are the seeds'.
    return {deadline.step_id: deadline for deadline in found
            if deadline.step_id not in SHARED_STEPS and deadline.step_id != "panel_vote"}


def due_dates(deadlines: dict[str, Deadline]) -> dict[str, Any]:
    return {
        step_id: (deadline.earliest_at, deadline.due_at) if deadline.is_window else deadline.due_at
        for step_id, deadline in deadlines.items()
    }


def test_stockport_worked_example_over_easter_2026() -> None:
    anchors = {
        Anchor.AWARE: at("2026-03-23 09:30"),
        Anchor.REFERRAL_RECEIVED: at("2026-03-23 11:00"),
        Anchor.PANEL_DECISION: at("2026-03-25 16:00"),
        Anchor.REQUESTS_SENT: at("2026-03-27 10:00"),
        Anchor.MEETING: at("2026-04-09 10:00"),
        Anchor.REVIEW_COMMISSIONED: at("2026-04-09 12:00"),
    }
    assert due_dates(deadlines_by_step("stockport", anchors, {"review_commissioned"})) == {
        "notify_national_panel": at("2026-03-30 17:00"),
        "comments_on_draft_report": None,  # pending until the report is started
        "send_information_requests": at("2026-03-27 17:00"),
        "agencies_return_information": at("2026-04-10 17:00"),  # Good Friday and Easter Monday skipped
        "papers_to_panel": at("2026-04-08 17:00"),
        "rapid_review_meeting": (at("2026-04-07 00:00"), at("2026-04-15 17:00")),
        "report_to_national_panel": at("2026-04-15 17:00"),
        "local_cspr_report": at("2026-10-09 17:00"),
        "agency_information_management_reports": at("2026-05-07 17:00"),  # 28 days from Thu 9 Apr
        "lcspr_lead_reviewer_and_terms": at("2026-05-08 17:00"),  # 20 working days, over the May bank holiday
        "lcspr_progress_check": None,  # counted from the last check, which the service derives (bot/services)
        "lcspr_published": at("2026-10-09 17:00"),
        "desk_top_review_6_months": at("2026-09-25 17:00"),
        "desk_top_review_12_months": at("2027-03-25 17:00"),
    }


def test_west_midlands_worked_example_over_the_may_bank_holidays_2026() -> None:
    anchors = {
        Anchor.AWARE: at("2026-04-30 15:00"),
        Anchor.REFERRAL_RECEIVED: at("2026-05-01 09:00"),
        Anchor.REQUESTS_SENT: at("2026-05-05 10:00"),
        Anchor.MEETING: at("2026-05-13 14:00"),
        Anchor.MEETING_HELD: at("2026-05-13 14:00"),
    }
    assert due_dates(deadlines_by_step("west_midlands", anchors, set())) == {
        "notify_national_panel": at("2026-05-08 17:00"),
        "comments_on_draft_report": None,  # pending until the report is started
        "send_information_requests": at("2026-05-06 17:00"),
        "agencies_return_information": at("2026-05-12 17:00"),
        "papers_to_panel": at("2026-05-13 14:00"),
        "rapid_review_meeting": (at("2026-05-13 00:00"), at("2026-05-21 17:00")),
        "report_to_national_panel": at("2026-05-15 17:00"),
        "rapid_review_completed": at("2026-05-22 17:00"),
    }


def test_surrey_worked_example_over_christmas_2025_with_a_child_death_and_a_local_review() -> None:
    anchors = {
        Anchor.AWARE: at("2025-12-19 14:00"),
        Anchor.NATIONAL_PANEL_NOTIFIED: at("2025-12-23 10:00"),
        Anchor.MEETING: at("2026-01-07 10:00"),
        Anchor.MEETING_HELD: at("2026-01-07 10:00"),
        Anchor.COMMENTS_RECEIVED: at("2026-01-12 12:00"),
        Anchor.REVIEW_COMMISSIONED: at("2026-01-07 12:00"),
    }
    facts = {"child_death", "review_commissioned"}
    assert due_dates(deadlines_by_step("surrey", anchors, facts)) == {
        "notify_national_panel": at("2025-12-30 17:00"),
        "comments_on_draft_report": None,  # pending until the report is started
        "set_meeting_date": at("2025-12-22 17:00"),  # day 1
        "send_information_requests": at("2025-12-22 17:00"),  # day 1
        "agencies_return_information": at("2026-01-02 17:00"),
        "papers_to_panel": at("2026-01-05 10:00"),
        "rapid_review_meeting": (at("2026-01-06 00:00"), at("2026-01-07 17:00")),  # days 9-10
        "draft_outcome_report": at("2026-01-09 10:00"),
        "final_draft_to_chair_and_executive": at("2026-01-14 12:00"),
        "report_to_national_panel": at("2026-01-14 17:00"),  # by day 15
        "child_death_notification_ecdop": at("2025-12-20 14:00"),
        "agency_information_management_reports": at("2026-02-04 17:00"),
        "local_cspr_report": at("2026-07-07 17:00"),
        "lcspr_lead_reviewer_and_terms": at("2026-02-04 17:00"),  # 20 working days from Wed 7 Jan
        "lcspr_progress_check": None,
        "lcspr_published": at("2026-07-07 17:00"),
    }


def test_gloucestershire_worked_example_over_christmas_2026() -> None:
    anchors = {
        Anchor.AWARE: at("2026-12-21 10:00"),
        Anchor.NATIONAL_PANEL_NOTIFIED: at("2026-12-23 15:00"),
    }
    assert due_dates(deadlines_by_step("gloucestershire", anchors, set())) == {
        "notify_national_panel": at("2026-12-30 17:00"),
        "comments_on_draft_report": None,  # pending until the report is started
        # 24 Dec is day 1; 25 Dec and the substitute Monday 28 Dec are bank holidays
        "send_information_requests": (at("2026-12-29 00:00"), at("2026-12-30 17:00")),
        "report_to_national_panel": at("2027-01-18 17:00"),
    }


def test_national_minimum_worked_example_from_the_design_example() -> None:
    anchors = {
        Anchor.AWARE: at("2025-12-19 14:00"),
        Anchor.NATIONAL_PANEL_NOTIFIED: at("2025-12-30 11:00"),
        Anchor.REVIEW_COMMISSIONED: at("2026-08-31 10:00"),
    }
    assert due_dates(deadlines_by_step("national_minimum", anchors, {"review_commissioned"})) == {
        "notify_national_panel": at("2025-12-30 17:00"),
        "comments_on_draft_report": None,  # pending until the report is started
        "report_to_national_panel": at("2026-01-21 17:00"),
        "local_cspr_report": at("2027-02-26 17:00"),  # 31 Aug + 6 months = Sun 28 Feb: the Friday before, never after
        "lcspr_lead_reviewer_and_terms": at("2026-09-28 17:00"),  # 20 working days from the bank holiday Mon 31 Aug
        "lcspr_progress_check": None,
        "lcspr_published": at("2027-02-26 17:00"),
    }


# --- how deadlines behave --------------------------------------------------------------------


def test_a_step_whose_anchor_has_not_happened_is_pending() -> None:
    found = deadlines_by_step("stockport", {Anchor.AWARE: at("2026-03-23 09:30")}, set())
    assert found["notify_national_panel"].due_at == at("2026-03-30 17:00")
    assert found["papers_to_panel"].pending and found["papers_to_panel"].anchor_at is None
    assert found["rapid_review_meeting"].pending and found["rapid_review_meeting"].earliest_at is None


def test_rebooking_the_meeting_moves_the_papers_deadline_with_it() -> None:
    aware = at("2025-12-19 14:00")
    before = deadlines_by_step("surrey", {Anchor.AWARE: aware, Anchor.MEETING: at("2026-01-07 10:00")}, set())
    after = deadlines_by_step("surrey", {Anchor.AWARE: aware, Anchor.MEETING: at("2026-01-08 14:00")}, set())
    assert before["papers_to_panel"].due_at == at("2026-01-05 10:00")
    assert after["papers_to_panel"].due_at == at("2026-01-06 14:00")
    assert before["report_to_national_panel"] == after["report_to_national_panel"]


def test_steps_of_another_pathway_are_left_out() -> None:
    anchors = {Anchor.AWARE: at("2025-12-19 14:00")}
    found = deadlines_by_step("surrey", anchors, {"child_death"}, pathway="practice_review")
    assert list(found) == ["child_death_notification_ecdop"]


def test_a_conditional_step_is_left_out_unless_its_fact_holds() -> None:
    anchors = {Anchor.AWARE: at("2025-12-19 14:00")}
    assert "child_death_notification_ecdop" not in deadlines_by_step("surrey", anchors, set())
    assert "local_cspr_report" not in deadlines_by_step("surrey", anchors, {"child_death"})


def test_date_based_deadlines_are_due_at_five_pm_london_time_summer_and_winter() -> None:
    summer = deadlines_by_step("stockport", {Anchor.AWARE: at("2026-06-01 09:00")}, set())
    winter = deadlines_by_step("stockport", {Anchor.AWARE: at("2026-01-05 09:00")}, set())
    for deadline in (summer["notify_national_panel"], winter["notify_national_panel"]):
        assert deadline.due_at is not None and deadline.due_at.hour == 17
    assert summer["notify_national_panel"].due_at.utcoffset().total_seconds() == 3600  # type: ignore[union-attr]


def test_an_anchor_in_utc_counts_from_the_london_day_it_fell_on() -> None:
    late_evening_bst = datetime.fromisoformat("2026-06-05T23:30:00+00:00")  # Saturday 00:30 in London
    found = deadlines_by_step("stockport", {Anchor.AWARE: late_evening_bst}, set())
    assert found["notify_national_panel"].due_at == at("2026-06-12 17:00")


def test_an_anchor_given_as_a_date_means_the_start_of_that_day() -> None:
    found = compute_deadlines(
        shipped("surrey"), {Anchor.AWARE: date(2025, 12, 19)}, CALENDAR, pathway="rapid_review", facts={"child_death"}
    )
    ecdop = next(d for d in found if d.step_id == "child_death_notification_ecdop")
    assert ecdop.due_at == at("2025-12-20 00:00")


def test_a_naive_anchor_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="anchor 'aware' is a naive datetime"):
        compute_deadlines(
            shipped("surrey"), {Anchor.AWARE: datetime(2025, 12, 19, 14)}, CALENDAR, pathway="rapid_review"
        )


def test_an_unknown_pathway_is_refused() -> None:
    with pytest.raises(ValueError):
        compute_deadlines(shipped("surrey"), {}, CALENDAR, pathway="rapid-review")


def test_a_deadline_carries_what_reminders_and_cards_need() -> None:
    found = deadlines_by_step("stockport", {Anchor.AWARE: at("2026-03-23 09:30")}, set())
    notify = found["notify_national_panel"]
    assert (notify.owner, notify.asks_for_date, notify.records) == ("local_authority", True, "national_panel_notified")
    assert notify.reminders.heads_up_working_days == 2 and notify.reminders.due_time.hour == 9
    assert notify.reminders.overdue_daily and CITES["stockport"] in notify.source


# --- partnership overrides ---------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_override_replaces_only_the_fields_it_gives(tmp_path: Path) -> None:
    overrides = write(tmp_path, "ours.toml", '[[steps]]\nid = "notify_national_panel"\noffset = { working_days = 3 }\n')
    profile = load_profile("surrey", overrides)
    step = profile.step("notify_national_panel")
    assert step.offset is not None and step.offset.working_days == 3
    assert step.owner == "local_authority" and CITES["surrey"] in step.source
    assert [s.id for s in profile.steps] == [s.id for s in shipped("surrey").steps]


def test_an_override_can_turn_a_window_into_a_single_deadline(tmp_path: Path) -> None:
    overrides = write(tmp_path, "ours.toml", '[[steps]]\nid = "rapid_review_meeting"\noffset = { working_days = 10 }\n')
    step = load_profile("stockport", overrides).step("rapid_review_meeting")
    assert step.window is None and step.offset is not None and step.offset.working_days == 10


def test_an_override_adds_new_steps_and_removes_listed_ones(tmp_path: Path) -> None:
    overrides = write(
        tmp_path,
        "ours.toml",
        """
title = "Our partnership"
remove = ["desk_top_review_12_months"]

[[steps]]
id = "strategy_discussion"
label = "Strategy discussion held"
anchor = "referral_received"
offset = { working_days = 1 }
owner = "local_authority"
source = "local procedure 4.2 (minutes of 3 March 2026)"
reminders = { heads_up_working_days = 0 }
""",
    )
    profile = load_profile("stockport", overrides)
    ids = [step.id for step in profile.steps]
    assert "desk_top_review_12_months" not in ids and ids[-1] == "strategy_discussion"
    assert profile.title == "Our partnership" and profile.id == "stockport"
    assert profile.step("strategy_discussion").reminders.heads_up_working_days == 0


def test_an_override_may_move_surreys_day_numbers_onto_the_notification(tmp_path: Path) -> None:
    overrides = write(
        tmp_path,
        "ours.toml",
        '[[steps]]\nid = "report_to_national_panel"\nanchor = "national_panel_notified"\n',
    )
    step = load_profile("surrey", overrides).step("report_to_national_panel")
    assert step.anchor is Anchor.NATIONAL_PANEL_NOTIFIED


def test_removing_an_unknown_step_names_the_override_file_and_the_step(tmp_path: Path) -> None:
    overrides = write(tmp_path, "ours.toml", 'remove = ["no_such_step"]\n')
    with pytest.raises(ProfileError) as caught:
        load_profile("surrey", overrides)
    assert str(caught.value) == f"{overrides}: remove: no step 'no_such_step' in scheduler/profiles/surrey.toml"


def test_removing_the_step_that_records_the_notification_is_refused(tmp_path: Path) -> None:
    overrides = write(tmp_path, "ours.toml", 'remove = ["notify_national_panel"]\n')
    with pytest.raises(ProfileError) as caught:
        load_profile("gloucestershire", overrides)
    message = str(caught.value)
    assert message.startswith(f"{overrides}: step 'send_information_requests': anchor 'national_panel_notified'")
    assert "records = 'national_panel_notified'" in message


def test_a_new_step_missing_its_source_is_refused_naming_the_override_file(tmp_path: Path) -> None:
    overrides = write(
        tmp_path,
        "ours.toml",
        '[[steps]]\nid = "extra"\nlabel = "Extra"\nanchor = "aware"\noffset = { hours = 2 }\nowner = "chair"\n',
    )
    with pytest.raises(ProfileError) as caught:
        load_profile("surrey", overrides)
    assert str(caught.value) == f"{overrides}: step 'extra': source: required"


def test_an_override_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    overrides = write(tmp_path, "ours.toml", 'removes = ["set_meeting_date"]\n')
    with pytest.raises(ProfileError, match="unknown key removes"):
        load_profile("surrey", overrides)


# --- bad profiles: the message names file, step and problem ------------------------------------

GOOD_STEP = """
[[steps]]
id = "notify_panel"
label = "Notify the National Panel"
anchor = "aware"
owner = "local_authority"
asks_for_date = true
records = "national_panel_notified"
source = "test"
"""


def bad_profile(tmp_path: Path, steps: str) -> str:
    path = write(tmp_path, "x.toml", f'id = "x"\ntitle = "X"\nsource = "test"\n{steps}')
    with pytest.raises(ProfileError) as caught:
        load_profile(str(path))
    return str(caught.value).replace(str(path), "x.toml")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        pytest.param(
            GOOD_STEP + "offset = { working_days = 5, hours = 3 }\n",
            "x.toml: step 'notify_panel': offset: set exactly one of working_days, hours, months, "
            "calendar_days (got working_days, hours)",
            id="two units in one offset",
        ),
        pytest.param(
            GOOD_STEP + "offset = {}\n",
            "x.toml: step 'notify_panel': offset: set exactly one of working_days, hours, months, "
            "calendar_days (got none)",
            id="an empty offset",
        ),
        pytest.param(
            GOOD_STEP,
            "x.toml: step 'notify_panel': set either offset or window (exactly one)",
            id="neither offset nor window",
        ),
        pytest.param(
            GOOD_STEP + "offset = { working_days = 5 }\n"
            "window = { earliest = { working_days = 1 }, latest = { working_days = 2 } }\n",
            "x.toml: step 'notify_panel': set either offset or window (exactly one)",
            id="both offset and window",
        ),
        pytest.param(
            GOOD_STEP + "window = { earliest = { working_days = 13 }, latest = { working_days = 7 } }\n",
            "x.toml: step 'notify_panel': window: earliest (13) is after latest (7)",
            id="a window the wrong way round",
        ),
        pytest.param(
            GOOD_STEP + "window = { earliest = { hours = 1 }, latest = { working_days = 7 } }\n",
            "x.toml: step 'notify_panel': window: earliest and latest must use the same unit",
            id="a window in two units",
        ),
        pytest.param(
            GOOD_STEP + "ofset = { working_days = 5 }\n",
            "x.toml: step 'notify_panel': ofset: unknown key",
            id="a misspelt key",
        ),
        pytest.param(
            GOOD_STEP + "offset = { working_day = 5 }\n",
            "x.toml: step 'notify_panel': offset.working_day: unknown key",
            id="a misspelt unit",
        ),
        pytest.param(
            GOOD_STEP + "offset = { working_days = 5 }\n" + GOOD_STEP + "offset = { working_days = 4 }\n",
            "x.toml: step 'notify_panel': defined twice (step ids must be unique)",
            id="a step id used twice",
        ),
        pytest.param(
            GOOD_STEP.replace("asks_for_date = true\n", "") + "offset = { working_days = 5 }\n",
            "x.toml: step 'notify_panel': records = 'national_panel_notified' needs asks_for_date = true "
            "(the date done is the record)",
            id="records without asking for the date",
        ),
        pytest.param(
            GOOD_STEP.replace('records = "national_panel_notified"\n', "") + "offset = { working_days = 5 }\n"
            '[[steps]]\nid = "report"\nlabel = "Report"\nanchor = "national_panel_notified"\n'
            'offset = { working_days = 15 }\nowner = "panel"\nsource = "test"\n',
            "x.toml: step 'report': anchor 'national_panel_notified' is only known when a step is marked done, "
            "but no step has records = 'national_panel_notified' and asks_for_date = true",
            id="counting from the notification with no step that records it",
        ),
    ],
)
def test_a_bad_profile_is_refused_with_file_step_and_problem(tmp_path: Path, steps: str, message: str) -> None:
    assert bad_profile(tmp_path, steps) == message


def test_an_unknown_anchor_is_refused_listing_the_known_ones(tmp_path: Path) -> None:
    message = bad_profile(tmp_path, GOOD_STEP.replace('"aware"', '"awareness"') + "offset = { working_days = 5 }\n")
    assert message.startswith("x.toml: step 'notify_panel': anchor: Input should be 'incident', 'aware'")


def test_a_step_id_that_is_not_a_slug_is_refused(tmp_path: Path) -> None:
    message = bad_profile(tmp_path, GOOD_STEP.replace("notify_panel", "Notify Panel") + "offset = { hours = 1 }\n")
    assert message.startswith("x.toml: step 'Notify Panel': id: String should match pattern")


def test_a_file_that_is_not_toml_is_refused_with_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.toml", "id = \n")
    with pytest.raises(ProfileError, match=r"broken\.toml: not valid TOML"):
        load_profile(path)


def test_an_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(
        ProfileError, match="no shipped profile named 'kent' .shipped: gloucestershire, national_minimum"
    ):
        load_profile("kent")


def test_a_name_that_could_climb_out_of_the_profiles_folder_is_refused() -> None:
    with pytest.raises(ProfileError):
        load_profile("..")


def test_every_step_a_profile_can_hold_round_trips_through_its_model() -> None:
    for name in SHIPPED:
        for step in shipped(name).steps:
            assert Step.model_validate(step.model_dump()) == step


# --- purity --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        pytest.param(
            "bot/domain/timeline.py",
            {"__future__", "collections", "datetime", "enum", "typing", "zoneinfo", "pydantic"},
            id="the timeline domain: stdlib and pydantic",
        ),
        pytest.param(
            "scheduler/profiles.py",
            {"__future__", "re", "tomllib", "pathlib", "typing", "pydantic", "bot"},
            id="the profile loader: tomllib, pydantic and the domain",
        ),
    ],
)
def test_the_timeline_modules_stay_pure(module: str, allowed: set[str]) -> None:
    tree = ast.parse((REPO / module).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    froms = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {name.split(".")[0] for name in froms}
    assert imported <= allowed
    assert all(name == "bot.domain.timeline" for name in froms if name.startswith("bot"))
