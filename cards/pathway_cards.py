"""Cards after the virtual panel's decision (bot/services/pathways.py): the hand-over of a
decision other than a rapid review and its confirmation, a challenge to "no further action",
who tells the family (with the decision letter), the agencies told the outcome, and each
agency's information return. Cards for the channel or the referrer carry the reference and
pseudonym only; the rest go to personal chats of people on the roster."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.case import CaseSummary
from bot.domain.limits import cap, within
from bot.domain.pathways import AGENCY_RETURN_FIELDS, AGENCY_RETURN_TITLES
from bot.domain.text import truncate
from bot.domain.votes import VoteChoice
from bot.services.pathways import PathwayMessage, PathwayView
from bot.services.ports import AgencyRequest, DeadlineRow
from cards.budget import fit
from cards.clock_cards import done_actions
from cards.common import (
    AGENCY_REQUEST_ID,
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

SHOW, HANDOVER, CONFIRM, CHALLENGE, FAMILY, LETTER, AGENCIES_TOLD = (
    "pathway.show", "pathway.handover", "pathway.confirm", "pathway.challenge", "pathway.family",
    "pathway.family_letter", "pathway.agencies_told")
AGENCY_RETURNS, AGENCY_RETURN_FORM, AGENCY_RETURN = (
    "agencies.returns", "agencies.information_form", "agencies.information")
HANDOVER_INPUTS = frozenset({"process", "owner", "agencies"})
VERBS = verbs(
    Verb(SHOW),
    Verb(HANDOVER, HANDOVER_INPUTS),
    Verb(CONFIRM, frozenset({"confirmed_on"})),
    Verb(CHALLENGE, frozenset({"agency", "reason"})),
    Verb(FAMILY, frozenset({"teller", "tell_by"})),
    Verb(LETTER),
    Verb(AGENCIES_TOLD),
    Verb(AGENCY_RETURN, frozenset(AGENCY_RETURN_FIELDS), id_key=AGENCY_REQUEST_ID),
    Verb(AGENCY_RETURN_FORM, frozenset({"request"})),
    Verb(AGENCY_RETURNS),
)
LETTER_TITLE = "Download the family letter (.docx)"


def _day(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y") if moment else "—"


def _decision(view: PathwayView) -> str:
    return view.outcome.title if view.outcome else "Not decided yet"


def status_words(view: PathwayView, tz: ZoneInfo) -> str:
    """Where the case is, in words safe for the referrer and the agencies (no identifiers)."""
    s = view.case
    words = f"The virtual panel's decision on {s.reference} ({s.pseudonym}) is: {_decision(view)}."
    if view.handover is not None:
        words += f" It has been handed to: {view.handover.process.title}."
    if view.closed:
        words += " The case is now closed."
    elif view.challenge_until is not None and view.challenge is None:
        words += (f" An agency that disagrees may challenge the decision through the partnership's escalation "
                  f"process until {_day(view.challenge_until, tz)}: tell the partnership manager.")
    elif view.challenge is not None:
        words += " The decision has been challenged and is with the partnership manager."
    return words


def _facts(view: PathwayView, tz: ZoneInfo) -> Element:
    rows = [("Decision", _decision(view)), ("Status", view.case.status.title)]
    if view.handover is not None:
        h = view.handover
        rows += [("Handed to", h.process.title), ("Owner", person(h.owner_name)),
                 ("Confirmed", f"by {person(h.confirmed_by)}, {_day(datetime.fromisoformat(h.confirmed_at), tz)}"
                  if h.confirmed_at else ("not needed" if not h.process.needs_confirming else "not yet"))]
    if view.challenge_until is not None:
        rows.append(("May be challenged until", _day(view.challenge_until, tz)))
    if view.challenge is not None:
        rows.append(("Challenged by", view.challenge.agency))
    if view.family is not None:
        rows.append(("Tells the family", f"{person(view.family.teller_name)}, by {view.family.tell_by:%a %d %b %Y}"))
    return facts(rows)


def _choices(pairs: list[tuple[str, str]]) -> list[Element]:
    """Titles shortened for display (a long Teams name or agency must not outgrow the card)."""
    return [{"title": truncate(title, 60), "value": value} for title, value in pairs]


def handover_form(view: PathwayView) -> Element:
    """The partnership manager's hand-over: the process, its owner, the agencies to tell."""
    agencies = sorted(set(view.agencies) | {view.case.referring_agency})
    return {"type": "Action.ShowCard", "title": "Record the hand-over", "card": {
        "type": "AdaptiveCard", "body": [
            {"type": "Input.ChoiceSet", "id": "process", "label": "Handed to", "isRequired": True,
             "errorMessage": "Choose the process.", "style": "expanded",
             "choices": _choices([(p.title, p.value) for p in view.processes])},
            {"type": "Input.ChoiceSet", "id": "owner", "label": "Owner (who takes the case into that process)",
             "isRequired": True, "errorMessage": "Choose the owner.",
             "choices": _choices([(p.name, p.aad_object_id) for p in view.people])},
            {"type": "Input.ChoiceSet", "id": "agencies", "label": "Agencies to tell the outcome (the referring "
             "agency is always told)", "isMultiSelect": True, "style": "expanded",
             "choices": _choices([(a, a) for a in agencies])},
        ], "actions": [execute("Hand over", HANDOVER, view.case.reference, style="positive")]}}


def family_form(view: PathwayView) -> Element:
    return {"type": "Action.ShowCard", "title": "Who tells the family", "card": {
        "type": "AdaptiveCard", "body": [
            para("Agree who will tell the family the outcome, and by when. They get the decision letter in their "
                 "chat with the bot, and the clock reminds them.", size="Small"),
            {"type": "Input.ChoiceSet", "id": "teller", "label": "Who tells the family", "isRequired": True,
             "errorMessage": "Choose who tells the family.",
             "choices": _choices([(p.name, p.aad_object_id) for p in view.people])},
            {"type": "Input.Date", "id": "tell_by", "label": "By when", "isRequired": True,
             "errorMessage": "Give the date."},
        ], "actions": [execute("Record", FAMILY, view.case.reference, style="positive")]}}


def challenge_form(view: PathwayView) -> Element:
    agencies = sorted(set(view.agencies) | {view.case.referring_agency})
    return {"type": "Action.ShowCard", "title": "Record a challenge", "card": {
        "type": "AdaptiveCard", "body": [
            para("An agency dissatisfied with \"no further action\" may challenge it through the escalation "
                 "process (Stockport Rapid Review Process (2019), 'No Further Action'). The case then stays open "
                 "and goes to the partnership manager.", size="Small"),
            {"type": "Input.ChoiceSet", "id": "agency", "label": "Agency that challenges", "isRequired": True,
             "errorMessage": "Choose the agency.", "choices": _choices([(a, a) for a in agencies])},
            {"type": "Input.Text", "id": "reason", "label": "Why (no names, dates of birth or addresses)",
             "isMultiline": True, "isRequired": True, "maxLength": cap("pathway.challenge"),
             "errorMessage": "Say why."},
        ], "actions": [execute("Record the challenge", CHALLENGE, view.case.reference, style="positive")]}}


def pathway_card(view: PathwayView, tz: ZoneInfo, *, said: str | None = None) -> Element:
    """The case after the decision, for people on the roster: the `pathway RR-…` answer and
    the managers' prompt. Its forms are in cards of their own (each button sends its own)."""
    s = view.case
    body: list[Element] = [
        para("After the decision", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym}", size="Medium"),
        _facts(view, tz),
    ]
    if said:
        body.append(notice(escape_markdown(said), style="good"))
    if view.outcome is VoteChoice.NO_FURTHER_ACTION and not view.closed and view.challenge is None:
        body.append(para("\"No further action\" may be challenged by an agency through the escalation process. "
                         "Unless it is challenged, the case closes when the challenge period ends"
                         + (" and the hand-over is confirmed." if view.handover is not None else "."), size="Small"))
    if view.challenge is not None and not view.closed:
        body.append(notice(f"Challenged by {escape_markdown(view.challenge.agency)}: "
                           f"{escape_markdown(view.challenge.reason)} — hand it to the escalation process.",
                           style="attention"))
    actions: list[Element] = []
    if not view.closed and view.processes:
        actions.append(handover_form(view))
    if not view.closed and view.outcome is not None:
        actions.append(family_form(view))
    if view.challengeable:
        actions.append(challenge_form(view))
    if (not view.closed and view.handover is not None and view.handover.process.needs_confirming
            and view.handover.confirmed_at is None):
        actions.append(confirm_form(view))
    return fit(card(body, actions=actions or None))


def confirm_form(view: PathwayView) -> Element:
    return {"type": "Action.ShowCard", "title": "Confirm hand-over", "card": {
        "type": "AdaptiveCard", "body": [
            {"type": "Input.Date", "id": "confirmed_on", "label": "Date the process took the case (today if empty)"},
        ], "actions": [execute("Confirm", CONFIRM, view.case.reference, style="positive")]}}


def owner_card(view: PathwayView, tz: ZoneInfo) -> Element:
    s = view.case
    assert view.handover is not None
    return card([
        para("Hand-over", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym} is handed to you", size="Medium"),
        para(f"The virtual panel's decision: {escape_markdown(_decision(view))}. The partnership manager has "
             f"handed the case to **{escape_markdown(view.handover.process.title)}**, with you as its owner. Confirm "
             "once that process has taken the case: the case then closes."),
        _facts(view, tz),
    ], actions=[confirm_form(view)])


def referrer_card(view: PathwayView, tz: ZoneInfo) -> Element:
    """Status only: the referrer reads where their referral went (no identifiers)."""
    return card([
        para("Your referral", subtle=True, size="Small"),
        heading(f"{view.case.reference} · {view.case.pseudonym}", size="Medium"),
        para(escape_markdown(status_words(view, tz))),
    ])


def challenged_card(view: PathwayView, tz: ZoneInfo) -> Element:
    s = view.case
    body: list[Element] = [
        para("Decision challenged", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym}: \"no further action\" was challenged", size="Medium"),
        _facts(view, tz),
        para("The case stays open. Stockport Rapid Review Process (2019): a challenge goes through the escalation "
             "process, where the statutory partners and the independent chair decide. Hand it to the escalation "
             "process below."),
    ]
    if view.challenge is not None:
        body.append(literal(view.challenge.reason))
    return card(body, actions=[handover_form(view)] if view.processes else None)


def agencies_notice_card(view: PathwayView, agencies: list[tuple[str, str | None]], tz: ZoneInfo) -> Element:
    """West Midlands procedures, 4.7.2: the agencies involved (the referring agency among them)
    are told the outcome. Their contacts are outside Teams, so the business unit sends each
    this status-only text, and records that it has."""
    s = view.case
    body: list[Element] = [
        para("Tell the agencies", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym}: tell the agencies the outcome", size="Medium"),
        para("Other agencies, including the agency that referred, are told the outcome (West Midlands procedures, "
             "4.7.2). Send each contact below this status-only text (it names no one):", size="Small"),
        {"type": "Container", "style": "emphasis", "items": [literal(status_words(view, tz))]},
        subheading("Agencies"),
        *[literal(agency + (f" — {contact}" if contact else " — no contact recorded")) for agency, contact in
          agencies],
    ]
    if view.agencies_told:
        body.append(notice(f"Recorded as told by {escape_markdown(person(str(view.agencies_told.get('by'))))}.",
                           style="good"))
        return card(body)
    return card(body, actions=[execute("Record the agencies told", AGENCIES_TOLD, s.reference, validate=False)])


def teller_card(view: PathwayView, step: DeadlineRow | None, tz: ZoneInfo, marking: str) -> Element:
    """To the person who tells the family: the date, the letter (a one-time link, like the
    record) and "Mark done" on the family step."""
    s = view.case
    assert view.family is not None
    actions: list[Element] = [execute(LETTER_TITLE, LETTER, s.reference, validate=False)]
    if step is not None and step.status == "open":
        actions += done_actions(s.reference, step, tz)[:1]
    return card([
        para("Telling the family", subtle=True, size="Small"),
        heading(f"{s.reference} · {s.pseudonym}: you are to tell the family", size="Medium"),
        para(f"It was agreed that you tell the family the outcome by **{view.family.tell_by:%A %d %B %Y}**. The "
             "decision letter is a Word document made from the partnership's template; open it with the button "
             "(a link for you only, which works once). Mark the step done when the family has been told."),
        _facts(view, tz),
        marking_footer(marking),
    ], actions=actions)


def letter_link_card(case: CaseSummary, url: str, expires_at: datetime, tz: ZoneInfo, marking: str) -> Element:
    return card([
        heading(f"Family letter: {case.reference}", size="Medium"),
        para(f"This link is for you only and works once, until {expires_at.astimezone(tz):%H:%M}. The letter names "
             "the child: keep it as the partnership's information sharing agreement allows."),
        marking_footer(marking),
    ], actions=[{"type": "Action.OpenUrl", "title": LETTER_TITLE, "url": url},
                execute("Get a new link", LETTER, case.reference, validate=False)])


def message_card(message: PathwayMessage, tz: ZoneInfo, marking: str) -> Element | None:
    """The card for one of bot/services/pathways.py's outbox messages."""
    v = message.view
    if message.what == "handover_prompt":
        return pathway_card(v, tz)
    if message.what == "handover_owner" and v.handover is not None:
        return owner_card(v, tz)
    if message.what == "handover_referrer":
        return referrer_card(v, tz)
    if message.what == "challenged":
        return challenged_card(v, tz)
    if message.what == "agencies_notice":
        return agencies_notice_card(v, message.agencies, tz)
    if message.what == "family_teller" and v.family is not None:
        return teller_card(v, message.family_step, tz, marking)
    return None


# ---- an agency's information return (on the timeline) -------------------------------------------


def agency_returns_action(reference: str) -> Element:
    """On the timeline: the agencies' information returns, each on a card of its own."""
    return execute("Agencies' information returns", AGENCY_RETURNS, reference, validate=False)


def agency_returns_card(case: CaseSummary, returns: list[tuple[AgencyRequest, str | None]]) -> Element:
    """Every agency asked and whether its return is recorded; choose one to open its card."""
    body: list[Element] = [
        para("Agencies' information returns (Appendix D)", subtle=True, size="Small"),
        heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
    ]
    if not returns:
        body.append(para("No agencies have been asked for information yet."))
        return card(body)
    body += [literal(f"{request.agency} — " + (f"recorded by {person(by)}" if by else "not recorded yet"))
             for request, by in returns]
    body.append({"type": "Input.ChoiceSet", "id": "request", "label": "Agency", "isRequired": True,
                 "errorMessage": "Choose the agency.",
                 "choices": _choices([(request.agency, str(request.id)) for request, _ in returns])})
    return fit(card(body, actions=[execute("Open its return", AGENCY_RETURN_FORM, case.reference)]))


def agency_return_card(case: CaseSummary, request: AgencyRequest, answers: dict[str, str | None], *,
                       recorded_by: str | None = None, error: str | None = None,
                       field: str | None = None) -> Element:
    """Stockport Rapid Review Process (2019), Appendix D: what one agency returned — its
    involvement, a summary of its chronology, its analysis and the immediate actions taken."""
    body: list[Element] = [
        para("Agency information return (Appendix D)", subtle=True, size="Small"),
        heading(f"{case.reference} · {case.pseudonym}: {escape_markdown(request.agency)}", size="Medium"),
        para("No names, dates of birth or addresses: the chair's notes show this.", size="Small"),
    ]
    if recorded_by:
        body.append(notice(f"Recorded by {escape_markdown(person(recorded_by))}; saving again replaces it.",
                           style="good"))
    for name in AGENCY_RETURN_FIELDS:
        value = answers.get(name)
        body.append({"type": "Input.Text", "id": name, "label": AGENCY_RETURN_TITLES[name], "isMultiline": True,
                     "maxLength": cap("agency_return.text"),
                     **({"value": within(value, cap("agency_return.text"))} if value else {}),
                     **({"isRequired": True, "errorMessage": "Say what the agency's involvement was."}
                        if name == "involvement" else {})})
        if error and field == name:
            body.append(error_text(error))
    if error and field not in AGENCY_RETURN_FIELDS:
        body.append(notice(escape_markdown(error), style="attention"))
    return fit(card(body, actions=[execute("Save the return", AGENCY_RETURN, case.reference, style="positive",
                                           agency_request=request.id)]))


def show_pathway_action(reference: str) -> Element:
    return execute("Hand-over, family and challenge", SHOW, reference, validate=False)

