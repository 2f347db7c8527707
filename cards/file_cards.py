"""Files handed to one person in their personal chat: Teams' file consent card, the file
card shown once the file is in their OneDrive, and the notes that go with them.

The consent card and the file card are not Adaptive Cards but Teams attachments of their own
content types; they are built here as plain dicts (the edge wraps them, bot/teams/exports.py).
The consent card carries the file's name, size, a description that says what it is, and an
opaque one-time id as its accept and decline context — nothing about the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.services.timeliness import MEASURES, Timeliness
from cards.chat import TIMELINESS_CSV_LINK, TIMELINESS_DOCX_LINK
from cards.common import Element, card, escape_markdown, execute, heading, notice, para

FILE_CONSENT = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
LINK_INSTEAD = "Get a one-time link instead"
WHAT = {"rapid_review_record": "the rapid review record (Word)", "case_export": "the case export (zip)",
        "chair_notes": "the chair's notes (Word)",
        "national_panel_submission": "the National Panel's copy of the rapid review report (Word)",
        "learning_briefing": "the 7-minute briefing (Word)",
        "timeliness_csv": "the timeliness report (CSV)", "timeliness_docx": "the timeliness report (Word)"}


def consent_attachment(name: str, size: int, what: str, offer: str, marking: str) -> dict[str, Any]:
    """Teams' file consent card: Allow puts the file in the person's OneDrive."""
    context = {"offer": offer}
    return {"contentType": FILE_CONSENT, "name": name, "content": {
        "description": f"{WHAT.get(what, 'a file')[:1].upper()}{WHAT.get(what, 'a file')[1:]}. {marking}: "
                       "it will be saved in your OneDrive only. Do not forward it.",
        "sizeInBytes": size, "acceptContext": context, "declineContext": context}}


def file_info_attachment(upload_info: dict[str, Any]) -> dict[str, Any]:
    """The file, as Teams shows a file in a chat, once it is in the person's OneDrive."""
    return {"contentType": FILE_INFO, "contentUrl": upload_info.get("contentUrl"), "name": upload_info.get("name"),
            "content": {"uniqueId": upload_info.get("uniqueId"), "fileType": upload_info.get("fileType")}}


def offer_sent_card(reference: str, what: str, link_verb: str, marking: str, again_verb: str | None = None) -> Element:
    """The answer to asking for a file: the consent card follows in this chat."""
    return card([heading(f"{WHAT.get(what, 'A file')[:1].upper()}{WHAT.get(what, 'a file')[1:]}: {reference}",
                         size="Medium"),
                 para("I am sending it to you as a file in this chat. Press **Allow** on it to save it in your "
                      "OneDrive (only you can open it there); the offer works once, for you only, for an hour."),
                 para("If you cannot save files from Teams, get a one-time link instead: it works once, for ten "
                      "minutes. Either way it is recorded."),
                 notice(f"{escape_markdown(marking)}. Do not forward the file.")],
                actions=[execute(LINK_INSTEAD, link_verb, reference),
                         *([execute("Send the file again", again_verb, reference)] if again_verb else [])])


def saved_note(name: str) -> str:
    return f"Saved **{escape_markdown(name)}** in your OneDrive. Do not forward it; delete it when you no longer need it."


def not_sent_card(reference: str, what: str, link_verb: str, why: str) -> Element:
    """Declined, or the upload failed: the one-time link instead."""
    return card([heading(f"{WHAT.get(what, 'A file')[:1].upper()}{WHAT.get(what, 'a file')[1:]}: {reference}",
                         size="Medium"),
                 para(why),
                 para("You can have a one-time link instead: it works once, for you only, for ten minutes.")],
                actions=[execute(LINK_INSTEAD, link_verb, reference)])


def link_card(reference: str, what: str, url: str, expires_at: datetime, tz: ZoneInfo, new_link_verb: str,
              marking: str) -> Element:
    """A one-time link of the presser's own to one file."""
    until = expires_at.astimezone(tz)
    title = f"{WHAT.get(what, 'a file')[:1].upper()}{WHAT.get(what, 'a file')[1:]}"
    return card([heading(f"{title}: {reference}", size="Medium"),
                 para(f"Your link works once, for you only, until {until:%H:%M}. If it has expired or been used, "
                      "ask for a new one. The download is recorded."),
                 notice(f"{escape_markdown(marking)}. Do not forward the file or this link.")],
                actions=[{"type": "Action.OpenUrl", "title": f"Open {WHAT.get(what, 'the file')}", "url": url},
                         execute("Get a new link", new_link_verb, reference)])


def timeliness_sent_card(report: Timeliness, subject: str, marking: str) -> Element:
    """The answer to `timeliness 2026`: the year's figures at a glance, and both files on their way."""
    facts = [{"title": "Referrals", "value": str(report.referrals)}]
    for key, title in MEASURES:
        tally = report.tally(key)
        facts.append({"title": title, "value": f"{tally.on_time} of {tally.due} on time"})
    return card([heading(f"Timeliness {report.year}", size="Medium"),
                 {"type": "FactSet", "facts": facts},
                 para("I am sending you the report as two files in this chat, a CSV and a Word document, with each "
                      "miss and the reason recorded for it. Press **Allow** on each to save it in your OneDrive; "
                      "each offer works once, for you only, for an hour. It names cases by reference only."),
                 notice(f"{escape_markdown(marking)}.")],
                actions=[execute("CSV by a one-time link instead", TIMELINESS_CSV_LINK, subject),
                         execute("Word by a one-time link instead", TIMELINESS_DOCX_LINK, subject)])
