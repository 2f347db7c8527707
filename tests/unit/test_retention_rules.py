"""Retention periods per outcome, counted from closure (bot/domain/retention.py), and the
partnership file's `[partnership.retention]`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.domain.retention import HoldKind, RetentionOutcome, RetentionPolicy, hold_kind, outcome_of
from bot.settings import DEFAULT_PARTNERSHIP_FILE, ConfigError, load_partnership

CLOSED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("decisions", "statuses", "outcome"), [
    ([], ["referred", "closed"], RetentionOutcome.WITHDRAWN),
    (["no_further_action"], ["referred", "decided", "handed_over", "closed"], RetentionOutcome.NO_FURTHER_ACTION),
    (["escalation"], ["decided", "handed_over", "closed"], RetentionOutcome.ESCALATION),
    (["rapid_review"], ["decided", "report_submitted", "closed"], RetentionOutcome.RAPID_REVIEW),
    (["rapid_review"], ["report_submitted", "review_commissioned", "closed"], RetentionOutcome.PRACTICE_REVIEW),
    (["practice_review"], ["decided", "handed_over", "closed"], RetentionOutcome.PRACTICE_REVIEW),
    (["no_further_action", "rapid_review"], ["decided", "closed"], RetentionOutcome.RAPID_REVIEW),  # the last counts
])
def test_the_outcome_comes_from_the_cases_history(decisions: list[str], statuses: list[str],
                                                  outcome: RetentionOutcome) -> None:
    assert outcome_of(decisions, statuses) is outcome


def test_periods_are_counted_in_years_from_closure_and_an_open_case_is_never_due() -> None:
    policy = RetentionPolicy()
    assert policy.due_on(RetentionOutcome.RAPID_REVIEW, CLOSED) == date(2036, 3, 1)
    assert policy.due_on(RetentionOutcome.PRACTICE_REVIEW, CLOSED) == date(2041, 3, 1)
    assert policy.due_on(RetentionOutcome.NO_FURTHER_ACTION, CLOSED) == date(2028, 3, 1)
    assert policy.due_on(RetentionOutcome.WITHDRAWN, None) is None
    leap = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    assert policy.due_on(RetentionOutcome.NO_FURTHER_ACTION, leap) == date(2030, 2, 28)
    # the closure's local date when given (a case closed at 00:30 BST closed the day before in UTC)
    assert policy.due_on(RetentionOutcome.WITHDRAWN, CLOSED, date(2026, 2, 28)) == date(2027, 2, 28)
    # the longer the review, the longer the keeping: the defaults are ordered
    years = [policy.years(o) for o in RetentionOutcome]
    assert years == sorted(years, reverse=True)


def test_hold_kinds_are_read_from_the_typed_word() -> None:
    assert hold_kind("coroner's") is HoldKind.INQUEST and hold_kind("Inquest") is HoldKind.INQUEST
    assert hold_kind("criminal") is HoldKind.CRIMINAL and hold_kind("complaint") is HoldKind.COMPLAINT
    assert hold_kind("other") is HoldKind.OTHER and hold_kind("because") is None


def _partnership(tmp_path: Path, retention: str) -> Path:
    text = DEFAULT_PARTNERSHIP_FILE.read_text()
    start = text.index("[partnership.retention]")
    end = text.index("\n\n", start)
    path = tmp_path / "partnership.toml"
    path.write_text(text[:start] + "[partnership.retention]\n" + retention + text[end:])
    return path


def test_the_partnership_file_sets_the_periods(tmp_path: Path) -> None:
    assert load_partnership(DEFAULT_PARTNERSHIP_FILE).retention == RetentionPolicy()
    policy = load_partnership(_partnership(tmp_path, "rapid_review = 12\nwithdrawn = 0\n")).retention
    assert policy.rapid_review == 12 and policy.withdrawn == 0 and policy.practice_review == 15
    for bad in ("rapid_review = -1\n", "rapid_review = 101\n", "review = 3\n"):
        with pytest.raises(ConfigError) as refused:
            load_partnership(_partnership(tmp_path, bad))
        assert "retention" in str(refused.value)
