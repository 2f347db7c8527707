"""The review and actions card: the local child safeguarding practice review (lead reviewer,
terms of reference and lines of enquiry, the review panel, agencies' reports, progress checks,
the report to the National Panel and publication), the actions with their owners and due
dates, and the learning with its 7-minute briefing (bot/services/review.py).

Reached from the timeline (`timeline RR-…`, "Review and actions") and from the reminders of
its steps. No child identifiers: the texts on it were refused while they carried one. Text a
person typed is shown literally (never as Markdown).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.case import CaseStatus
from bot.domain.limits import cap, within
from bot.domain.review import (
    MAX_LINES_OF_ENQUIRY,
    MIN_LINES_OF_ENQUIRY,
    PROGRESS_STEP,
    PUBLISHED_STEP,
    REPORT_STEP,
    SETUP_STEP,
    ActionOrigin,
    action_step_id,
    is_imr_step,
)
from bot.domain.text import truncate
from bot.services.closing import TOGGLE
from bot.services.ports import ActionRecord, DeadlineRow
from bot.services.review import ReviewView
from cards import labels
from cards.budget import fit
from cards.clock_cards import REVIEW_OPEN, TIMELINE
from cards.closing_cards import still_open_block
from cards.common import (
    ACTION_ID,
    Element,
    Verb,
    action_set,
    card,
    error_text,
    escape_markdown,
    execute,
    facts,
    heading,
    labelled,
    literal,
    notice,
    para,
    person,
    subheading,
    verbs,
)

REVIEW_SETUP = "review.setup"
REVIEW_AGENCY_REPORT = "review.agency_report"
REVIEW_PROGRESS = "review.progress"
REVIEW_REPORT_SENT = "review.report_sent"
REVIEW_PUBLISHED = "review.published"
LEARNING_RECORD = "learning.record"
LEARNING_BRIEFING = "learning.briefing"  # the 7-minute briefing by a one-time link
LEARNING_BRIEFING_FILE = "learning.briefing_file"  # ... or as a file in the presser's OneDrive (Teams' file consent)
ACTION_ADD = "action.add"
ACTION_DONE = "action.done"

CLOSING_INPUTS = frozenset({TOGGLE, "close_reason"})
SETUP_INPUTS = frozenset({"lead_reviewer", "terms_of_reference", "lines_of_enquiry", "review_panel", "agencies"})
ACTION_INPUTS = frozenset({"description", "owner_agency", "owner_aad_id", "due_on", "origin"})
VERBS = verbs(
    Verb(REVIEW_OPEN),
    Verb(REVIEW_SETUP, SETUP_INPUTS),
    Verb(REVIEW_AGENCY_REPORT, frozenset({"agency"})),
    Verb(REVIEW_PROGRESS, frozenset({"on_time", "quality"})),
    Verb(REVIEW_REPORT_SENT, frozenset({"sent_on"})),
    Verb(REVIEW_PUBLISHED, frozenset({"published_on", "late_reason", "close_anyway", "close_reason"})),
    Verb(LEARNING_RECORD, frozenset({"learning"})),
    Verb(LEARNING_BRIEFING),
    Verb(LEARNING_BRIEFING_FILE),
    Verb(ACTION_ADD, ACTION_INPUTS),
    Verb(ACTION_DONE, frozenset({"evidence"}), id_key=ACTION_ID),
)
_ALL_INPUTS = frozenset().union(*(v.inputs for v in VERBS.values()))
MAX_LISTED = 25
MAX_ACTIONS_SHOWN = 5
MAX_CHECKS_SHOWN = 3


def _day(value: datetime | date | None, tz: ZoneInfo) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return f"{value:%a %d %b %Y}"


def _state(row: DeadlineRow | None, tz: ZoneInfo, today: date) -> str:
    if row is None:
        return "not in this partnership's timeline"
    if row.status == "done":
        return f"done {row.done_on:%d %b %Y}" if row.done_on else "done"
    if row.due_at is None:
        return "not dated yet"
    if row.status == "open" and row.due_at.astimezone(tz).date() < today:
        return f"overdue since {_day(row.due_at, tz)}"
    return f"due {_day(row.due_at, tz)}" + (" (closed)" if row.status == "closed" else "")


def _text_input(field: str, label: str, *, cap_field: str, typed: dict[str, str], multiline: bool = True,
                required: bool = True, placeholder: str | None = None) -> Element:
    element: Element = {"type": "Input.Text", "id": field, "label": label, "isMultiline": multiline,
                        "maxLength": cap(cap_field), "isRequired": required}
    if required:
        element["errorMessage"] = f"{label.split(' (')[0]} is required."
    if placeholder:
        element["placeholder"] = placeholder
    if typed.get(field):
        element["value"] = within(typed[field], cap(cap_field))
    return element


def _date_input(field: str, label: str, typed: dict[str, str]) -> Element:
    element: Element = {"type": "Input.Date", "id": field, "label": label, "isRequired": True,
                        "errorMessage": "Give the date."}
    if typed.get(field):
        element["value"] = typed[field][:10]
    return element


def _show(title: str, body: list[Element], button: Element) -> Element:
    return {"type": "Action.ShowCard", "title": title, "card": {"type": "AdaptiveCard", "body": body,
                                                                "actions": [button]}}


def _error_near(body: list[Element], field: str | None, error: str | None, fields: frozenset[str]) -> list[Element]:
    return [*body, error_text(error)] if error and field in fields else body


# ---- the card --------------------------------------------------------------------------------------


def review_actions_card(v: ReviewView, tz: ZoneInfo, *, error: str | None = None, field: str | None = None,
                typed: dict[str, str] | None = None) -> Element:
    s = v.case.summary
    typed = typed or {}
    body: list[Element] = [
        para("Review and actions", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym}", size="Medium"),
        facts([("Status", labels.STATUS[s.status])]),
    ]
    if error and field not in _ALL_INPUTS:  # otherwise it is shown next to its input, once
        body.append(notice(escape_markdown(error), style="attention"))
    if v.commissioned:
        body += _review_part(v, tz, error, field, typed)
    body += _learning_part(v, error, field, typed)
    body += _actions_part(v, tz, error, field, typed)
    return fit(card(body, actions=[execute("Timeline", TIMELINE, s.reference, validate=False)]))


def _review_part(v: ReviewView, tz: ZoneInfo, error: str | None, field: str | None,
                 typed: dict[str, str]) -> list[Element]:
    s = v.case.summary
    review, setup = v.review, v.setup
    part: list[Element] = [subheading("Local child safeguarding practice review", size="Medium")]
    part.append(facts([
        ("Lead reviewer and terms of reference", _state(v.steps.get(SETUP_STEP), tz, v.today)),
        ("Agencies' reports", _state(next((r for r in v.steps.values() if is_imr_step(r.anchor, r.owner)), None),
                                     tz, v.today)),
        ("Next progress check", _state(v.steps.get(PROGRESS_STEP), tz, v.today)),
        ("Report to the National Panel", _state(v.steps.get(REPORT_STEP), tz, v.today)),
        ("Published", _state(v.steps.get(PUBLISHED_STEP), tz, v.today)),
    ]))
    if setup is None:
        part.append(para("No lead reviewer or terms of reference recorded yet.", subtle=True))
    else:
        part += labelled("Lead reviewer", setup.lead_reviewer)
        part += labelled("Terms of reference", setup.terms_of_reference)
        part.append({"type": "TextBlock", "text": "Key lines of enquiry", "weight": "Bolder", "wrap": True,
                     "spacing": "Small"})
        part += [literal(f"{n}. {line}") for n, line in enumerate(setup.lines_of_enquiry, start=1)]
        part += labelled("Review panel", setup.review_panel)
    asked = review.agencies_asked if review else []
    if asked:
        received = set(v.reports_received)
        part.append({"type": "TextBlock", "text": "Agencies' reports (IMRs and chronologies)", "weight": "Bolder",
                     "wrap": True, "spacing": "Small"})
        part.append(literal("\n".join(f"{a} — {'received' if a in received else 'outstanding'}"
                                       for a in asked[:MAX_LISTED])))
    checks = v.progress_checks
    if checks:
        part.append({"type": "TextBlock", "text": "Progress checks", "weight": "Bolder", "wrap": True,
                     "spacing": "Small"})
        for check in checks[-MAX_CHECKS_SHOWN:]:
            part.append(literal(f"{_day(check.recorded_at, tz)}, {person(check.recorded_by_name)}: "
                                f"{'on time' if check.on_time else 'behind time'}. {check.note or ''}"))
    if review and review.report_sent_on:
        part.append(para(f"Report sent to the National Panel on {_day(review.report_sent_on, tz)}."))
    if review and review.published_on:
        part.append(para(f"Published on {_day(review.published_on, tz)}."))
        if review.late_reason:
            part += labelled("Why it was published after the six months", review.late_reason)
    if v.may_manage and s.status is CaseStatus.REVIEW_COMMISSIONED:
        buttons = _review_buttons(v, tz, error, field, typed)
        part += [action_set(buttons[:3]), action_set(buttons[3:])]  # five buttons: two rows
    return part


def _review_buttons(v: ReviewView, tz: ZoneInfo, error: str | None, field: str | None,
                    typed: dict[str, str]) -> list[Element]:
    ref = v.case.summary.reference
    setup = v.setup
    amending = setup is not None  # a box left empty keeps what is recorded (the card stays small)
    shown = typed
    asked = v.review.agencies_asked if v.review else []
    setup_body = _error_near([
        *([para("Leave a box empty to keep what is recorded.", size="Small")] if amending else []),
        _text_input("lead_reviewer", "Lead reviewer (name and organisation)", cap_field="review.lead_reviewer",
                    typed=shown, multiline=False, required=not amending),
        _text_input("terms_of_reference", "Terms of reference", cap_field="review.terms_of_reference", typed=shown,
                    required=not amending),
        _text_input("lines_of_enquiry", f"Key lines of enquiry ({MIN_LINES_OF_ENQUIRY} or {MAX_LINES_OF_ENQUIRY}, "
                                        "one per line)", cap_field="review.terms_of_reference", typed=shown,
                    required=not amending),
        _text_input("review_panel", "Review panel (who sits on it)", cap_field="review.review_panel", typed=shown,
                    required=not amending),
        {"type": "Input.ChoiceSet", "id": "agencies", "label": "Agencies asked for reports (IMRs and chronologies)",
         "isMultiSelect": True, "style": "expanded", "isRequired": False,
         "choices": [{"title": a, "value": a} for a in v.agencies if a not in set(asked)]},
        *([para("Already asked: " + escape_markdown(", ".join(asked[:MAX_LISTED])) + ".", size="Small")]
          if asked else []),
        para("No names, addresses or other identifiers of the child or family: this record is shared.",
             size="Small", subtle=True),
    ], field, error, SETUP_INPUTS)
    outstanding = [a for a in (asked or v.agencies) if a not in set(v.reports_received)] or v.agencies
    report_body = _error_near([
        {"type": "Input.ChoiceSet", "id": "agency", "label": "Agency whose report came in", "isRequired": True,
         "errorMessage": "Choose the agency.", "style": "compact",
         "choices": [{"title": truncate(a, 60), "value": a} for a in outstanding[:MAX_LISTED]]},
    ], field, error, frozenset({"agency"}))
    progress_body = _error_near([
        {"type": "Input.ChoiceSet", "id": "on_time", "label": "Is the review on time?", "isRequired": True,
         "errorMessage": "Say whether it is on time.", "style": "expanded",
         "choices": [{"title": "Yes, on time", "value": "yes"}, {"title": "No, behind time", "value": "no"}]},
        _text_input("quality", "Quality of the work so far, and anything the partners need to do",
                    cap_field="review.progress_note", typed=typed),
    ], field, error, frozenset({"on_time", "quality"}))
    sent_body = _error_near([_date_input("sent_on", "Date the report was sent to the National Panel", typed)],
                            field, error, frozenset({"sent_on"}))
    due = v.steps.get(PUBLISHED_STEP)
    published_body = _error_near([
        _date_input("published_on", "Date the report was published", typed),
        _text_input("late_reason", "If later than the six months"
                    + (f" ({due.due_at:%d %b %Y})" if due and due.due_at else "") + ": why",
                    cap_field="review.late_reason", typed=typed, required=False),
        para("Recording the publication closes the case: its deadlines and reminders stop.", size="Small"),
        # after a refusal that listed what is still open (the card stays within Teams' size)
        *(still_open_block(v.still_open, tz, typed, _text_input(
            "close_reason", "Why close with this work still open", cap_field="closing.reason", typed=typed,
            required=False), listed=False) if field in CLOSING_INPUTS else []),
    ], field, error, frozenset({"published_on", "late_reason"}) | CLOSING_INPUTS)
    return [
        _show("Amend the set-up" if setup else "Set up the review", setup_body,
              execute("Save the set-up", REVIEW_SETUP, ref, style="positive")),
        _show("Agency report received", report_body,
              execute("Record the report", REVIEW_AGENCY_REPORT, ref, style="positive")),
        _show("Progress check", progress_body, execute("Record the check", REVIEW_PROGRESS, ref, style="positive")),
        _show("Report sent", sent_body,
              execute("Record it sent", REVIEW_REPORT_SENT, ref, style="positive")),
        _show("Published", published_body,
              execute("Record publication and close", REVIEW_PUBLISHED, ref, style="positive")),
    ]


def _learning_part(v: ReviewView, error: str | None, field: str | None, typed: dict[str, str]) -> list[Element]:
    ref = v.case.summary.reference
    part: list[Element] = [subheading("Learning", size="Medium")]
    if v.learning:
        part.append(literal(v.learning))
    else:
        part.append(para("No learning recorded yet.", subtle=True))
    learning_body = _error_near([
        _text_input("learning", "The learning to share across the partnership"
                    + (" (replaces what is recorded)" if v.learning else ""), cap_field="review.learning",
                    typed=typed),
        para("No identifiers: the 7-minute briefing is made from this and shared widely.", size="Small",
             subtle=True),
    ], field, error, frozenset({"learning"}))
    buttons = [_show("Record learning", learning_body, execute("Save the learning", LEARNING_RECORD, ref,
                                                               style="positive"))]
    if v.learning:
        buttons.append(execute("7-minute briefing", LEARNING_BRIEFING_FILE, ref, validate=False,
                               tooltip="A Word document for dissemination, sent to you as a file to save"))
    part.append(action_set(buttons))
    return part


def _actions_part(v: ReviewView, tz: ZoneInfo, error: str | None, field: str | None,
                  typed: dict[str, str]) -> list[Element]:
    ref = v.case.summary.reference
    part: list[Element] = [subheading("Actions", size="Medium")]
    if not v.actions:
        part.append(para("No actions recorded yet.", subtle=True))
    numbered = list(enumerate(v.actions, start=1))
    # Open actions first, soonest due; then the latest done. A card holds so many (Teams' size limit).
    shown = (sorted([(n, a) for n, a in numbered if a.status != "done"], key=lambda p: (p[1].due_on, p[0]))
             + [(n, a) for n, a in reversed(numbered) if a.status == "done"])[:MAX_ACTIONS_SHOWN]
    for number, action in shown:
        part += _action_rows(v, number, action, tz, error, field, typed)
    if len(numbered) > len(shown):
        hidden = len(numbered) - len(shown)
        part.append(para(f"{hidden} more action{'s' if hidden != 1 else ''} not shown: the open ones show here as "
                         "the ones above are done.", size="Small", subtle=True))
    if v.case.summary.status.is_open:
        part.append(action_set([_show("Add an action", _add_action_body(v, error, field, typed),
                                      execute("Add the action", ACTION_ADD, ref, style="positive"))]))
    return part


def _action_rows(v: ReviewView, number: int, action: ActionRecord, tz: ZoneInfo, error: str | None,
                 field: str | None, typed: dict[str, str]) -> list[Element]:
    row = v.steps.get(action_step_id(action.id))
    origin = ActionOrigin(action.origin).title if action.origin in ActionOrigin._value2member_map_ else action.origin
    state = (f"done {_day(action.done_at, tz)} by {person(action.done_by_name)}" if action.status == "done"
             else _state(row, tz, v.today))
    rows: list[Element] = [
        {"type": "TextBlock", "text": f"Action {number} · {escape_markdown(origin)} · {escape_markdown(state)}",
         "weight": "Bolder", "wrap": True, "separator": True},
        literal(action.description),
        literal(f"Owner: {person(action.owner_name)}, {action.owner_agency}. Due {_day(action.due_on, tz)}.",
                subtle=True),
    ]
    if action.status == "done":
        rows += labelled("Evidence", action.evidence)
    elif v.case.summary.status.is_open:
        done_body = _error_near([
            _text_input("evidence", "Evidence that it is done", cap_field="action.evidence",
                        typed=typed if str(action.id) == typed.get("_action") else {}),
        ], field if str(action.id) == typed.get("_action") else None, error, frozenset({"evidence"}))
        rows.append(action_set([{**_show("Mark done", done_body, execute(
            "Mark done", ACTION_DONE, v.case.summary.reference, style="positive", action_item=action.id)),
            "tooltip": f"Mark action {number} done"}]))
    return rows


def _add_action_body(v: ReviewView, error: str | None, field: str | None, typed: dict[str, str]) -> list[Element]:
    origins = [ActionOrigin.MEETING] + ([ActionOrigin.REVIEW] if v.case.summary.status is
                                        CaseStatus.REVIEW_COMMISSIONED else [])
    owner_choices = [{"title": truncate(person(m.name), 60) + (f" ({truncate(m.organisation, 30)})"
                                                               if m.organisation else ""),
                      "value": m.aad_object_id} for m in v.owners[:MAX_LISTED * 2]]
    return _error_near([
        _text_input("description", "What will be done, and how you will know it is done",
                    cap_field="action.description", typed=typed),
        {"type": "Input.ChoiceSet", "id": "owner_agency", "label": "Agency that owns it", "isRequired": True,
         "errorMessage": "Choose the agency.", "style": "compact",
         "choices": [{"title": a, "value": a} for a in v.agencies], **_typed_value(typed, "owner_agency")},
        {"type": "Input.ChoiceSet", "id": "owner_aad_id", "label": "Person who owns it", "isRequired": True,
         "errorMessage": "Choose the person.", "style": "compact", "choices": owner_choices,
         **_typed_value(typed, "owner_aad_id")},
        _date_input("due_on", "Due by", typed),
        {"type": "Input.ChoiceSet", "id": "origin", "label": "From", "isRequired": True, "style": "expanded",
         "errorMessage": "Say where the action comes from.", "value": typed.get("origin") or origins[-1].value,
         "choices": [{"title": o.title, "value": o.value} for o in origins]},
    ], field, error, ACTION_INPUTS)


def _typed_value(typed: dict[str, str], key: str) -> dict[str, Any]:
    return {"value": typed[key]} if typed.get(key) else {}


# ---- the briefing's one-time link --------------------------------------------------------------------


def briefing_link_card(reference: str, pseudonym: str, url: str, expires_at: datetime, tz: ZoneInfo,
                       marking: str) -> Element:
    until = expires_at.astimezone(tz)
    return card([heading(f"7-minute briefing: {reference}", size="Medium"),
                 para(f"A Word document for dissemination, made from the learning recorded for {reference} "
                      f"({pseudonym}). Read it before sharing: it is made to hold no identifiers."),
                 para(f"The link works once, for you only, until {until:%H:%M} ({until:%d %B %Y}). If it expires, "
                      "get a new one."),
                 notice(f"{escape_markdown(marking)}.")],
                actions=[{"type": "Action.OpenUrl", "title": "Open the 7-minute briefing (.docx)", "url": url},
                         execute("Get a new link", LEARNING_BRIEFING, reference, validate=False)])
