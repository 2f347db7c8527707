"""Cards of the rapid review report after the meeting (bot/services/report.py): the report
card (personal chat: the draft's texts, the comments, the sign-offs and every next step), the
requests for comments and for sign-off, and the panel channel's status-only notices.

The report card and the requests hold texts written about the child's case: they go only to
personal chats of people on the roster. The channel's notices carry the reference, the
pseudonym and what happened — never a text anyone typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.case import CaseSummary
from bot.domain.lifecycle import CaseStatus
from bot.domain.limits import cap
from bot.domain.report import Closure, Report, Response, Stage, seat_title
from bot.services.report import ReportView
from cards import labels
from cards.budget import fit
from cards.closing_cards import still_open_block
from cards.common import (
    Element,
    Verb,
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

OPEN, START, EDIT, SAVE, COMMENT, FINAL, SIGN, DOCUMENT, SENT, RESPONSE, CLOSE = (
    "report.open", "report.start", "report.edit", "report.save", "report.comment", "report.final", "report.sign",
    "report.document", "report.sent", "report.response", "report.close")
DOCUMENT_FILE = "report.document_file"  # the National Panel's copy as a file in the presser's OneDrive
ITEM_INPUTS = frozenset({
    "facts_summary", "immediate_safeguarding", "criteria_decision", "national_review_reason", "immediate_learning",
    "dissemination_plan", "additional_learning", "no_further_learning", "further_information", "agencies_involved",
    "agencies_omitted"})
VERBS = verbs(
    Verb(OPEN),
    Verb(START),
    Verb(EDIT),
    Verb(SAVE, ITEM_INPUTS),
    Verb(COMMENT, frozenset({"comment"})),
    Verb(FINAL),
    Verb(SIGN),
    Verb(DOCUMENT),
    Verb(DOCUMENT_FILE),
    Verb(SENT, frozenset({"sent_on", "late_reason"})),
    Verb(RESPONSE, frozenset({"response", "response_on", "asked_for"})),
    Verb(CLOSE, frozenset({"closure", "reason", "close_anyway"})),
)
# Short enough to show whole on a button of a card in a chat (the longer titles were cut off).
DOCUMENT_TITLE = "National Panel copy: one-time link (.docx)"
DOCUMENT_FILE_TITLE = "National Panel copy to my OneDrive (.docx)"


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y, %H:%M") if moment else "—"


def _title(summary: CaseSummary) -> Element:
    return heading(f"Rapid review report: {summary.reference} · {summary.pseudonym}", size="Medium")


STAGE_WORDS = {
    Stage.DRAFT: "Draft — with the panel and the chair for comments",
    Stage.SIGN_OFF: "Final draft — with the chair and a partnership manager for sign-off",
    Stage.SENT: "Sent to the National Panel",
}


def _text_input(name: str, label: str, value: str | None, *, hint: str | None = None,
                required: str | None = None, cap_name: str = "report.item") -> Element:
    element: Element = {"type": "Input.Text", "id": name, "label": label, "isMultiline": True,
                        "maxLength": cap(cap_name)}
    if value:
        element["value"] = value
    if hint:
        element["placeholder"] = hint[:150]
    if required:
        element |= {"isRequired": True, "errorMessage": required}
    return element


def start_card(summary: CaseSummary, *, started: bool = False) -> Element:
    """After the meeting: start the report (the chair or a partnership manager)."""
    body: list[Element] = [
        _title(summary),
        para("The meeting's outcome is recorded. Start the rapid review report: the panel members and the chair are "
             "asked for their comments on the draft, by the deadline of your partnership's timeline."),
    ]
    if started:
        body.append(notice("The report has been started.", style="good"))
    return card(body, actions=[execute("Start the report", START, summary.reference, validate=False,
                                       style="positive")])


# How the rapid review ended, as the record says it (the choices' labels are what to do: "close the case").
ENDED = {Closure.NO_FURTHER_REVIEW: "No further review, case closed",
         Closure.REVIEW_COMMISSIONED: "Local child safeguarding practice review commissioned"}


def _status_facts(v: ReportView, report: Report, tz: ZoneInfo) -> Element:
    rows = [("Status", labels.STATUS[v.case.summary.status]), ("Report", STAGE_WORDS[report.stage]),
            ("Round", str(report.round) + (" (the National Panel asked for more information)" if report.round > 1
                                           else "")),
            ("Started", f"{_when(report.started_at, tz)} by {person(report.started_by)}")]
    if report.comments_due_at:
        rows.append(("Comments due", _when(report.comments_due_at, tz)))
    if report.comments_closed_at:
        rows.append(("Comments in", _when(report.comments_closed_at, tz)))
    for label, signed in (("Chair's sign-off", report.chair_sign_off),
                          ("Partnership manager's sign-off", report.manager_sign_off)):
        rows.append((label, f"{person(signed.name)}, {_when(signed.at, tz)}" if signed else "not yet"))
    for s in report.submissions:
        rows.append((f"Sent (round {s.round})", f"{s.sent_on:%a %d %b %Y}, recorded by {person(s.by_name)}"))
    for a in report.answers:
        rows.append((f"National Panel (round {a.round})", f"{a.response.label}, {a.on:%a %d %b %Y}"))
    if report.closure:
        rows.append(("Ended", f"{ENDED[report.closure]}, {_when(report.closed_at, tz)} by {person(report.closed_by)}"))
    return facts(rows)


def _comments(report: Report, tz: ZoneInfo) -> list[Element]:
    body: list[Element] = [subheading("Comments on the draft")]
    asked = ", ".join(seat_title(s) for s in report.seats) or "nobody"
    missing = [seat_title(s) for s in report.seats if s not in report.commented_seats]
    # Once the final draft has gone for sign-off nobody can comment any more: "not yet" would promise otherwise.
    still = "Did not comment" if report.comments_closed_at is not None or report.round > 1 else "Not yet commented"
    body.append(para(f"Asked: {asked}." + (f" {still}: {', '.join(missing)}." if missing else ""), size="Small"))
    for c in report.comments:
        body += [para(f"**{escape_markdown(seat_title(c.seat))}** — {escape_markdown(person(c.author_name))}, "
                      f"{_when(c.at, tz)}", size="Small"), literal(c.text)]
    return body


def report_card(v: ReportView, tz: ZoneInfo, *, manages: bool, comments: bool, marking: str,
                error: str | None = None, field: str | None = None, typed: dict[str, str] | None = None,
                message: str | None = None) -> Element:
    """The report for one person in personal chat. `manages`: the chair or a partnership
    manager (edit, sign off, send, record the response, close); `comments`: a panel member or
    the chair while comments are open. A refusal is shown next to its input, with what was typed."""
    summary = v.case.summary
    report = v.report
    if report is None:
        return start_card(summary)
    typed = typed or {}
    body: list[Element] = [_title(summary)]
    if message:
        body.append(notice(escape_markdown(message), style="good"))
    if error and field is None:
        body.append(notice(escape_markdown(error), style="attention"))
    body.append(_status_facts(v, report, tz))
    if report.closure_reason:
        body += [subheading("Why"), literal(report.closure_reason)]
    request = report.last_request
    if request is not None and request.asked_for:
        body += [subheading(f"The National Panel asked for ({request.on:%d %b %Y})"), literal(request.asked_for)]
    if v.missing and report.stage is not Stage.SENT:
        body.append(notice("Nothing on the case gives these yet — fill them in under **Edit the report** before the "
                           "final draft goes for sign-off: " + "; ".join(escape_markdown(i.label) for i in v.missing)
                           + ".", style="warning"))
    body += _comments(report, tz)
    actions: list[Element] = []
    open_for_comments = report.stage is Stage.DRAFT and report.round == 1 and report.comments_closed_at is None
    if comments and open_for_comments:
        mine = typed.get("comment", "")
        inputs = [_text_input("comment", "Your comment on the draft", mine, cap_name="report.comment",
                              required="Write your comment.")]
        if error and field == "comment":
            inputs.append(error_text(error))
        actions.append({"type": "Action.ShowCard", "title": "Comment on the draft", "card": {
            "type": "AdaptiveCard", "body": [*_draft(v), *inputs],
            "actions": [execute("Send my comment", COMMENT, summary.reference, style="positive")]}})
    elif report.closure is None:  # the draft's texts, to read before signing off (the comment box shows them too)
        actions.append({"type": "Action.ShowCard", "title": "Read the draft", "card": {
            "type": "AdaptiveCard", "body": _draft(v)}})
    if manages and report.stage is not Stage.SENT:
        actions.append(execute("Edit the report", EDIT, summary.reference, validate=False))
    if manages and report.stage is Stage.DRAFT:
        actions.append(execute("Send the final draft for sign-off", FINAL, summary.reference, validate=False))
    if manages and report.stage is Stage.SIGN_OFF:
        if not report.signed_off:  # both in: a third press could only be refused
            actions.append(execute("Sign off the report", SIGN, summary.reference, validate=False, style="positive"))
        else:
            sent = [{"type": "Input.Date", "id": "sent_on", "label": "Date sent to the National Panel",
                     "isRequired": True, "errorMessage": "Give the date it was sent.",
                     **({"value": typed["sent_on"][:10]} if typed.get("sent_on") else {})}]
            if v.report_due is not None and report.round == 1:
                due = v.report_due.astimezone(tz)
                sent.append(_text_input("late_reason", f"If sent after {due:%a %d %b %Y}: why (for the timeliness "
                                        "report)", typed.get("late_reason"), cap_name="deadline.late_reason"))
            if error and field in ("sent_on", "late_reason"):
                sent.append(error_text(error))
            actions.append({"type": "Action.ShowCard", "title": "Record it sent", "card": {
                "type": "AdaptiveCard", "body": sent,
                "actions": [execute("Record sent", SENT, summary.reference, style="positive")]}})
    if manages and report.stage is Stage.SENT and report.answer is None and summary.status.is_open:
        answer: list[Element] = [
            {"type": "Input.ChoiceSet", "id": "response", "label": "The National Panel's response", "isRequired": True,
             "errorMessage": "Choose the response.", "style": "expanded",
             "choices": [{"title": r.label, "value": r.value} for r in Response],
             **({"value": typed["response"][:30]} if typed.get("response") else {})},
            {"type": "Input.Date", "id": "response_on", "label": "Date of the response", "isRequired": True,
             "errorMessage": "Give the date of the response.",
             **({"value": typed["response_on"][:10]} if typed.get("response_on") else {})},
            _text_input("asked_for", "What the National Panel asked for (when it asks for more information)",
                        typed.get("asked_for"), cap_name="report.asked_for"),
        ]
        if error and field in ("response", "response_on", "asked_for"):
            answer.append(error_text(error))
        actions.append({"type": "Action.ShowCard", "title": "Record the National Panel's response", "card": {
            "type": "AdaptiveCard", "body": answer,
            "actions": [execute("Record the response", RESPONSE, summary.reference, style="positive")]}})
    if (manages and report.stage is Stage.SENT and report.answer is not None
            and summary.status is CaseStatus.REPORT_SUBMITTED):
        ending: list[Element] = [
            {"type": "Input.ChoiceSet", "id": "closure", "label": "How the rapid review ends", "isRequired": True,
             "errorMessage": "Choose one.", "style": "expanded",
             "choices": [{"title": c.label, "value": c.value} for c in Closure],
             **({"value": typed["closure"][:30]} if typed.get("closure") else {})},
            _text_input("reason", "Reason", typed.get("reason"), cap_name="report.closure_reason",
                        required="Give the reason."),
            *still_open_block(v.still_open, tz, typed),
        ]
        if error and field in ("closure", "reason", "close_anyway"):
            ending.append(error_text(error))
        actions.append({"type": "Action.ShowCard", "title": "Close the case or commission a review", "card": {
            "type": "AdaptiveCard", "body": ending,
            "actions": [execute("Confirm", CLOSE, summary.reference, style="positive")]}})
    if manages:
        actions.append(execute(DOCUMENT_FILE_TITLE, DOCUMENT_FILE, summary.reference, validate=False))
        actions.append(execute(DOCUMENT_TITLE, DOCUMENT, summary.reference, validate=False))
    body.append(marking_footer(marking))
    return fit(card(body, actions=actions))


def edit_card(v: ReportView, *, error: str | None = None, field: str | None = None,
              typed: dict[str, str] | None = None) -> Element:
    """The report's texts as the chair or a manager edit them, each starting from its source on
    the case (the referral, the meeting's outcome). Its own card: every text at its cap must fit."""
    summary = v.case.summary
    typed = typed or {}
    body: list[Element] = [
        _title(summary),
        para("Each text starts from where the case records it. Changing the report after a sign-off takes the "
             "sign-offs away.", size="Small"),
    ]
    if error and field not in ITEM_INPUTS:
        body.append(notice(escape_markdown(error), style="attention"))
    for item in v.items:
        shown = typed[item.key] if item.key in typed else (v.value(item.key) or "")
        body.append(_text_input(item.key, item.label, shown, hint=item.hint))
        if error and field == item.key:
            body.append(error_text(error))
    return card(body, actions=[execute("Save the report", SAVE, summary.reference, style="positive"),
                               execute("Back to the report", OPEN, summary.reference, validate=False)])


def _draft(v: ReportView) -> list[Element]:
    """The draft's texts, to read before commenting."""
    body: list[Element] = [subheading("The draft")]
    for item in v.items:
        text = v.value(item.key)
        body += [subheading(escape_markdown(item.label), size="Small"), literal(text or "Not written yet.")]
    return body


def comment_request_card(v: ReportView, tz: ZoneInfo, marking: str) -> Element:
    """To each panel member and the chair: the draft, and a box for their comment."""
    summary = v.case.summary
    report = v.report
    assert report is not None
    body: list[Element] = [
        _title(summary),
        para("The draft rapid review report is ready for your comments"
             + (f", by **{_when(report.comments_due_at, tz)}**." if report.comments_due_at else ".")),
        *_draft(v),
        _text_input("comment", "Your comment on the draft", None, cap_name="report.comment",
                    required="Write your comment."),
        marking_footer(marking),
    ]
    return fit(card(body, actions=[execute("Send my comment", COMMENT, summary.reference, style="positive"),
                                   execute("Open the report", OPEN, summary.reference, validate=False)]))


def sign_off_request_card(summary: CaseSummary) -> Element:
    """To the chairs and the partnership managers: the final draft is ready to sign off."""
    return card([
        _title(summary),
        para("The final draft is ready for sign-off. The chair and a partnership manager both sign it off before "
             "it goes to the National Panel. Open the report to read it, get the Word document and sign off."),
    ], actions=[execute("Open the report", OPEN, summary.reference, validate=False, style="positive")])


def _notice_words(what: str, payload: dict[str, Any], tz: ZoneInfo) -> str:
    due = payload.get("due")
    by = f" by {datetime.fromisoformat(due).astimezone(tz):%a %d %b %Y, %H:%M}" if due else ""
    if what == "started":
        return f"rapid review report started; the panel members and the chair are asked for comments{by}."
    if what == "comments_in":
        return "comments on the draft report are in."
    if what == "final_draft":
        return "the final draft report is with the chair and the partnership managers for sign-off."
    if what == "sign_offs_withdrawn":
        return "the report was changed after a sign-off; it needs signing off again."
    if what == "signed_off":
        who = "the chair" if payload.get("by") == "chair" else "a partnership manager"
        return f"report signed off by {who}" + (" — both sign-offs are in." if payload.get("complete") else ".")
    if what == "sent":
        on = payload.get("on")
        day = f" on {datetime.fromisoformat(on):%a %d %b %Y}" if on else ""
        return ("report sent to the National Panel" if payload.get("round", 1) == 1
                else "report sent back to the National Panel with the information it asked for") + day + "."
    if what == "response":
        kind = Response(payload.get("response", Response.AGREES.value))
        tail = f"; the report is reopened and goes back{by}" if kind is Response.MORE_INFORMATION else ""
        return f"the National Panel's response is recorded: {kind.label.lower()}{tail}."
    if what == Closure.NO_FURTHER_REVIEW.value:
        return "closed — no further review. Every deadline and reminder for it has stopped."
    if what == Closure.REVIEW_COMMISSIONED.value:
        return "a local child safeguarding practice review is commissioned."
    return "the rapid review report changed."


def notice_card(summary: CaseSummary, what: str, payload: dict[str, Any], tz: ZoneInfo) -> Element:
    """For the panel channel: the reference, the pseudonym and what happened; no typed text."""
    words = _notice_words(what, payload, tz)
    return card([para("Rapid review report", subtle=True, size="Small"),
                 heading(f"{summary.reference} · {summary.pseudonym}", size="Medium"),
                 para(escape_markdown(words[:1].upper() + words[1:]))])


def submission_link_card(summary: CaseSummary, url: str, expires_at: datetime, tz: ZoneInfo) -> Element:
    until = expires_at.astimezone(tz)
    return card([
        _title(summary),
        para("The National Panel's copy of the rapid review report, with its covering letter, as a Word document. It "
             "contains the child's details: keep it in the case file, do not forward it or post it in a channel."),
        para(f"Your link works once, for you only, until {until:%H:%M}. If it has expired or been used, ask for a new "
             "one."),
    ], actions=[{"type": "Action.OpenUrl", "title": "Open the report (.docx)", "url": url},
                execute("Get a new link", DOCUMENT, summary.reference, validate=False)])
