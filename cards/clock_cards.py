"""Cards of the statutory clock: reminders (with Teams @mentions), the case timeline,
the status overview and the agencies' information requests. No child identifiers:
cases are named by reference and pseudonym only."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.case import CaseStatus, CaseSummary
from bot.domain.dates import format_day, format_moment
from bot.domain.limits import cap, within
from bot.domain.reminders import Rag, ReminderKind
from bot.domain.review import recorded_on_review_card
from bot.domain.text import truncate
from bot.services import late_reasons
from bot.services.deadlines import PANEL_VOTE_STEP, RECORDED_ON_THE_CASE, StatusLine, Timeline
from bot.services.ports import DeadlineRow
from bot.services.reminder_view import Mention, ReminderView
from cards import labels, report_cards
from cards.budget import fit
from cards.common import (
    AGENCY_REQUEST_ID,
    STEP_ID,
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
    notice,
    para,
    person,
    plain_text,
    subheading,
    verbs,
)
from cards.meeting_cards import (
    NOTES_LINK,
    NOTES_TITLE,
    OUTCOME_FORM,
    OUTCOME_FORM_TITLE,
    RECORD_LINK,
    RECORD_TITLE,
)

MARK_DONE, TIMELINE, AGENCIES_RECORD, AGENCY_RETURNED = (
    "deadline.done", "case.timeline", "agencies.record", "agencies.returned")
VERBS = verbs(
    Verb(MARK_DONE, frozenset({"done_on", "late_reason"}), id_key=STEP_ID),
    Verb(TIMELINE),
    Verb(AGENCIES_RECORD, frozenset({"agencies", "contacts"})),
    Verb(AGENCY_RETURNED, id_key=AGENCY_REQUEST_ID),
)
# The statuses from the meeting's outcome on, where the report card has something to show.
REPORT_STATUSES = frozenset({CaseStatus.MEETING_HELD, CaseStatus.REPORT_IN_DRAFT, CaseStatus.REPORT_SUBMITTED,
                             CaseStatus.REVIEW_COMMISSIONED, CaseStatus.CLOSED})
RAG_MARK = {Rag.RED: "🔴", Rag.AMBER: "🟠", Rag.GREEN: "🟢"}
# The words that go with each mark: status is never shown by colour alone (WCAG 1.4.1).
RAG_WORDS = {Rag.RED: "Overdue", Rag.AMBER: "Due soon", Rag.GREEN: "On track"}
MAX_MENTIONS = 20
MAX_LISTED_AGENCIES = 20
DIGEST_AGENCIES_LISTED = 3  # in a digest of reminders: then "and N more" (the timeline lists them all)
_UNSAFE_IN_MENTION = re.compile(r"[<>*_`\[\]~|\\]")


def _day(moment: datetime | None, tz: ZoneInfo) -> str:
    return format_day(moment.astimezone(tz).date()) if moment else "—"


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return format_moment(moment, tz) if moment else "—"


def mention_entities(mentions: list[Mention]) -> tuple[str, list[Element]]:
    """`<at>Name</at>` text plus the entities that make Teams notify each person (by
    Entra object id, which Teams accepts in a bot's card mention). At most `MAX_MENTIONS`
    people, then how many more: a step owned by everyone on a large roster must not grow the
    reminder past Teams' size limit (cards/budget.py)."""
    texts, entities = [], []
    for m in mentions[:MAX_MENTIONS]:
        name = person(_UNSAFE_IN_MENTION.sub("", m.name), empty="member")
        tag = f"<at>{name}</at>"
        texts.append(tag)
        entities.append({"type": "mention", "text": tag, "mentioned": {"id": m.aad_object_id, "name": name}})
    more = len(mentions) - MAX_MENTIONS
    return ", ".join(texts) + (f" and {more} more" if more > 0 else ""), entities


def _due_words(view: ReminderView) -> str:
    days = view.working_days
    if view.kind is ReminderKind.OVERDUE:
        return f"**Overdue** by {days} working day{'s' if days != 1 else ''}"
    if view.kind is ReminderKind.DUE:
        return "**Due today**"
    return f"Due in {days} working day{'s' if days != 1 else ''}"


def _reminder_body(view: ReminderView, tz: ZoneInfo, mention_text: str,
                   agencies_listed: int = MAX_LISTED_AGENCIES) -> list[Element]:
    d = view.deadline
    style = {"overdue": "attention", "due": "warning"}.get(view.kind.value, "accent")
    body: list[Element] = [
        para(f"Reminder · {view.case.reference} · {view.case.pseudonym}", subtle=True, size="Small"),
        {"type": "Container", "style": style, "items": [
            heading(_due_words(view) + f": {escape_markdown(d.label)}", size="Default"),
        ]},
        facts([
            ("Due", _day(d.due_at, tz) + (f" (window from {_day(d.earliest_at, tz)})" if d.is_window else "")),
            ("Counted from", labels_anchor(d.anchor) + (f", {_day(d.anchor_at, tz)}" if d.anchor_at else "")),
            ("Case", f"{view.case.reference} · {view.case.pseudonym}"),
        ]),
    ]
    if view.outstanding_agencies:
        shown = [escape_markdown(a) for a in view.outstanding_agencies[:agencies_listed]]
        more = len(view.outstanding_agencies) - agencies_listed
        body.append(para("Still outstanding: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")))
    if mention_text:
        body.append(para(("For " if view.kind is not ReminderKind.OVERDUE else "Escalated to ") + mention_text))
    if view.delayed:
        body.append(notice("This reminder is late: it fell due while the bot was unavailable.", style="warning"))
    return body


def reminder_card(view: ReminderView, tz: ZoneInfo) -> Element:
    mention_text, entities = mention_entities(view.mentions)
    return card(_reminder_body(view, tz, mention_text), actions=done_actions(view.case.reference, view.deadline, tz),
                entities=entities)


def reminders_digest_card(views: list[ReminderView], tz: ZoneInfo) -> Element:
    """Several reminders that fell due for one person at once, as one message in their personal
    chat: a backlog after downtime or a busy morning is one card to read, not a hundred. Each
    reminder keeps its own section (headed "Reminder · …", as when it comes alone) and its own
    button, like the steps of the case timeline. The views mention the same one person."""
    mention_text, entities = mention_entities(views[0].mentions if views else [])
    cases = len({v.case.reference for v in views})
    body: list[Element] = [heading(f"{len(views)} reminders for you, in {cases} case{'s' if cases != 1 else ''}")]
    for view in views:
        body.append({"type": "Container", "separator": True, "spacing": "Large",
                     "items": [*_reminder_body(view, tz, mention_text, DIGEST_AGENCIES_LISTED),
                               action_set([_naming_case(a, view.case.reference)
                                           for a in done_actions(view.case.reference, view.deadline, tz)[:1]])]})
    return fit(card(body, entities=entities))


def _naming_case(action: Element, reference: str) -> Element:
    """A digest's button, told apart from the same step's button of another case by its tooltip."""
    return {**action, "tooltip": f"{action.get('tooltip') or action['title']} ({reference})"}


def escalation_card(view: ReminderView, tz: ZoneInfo) -> Element:
    """The one post in the case's thread when a step becomes overdue: the people reminded are
    told in their personal chats; the thread only records that it was escalated, naming no one."""
    d = view.deadline
    return card([
        para(f"Escalated · {view.case.reference} · {view.case.pseudonym}", subtle=True, size="Small"),
        {"type": "Container", "style": "attention", "items": [
            heading(_due_words(view) + f": {escape_markdown(d.label)}", size="Default")]},
        facts([("Due", _day(d.due_at, tz))]),
        para("Its owners, and those it is escalated to, are reminded in their personal chats with the bot."),
    ], actions=done_actions(view.case.reference, d, tz)[:1])


def labels_anchor(anchor: str) -> str:
    from bot.domain.timeline import Anchor

    try:
        return Anchor(anchor).description.capitalize()
    except ValueError:
        return anchor


# The review and actions card (cards/review_cards.py): its verb, named here so that the timeline
# and the reminders of the review's steps lead to it.
REVIEW_OPEN = "review.open"
# Statuses after the meeting: the timeline offers the review and actions card from then on.
_AFTER_MEETING = frozenset({CaseStatus.MEETING_HELD, CaseStatus.REPORT_IN_DRAFT, CaseStatus.REPORT_SUBMITTED,
                            CaseStatus.REVIEW_COMMISSIONED, CaseStatus.HANDED_OVER, CaseStatus.CLOSED})


def late_reason_input(due_at: datetime, tz: ZoneInfo) -> Element:
    """Why it was done late: required by the bot when the date given is after the due day
    (bot/services/late_reasons.py), so optional on the card."""
    return {"type": "Input.Text", "id": late_reasons.LATE_REASON, "isMultiline": True,
            "maxLength": cap("deadline.late_reason"),
            "label": f"If done after {_day(due_at, tz)}: why (for the timeliness report)"}


def done_actions(reference: str, d: DeadlineRow, tz: ZoneInfo) -> list[Element]:
    if d.status == "done":
        return [execute("Timeline", TIMELINE, reference, validate=False)]
    if recorded_on_review_card(d.anchor):  # a lead reviewer, evidence, a reason: recorded on that card
        return [execute("Review and actions", REVIEW_OPEN, reference, validate=False,
                        tooltip=f"Record: {truncate(d.label, 60)}"),
                execute("Timeline", TIMELINE, reference, validate=False)]
    inputs = []
    if d.asks_for_date:
        inputs.append({"type": "Input.Date", "id": "done_on", "label": "Date it was done", "isRequired": True,
                       "errorMessage": "Give the date."})
    if late_reasons.asks_for_reason(d) and d.due_at is not None:
        inputs.append(late_reason_input(d.due_at, tz))
    # Read as the button's description (a timeline has one per open step); it is repeated on the
    # button and its fallback, so a long label is shortened here to keep the timeline small.
    which = f"Mark done: {truncate(d.label, 60)}"
    done = execute("Mark done", MARK_DONE, reference, style="positive", tooltip=which, step=d.id)
    if inputs:
        return [{"type": "Action.ShowCard", "title": "Mark done", "tooltip": which,
                 "card": {"type": "AdaptiveCard", "body": inputs, "actions": [done]}},
                execute("Timeline", TIMELINE, reference, validate=False)]
    return [done, execute("Timeline", TIMELINE, reference, validate=False)]


def done_card(reference: str, d: DeadlineRow, tz: ZoneInfo) -> Element:
    return card([
        para(f"{reference}", subtle=True, size="Small"),
        {"type": "Container", "style": "good", "items": [heading(f"Done: {escape_markdown(d.label)}",
                                                                 size="Default")]},
        literal(f"Marked done{_done_by(d.done_by_name, escape=False)} on {_when(d.done_at, tz)}"
                + (f"; done on {format_day(d.done_on)}" if d.done_on else "")),
    ], actions=[execute("Timeline", TIMELINE, reference, validate=False)])


def _done_by(name: str | None, *, escape: bool = True) -> str:
    """Who marked a step done; a step done because its event was recorded names no person."""
    if name == RECORDED_ON_THE_CASE:
        return " (recorded on the case)"
    who = person(name)
    return f" by {escape_markdown(who) if escape else who}"


def _step_state(d: DeadlineRow, tz: ZoneInfo, today: date, not_working: str | None = None,
                provisional: bool = False) -> str:
    if d.status == "done":
        return f"✅ done {format_day(d.done_on)}{_done_by(d.done_by_name)}" if d.done_on else "✅ done"
    if d.status == "superseded":
        return "➖ superseded: " + _SUPERSEDED.get(d.step_id, "a later step made it unnecessary")
    if d.status == "closed":  # the case closed before the step was done: nothing about it runs any more
        return "⏹ stopped: the case is closed"
    if d.due_at is None:
        return "⏳ pending (waits for " + labels_anchor(d.anchor).lower() + ")"
    due_day = d.due_at.astimezone(tz).date()
    if d.status == "open" and due_day < today:
        return f"🔴 overdue since {_day(d.due_at, tz)}"
    window = f"{_day(d.earliest_at, tz)} – " if d.is_window else ""
    state = f"due {window}{_day(d.due_at, tz)}" + (f" ({not_working})" if not_working else "")
    return state + (" · provisional" if provisional and d.step_id != PANEL_VOTE_STEP else "")


_SUPERSEDED = {
    "papers_to_panel": "the meeting has been held",
    "agencies_return_information": "the meeting has been held",
    "send_information_requests": "the meeting has been held",
    "set_meeting_date": "the meeting has been booked",
}


def timeline_card(t: Timeline, tz: ZoneInfo) -> Element:
    from cards import pathway_cards  # it builds on this module's "Mark done"

    s = t.case.summary
    body: list[Element] = [
        para("Timeline", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym}", size="Medium"),
        facts([("Status", labels.STATUS[s.status])]),
    ]
    if s.status in _AFTER_MEETING:
        body.append(action_set([execute("Review and actions", REVIEW_OPEN, s.reference, validate=False,
                                        tooltip="The local review, the actions and the learning")]))
    if t.provisional:
        body.append(notice("**Provisional** until the virtual panel decides: these are the steps of the pathway the "
                           "referrer sought that are counted from the incident, awareness or the referral. The "
                           "panel's decision confirms them or replaces them.", style="accent"))
    if not t.deadlines:
        body.append(para("No deadlines yet."))
    not_working = t.not_working or {}
    for d in t.deadlines:
        state = _step_state(d, tz, t.today, not_working.get(d.id), t.provisional)
        body.append({"type": "ColumnSet", "spacing": "Small", "separator": True, "columns": [
            {"type": "Column", "width": "stretch", "items": [para(escape_markdown(d.label))]},
            {"type": "Column", "width": "auto", "items": [para(state, size="Small")]},
        ]})
        if d.status == "open":
            body.append(action_set(done_actions(s.reference, d, tz)[:1]))
    if t.agencies:
        body.append(subheading("Agencies' information"))
        for r in t.agencies:
            state = (f"returned {_day(r.returned_at, tz)}" if r.returned_at else f"asked {_day(r.sent_at, tz)}")
            row: Element = {"type": "ColumnSet", "columns": [
                {"type": "Column", "width": "stretch", "items": [literal(r.agency + (f" — {r.contact}" if r.contact
                                                                                   else ""))]},
                {"type": "Column", "width": "auto", "items": [para(state, size="Small")]},
            ]}
            body.append(row)
            if r.returned_at is None:
                body.append(action_set([execute(f"Mark {r.agency[:30]} returned", AGENCY_RETURNED, s.reference,
                                                validate=False, agency_request=r.id)]))
        # Appendix D's returns, each agency's on a card of its own (bot/services/pathways.py).
        body.append(action_set([pathway_cards.agency_returns_action(s.reference)]))
    elif t.agencies_to_ask is not None:
        body += [subheading("Agencies' information"),
                 para("No information requests to agencies are recorded yet. Record which agencies you have asked:",
                      size="Small"),
                 # In a card of its own: its required choice must not hold up the timeline's other buttons.
                 action_set([{"type": "Action.ShowCard", "title": "Record agency requests", "card": {
                     "type": "AdaptiveCard", "body": agency_inputs(s, t.agencies_to_ask),
                     "actions": [execute("Record requests", AGENCIES_RECORD, s.reference, style="positive")]}}])]
    if s.status is not CaseStatus.REFERRED:  # after the decision: the hand-over, the family, a challenge
        body.append(action_set([pathway_cards.show_pathway_action(s.reference)]))
    if s.status in REPORT_STATUSES:  # every step of the report comes back from here (`timeline RR-…`)
        body += [subheading("Rapid review report"),
                 para("Start the report, comment, sign off, record it sent, the National Panel's response and how "
                      "the rapid review ends: all on the report card (in your personal chat).", size="Small"),
                 action_set([execute("Open the rapid review report", report_cards.OPEN, s.reference,
                                     validate=False)])]
    body += _meeting_again(t)
    return fit(card(body))  # many agencies with long contacts: shortened for display only


def _meeting_again(t: Timeline) -> list[Element]:
    """The meeting's cards, reachable again from the timeline: a lost chair's card, outcome
    prompt or record card is never a dead end (each press is checked against the roster)."""
    m, s = t.meeting, t.case.summary
    if m is None or m.start_at is None or m.status not in ("booked", "held"):
        return []
    actions: list[Element] = []
    if m.status == "booked":
        actions.append(execute(NOTES_TITLE, NOTES_LINK, s.reference, validate=False))
        if m.end_at is not None and t.now is not None and m.end_at <= t.now:
            actions.append(execute(OUTCOME_FORM_TITLE, OUTCOME_FORM, s.reference,
                                   validate=False))
    else:
        actions.append(execute(RECORD_TITLE, RECORD_LINK, s.reference, validate=False))
    return [subheading("Meeting"), action_set(actions)]


def status_card(lines: list[StatusLine], total: int, tz: ZoneInfo) -> Element:
    body: list[Element] = [heading("Open cases", size="Medium"),
                           para(f"{total} open case{'s' if total != 1 else ''}; the most urgent first.", subtle=True)]
    if not lines:
        body.append(para("No open cases."))
    for line in lines:
        r = line.row
        if r.next_due_at is None:
            nxt = "no deadline yet"
        else:
            left = line.working_days_left or 0
            when = (f"{-left} working day{'s' if left != -1 else ''} overdue" if left < 0 else
                    "due today" if left == 0 else f"{left} working day{'s' if left != 1 else ''} left")
            statutory = "Statutory: " if r.next_statutory else ""
            nxt = (f"{(RAG_MARK.get(line.rag, '') if line.rag else '')} {statutory}"
                   f"{escape_markdown(r.next_label or '')}: {_day(r.next_due_at, tz)} ({when})")
        items = [para(f"**{r.reference}** · {r.pseudonym} · {_status(r.status)}"), para(nxt, size="Small")]
        if line.rag:  # the mark's colour in words, after the line it marks
            items.append({**para(RAG_WORDS[line.rag], size="Small", weight="Bolder"), "spacing": "None"})
        # The whole row is the button, and a button's title is its accessible name (the row's
        # text is not read separately), so the title says everything the row says.
        row_words = ". ".join(plain_text(item["text"]).lstrip("🔴🟠🟢 ") for item in items)
        timeline = execute(f"{row_words}. Open the timeline", TIMELINE, r.reference, validate=False)
        body.append({"type": "Container", "separator": True, "items": items,
                     "selectAction": _without_fallback(timeline)})
    return card(body)


def _without_fallback(action: Element) -> Element:
    return {k: v for k, v in action.items() if k != "fallback"}


def _status(value: str) -> str:
    """The status as people read it; a value this version does not know is shown as stored."""
    try:
        return CaseStatus(value).title
    except ValueError:
        return value


def agency_prompt_card(case: CaseSummary, agencies: list[str], *, error: str | None = None,
                       field: str | None = None, typed: dict[str, str] | None = None) -> Element:
    body: list[Element] = [
        heading("Information requests to agencies", size="Medium"),
        para(f"The panel decided on a rapid review for **{case.reference}** ({case.pseudonym}). Record which agencies "
             "you have asked for information; the bot tracks each one and chases only those still outstanding."),
        *agency_inputs(case, agencies, (typed or {}).get("contacts")),
    ]
    if error and field == "contacts":  # next to the box it is about
        body.append(error_text(error))
    elif error:
        body.append(notice(escape_markdown(error), style="attention"))
    return card(body, actions=[execute("Record requests", AGENCIES_RECORD, case.reference, style="positive")])


def agency_inputs(case: CaseSummary, agencies: list[str], contacts: str | None = None) -> list[Element]:
    """The agencies asked, and a contact for each: on the prompt, and on the timeline until recorded."""
    choices = sorted(set(agencies) | {case.referring_agency})
    return [
        {"type": "Input.ChoiceSet", "id": "agencies", "label": "Agencies asked", "isMultiSelect": True,
         "style": "expanded", "isRequired": True, "errorMessage": "Choose at least one agency.",
         "choices": [{"title": a, "value": a} for a in choices]},
        {"type": "Input.Text", "id": "contacts", "isMultiline": True, "maxLength": cap("agencies.contacts"),
         "label": "Contact for each (one per line, 'Agency: name, e-mail')",
         **({"value": within(contacts, cap("agencies.contacts"))} if contacts else {})},
    ]
