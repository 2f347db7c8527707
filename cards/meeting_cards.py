"""Cards of the rapid review meeting (docs/architecture.md, Meeting; Stockport Rapid Review
Process (2019), Appendices E and F; SSCP Rapid Review Panel Agenda template)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain import chair_notes
from bot.domain.case import Case, CaseSummary
from bot.domain.dates import format_day, format_moment, format_time
from bot.domain.limits import cap, within
from bot.domain.meeting import MANUAL_BOOKING_ACTION, MeetingOutcome
from bot.domain.partnership import DEFAULT_PROTECTIVE_MARKING, Partner
from bot.domain.pathways import AGENCY_RETURN_TITLES
from bot.domain.text import yes_no
from bot.services.pathways import ReturnShown
from bot.services.ports import DeadlineRow, MeetingRecord
from cards import report_cards
from cards.budget import fit
from cards.common import (
    Element,
    Verb,
    action_set,
    card,
    error_text,
    escape_markdown,
    execute,
    facts,
    heading,
    literal,
    marking_footer,
    notice,
    para,
    person,
    subheading,
    verbs,
)

PICK, CHOOSE, RETRY, CANCEL, OUTCOME = (
    "meeting.pick", "meeting.choose", "meeting.retry", "meeting.cancel", "meeting.outcome")
MANUAL = "meeting.manual"  # a meeting booked by hand in Outlook, recorded on the card
RECORD_LINK = "meeting.record_link"  # a one-time link to the record, for the person who pressed
RECORD_FILE = "meeting.record_file"  # the record as a file in the presser's OneDrive (Teams' file consent)
RECORD_TITLE = "Save the record to my OneDrive (.docx)"
RECORD_LINK_TITLE = "Get a one-time link instead"
NOTES_FILE = "meeting.notes_file"  # the chair's notes as a Word document in the presser's OneDrive
NOTES_LINK = "meeting.notes_link"  # ... or by a one-time link
OUTCOME_FORM = "meeting.outcome_form"  # the outcome form again (from the timeline), for a lost prompt
OUTCOME_FORM_TITLE = "Record the outcome (chair)"
INQUORATE = "meeting.inquorate"  # the meeting was inquorate: recorded, with who was missing, and re-convened
INQUORATE_TITLE = "The meeting was inquorate"
QUORUM_INPUTS = frozenset({"quorum_local_authority", "quorum_police", "quorum_health"})
NOTES_TITLE = "Download the chair's notes (.docx)"
MANUAL_INPUTS = frozenset({"date", "time", "join_url"})
MANUAL_TITLE = MANUAL_BOOKING_ACTION
OUTCOME_INPUTS = frozenset({"local_cspr", "national_review", "rationale", "immediate_actions", "learning",
                            "agencies_involved", "agencies_absent", "participants", "quorum_local_authority",
                            "quorum_police", "quorum_health"})
TEXT_INPUTS = frozenset({"rationale", "immediate_actions", "learning", "agencies_involved", "agencies_absent",
                         "participants"})
GUESTS = "meeting.guests"  # agency practitioners and managers invited (bot/services/pathways.py)
VERBS = verbs(
    Verb(GUESTS, frozenset({"guests"})),
    Verb(PICK, frozenset({"start"})),
    Verb(CHOOSE, frozenset({"date", "time"})),
    Verb(RETRY),
    Verb(CANCEL),
    Verb(OUTCOME, OUTCOME_INPUTS),
    Verb(MANUAL, MANUAL_INPUTS),
    Verb(RECORD_LINK),
    Verb(RECORD_FILE),
    Verb(NOTES_FILE),
    Verb(NOTES_LINK),
    Verb(INQUORATE, QUORUM_INPUTS),
    Verb(OUTCOME_FORM),
)

# Stockport Rapid Review Process (2019), Appendix F, "Assessment of Need by Core Panel", questions 4.1–4.7,
# and Appendix E's agenda: the words live in bot/domain/chair_notes.py, shared with the chair's notes document.
CHAIR_QUESTIONS = tuple((q.number, q.question) for q in chair_notes.CHAIR_QUESTIONS)
AGENDA = chair_notes.AGENDA


def when(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """e.g. "Tue 13 Jan 2026, 10:00–12:00" (Europe/London)."""
    s, e = start.astimezone(tz), end.astimezone(tz)
    return f"{format_moment(s, tz)}–{format_time(e, tz)}"


def _attendees_by_partner(meeting: MeetingRecord) -> list[tuple[str, str]]:
    rows = []
    for partner in Partner:
        names = [person(a.get("name")) for a in meeting.attendees if a.get("partner") == partner.value]
        rows.append((partner.title, ", ".join(names) or "nobody listed"))
    chairs = [person(a.get("name")) for a in meeting.attendees if a.get("role") == "chair"]
    rows.append(("Chair", ", ".join(chairs) or "nobody listed"))
    guests = [person(a.get("name")) for a in meeting.attendees if a.get("guest")]
    if guests:
        rows.append(("Invited from agencies", ", ".join(guests)))
    return rows


def guests_form(case: CaseSummary) -> Element:
    """Stockport Rapid Review Process (2019): the panel "may wish to invite managers and
    practitioners involved with the case to the first part of the panel"."""
    return {"type": "Action.ShowCard", "title": "Invite practitioners", "card": {
        "type": "AdaptiveCard", "body": [
            para("Agency practitioners and managers who know the family, for the first part of the meeting (they "
                 "leave before the discussion of threshold and next steps). One a line: name and work e-mail.",
                 size="Small"),
            {"type": "Input.Text", "id": "guests", "isMultiline": True, "isRequired": True,
             "maxLength": cap("meeting.guests"), "label": "People to invite",
             "placeholder": "Sam Social Worker <sam.worker@example.org>", "errorMessage": "Give at least one."},
        ], "actions": [execute("Invite", GUESTS, case.reference, style="positive")]}}


def meeting_card(case: CaseSummary, meeting: MeetingRecord, papers: DeadlineRow | None, tz: ZoneInfo,
                 ics_url: str | None) -> Element:
    assert meeting.start_at is not None and meeting.end_at is not None
    body: list[Element] = [
        para("Rapid review meeting", subtle=True, size="Small"),
        heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
        facts([("When", when(meeting.start_at, meeting.end_at, tz))] + _attendees_by_partner(meeting)
              + ([("Papers due", format_moment(papers.due_at, tz))]
                 if papers and papers.due_at else [])),
    ]
    unknown = [person(name) for o in meeting.options for name in o.get("availability_unknown", [])]
    if unknown:
        body.append(notice("Booked without seeing the calendars of: " + ", ".join(escape_markdown(n) for n in unknown)
                           + " (they are not readable from this tenant). Please check they can attend.",
                           style="warning"))
    actions: list[Element] = []
    if meeting.provider == "manual":
        body.append(notice("Booked by hand in Outlook: the invitation comes from whoever booked it.", style="accent"))
    if meeting.join_url:
        actions.append({"type": "Action.OpenUrl", "title": "Join the Teams meeting", "url": meeting.join_url})
    elif meeting.provider != "manual":
        body.append(notice("Booked without Microsoft Graph: nothing is in anyone's calendar yet. The chair has an "
                           ".ics invitation to send.", style="accent"))
    if ics_url:
        actions.append({"type": "Action.OpenUrl", "title": "Download invitation (.ics)", "url": ics_url})
    actions.append({"type": "Action.ShowCard", "title": "Re-book", "card": {
        "type": "AdaptiveCard", "body": [
            {"type": "Input.Date", "id": "date", "label": "New date", "isRequired": True,
             "errorMessage": "Choose a date."},
            {"type": "Input.Time", "id": "time", "label": "Start time", "isRequired": True,
             "errorMessage": "Choose a time."},
        ], "actions": [execute("Move the meeting", CHOOSE, case.reference, style="positive")]}})
    actions.append(guests_form(case))
    # Cancelling asks first, and says who is told (the verb and its data are unchanged).
    actions.append({"type": "Action.ShowCard", "title": "Cancel meeting", "card": {
        "type": "AdaptiveCard", "body": [
            para(f"Cancel the rapid review meeting for {case.reference} on {when(meeting.start_at, meeting.end_at, tz)}"
                 "? The calendar invitation is withdrawn (attendees get the cancellation), this card shows the "
                 "meeting as cancelled, and you can book a new time on it."),
        ], "actions": [execute("Yes, cancel the meeting", CANCEL, case.reference, validate=False,
                               style="destructive")]}})
    return card(body, actions=actions)


def _new_time_inputs(case: CaseSummary, title: str) -> Element:
    return {"type": "Action.ShowCard", "title": title, "card": {
        "type": "AdaptiveCard", "body": [
            {"type": "Input.Date", "id": "date", "label": "New date", "isRequired": True,
             "errorMessage": "Choose a date."},
            {"type": "Input.Time", "id": "time", "label": "Start time", "isRequired": True,
             "errorMessage": "Choose a time."},
        ], "actions": [execute("Book at this time", CHOOSE, case.reference, style="positive")]}}


def meeting_moved_card(case: CaseSummary, old_start: datetime | None, meeting: MeetingRecord, tz: ZoneInfo) -> Element:
    """The earlier meeting card, updated in place when the meeting is re-booked: it no longer
    shows the old time as if it stood."""
    assert meeting.start_at is not None and meeting.end_at is not None
    moved_from = f" from {format_moment(old_start, tz)}" if old_start else ""
    return card([para("Rapid review meeting", subtle=True, size="Small"),
                 heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
                 notice(f"**Moved**{moved_from} to **{when(meeting.start_at, meeting.end_at, tz)}**. The new "
                        "meeting card is below; this one is kept for the record.", style="warning")])


def meeting_cancelled_card(case: CaseSummary, meeting: MeetingRecord, tz: ZoneInfo) -> Element:
    """The meeting card once the meeting is cancelled: it says so, and a new time can be booked on it."""
    was = f" (it was {when(meeting.start_at, meeting.end_at, tz)})" if meeting.start_at and meeting.end_at else ""
    return card([para("Rapid review meeting", subtle=True, size="Small"),
                 heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
                 notice(f"**Cancelled**{was}. The calendar invitation has been withdrawn. Book a new time here; "
                        "the deadlines that count from the meeting wait until then.", style="attention")],
                actions=[_new_time_inputs(case, "Book a new time")])


def slot_choice_card(case: CaseSummary, meeting: MeetingRecord, tz: ZoneInfo) -> Element:
    body: list[Element] = [
        heading("Choose the rapid review meeting time", size="Medium"),
        para(f"There is no time inside the window when everyone is free for {case.reference} ({case.pseudonym}). "
             "These are the best times (fewest people busy):"),
    ]
    for option in meeting.options:
        start, end = datetime.fromisoformat(option["start"]), datetime.fromisoformat(option["end"])
        busy = [person(name) for name in option.get("busy") or []]
        body.append({"type": "Container", "separator": True, "items": [
            subheading(f"**{when(start, end, tz)}**"),
            literal("Busy: " + ", ".join(busy) if busy else "Everyone free"),
            action_set([execute("Book this time", PICK, case.reference, validate=False,
                                tooltip=f"Book {when(start, end, tz)}", start=option["start"])]),
        ]})
    body += [subheading("Or pick another time"),
             {"type": "Input.Date", "id": "date", "label": "Date"},
             {"type": "Input.Time", "id": "time", "label": "Start time"}]
    return card(body, actions=[execute("Book at this time", CHOOSE, case.reference)])


def manual_booking_action(reference: str) -> Element:
    """The form that records a meeting booked by hand in Outlook: date, start time and,
    optionally, its Teams join link. The chair or a partnership manager only (checked on press)."""
    return {"type": "Action.ShowCard", "title": MANUAL_TITLE, "card": {
        "type": "AdaptiveCard", "body": [
            para("Book the meeting in Outlook with the panel members and the chair, then record it here: the "
                 "case moves on and the reminders are set as for a booking made by the bot.", size="Small"),
            {"type": "Input.Date", "id": "date", "label": "Date", "isRequired": True,
             "errorMessage": "Choose the date of the meeting."},
            {"type": "Input.Time", "id": "time", "label": "Start time", "isRequired": True,
             "errorMessage": "Choose the start time."},
            {"type": "Input.Text", "id": "join_url", "label": "Teams join link (optional)",
             "maxLength": cap("meeting.join_url"),
             "placeholder": "https://teams.microsoft.com/l/meetup-join/…"},
        ], "actions": [execute("Record the booking", MANUAL, reference, style="positive")]}}


def problem_card(case: CaseSummary, message: str) -> Element:
    return card([heading("The meeting could not be booked", size="Medium"),
                 para(f"{case.reference} ({case.pseudonym})"), notice(escape_markdown(message), style="attention"),
                 para("Fix that, then press **Try again**. Nothing was booked, so nothing is duplicated. Or book "
                      f"it in Outlook and record it with **{MANUAL_TITLE}**.")],
                actions=[execute("Try again", RETRY, case.reference, validate=False),
                         manual_booking_action(case.reference)])


def booking_failed_card(case: CaseSummary) -> Element:
    """To the panel channel: the booking failed and must be made by hand. The reference
    and pseudonym only (no child identifiers, no error text)."""
    return card([heading("The meeting could not be booked automatically", size="Medium"),
                 para(f"{case.reference} ({case.pseudonym})"),
                 para("The meeting could not be booked automatically — the chair or a partnership manager should "
                      f"book it in Outlook and record it with **{MANUAL_TITLE}** below (or on the chair's message)."
                      " Until then nobody has a calendar invitation for it.")],
                actions=[manual_booking_action(case.reference)])


def chair_notes_card(case: Case, meeting: MeetingRecord, tz: ZoneInfo,
                     marking: str = DEFAULT_PROTECTIVE_MARKING, returns: Sequence[ReturnShown] = (), *,
                     notified_on: date | None = None, chair: str | None = None) -> Element:
    """Agenda (Stockport Rapid Review Process (2019), Appendix E; SSCP Rapid Review Panel
    Agenda template) and chair's notes (Stockport, Appendix F), filled with the case's facts.
    Personal chat, to the chair only: identifiers may appear."""
    assert meeting.start_at is not None and meeting.end_at is not None
    r = case.referral
    s = case.summary
    aware = case.aware_date or r.incident.la_aware_date
    body: list[Element] = [
        para("CONFIDENTIAL WHEN COMPLETED — for the chair", color="Attention", weight="Bolder"),
        heading(f"Rapid review panel: {s.reference} · {s.pseudonym}", size="Medium"),
        facts([("Meeting", when(meeting.start_at, meeting.end_at, tz)),
               ("Venue", "Microsoft Teams (remotely)"),
               ("Chair", person(chair, empty="not named on the roster") if chair else "not named on the roster"),
               ("Date of serious incident or death", format_day(r.incident.incident_date)),
               ("Date of referral", format_day(s.received_at.astimezone(tz).date())),
               ("Date the local authority became aware", format_day(aware) if aware else
                "not given (the referral's receipt counts)"),
               ("Date of LA notification (to the National Panel)", format_day(notified_on) if notified_on else
                "not yet recorded")]),
        para("The chair's notes, with the purpose, the confidentiality statement, the attendees and space for "
             "notes under each question, are a Word document: press the button below.", size="Small"),
        subheading("Agenda"),
        *[para(f"{i}. {item}") for i, item in enumerate(AGENDA, start=1)],
        subheading("2.1 Overview of the case"),
        literal(r.incident.summary),
        subheading("Why the referrer thinks it meets the criteria"),
        literal(r.views.meets_criteria),
        subheading("4 Assessment of need by the core panel"),
        *[para(f"**{number}** {question}") for number, question in CHAIR_QUESTIONS],
        para("Other areas involved (4.6): ", size="Small"), literal(r.incident.other_areas or "none given"),
        para("Institutional setting (4.7): " + yes_no(r.incident.institutional_setting.value), size="Small"),
        para("**5 Conclusion**: whether a review is proposed locally or nationally, and why.", size="Small"),
        para("To write in them, save these notes as a Word document in your OneDrive (or get a one-time link)."),
        *_returns(returns),
        marking_footer(marking),
    ]
    return fit(card(body, actions=[execute("Save as a Word document to my OneDrive", NOTES_FILE, s.reference),
                                   execute(RECORD_LINK_TITLE, NOTES_LINK, s.reference)]))


def _returns(returns: Sequence[ReturnShown]) -> list[Element]:
    """Each agency's information return (Stockport Rapid Review Process (2019), Appendix D)."""
    if not returns:
        return []
    shown: list[Element] = [subheading("Agencies' information returns (Appendix D)")]
    for r in returns:
        shown.append(para(f"**{escape_markdown(r.agency)}**" + ("" if r.answers else " — no return recorded yet")))
        for name, text in r.answers.items():
            if text:
                shown += [para(AGENCY_RETURN_TITLES[name], size="Small", weight="Bolder"), literal(text)]
    return shown


def notes_link_card(case: CaseSummary, url: str, expires_at: datetime, tz: ZoneInfo) -> Element:
    """The chair's notes link, for the person who pressed (or typed `notes RR-…`) only."""
    return card([heading("Chair's notes", size="Medium"),
                 para(f"{case.reference} ({case.pseudonym}): the chair's notes for the rapid review meeting, as a Word "
                      "document to fill in. They contain the child's details: keep them in the case file, do not "
                      "forward them or post them in a channel."),
                 para(f"Your link works once, for you only, until {format_time(expires_at, tz)}. If it has expired "
                      "or been used, press 'Get a new link' or type **notes " + case.reference + "**.")],
                actions=[{"type": "Action.OpenUrl", "title": "Open the chair's notes (.docx)", "url": url},
                         execute("Get a new link", NOTES_LINK, case.reference)])


def outcome_card(case: CaseSummary, *, error: str | None = None, field: str | None = None,
                 typed: dict[str, str] | None = None) -> Element:
    typed = typed or {}

    def value(name: str) -> dict[str, str]:
        return {"value": typed[name][:40]} if typed.get(name) else {}

    def text(name: str, label: str, *, required: str | None = None) -> list[Element]:
        """A text box at the field's cap (bot/domain/limits.py); a refused over-long answer is
        shown again cut to it, with the refusal next to it."""
        limit = cap(f"outcome.{name}")
        element: Element = {"type": "Input.Text", "id": name, "label": label, "isMultiline": True,
                            "maxLength": limit, **({"value": within(typed[name], limit)} if typed.get(name) else {})}
        if required:
            element |= {"isRequired": True, "errorMessage": required}
        return [element, *([error_text(error)] if error and field == name else [])]

    def toggle(name: str, partner: str) -> Element:
        # Labelled like every input, and the title says the partner too, so the checkbox's name says
        # which partner it is about whichever of the two a client reads.
        return {"type": "Input.Toggle", "id": name, "label": partner,
                "title": f"{partner} was present at the meeting", "valueOn": "true", "valueOff": "false",
                **({"value": typed[name][:10]} if typed.get(name) else {})}

    yes_no_choices = [{"title": "Yes", "value": "yes"}, {"title": "No", "value": "no"}]
    body: list[Element] = [
        heading("Record the rapid review outcome", size="Medium"),
        para(f"{case.reference} · {case.pseudonym}"),
        {"type": "Input.ChoiceSet", "id": "local_cspr", "label": "Is a local child safeguarding practice review "
         "recommended?", "isRequired": True, "errorMessage": "Answer yes or no.", "style": "expanded",
         "choices": yes_no_choices, **value("local_cspr")},
        {"type": "Input.ChoiceSet", "id": "national_review", "label": "Is a national review recommended?",
         "isRequired": True, "errorMessage": "Answer yes or no.", "style": "expanded", "choices": yes_no_choices,
         **value("national_review")},
        *text("rationale", "Rationale", required="Give the rationale."),
        *text("immediate_actions", "Immediate actions needed for children's safety"),
        *text("learning", "Learning identified"),
        *text("agencies_involved", "Agencies involved in the rapid review"),
        *text("agencies_absent", "Agencies whose absence needs explaining, and why"),
        *text("participants", "Who took part in the decision", required="Say who took part."),
        subheading("Quorum: the statutory partners present at the meeting"),
        toggle("quorum_local_authority", "Local authority"), toggle("quorum_police", "Police"),
        toggle("quorum_health", "Health (ICB)"),
    ]
    if error and field not in TEXT_INPUTS:
        body.insert(2, notice(escape_markdown(error), style="attention"))
    return card(body, actions=[execute("Save the outcome", OUTCOME, case.reference, style="positive"),
                               # No answers needed: it opens the inquorate card (below), whatever is typed here.
                               execute(INQUORATE_TITLE, INQUORATE, case.reference, validate=False, secondary=True)])


def inquorate_card(case: CaseSummary, *, typed: dict[str, str] | None = None, error: str | None = None) -> Element:
    """Record the meeting as inquorate (West Midlands procedures, 4.6.1: quorate only with a
    representative of each statutory partner), naming who was missing; the bot re-convenes it."""
    typed = typed or {}

    def toggle(name: str, partner: str) -> Element:
        return {"type": "Input.Toggle", "id": name, "label": partner, "title": f"{partner} was present at the meeting",
                "valueOn": "true", "valueOff": "false", **({"value": typed[name][:10]} if typed.get(name) else {})}

    body: list[Element] = [
        heading("Record the meeting as inquorate", size="Medium"),
        para(f"{case.reference} · {case.pseudonym}"),
        para("A rapid review meeting is quorate only with a representative of each statutory partner (West Midlands "
             "procedures, 4.6.1). Tick who was present: the meeting is recorded as inquorate, naming who was "
             "missing, and the bot books it again (or asks you for a time if the window has passed)."),
        toggle("quorum_local_authority", "Local authority"), toggle("quorum_police", "Police"),
        toggle("quorum_health", "Health (ICB)"),
    ]
    if error:
        body.append(notice(escape_markdown(error), style="attention"))
    return card(body, actions=[execute("Record as inquorate and re-convene", INQUORATE, case.reference,
                                       style="destructive")])


def outcome_summary_card(case: CaseSummary, outcome: MeetingOutcome) -> Element:
    """For the panel channel: the decision, no identifiers and no free text."""
    return card([
        para("Rapid review meeting held", subtle=True, size="Small"),
        heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
        facts([("Local review recommended", "Yes" if outcome.local_cspr.value == "yes" else "No"),
               ("National review recommended", "Yes" if outcome.national_review.value == "yes" else "No"),
               ("Quorate", "Yes" if outcome.quorate else "No")]),
        para("The chair and the partnership managers have the rapid review record for the National Panel.",
             size="Small"),
    ])


def outcome_for_referrer_card(case: CaseSummary, outcome: MeetingOutcome) -> Element:
    return fit(card([heading("Rapid review outcome", size="Medium"),
                 para(f"Your referral **{case.reference}** ({case.pseudonym}) was considered at the rapid review "
                      "meeting."),
                 facts([("Local review recommended", yes_no(outcome.local_cspr.value)),
                        ("National review recommended", yes_no(outcome.national_review.value))]),
                 literal(outcome.rationale)]))


def record_card(case: CaseSummary, outcome: MeetingOutcome) -> Element:
    """No link on the card: pressing the button gives the person who pressed a link of their own."""
    return card(_record_body(case, outcome, "Press the button and the Word document comes to you in this chat as a "
                                            "file to save in your OneDrive. If you cannot save files from Teams, get "
                                            "a one-time link instead: it works once, for you only, for 10 minutes. "
                                            "Every copy handed out is recorded."),
                actions=[execute(RECORD_TITLE, RECORD_FILE, case.reference),
                         execute(RECORD_LINK_TITLE, RECORD_LINK, case.reference),
                         execute("Start the rapid review report", report_cards.START, case.reference, validate=False)])


def record_link_card(case: CaseSummary, outcome: MeetingOutcome, url: str, expires_at: datetime,
                     tz: ZoneInfo) -> Element:
    until = expires_at.astimezone(tz)
    return card(_record_body(case, outcome, f"Your link works once, for you only, until {format_time(until, tz)}. If it has "
                                            "expired or been used, ask for a new one."),
                actions=[{"type": "Action.OpenUrl", "title": "Open the record (.docx)", "url": url},
                         execute("Get a new link", RECORD_LINK, case.reference)])


def _record_body(case: CaseSummary, outcome: MeetingOutcome, how: str) -> list[Element]:
    return [heading("Rapid review record", size="Medium"),
            para(f"{case.reference} ({case.pseudonym}): the record for the National Panel, as a Word document. "
                 "It contains the child's details: keep it in the case file, do not forward it or post it in a "
                 "channel."),
            para(how),
            facts([("Local review", yes_no(outcome.local_cspr.value)),
                   ("National review", yes_no(outcome.national_review.value))])]
