"""Finding the meeting's slot and validating its outcome (bot/domain/meeting.py), pure.

Candidates are the working-hours slots of the window's working days (England's bank
holidays and the partnership's closure days are not working days); the earliest slot
with nobody busy wins; failing that, the chair is offered the best few: fewest people
busy, then earliest, one per day. An outcome is quorate only with a representative of
each statutory partner (West Midlands procedures, 4.6.1).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.domain.meeting import MeetingOutcome, OutcomeChoice, Slot, best, candidates, earliest_free
from scheduler.calendar import EnglandCalendar

LONDON = ZoneInfo("Europe/London")
CALENDAR = EnglandCalendar([date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)])
TWO_HOURS = timedelta(hours=2)
HALF_HOUR = timedelta(minutes=30)


def at(day: date | str, hour: int, minute: int = 0) -> datetime:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def slots(first: str, last: str, *, not_before: datetime | None = None, length: timedelta = TWO_HOURS,
          day_start: time = time(9, 30), day_end: time = time(16, 30)) -> list[tuple[datetime, datetime]]:
    return list(candidates(date.fromisoformat(first), date.fromisoformat(last), day_start=day_start,
                           day_end=day_end, length=length, step=HALF_HOUR, calendar=CALENDAR, tz=LONDON,
                           not_before=not_before or datetime(2000, 1, 1, tzinfo=UTC)))


# ---- candidates ------------------------------------------------------------------------------------


def test_a_day_offers_every_half_hour_start_whose_meeting_ends_by_the_close() -> None:
    day = slots("2026-12-02", "2026-12-02")
    assert [s for s, _ in day] == [at("2026-12-02", 9, 30) + i * HALF_HOUR for i in range(11)]
    assert day[0] == (at("2026-12-02", 9, 30), at("2026-12-02", 11, 30))
    assert day[-1] == (at("2026-12-02", 14, 30), at("2026-12-02", 16, 30))  # ends exactly at 16:30
    assert all(end - start == TWO_HOURS for start, end in day)


def test_christmas_weekend_bank_holidays_and_closure_days_offer_nothing() -> None:
    offered = {start.date() for start, _ in slots("2026-12-24", "2027-01-05")}
    # 25 Dec (Fri), 26–27 (weekend), 28 Dec (Boxing Day substitute, Mon), 29–31 (closure days),
    # 1 Jan (New Year's Day), 2–3 Jan (weekend).
    assert offered == {date(2026, 12, 24), date(2027, 1, 4), date(2027, 1, 5)}


def test_summer_time_keeps_local_working_hours() -> None:
    # The clocks go forward on Sun 29 March 2026: the local hours are the same either side.
    week = slots("2026-03-27", "2026-03-30")
    assert {s.astimezone(LONDON).time() for s, _ in week if s.date() == date(2026, 3, 27)} == \
        {s.astimezone(LONDON).time() for s, _ in week if s.date() == date(2026, 3, 30)}
    monday = [s for s, _ in week if s.date() == date(2026, 3, 30)]
    assert monday[0].astimezone(UTC).time() == time(8, 30)  # 09:30 BST
    assert [s for s, _ in week if s.date() == date(2026, 3, 27)][0].astimezone(UTC).time() == time(9, 30)


def test_nothing_before_not_before() -> None:
    offered = slots("2026-12-02", "2026-12-03", not_before=at("2026-12-02", 13, 15))
    assert offered[0][0] == at("2026-12-02", 13, 30)
    assert all(start >= at("2026-12-02", 13, 15) for start, _ in offered)


def test_a_meeting_longer_than_the_day_has_no_slot() -> None:
    assert slots("2026-12-02", "2026-12-04", length=timedelta(hours=8)) == []


def test_an_empty_or_reversed_window_has_no_slot() -> None:
    assert slots("2026-12-05", "2026-12-06") == []  # a weekend
    assert slots("2026-12-04", "2026-12-02") == []


# ---- earliest_free ----------------------------------------------------------------------------------


def test_earliest_slot_with_everyone_free() -> None:
    day = slots("2026-12-02", "2026-12-03")
    busy = {"Laura": [(at("2026-12-02", 9), at("2026-12-02", 11))],
            "Dan": [(at("2026-12-02", 11, 30), at("2026-12-02", 14))],
            "Nina": [(at("2026-12-02", 14), at("2026-12-02", 14, 30))]}
    assert earliest_free(day, busy) == Slot(at("2026-12-02", 14, 30), at("2026-12-02", 16, 30))


def test_meetings_that_only_touch_do_not_clash() -> None:
    day = slots("2026-12-02", "2026-12-02")
    busy = {"Laura": [(at("2026-12-02", 8), at("2026-12-02", 9, 30)), (at("2026-12-02", 11, 30), at("2026-12-02", 17))]}
    assert earliest_free(day, busy) == Slot(at("2026-12-02", 9, 30), at("2026-12-02", 11, 30))


def test_a_block_given_in_utc_counts_against_london_slots() -> None:
    day = slots("2026-06-17", "2026-06-17")
    busy = {"Dan": [(datetime(2026, 6, 17, 8, 30, tzinfo=UTC), datetime(2026, 6, 17, 10, 0, tzinfo=UTC))]}  # 09:30–11:00 BST
    assert earliest_free(day, busy) == Slot(at("2026-06-17", 11), at("2026-06-17", 13))


def test_nobody_busy_takes_the_first_slot_and_no_slot_when_always_busy() -> None:
    day = slots("2026-12-02", "2026-12-02")
    assert earliest_free(day, {}) == Slot(*day[0])
    assert earliest_free(day, {"Laura": [], "Dan": []}) == Slot(*day[0])
    assert earliest_free(day, {"Laura": [(at("2026-12-02", 0), at("2026-12-03", 0))]}) is None
    assert earliest_free([], {}) is None


# ---- best -----------------------------------------------------------------------------------------


def test_best_prefers_fewest_busy_then_earliest_one_per_day_with_names() -> None:
    window = slots("2026-12-02", "2026-12-10")
    busy = {"Laura": [(at("2026-12-02", 0), at("2026-12-11", 0))],
            "Dan": [(at("2026-12-02", 0), at("2026-12-04", 0))],
            "Nina": [(at("2026-12-02", 0), at("2026-12-03", 0)), (at("2026-12-04", 9), at("2026-12-04", 12))]}
    offered = best(window, busy)
    assert [(s.start, s.busy) for s in offered] == [
        (at("2026-12-04", 12), ("Laura",)),
        (at("2026-12-07", 9, 30), ("Laura",)),
        (at("2026-12-08", 9, 30), ("Laura",)),
    ]
    assert len({s.start.date() for s in offered}) == 3


def test_best_lists_busy_names_sorted_and_respects_n() -> None:
    window = slots("2026-12-02", "2026-12-03")
    everyone = [(at("2026-12-02", 0), at("2026-12-04", 0))]
    offered = best(window, {"Nina": everyone, "Dan": everyone, "Laura": everyone}, n=5)
    assert [s.busy for s in offered] == [("Dan", "Laura", "Nina")] * 2  # only two days to offer
    assert [s.start for s in offered] == [at("2026-12-02", 9, 30), at("2026-12-03", 9, 30)]
    assert best(window, {}, n=1) == [Slot(at("2026-12-02", 9, 30), at("2026-12-02", 11, 30))]
    assert best([], {"Dan": everyone}) == []


def test_a_free_slot_is_the_first_of_best_too() -> None:
    window = slots("2026-12-02", "2026-12-04")
    busy = {"Laura": [(at("2026-12-02", 9), at("2026-12-02", 16))]}
    assert best(window, busy)[0] == earliest_free(window, busy)


# ---- the outcome --------------------------------------------------------------------------------------


OUTCOME = {"local_cspr": "yes", "national_review": "no", "rationale": "Learning about information sharing.",
           "participants": "Laura, Dan, Nina, Chris",
           "quorum_local_authority": "true", "quorum_police": "true", "quorum_health": "true"}


def test_quorate_only_with_all_three_partners() -> None:
    assert MeetingOutcome.model_validate(OUTCOME).quorate
    for partner in ("quorum_local_authority", "quorum_police", "quorum_health"):
        for absent in ("false", "", None, "no", "0"):
            outcome = MeetingOutcome.model_validate({**OUTCOME, partner: absent})
            assert not outcome.quorate, (partner, absent)
    missing = {k: v for k, v in OUTCOME.items() if not k.startswith("quorum_")}
    assert not MeetingOutcome.model_validate(missing).quorate


@pytest.mark.parametrize("on", ["true", "True", "1", "yes", "on", True])
def test_toggle_values_that_mean_present(on: object) -> None:
    outcome = MeetingOutcome.model_validate({**OUTCOME, "quorum_police": on})
    assert outcome.quorum_police is True


@pytest.mark.parametrize(("field", "value"), [
    ("rationale", ""), ("rationale", "   "), ("rationale", "Too short."), ("rationale", None),
    ("participants", ""), ("participants", "ab"),
    ("local_cspr", ""), ("local_cspr", "maybe"), ("national_review", None),
])
def test_required_answers(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        MeetingOutcome.model_validate({**OUTCOME, field: value})
    assert raised.value.errors()[0]["loc"][0] == field


def test_optional_answers_blank_to_none_and_unknown_keys_ignored() -> None:
    outcome = MeetingOutcome.model_validate({**OUTCOME, "learning": "  ", "agencies_absent": "", "verb": "x"})
    assert outcome.learning is None and outcome.agencies_absent is None


@pytest.mark.parametrize(("local", "national", "choice"), [
    ("yes", "no", OutcomeChoice.LOCAL_CSPR), ("no", "yes", OutcomeChoice.NATIONAL_REVIEW),
    ("yes", "yes", OutcomeChoice.NATIONAL_REVIEW), ("no", "no", OutcomeChoice.NO_REVIEW),
])
def test_choice(local: str, national: str, choice: OutcomeChoice) -> None:
    assert MeetingOutcome.model_validate({**OUTCOME, "local_cspr": local, "national_review": national}).choice is choice
