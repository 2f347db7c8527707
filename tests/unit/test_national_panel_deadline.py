"""The vote card's "notify the National Panel by" date comes from the partnership's
timeline profile, never from a constant that could disagree with it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bot.domain.case import Case, CaseSummary, incident_kind
from bot.services.panel import national_panel_deadline
from scheduler.calendar import EnglandCalendar
from scheduler.profiles import load_profile

RECEIVED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


def _case(referral, aware: date | None) -> Case:  # noqa: ANN001
    summary = CaseSummary(id="c1", reference="RR-2026-0001", pseudonym="Child K", status="referred",
                          pathway_sought=referral.pathway.pathway, incident_kind=incident_kind(referral),
                          incident_date=referral.incident.incident_date, referring_agency="School",
                          likely_notifiable=True, received_at=RECEIVED, referrer_aad_id="r", referrer_name="Riley")
    return Case(summary=summary, referral=referral, aware_date=aware)


def _ctx(profile):  # noqa: ANN001, ANN202
    return SimpleNamespace(profile=profile, calendar=EnglandCalendar(()), tz=ZoneInfo("Europe/London"))


def test_five_working_days_from_awareness_by_the_national_minimum(referral_factory) -> None:  # noqa: ANN001
    case = _case(referral_factory(), date(2025, 12, 19))  # Friday before Christmas
    assert national_panel_deadline(_ctx(load_profile("national_minimum")), case) == (date(2025, 12, 30), True)


def test_a_profile_override_moves_the_date_on_the_card(referral_factory, tmp_path: Path) -> None:  # noqa: ANN001
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('[[steps]]\nid = "notify_national_panel"\noffset = { working_days = 3 }\n', encoding="utf-8")
    case = _case(referral_factory(), date(2026, 11, 23))
    profile = load_profile("national_minimum", overrides)
    assert national_panel_deadline(_ctx(profile), case) == (date(2026, 11, 26), True)


def test_without_an_awareness_date_the_received_date_counts(referral_factory) -> None:  # noqa: ANN001
    case = _case(referral_factory(), None)
    assert national_panel_deadline(_ctx(load_profile("stockport")), case) == (date(2026, 11, 30), False)
