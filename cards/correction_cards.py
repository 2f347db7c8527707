"""Cards of a referral corrected or withdrawn after submission (bot/services/corrections.py).

The channel's line is status-only: the reference, the pseudonym and what happened — never a
date, a field's value or a reason."""

from __future__ import annotations

from datetime import date

from bot.domain.case import Case, CaseSummary
from cards.common import Element, card, escape_markdown, heading, para

NOTICES = {
    "dates_corrected": "The referral's dates were corrected; deadlines recomputed.",
    "withdrawn": "The referral was withdrawn by a partnership manager; its deadlines have stopped.",
}
FIELD_WORDS = {"incident_date": "incident date", "la_aware_date": "date the local authority became aware"}


def notice_card(summary: CaseSummary, what: str) -> Element:
    """For the panel channel: "RR-…: the referral's dates were corrected; deadlines recomputed"."""
    words = NOTICES.get(what, "The referral was changed.")
    return card([para("Referral", subtle=True, size="Small"),
                 heading(f"{summary.reference} · {summary.pseudonym}", size="Medium"),
                 para(escape_markdown(words))])


def corrected_text(case: Case, field: str, changed: bool) -> str:
    """The manager's answer in personal chat (their own chat: the new date may be said)."""
    words = FIELD_WORDS.get(field, field)
    incident = case.referral.incident
    day: date | None = getattr(incident, field)
    shown = f"{day.day} {day:%B %Y}" if day else "not known"
    reference = case.summary.reference
    if not changed:
        return f"The {words} of {reference} is already {shown}. Nothing was changed."
    return (f"The {words} of {reference} is now {shown}. Every deadline was recomputed from it and the panel "
            f"channel was told (without the date). Type **timeline {reference}** to see them.")


def withdrawn_text(case: Case) -> str:
    return (f"{case.summary.reference} is withdrawn and closed: its deadlines and reminders have stopped, and the "
            "panel channel was told. The reason is kept with the case.")
