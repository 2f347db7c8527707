"""The timeliness report's measures (bot/services/timeliness.py) and its files
(bot/adapters/documents.py): on time, late with the reason the bot has, not yet due; the year's
tallies; the CSV and the Word document hold references and reasons, never a child's details."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from docx import Document

from bot.adapters.documents import timeliness_csv, timeliness_document
from bot.services.ports import DeadlineRow
from bot.services.timeliness import CaseLine, Measure, Timeliness, TimelinessRefused, _step, parse_year

TZ = ZoneInfo("Europe/London")
CTX: Any = SimpleNamespace(tz=TZ)


def row(due: date, *, done_on: date | None = None, status: str = "open") -> DeadlineRow:
    return DeadlineRow(id=1, case_id="c", step_id="lcspr_published", label="Published", owner="partnership_manager",
                       anchor="review_commissioned", anchor_at=None,
                       due_at=datetime(due.year, due.month, due.day, 17, 0, tzinfo=TZ), earliest_at=None,
                       is_window=False, asks_for_date=False, records=None, plan={}, source="", position=1,
                       status=status, next_reminder_at=None, last_reminder_at=None,
                       done_at=datetime(2026, 1, 1, tzinfo=UTC) if done_on else None, done_on=done_on,
                       done_by_name=None)


def test_a_step_is_on_time_late_with_its_reason_or_not_yet_due() -> None:
    today = date(2026, 9, 1)
    assert _step([row(date(2026, 6, 1), done_on=date(2026, 6, 1), status="done")], today, CTX) == Measure(True)
    late = _step([row(date(2026, 6, 1), done_on=date(2026, 7, 3), status="done")], today, CTX,
                 "The lead reviewer was ill for six weeks")
    assert late == Measure(False, "The lead reviewer was ill for six weeks")
    assert _step([row(date(2026, 6, 1))], today, CTX) == Measure(False, "not done yet")
    assert _step([row(date(2026, 12, 1))], today, CTX) == Measure(None)  # still inside its time
    assert _step([row(date(2026, 6, 1), status="closed")], today, CTX) == Measure(None)  # withdrawn, closed
    assert _step([], today, CTX) == Measure(None)  # the pathway has no such step


def test_tallies_misses_and_files() -> None:
    lines = [
        CaseLine("RR-2026-0001", date(2026, 2, 2), "Closed", {
            "decision": Measure(True), "notification": Measure(True), "report": Measure(False, "Agency late"),
            "publication": Measure(False, "The lead reviewer was ill")}),
        CaseLine("RR-2026-0002", date(2026, 3, 3), "Decided", {
            "decision": Measure(False), "notification": Measure(None), "report": Measure(None),
            "publication": Measure(None)}),
    ]
    report = Timeliness(2026, "Example Partnership", lines)
    assert report.referrals == 2
    assert (report.tally("decision").on_time, report.tally("decision").due) == (1, 2)
    assert report.tally("notification").due == 1 and report.tally("publication").late == 1
    assert report.misses() == [
        ("RR-2026-0001", "Reports to the National Panel within 15 working days", "Agency late"),
        ("RR-2026-0001", "Local reviews published within 6 months", "The lead reviewer was ill"),
        ("RR-2026-0002", "Panel decisions within 5 working days", "no reason recorded")]
    table = list(csv.reader(io.StringIO(timeliness_csv(report).decode("utf-8-sig"))))
    assert table[1][:7] == ["RR-2026-0001", "2026-02-02", "Closed", "yes", "yes", "no", "no"]
    assert "The lead reviewer was ill" in table[1][7]
    assert table[-1][:2] == ["2026", "2"]
    doc = Document(io.BytesIO(timeliness_document(report, marking="OFFICIAL-SENSITIVE", produced="1 December 2026")))
    words = "\n".join(p.text for p in doc.paragraphs)
    assert "RR-2026-0002 — Panel decisions within 5 working days: no reason recorded" in words
    assert [c.text for c in doc.tables[0].rows[1].cells] == ["Panel decisions within 5 working days", "1", "1", "2"]


@pytest.mark.parametrize(("typed", "refused"), [("", "Say which year"), ("26", "Say which year"),
                                                ("1999", "from 2000"), ("2027", "to 2026")])
def test_the_year_is_checked(typed: str, refused: str) -> None:
    with pytest.raises(TimelinessRefused, match=refused):
        parse_year(typed, date(2026, 12, 6))
    assert parse_year(" 2025 ", date(2026, 12, 6)) == 2025
