"""What the cards say once comments are over and once the case is closed, as the browser walk
(tests/e2e/test_walkthrough.py) found them: a closed case's timeline showed its stopped steps as
"due" and "pending", the report card said "Not yet commented" after comments had closed, it had
no way to read the draft before signing off, its document buttons were cut off, and the channel's
case card of a closed case still warned that the National Panel must be notified."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from bot.domain.case import CaseStatus
from bot.domain.report import Closure
from bot.services.deadlines import RECORDED_ON_THE_CASE
from cards import clock_cards
from cards import report_cards as R
from tests.support.harness import texts, walk
from tests.unit.test_card_accessibility import NOW, TODAY, TZ, _deadline, _panel_view, _report_view, _summary


def _closed_timeline(status: CaseStatus) -> SimpleNamespace:
    deadlines = [_deadline(1, status="done", done_on=TODAY), _deadline(2, status="closed"),
                 _deadline(3, status="closed", due=None)]
    return SimpleNamespace(case=SimpleNamespace(summary=_summary(status)), today=TODAY, deadlines=deadlines,
                           agencies=[], agencies_to_ask=None, provisional=False, not_working={}, meeting=None,
                           now=NOW)


def test_a_closed_cases_timeline_shows_its_stopped_steps_as_stopped_not_due_or_pending() -> None:
    card = clock_cards.timeline_card(_closed_timeline(CaseStatus.CLOSED), TZ)  # type: ignore[arg-type]
    shown = texts(card)
    assert shown.count("stopped: the case is closed") == 2
    assert "pending" not in shown and "due " not in shown and "overdue" not in shown
    assert "✅ done" in shown
    assert not [a for a in walk(card) if a.get("data", {}).get("verb") == clock_cards.MARK_DONE]


def _closing(view: Any, **update: Any) -> Any:
    return replace(view, report=view.report.model_copy(update=update))


def _actions(card: dict) -> list[str]:
    return [a.get("title", "") for a in card.get("actions", [])]


def test_after_comments_close_the_report_says_who_did_not_comment() -> None:
    draft = _report_view("draft")
    assert "Not yet commented: Police, Health (ICB), Chair." in texts(
        R.report_card(draft, TZ, manages=True, comments=True, marking="OFFICIAL"))
    sign_off = _closing(_report_view("sign_off"), comments_closed_at=NOW)
    shown = texts(R.report_card(sign_off, TZ, manages=True, comments=False, marking="OFFICIAL"))
    assert "Did not comment: Police, Health (ICB), Chair." in shown and "Not yet commented" not in shown


def test_the_report_card_lets_the_chair_read_the_draft_before_signing_off() -> None:
    card = R.report_card(_report_view("sign_off"), TZ, manages=True, comments=False, marking="OFFICIAL")
    assert "Read the draft" in _actions(card)
    [read] = [a for a in card["actions"] if a.get("title") == "Read the draft"]
    assert "A concise summary of the facts" in texts(read["card"])
    # while comments are open the comment box shows the draft: no second copy
    open_card = R.report_card(_report_view("draft"), TZ, manages=True, comments=True, marking="OFFICIAL")
    assert "Read the draft" not in _actions(open_card) and "Comment on the draft" in _actions(open_card)


def test_a_closed_report_offers_no_draft_to_read_and_its_document_buttons_fit() -> None:
    closed = _closing(_report_view("sent", status=CaseStatus.CLOSED, answered=True, closed=True),
                      closure=Closure.NO_FURTHER_REVIEW)
    card = R.report_card(closed, TZ, manages=True, comments=False, marking="OFFICIAL")
    assert "Read the draft" not in _actions(card)
    assert "No further review, case closed, " in texts(card) and "close the case," not in texts(card)
    for title in (R.DOCUMENT_TITLE, R.DOCUMENT_FILE_TITLE):
        assert len(title) <= 45, title  # longer titles were cut off on the button in a chat


def test_the_channels_case_card_of_a_closed_case_says_closed_at_the_top_and_drops_the_notify_warning() -> None:
    from cards import vote_card

    decided = _panel_view(decided=True)
    shown = texts(vote_card.panel_card(decided, TZ))
    assert "must notify the National Panel" in shown and "Closed." not in shown
    closed = replace(decided, case=_summary(CaseStatus.CLOSED))
    card = vote_card.panel_card(closed, TZ)
    shown = texts(card)
    assert "must notify the National Panel" not in shown
    assert shown.index("**Closed.** Every deadline and reminder for this case has stopped.") < shown.index("Decided")


def test_once_both_have_signed_off_the_card_offers_record_it_sent_not_another_sign_off() -> None:
    one = R.report_card(_report_view("sign_off"), TZ, manages=True, comments=False, marking="OFFICIAL")
    assert "Sign off the report" in _actions(one) and "Record it sent" not in _actions(one)
    both = R.report_card(_report_view("sign_off", signed=True), TZ, manages=True, comments=False, marking="OFFICIAL")
    assert "Sign off the report" not in _actions(both) and "Record it sent" in _actions(both)


def test_a_step_done_because_its_event_was_recorded_names_no_person() -> None:
    """The walk's closed timeline read "done Tue 15 Dec 2026 by Recorded on the case"."""
    timeline = _closed_timeline(CaseStatus.CLOSED)
    timeline.deadlines[0] = replace(timeline.deadlines[0], done_by_name=RECORDED_ON_THE_CASE)
    shown = texts(clock_cards.timeline_card(timeline, TZ))  # type: ignore[arg-type]
    assert "(recorded on the case)" in shown and "by Recorded on the case" not in shown
    done = texts(clock_cards.done_card("RR-2026-0001", timeline.deadlines[0], TZ))
    assert "Marked done (recorded on the case) on" in done
    person_done = texts(clock_cards.done_card("RR-2026-0001", _deadline(1, status="done", done_on=TODAY), TZ))
    assert "Marked done by Pat Manager on" in person_done
