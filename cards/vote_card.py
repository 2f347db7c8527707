"""The panel channel's case card, which is also the voting card (Stockport Rapid
Review Process (2019), Appendix A, section 2; docs/architecture.md, Verb table).

Everyone sees the same base card: the case without identifiers, a row per statutory
partner (awaiting, or who voted what and when), and the state of the vote. Panel
members get their own view with the voting controls — through the card's `refresh`
(Teams user ids of the members) or by pressing "Vote" — which is returned only to
them in the invoke response. Hiding buttons is not access control: the server checks
every vote against the roster.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.dates import format_day, format_moment
from bot.domain.limits import NAME, cap, within
from bot.domain.partnership import Partner
from bot.domain.text import truncate
from bot.domain.votes import VoteChoice
from bot.services.panel import PanelView
from cards.budget import fit, fit_measured
from cards.common import (
    QUERY_ID,
    Element,
    Verb,
    action_set,
    card,
    error_text,
    escape_markdown,
    execute,
    heading,
    literal,
    notice,
    para,
    person,
    subheading,
    verbs,
)
from cards.panel import VIEW_REFERRAL, case_facts

OPEN, REFRESH, VOTE = "panel.open", "panel.refresh", "panel.vote"
VIEW = VIEW_REFERRAL  # declared with the case card (cards/panel.py)
ANSWER = "query.answer"
BALLOT_INPUTS = frozenset({"choice", "rationale", "serious_harm_basis", "question"})
VERBS = verbs(
    Verb(OPEN),
    Verb(REFRESH),
    Verb(VOTE, BALLOT_INPUTS),
    Verb(ANSWER, frozenset({"answer"}), id_key=QUERY_ID),
)


def _when(moment: object, tz: ZoneInfo) -> str:
    return format_moment(moment, tz) if isinstance(moment, datetime) else ""


def _partner_rows(view: PanelView, tz: ZoneInfo) -> Element:
    rows: list[Element] = []
    for partner in Partner:
        vote = view.votes.get(partner)
        if vote is None:
            status: Element = para("*Awaiting vote*", subtle=True)
        else:  # the voter's name comes from Teams, so it is shown literally
            status = {"type": "RichTextBlock", "inlines": [
                {"type": "TextRun", "text": vote.choice.short, "weight": "Bolder"},
                {"type": "TextRun", "text": f" — {person(vote.voter_name)}, {_when(vote.cast_at, tz)}"},
            ]}
        rows.append({
            "type": "ColumnSet",
            "spacing": "Small",
            "columns": [
                {"type": "Column", "width": "120px", "items": [para(partner.title, weight="Bolder")]},
                {"type": "Column", "width": "stretch", "items": [status]},
            ],
        })
    return {"type": "Container", "spacing": "Medium", "items": [subheading("Votes"), *rows]}


def _decision_block(view: PanelView, tz: ZoneInfo) -> list[Element]:
    decision = view.decision
    assert decision is not None
    items: list[Element] = [
        heading(f"Decided: {decision.outcome.title}", size="Medium"),
        para(f"Recorded {_when(decision.decided_at, tz)}"
             + (" — the local authority decided, as the partners disagreed." if decision.by_local_authority else
                " — all three partners agreed.")),
    ]
    for partner in Partner:
        vote = view.votes.get(partner)
        if vote is None:
            continue
        who = person(vote.voter_name) + (f", {person(vote.organisation)}" if vote.organisation else "")
        items.append(para(f"**{partner.title}** · {vote.choice.short}"))
        items.append(literal(who, subtle=True))
        items.append(literal(vote.rationale))
        if vote.serious_harm_basis:
            items.append(literal("Serious harm criteria: " + vote.serious_harm_basis, italic=True))
    if decision.outcome is VoteChoice.RAPID_REVIEW and view.notify_by and view.case.status.is_open:
        when = format_day(view.notify_by)
        rule = view.notify_within or "within 5 working days of the local authority becoming aware"
        unknown = "" if view.aware_date_known or "aware" not in rule else \
            " (the date the local authority became aware was not given, so the referral's receipt counts)"
        items.append(notice(f"The local authority must notify the National Panel {rule}{unknown}: "
                            f"**by {when}**.", style="warning"))
    return [{"type": "Container", "style": "good", "items": items}]


def _state_line(view: PanelView) -> list[Element]:
    body: list[Element] = []
    if view.open_queries:
        asked = ", ".join(sorted({q.partner.title for q in view.open_queries}))
        body.append(notice(f"Waiting for the referrer to answer a question from: {asked}.", style="accent"))
    if view.answered_queries and not view.votes:
        body.append(notice("The referrer has answered the panel's question; the votes have started again.",
                           style="accent"))
    if view.disagreement:
        body.append(notice("**No consensus yet**: the partners have chosen different pathways. The vote stays open "
                           "until all three agree.", style="warning"))
    return body


def panel_card(view: PanelView, tz: ZoneInfo) -> Element:
    """The base card everyone sees, rendered once per view: a vote's answer (the member card
    is built on it) and the channel card's update from the same view share it. Never changed
    in place (its JSON text is kept, cards/budget.py `fit_measured`): `_changeable` copies it."""
    key = f"panel_card:{tz.key}"
    kept = view.rendered.get(key)
    if kept is None:
        kept = view.rendered[key] = _panel_card(view, tz)
    return kept


def _panel_card(view: PanelView, tz: ZoneInfo) -> Element:
    case = view.case
    body: list[Element] = [
        para("Virtual panel" + (" — decided" if view.decided else ": decide the pathway"), subtle=True,
             size="Small"),
        heading(f"{case.reference} · {case.pseudonym}", size="Medium"),
        case_facts(case, tz),
    ]
    if not case.status.is_open:  # said at the top: the decision below is history now
        body.append(notice("**Closed.** Every deadline and reminder for this case has stopped.", style="good"))
    if case.likely_notifiable:
        body.append(notice("**Likely notifiable** (from the referrer's answers). The panel decides.",
                           style="warning"))
    if view.decided:
        body += _decision_block(view, tz)
    else:
        body += _state_line(view)
        body.append(_partner_rows(view, tz))
    actions = [execute("View referral", VIEW, case.reference, validate=False)]
    if not view.decided:
        actions.insert(0, execute("Vote", OPEN, case.reference, view.round, validate=False))
    refresh = None
    if not view.decided and view.panel_user_ids:
        refresh = {"action": {"type": "Action.Execute", "verb": REFRESH,
                              "data": {"verb": REFRESH, "action": REFRESH, "ref": case.reference, "v": view.round}},
                   "userIds": view.panel_user_ids}
    return fit_measured(card(body, actions=actions, refresh=refresh))


def _text_input(name: str, label: str, value: str | None, *, required: str | None = None,
                placeholder: str | None = None) -> Element:
    """A text box of the voting card: Teams stops typing at the field's cap (bot/domain/limits.py),
    and a refused over-long text is shown again cut to it, so the card stays inside Teams' limit."""
    limit = cap(f"vote.{name}")
    element: Element = {"type": "Input.Text", "id": name, "label": label, "isMultiline": True, "maxLength": limit}
    if required:
        element |= {"isRequired": True, "errorMessage": required}
    if placeholder:
        element["placeholder"] = placeholder
    if value:
        element["value"] = within(value, limit)
    return element


NOT_A_VOTER = ("Only the panel members the partnership names for the local authority, the police and health can "
               "vote, and you are not one of them. If you should be, ask a partnership manager to add you.")
SEVERAL_PARTNERS = ("You are on the panel for more than one partner, so your vote cannot be counted for one of "
                    "them. Ask a partnership manager to correct the panel list.")


def not_a_voter_card(view: PanelView, tz: ZoneInfo, reason: str) -> Element:
    """The base card with why this person cannot vote: pressing Vote always gets an answer."""
    base = _changeable(panel_card(view, tz))
    base["body"].insert(0, notice(reason, style="attention"))
    return base


def _changeable(base: Element) -> Element:
    """A copy of the base card whose body may be changed: the base card keeps the text it was
    measured as (cards/budget.py, `fit_measured`), so it is never changed in place."""
    return {**base, "body": list(base["body"])}


def member_card(view: PanelView, tz: ZoneInfo, partner: Partner, *, message: str | None = None,
                error: str | None = None, error_field: str | None = None,
                typed: dict[str, str] | None = None) -> Element:
    """What a panel member sees: the base card plus the controls for their partner."""
    base = _changeable(panel_card(view, tz))
    if view.decided:
        if message or error:
            base["body"].insert(0, notice(escape_markdown(message or error or ""),
                                          style="good" if message else "attention"))
        return base
    current = view.votes.get(partner)
    typed = typed or {}
    choice = (typed.get("choice") or "")[:40] or (current.choice.value if current else None)

    def field_error(name: str) -> list[Element]:
        return [error_text(error)] if error and error_field == name else []

    controls: list[Element] = [
        subheading(f"Your vote for **{partner.title}**" + (" (you can change it until the panel decides)" if current else "")),
        {"type": "Input.ChoiceSet", "id": "choice", "label": "Outcome", "isRequired": True,
         "errorMessage": "Choose an outcome.", "style": "expanded",
         "choices": [{"title": c.title, "value": c.value} for c in VoteChoice],
         **({"value": choice} if choice else {})},
        *field_error("choice"),
        _text_input("rationale", "Rationale for the decision",
                    typed.get("rationale") or (current.rationale if current else None), required="Give your rationale.",
                    placeholder="Why this pathway (see the Virtual Panel guidance)"),
        *field_error("rationale"),
        _text_input("serious_harm_basis", "For a rapid review: how the serious harm criteria are met",
                    typed.get("serious_harm_basis") or (current.serious_harm_basis if current else None)),
        *field_error("serious_harm_basis"),
        _text_input("question", "For queries: your question to the referrer", typed.get("question")),
        *field_error("question"),
        para("Rationales are shown in this channel: do not include names, dates of birth or addresses.",
             size="Small", subtle=True),
        action_set([execute("Record vote", VOTE, view.case.reference, view.round, style="positive")]),
    ]
    if error and not error_field:
        controls.insert(0, notice(escape_markdown(error), style="attention"))
    if message:
        controls.insert(0, notice(escape_markdown(message), style="good"))
    base["body"].append({"type": "Container", "separator": True, "spacing": "Large", "items": controls})
    base["actions"] = [a for a in base.get("actions", []) if a["verb"] != OPEN]
    return base


# ---- personal chat ----------------------------------------------------------------------------


def query_card(view: PanelView, question: str, asked_by: str, query_id: int, *, error: str | None = None,
               typed: str | None = None) -> Element:
    body: list[Element] = [
        heading("The panel has a question", size="Medium"),
        para(f"About your referral **{view.case.reference}** ({view.case.pseudonym}), from "
             f"{escape_markdown(truncate(asked_by, 2 * NAME))}:"),
        literal(question),
        {"type": "Input.Text", "id": "answer", "label": "Your answer", "isMultiline": True, "isRequired": True,
         "errorMessage": "Write your answer.", "maxLength": cap("query.answer"),
         **({"value": within(typed, cap("query.answer"))} if typed else {})},
    ]
    if error:
        body.append(error_text(error))
    body.append(para("Your answer is added to the case and shared in the panel channel with the child's details "
                     "removed. Please do not include names, dates of birth or addresses.", size="Small",
                     subtle=True))
    return fit(card(body, actions=[execute("Send answer", ANSWER, view.case.reference, query=query_id)]))


def answered_card(reference: str) -> Element:
    return card([heading("Answer sent", size="Medium"),
                 para(f"Thank you. The panel has your answer for {reference} and will vote again.")])


def answer_notice_card(view: PanelView, partner_title: str, redacted_answer: str) -> Element:
    return fit(card([
        para("Virtual panel", subtle=True, size="Small"),
        heading(f"{view.case.reference} · {view.case.pseudonym}: the referrer answered", size="Medium"),
        para(f"Question from {escape_markdown(partner_title)}. The answer (identifiers removed):"),
        literal(redacted_answer),
        para("The votes have been cleared: please vote again on the case card.", weight="Bolder"),
    ]))


def decision_for_referrer_card(view: PanelView, tz: ZoneInfo) -> Element:
    decision = view.decision
    assert decision is not None
    body: list[Element] = [
        heading("The panel has decided", size="Medium"),
        para(f"Your referral **{view.case.reference}** ({view.case.pseudonym}): **{decision.outcome.title}**."),
    ]
    for partner in Partner:
        vote = view.votes.get(partner)
        if vote:
            body += [para(f"**{partner.title}** ({escape_markdown(person(vote.voter_name))})"), literal(vote.rationale)]
    next_steps = {
        VoteChoice.RAPID_REVIEW: "A rapid review will be held. You may be asked for your agency's information.",
        VoteChoice.PRACTICE_REVIEW: "The partnership will arrange a practice (learning) review.",
        VoteChoice.ESCALATION: "The case goes to the escalation process.",
        VoteChoice.NO_FURTHER_ACTION: "No partnership review will follow; another process may be more appropriate.",
    }.get(decision.outcome)
    if next_steps:
        body.append(para(next_steps))
    return fit(card(body))


def disagreement_prompt_card(view: PanelView, tz: ZoneInfo, hours: int) -> Element:
    return card([
        heading("Panel vote without consensus", size="Medium"),
        para(f"{view.case.reference} ({view.case.pseudonym}) has had no consensus for {hours} hours."),
        _partner_rows(view, tz),
        para("The chair and the partnership manager may want to bring the partners together."),
    ])
