"""Every card button, routed once: verb → handler, its inputs, and whether it is about a case.

To add a button: one constant in the card module (its verb, and a `Verb` in that module's
`VERBS` naming the inputs the card renders), one row in `card_routes` below.

Both Teams edges — botbuilder (bot/teams/handler.py) and the Microsoft 365 Agents SDK
(bot/agents/application.py) — hand both Action.Execute (invoke `adaptiveCard/action`) and
Action.Submit (a message with a value) to `Router.press`, which
reads the card data against the verb's declaration (cards/actions.py), refuses — and audits
as tamper — a verb no row has, asks the access gate (bot/services/access.py) whether a press
about one case may be served here and for this person, calls the handler, and turns a
refusal into a reply in one place (`Router.refusal_reply`).

A handler does one thing and returns a `Reply`; when a use case refuses, it raises (a
`bot.services.refusals.Refused`), and the route's `on_refused`, if it has one, may show the
refusal on the card again (next to the input it is about) instead of as a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.adapters import telemetry
from bot.domain import trace
from bot.domain.case import Actor, parse_reference
from bot.domain.events import Event, EventKind
from bot.services import access, panel
from bot.services.context import ServiceContext
from bot.services.ports import Roles
from bot.services.refusals import NotAuthorised, Refused
from bot.turns.places import where_of
from bot.turns.ports import TurnContext
from bot.turns.replies import Reply
from cards import (
    chat,
    clock_cards,
    duplicate_cards,
    meeting_cards,
    pathway_cards,
    report_cards,
    retention_cards,
    review_cards,
    vote_card,
)
from cards import panel as case_card
from cards import referral_form as form
from cards.actions import VERBS, BadCardData, CardPress, parse_press
from cards.common import Verb

if TYPE_CHECKING:
    from bot.turns.clock_actions import ClockActions
    from bot.turns.meeting_actions import MeetingActions
    from bot.turns.panel_actions import PanelActions
    from bot.turns.report_actions import ReportActions
    from bot.turns.retention_actions import RetentionActions
    from bot.turns.review_actions import ReviewActions

NOT_RECOGNISED = "That button is not recognised. Please use the latest card from the bot."
UNREADABLE = "This card could not be read. Please use the latest card from the bot."
NO_CASE = "This card does not name a case. Please use the latest card from the bot."
NO_IDENTITY = "I could not tell who you are from Teams."


@dataclass(frozen=True)
class Pressed:
    """A press that passed the card-data checks, with who pressed (from the activity)."""

    turn_context: TurnContext
    actor: Actor
    press: CardPress
    reference: str | None = None  # the case, parsed, when the route needs one
    roles: Roles | None = None  # the presser's roles, when the access gate read them this turn

    @property
    def case(self) -> str:
        if self.reference is None:
            raise ValueError(f"{self.press.verb} is not routed as a press about one case")
        return self.reference


Handler = Callable[[Pressed], Awaitable[Reply]]
OnRefused = Callable[[Pressed, Refused], Awaitable[Reply | None]]


@dataclass(frozen=True)
class Route:
    verb: str
    handler: Handler
    inputs: frozenset[str]  # the input keys the verb's card renders (from the card module)
    needs_case: bool = False  # the press is about one case: its `ref` must be a case reference
    on_refused: OnRefused | None = None  # show a refusal on the card again, where there is one to show


def row(declared: Verb, handler: Handler, *, needs_case: bool = False, on_refused: OnRefused | None = None) -> Route:
    return Route(verb=declared.name, handler=handler, inputs=declared.inputs, needs_case=needs_case,
                 on_refused=on_refused)


class OneTimeFiles(Protocol):
    """Records handed to one person: as a file in their OneDrive, or by a one-time link
    (bot/teams/exports.py)."""

    async def record_file(self, pressed: Pressed) -> Reply: ...
    async def record_link(self, pressed: Pressed) -> Reply: ...
    async def export_link(self, pressed: Pressed) -> Reply: ...
    async def notes_file(self, pressed: Pressed) -> Reply: ...
    async def notes_link(self, pressed: Pressed) -> Reply: ...
    async def family_letter_link(self, pressed: Pressed) -> Reply: ...
    async def submission_file(self, pressed: Pressed) -> Reply: ...
    async def submission_link(self, pressed: Pressed) -> Reply: ...
    async def briefing_link(self, pressed: Pressed) -> Reply: ...
    async def briefing_file(self, pressed: Pressed) -> Reply: ...
    async def timeliness_link(self, pressed: Pressed) -> Reply: ...


class DuplicateHandlers(Protocol):
    """A likely duplicate's buttons (bot/turns/duplicate_actions.py)."""

    async def link(self, pressed: Pressed) -> Reply: ...
    async def dismiss(self, pressed: Pressed) -> Reply: ...


class FormHandlers(Protocol):
    """The referral form's presses, answered by the dialog through each edge (bot/turns/referral_form.py)."""

    async def start_referral(self, pressed: Pressed) -> Reply: ...
    async def continue_form(self, pressed: Pressed) -> Reply: ...


def card_routes(form_handlers: FormHandlers, panel_actions: PanelActions, clock: ClockActions,
                meeting: MeetingActions, files: OneTimeFiles, retention: RetentionActions,
                report: ReportActions, review: ReviewActions, duplicates: DuplicateHandlers) -> tuple[Route, ...]:
    """The route table: one row per verb any of our cards emits."""
    p = panel_actions
    r = report
    return (
        # personal chat: "Start a referral", and the referral form (the dialog keeps the draft)
        row(VERBS[chat.REFER], form_handlers.start_referral),
        *(row(VERBS[verb], form_handlers.continue_form) for verb in sorted(form.FORM_VERBS)),
        # the virtual panel (cards/vote_card.py; "View referral" also on cards/panel.py)
        row(VERBS[vote_card.OPEN], p.open, needs_case=True, on_refused=p.show_refusal),
        row(VERBS[vote_card.REFRESH], p.open, needs_case=True, on_refused=p.show_refusal),
        row(VERBS[vote_card.VOTE], p.vote, needs_case=True, on_refused=p.show_refusal),
        row(VERBS[case_card.VIEW_REFERRAL], p.view, needs_case=True, on_refused=p.show_refusal),
        row(VERBS[vote_card.ANSWER], p.answer, needs_case=True, on_refused=p.show_answer_refusal),
        # the statutory clock (cards/clock_cards.py)
        row(VERBS[clock_cards.MARK_DONE], clock.mark_done, needs_case=True),
        row(VERBS[clock_cards.TIMELINE], clock.timeline, needs_case=True),
        row(VERBS[clock_cards.AGENCIES_RECORD], clock.record_agencies, needs_case=True,
            on_refused=clock.show_agencies_refusal),
        row(VERBS[clock_cards.AGENCY_RETURNED], clock.agency_returned, needs_case=True),
        # the rapid review meeting (cards/meeting_cards.py)
        row(VERBS[meeting_cards.PICK], meeting.pick, needs_case=True),
        row(VERBS[meeting_cards.CHOOSE], meeting.choose, needs_case=True),
        row(VERBS[meeting_cards.RETRY], meeting.retry, needs_case=True),
        row(VERBS[meeting_cards.CANCEL], meeting.cancel, needs_case=True),
        row(VERBS[meeting_cards.MANUAL], meeting.record_manual, needs_case=True),
        row(VERBS[meeting_cards.OUTCOME], meeting.record_outcome, needs_case=True,
            on_refused=meeting.show_outcome_refusal),
        row(VERBS[meeting_cards.OUTCOME_FORM], meeting.outcome_form, needs_case=True),
        row(VERBS[meeting_cards.INQUORATE], meeting.inquorate, needs_case=True,
            on_refused=meeting.show_inquorate_refusal),
        row(VERBS[meeting_cards.RECORD_FILE], files.record_file, needs_case=True),
        row(VERBS[meeting_cards.RECORD_LINK], files.record_link, needs_case=True),
        row(VERBS[meeting_cards.NOTES_FILE], files.notes_file, needs_case=True),
        row(VERBS[meeting_cards.NOTES_LINK], files.notes_link, needs_case=True),
        # the data protection officer's export (not a case press: a DPO is not on the case's roster;
        # bot/services/export.py decides, and refuses anyone else alike)
        row(VERBS[chat.EXPORT_LINK], files.export_link),
        # the timeliness report's one-time links (a partnership manager's; bot/services/timeliness.py decides)
        row(VERBS[chat.TIMELINESS_CSV_LINK], files.timeliness_link),
        row(VERBS[chat.TIMELINESS_DOCX_LINK], files.timeliness_link),
        # retention and erasure, the data protection officer's (cards/retention_cards.py): not routed as a
        # press about a case — the DPO need not be on the panel's roster; the use case asks the roster itself
        row(VERBS[retention_cards.ERASE], retention.erase),
        row(VERBS[retention_cards.CONFIRM_REQUEST], retention.confirm_request, on_refused=retention.show_reason_refusal),
        row(VERBS[meeting_cards.GUESTS], meeting.invite_guests, needs_case=True),
        # after the decision (cards/pathway_cards.py; bot/turns/pathway_actions.py, part of the clock's actions)
        row(VERBS[pathway_cards.SHOW], clock.show_pathway, needs_case=True),
        row(VERBS[pathway_cards.HANDOVER], clock.handover, needs_case=True),
        row(VERBS[pathway_cards.CONFIRM], clock.confirm, needs_case=True),
        row(VERBS[pathway_cards.CHALLENGE], clock.challenge, needs_case=True),
        row(VERBS[pathway_cards.FAMILY], clock.family, needs_case=True),
        row(VERBS[pathway_cards.LETTER], files.family_letter_link, needs_case=True),
        row(VERBS[pathway_cards.AGENCIES_TOLD], clock.agencies_told, needs_case=True),
        row(VERBS[pathway_cards.AGENCY_RETURNS], clock.agency_returns, needs_case=True),
        row(VERBS[pathway_cards.AGENCY_RETURN_FORM], clock.agency_information_form, needs_case=True),
        row(VERBS[pathway_cards.AGENCY_RETURN], clock.agency_information, needs_case=True,
            on_refused=clock.show_return_refusal),
        # the rapid review report after the meeting (cards/report_cards.py)
        row(VERBS[report_cards.OPEN], r.open, needs_case=True),
        row(VERBS[report_cards.START], r.start, needs_case=True),
        row(VERBS[report_cards.EDIT], r.edit, needs_case=True),
        row(VERBS[report_cards.SAVE], r.save, needs_case=True, on_refused=r.show_refusal),
        row(VERBS[report_cards.COMMENT], r.comment, needs_case=True, on_refused=r.show_refusal),
        row(VERBS[report_cards.FINAL], r.final, needs_case=True),
        row(VERBS[report_cards.SIGN], r.sign, needs_case=True),
        row(VERBS[report_cards.DOCUMENT_FILE], files.submission_file, needs_case=True),
        row(VERBS[report_cards.DOCUMENT], files.submission_link, needs_case=True),
        row(VERBS[report_cards.SENT], r.sent, needs_case=True, on_refused=r.show_refusal),
        row(VERBS[report_cards.RESPONSE], r.response, needs_case=True, on_refused=r.show_refusal),
        row(VERBS[report_cards.CLOSE], r.close, needs_case=True, on_refused=r.show_refusal),
        # after the meeting: the local review, actions and learning (cards/review_cards.py)
        row(VERBS[clock_cards.REVIEW_OPEN], review.open, needs_case=True),
        row(VERBS[review_cards.REVIEW_SETUP], review.set_up, needs_case=True, on_refused=review.show_refusal),
        row(VERBS[review_cards.REVIEW_AGENCY_REPORT], review.agency_report, needs_case=True,
            on_refused=review.show_refusal),
        row(VERBS[review_cards.REVIEW_PROGRESS], review.progress, needs_case=True, on_refused=review.show_refusal),
        row(VERBS[review_cards.REVIEW_REPORT_SENT], review.report_sent, needs_case=True,
            on_refused=review.show_refusal),
        row(VERBS[review_cards.REVIEW_PUBLISHED], review.published, needs_case=True, on_refused=review.show_refusal),
        row(VERBS[review_cards.LEARNING_RECORD], review.learning, needs_case=True, on_refused=review.show_refusal),
        row(VERBS[review_cards.LEARNING_BRIEFING], files.briefing_link, needs_case=True),
        row(VERBS[review_cards.LEARNING_BRIEFING_FILE], files.briefing_file, needs_case=True),
        row(VERBS[review_cards.ACTION_ADD], review.add_action, needs_case=True, on_refused=review.show_refusal),
        row(VERBS[review_cards.ACTION_DONE], review.action_done, needs_case=True, on_refused=review.show_refusal),
        # a likely duplicate referral, to the partnership managers (cards/duplicate_cards.py)
        row(VERBS[duplicate_cards.LINK], duplicates.link, needs_case=True),
        row(VERBS[duplicate_cards.DISMISS], duplicates.dismiss, needs_case=True),
    )


class Router:
    """Either edge's dispatch over the route table."""

    def __init__(self, services: ServiceContext, routes: tuple[Route, ...]) -> None:
        self.services = services
        self.routes = {r.verb: r for r in routes}
        if len(self.routes) != len(routes):
            raise ValueError("a verb has two routes")

    async def press(self, turn_context: TurnContext, actor: Actor | None, data: Any, verb_hint: str | None) -> Reply:
        """The press answered; an answer with status 4xx/5xx carries the turn's reference
        (bot/domain/trace.py), the id its audit rows and log lines carry too."""
        reply = await self._press(turn_context, actor, data, verb_hint)
        if reply.status >= 400 and reply.text:
            reply.text = trace.reference(reply.text)
        return reply

    async def _press(self, turn_context: TurnContext, actor: Actor | None, data: Any, verb_hint: str | None) -> Reply:
        try:
            press = parse_press(data, verb_hint)
        except BadCardData as bad:
            await self.audit_tamper(actor, str(bad))
            return Reply(text=UNREADABLE, status=400)
        if actor is None:
            return Reply(text=NO_IDENTITY, status=403)
        route = self.routes.get(press.verb)
        if route is None:
            await self.audit_tamper(actor, f"unknown verb {press.verb[:40]}")
            return Reply(text=NOT_RECOGNISED, status=400)
        where = where_of(turn_context.activity)
        reference, roles = None, None
        if route.needs_case:
            reference = parse_reference(press.ref or "")
            if reference is None:
                return Reply(text=NO_CASE, status=400)
            gate = await access.case_gate(self.services, where, actor, press.verb, reference)
            if not gate.allowed:
                return Reply(text=gate.refusal, status=gate.status)
            roles = gate.roles
        elif await access.outside(self.services, where):  # not about a case (the referral form): not out there either
            return Reply(text=await access.outside_answer(self.services), status=403)
        pressed = Pressed(turn_context, actor, press, reference, roles)
        try:
            return await route.handler(pressed)
        except Refused as refused:
            return await self.refusal_reply(route, pressed, refused)

    async def refusal_reply(self, route: Route, pressed: Pressed, refused: Refused) -> Reply:
        """Every refusal becomes a reply here.

        - not authorised (by the roster): 403 with the reason;
        - a press our cards could not have sent (`refused.audit`): a tamper event and 403,
          whether or not the case it names exists (no existence oracle);
        - anything else: on the card again where the route can show it (a vote, an answer,
          the meeting outcome — next to the input it is about), else the reason as a message.
        """
        telemetry.refused("not_authorised" if isinstance(refused, NotAuthorised) else
                          "tampered_card" if refused.audit else type(refused).__name__)
        if isinstance(refused, NotAuthorised):
            return Reply(text=str(refused), status=403)
        if refused.audit:
            await panel.audit_refusal(self.services, pressed.actor, refused, pressed.reference)
            return Reply(text=str(refused), status=403)
        if route.on_refused is not None:
            shown = await route.on_refused(pressed, refused)
            if shown is not None:
                return shown
        return Reply(text=str(refused))

    async def audit_tamper(self, actor: Actor | None, reason: str) -> None:
        telemetry.refused("unknown_verb" if reason.startswith("unknown verb") else "bad_card_data")
        await self.services.cases.add_event(
            Event(
                kind=EventKind.ACCESS_DENIED,
                at=self.services.clock.now(),
                actor_aad_id=actor.aad_object_id if actor else None,
                actor_name=actor.name if actor else None,
                detail={"action": "card_press", "reason": reason[:200]},
            )
        )
