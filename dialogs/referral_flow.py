"""The referral form, with no SDK in it: the steps, the validation, the draft, and the card to
show next. Two thin wrappers run it as a dialog, one per Teams edge: botbuilder's
(dialogs/referral_dialog.py) and the Microsoft 365 Agents SDK's
(dialogs/agents_referral_dialog.py). Both keep the draft in the same place and shape, so a draft
begun on one edge goes on on the other.

One dialog instance is one draft. Its state — the answers exactly as typed, the
current section, how many children, the card version — is the dialog's own state,
saved by ConversationState into the database after every turn, so a referral left
half-way survives restarts and is resumed days later exactly where it was.

The flow does not send anything itself: it leaves the card to show in the turn's
`FormTurn.reply` (the wrapper puts it in `turn_state[FORM_REPLY]`), and the edge decides how (the invoke response for
Action.Execute, a new message for Action.Submit or a typed command).

Rules live in the domain (bot/domain/referral.py); this module only moves between
sections and keeps the answers.
"""

from __future__ import annotations

import uuid
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.case import Actor
from bot.domain.events import EventKind
from bot.domain.limits import length, within
from bot.domain.referral import (
    MAX_CHILDREN,
    ChildrenDetails,
    FormContext,
    IncidentDetails,
    Referral,
    Section,
    likely_notifiable,
    validate_section,
)
from bot.domain.text import clean_text
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.referrals import Submitted, submit_referral
from cards import referral_form as form
from cards.actions import CardPress as FormAction
from cards.referral_form import FormView

FORM_ACTION = "rr.form_action"
FORM_REPLY = "rr.form_reply"
FORM_ACTOR = "rr.actor"
FORM_RESULT = "rr.form_result"
DIALOG_ID = "ReferralDialog"  # the id on the stored dialog stack: the same on both edges, and as it always was

SECTIONS: list[Section] = [s for s in Section if s is not Section.REVIEW]
# An input without a cap of its own (a date, a time, a choice, a number) is never longer than
# this; anything longer is not something the form could have sent and is cut to it.
MAX_UNCAPPED_VALUE = 200
LAST_CHANGE = "last_change"  # who last changed the draft, when, which answers (see _record_change)
STARTED = "form.start"
CHANGE_WORDS = {
    STARTED: "started this referral",
    form.RESUME: "opened the referral again",
    form.NEXT: "moved on in the referral",
    form.BACK: "went back in the referral",
    form.EDIT: "went back to edit the referral",
    form.SAVE: "saved the referral",
    form.ADD_CHILD: "added a child",
    form.REMOVE_CHILD: "removed a child",
    form.CANCEL: "asked to discard the referral",
    form.CANCEL_KEEP: "kept the referral",
    form.SUBMIT: "checked the referral",
}


def new_draft(prefill: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "draft_id": str(uuid.uuid4()),
        "section": Section.REFERRER.value,
        "raw": {s.value: {} for s in Section} | {Section.REFERRER.value: dict(prefill or {})},
        "valid": [],
        "children": 1,
        "editing": False,
        "confirm_cancel": False,
        "errors": {},
        "v": 1,
    }


@dataclass
class FormTurn:
    """One turn's dealings with the form: the press and who pressed it come in; the card to show,
    the submitted referral (on submit) and whether the draft is closed go out. The SDK wrappers
    carry these in and out of their turn context (`FORM_*` keys) and end their dialog when
    `ended`."""

    action: FormAction | None
    actor: Actor | None
    reply: dict[str, Any] | None = None
    submitted: Submitted | None = None
    ended: bool = False

    @classmethod
    def of(cls, turn_state: dict[str, Any]) -> FormTurn:
        """The press and the actor the edge left in the SDK's turn state."""
        return cls(action=turn_state.get(FORM_ACTION), actor=turn_state.get(FORM_ACTOR))

    def hand_back(self, turn_state: dict[str, Any]) -> None:
        """The card to show and the submitted referral, where the edge looks for them."""
        if self.reply is not None:
            turn_state[FORM_REPLY] = self.reply
        if self.submitted is not None:
            turn_state[FORM_RESULT] = self.submitted


class FlowDialog:
    """What both SDKs' referral dialogs do, written once: mixed into each SDK's `Dialog`
    (dialogs/referral_dialog.py, dialogs/agents_referral_dialog.py), whose dialog contexts have
    the same shape. The draft is the running dialog instance's state; the press and the actor
    come from the turn's state, and the card (and submitted referral) go back there."""

    flow: ReferralFlow
    end_of_turn: Any  # the SDK's `Dialog.end_of_turn`

    async def begin_dialog(self, dialog_context: Any, options: object = None) -> Any:
        turn = FormTurn.of(dialog_context.context.turn_state)
        self.flow.begin(dialog_context.active_dialog.state, turn, options)
        return await self._after(dialog_context, turn)

    async def continue_dialog(self, dialog_context: Any) -> Any:
        turn = FormTurn.of(dialog_context.context.turn_state)
        await self.flow.press(dialog_context.active_dialog.state, turn)
        return await self._after(dialog_context, turn)

    async def _after(self, dialog_context: Any, turn: FormTurn) -> Any:
        turn.hand_back(dialog_context.context.turn_state)
        if turn.ended:
            return await dialog_context.end_dialog(turn.submitted.case.reference if turn.submitted else None)
        return self.end_of_turn


class FormDialogSet:
    """The `FormStack` port (bot/turns/referral_form.py) over either SDK's dialog set holding the
    referral dialog; each SDK's subclass adds how its ConversationState reloads and saves."""

    def __init__(self, dialogs: Any) -> None:
        self.dialogs = dialogs

    async def open_draft(self, turn_context: Any) -> dict[str, Any] | None:
        dc = await self.dialogs.create_context(turn_context)
        return dc.active_dialog.state if dc.active_dialog is not None else None

    async def begin(self, turn_context: Any, prefill: dict[str, str]) -> None:
        dc = await self.dialogs.create_context(turn_context)
        await dc.begin_dialog(DIALOG_ID, prefill)

    async def press(self, turn_context: Any) -> bool:
        dc = await self.dialogs.create_context(turn_context)
        if dc.active_dialog is None:
            return False
        await dc.continue_dialog()
        return True


class ReferralFlow:
    """The referral form, SDK-neutral: each method works on the draft (the dialog instance's
    state, a plain JSON dict) and the turn's `FormTurn`."""

    def __init__(self, services: ServiceContext) -> None:
        self.services = services

    # ---- entry points ------------------------------------------------------------------------

    def begin(self, state: dict[str, Any], turn: FormTurn, prefill: object = None) -> None:
        """A new draft: the referrer's name and e-mail from Teams pre-filled."""
        state.update(new_draft(prefill if isinstance(prefill, dict) else None))
        self._present(turn, state)
        self._record_change(turn, state, STARTED, state["raw"])

    async def press(self, state: dict[str, Any], turn: FormTurn) -> None:
        """A press on the form, or a typed resume or cancel (a `CardPress` too)."""
        action = turn.action
        if action is None:
            return
        if action.verb == form.RESUME:
            state["confirm_cancel"] = False
            self._present(turn, state, banner="Welcome back — carry on where you left off.")
            self._record_change(turn, state, action.verb, state["raw"])
            return
        if action.verb == form.CANCEL:
            state["confirm_cancel"] = True
            self._present(turn, state)
            self._record_change(turn, state, action.verb, state["raw"])
            return
        if action.ref != state["draft_id"] or action.version != state["v"]:
            self.present_changed_elsewhere(turn, state, action, another_window=False)
            self._record_change(turn, state, form.RESUME, state["raw"])  # it only showed the form again
            return
        handler = {
            form.NEXT: self._next,
            form.BACK: self._back,
            form.SAVE: self._save,
            form.EDIT: self._edit,
            form.ADD_CHILD: self._add_child,
            form.REMOVE_CHILD: self._remove_child,
            form.SUBMIT: self._submit,
            form.CANCEL_CONFIRM: self._discard,
            form.CANCEL_KEEP: self._keep,
        }.get(action.verb)
        if handler is None:
            self._present(turn, state, banner="That button is not part of the referral form.")
            return
        before = deepcopy(state["raw"])
        await handler(turn, state, action)
        self._record_change(turn, state, action.verb, before)

    # ---- navigation ---------------------------------------------------------------------------

    async def _next(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        section = Section(state["section"])
        self._keep_inputs(state, section, action.inputs)
        errors = self._validate(state, section)
        if errors:
            state["errors"] = errors
            self._mark(state, section, valid=False)
            self._present(turn, state)
            return
        self._mark(state, section, valid=True)
        state["errors"] = {}
        if state["editing"] or section is SECTIONS[-1]:
            state["editing"] = False
            state["section"] = Section.REVIEW.value
        else:
            state["section"] = SECTIONS[SECTIONS.index(section) + 1].value
        self._present(turn, state)

    async def _back(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        section = Section(state["section"])
        self._keep_inputs(state, section, action.inputs)
        state["errors"] = {}
        state["editing"] = False
        order = [*SECTIONS, Section.REVIEW]
        state["section"] = order[max(order.index(section) - 1, 0)].value
        self._present(turn, state)

    async def _save(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        section = Section(state["section"])
        self._keep_inputs(state, section, action.inputs)
        state["v"] += 1
        turn.reply = form.saved_card(self._view(state), section)

    async def _edit(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        try:
            target = Section(action.section or "")
        except ValueError:
            target = Section.REFERRER
        if target is Section.REVIEW:
            target = Section.REFERRER
        state["section"] = target.value
        state["editing"] = True
        state["errors"] = {}
        self._present(turn, state)

    async def _add_child(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        self._keep_inputs(state, Section.CHILDREN, action.inputs)
        state["children"] = min(state["children"] + 1, MAX_CHILDREN)
        state["errors"] = {}
        self._present(turn, state)

    async def _remove_child(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        self._keep_inputs(state, Section.CHILDREN, action.inputs)
        count = state["children"]
        index = action.child if action.child is not None and 0 <= action.child < count else None
        if index is not None and count > 1:
            raw = state["raw"][Section.CHILDREN.value]
            for i in range(index, count):
                for name in form.CHILD_FIELDS:
                    source = form.child_input_id(i + 1, name)
                    target = form.child_input_id(i, name)
                    if i + 1 < count and source in raw:
                        raw[target] = raw[source]
                    else:
                        raw.pop(target, None)
            state["children"] = count - 1
            for where in [w for w in state.get("too_long") or {} if w.startswith(f"{Section.CHILDREN.value}.c")]:
                state["too_long"].pop(where)
        state["errors"] = {}
        self._mark(state, Section.CHILDREN, valid=False)
        self._present(turn, state)

    async def _keep(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        state["confirm_cancel"] = False
        self._present(turn, state)

    async def _discard(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        await audit(self.services, turn.actor, EventKind.REFERRAL_DRAFT_DISCARDED,
                    detail={"draft_id": state["draft_id"], "section": state["section"]})
        turn.reply = form.discarded_card()
        turn.ended = True

    async def _submit(self, turn: FormTurn, state: dict[str, Any], action: FormAction) -> None:
        self._keep_inputs(state, Section.REVIEW, action.inputs)
        for section in SECTIONS:
            if self._validate(state, section):
                state["section"] = section.value
                state["errors"] = self._validate(state, section)
                self._present(turn, state, banner="Something in this section needs checking before you can submit.")
                return
        errors = self._validate(state, Section.REVIEW)
        if errors:
            state["errors"] = errors
            self._present(turn, state)
            return
        actor = turn.actor
        if actor is None:
            self._present(
                turn, state, banner="We could not confirm who you are in Teams, so the referral was not sent."
            )
            return
        referral = self._referral(state)
        submitted = await submit_referral(self.services, actor, state["draft_id"], referral)
        turn.submitted = submitted
        turn.reply = form.submitted_card(
            submitted.case.reference,
            submitted.case.pseudonym,
            likely_notifiable=submitted.case.likely_notifiable,
            channel_bound=submitted.panel_channel_bound,
            partnership=self.services.partnership.name,
        )
        turn.ended = True

    # ---- answers --------------------------------------------------------------------------------

    @staticmethod
    def _keep_inputs(state: dict[str, Any], section: Section, inputs: dict[str, str]) -> None:
        """Keep what was typed, valid or not — except text over its field's cap
        (bot/domain/limits.py): of that only the first `cap` characters are kept, and how much
        was written is remembered so the card says so next to the input until it is sent again.
        Nothing over a cap is ever stored, not even in the draft."""
        allowed = form.section_input_ids(section, state["children"])
        kept = state["raw"].setdefault(section.value, {})
        over = state.setdefault("too_long", {})
        for key, value in inputs.items():
            if key not in allowed:
                continue
            limit = form.input_cap(section, key)
            typed = clean_text(value) if limit is not None else value
            if limit is not None and length(typed) > limit:
                kept[key] = within(typed, limit)
                over[f"{section.value}.{key}"] = length(typed)
            else:  # free text is kept cleaned, as it is measured and as the card shows it again
                kept[key] = typed if limit is not None else value[:MAX_UNCAPPED_VALUE]
                over.pop(f"{section.value}.{key}", None)

    def _context(self, state: dict[str, Any]) -> FormContext:
        incident = state["raw"].get(Section.INCIDENT.value, {})
        earliest = self.services.partnership.earliest_incident_date
        incident_date = None
        if incident:
            parsed, _ = validate_section(
                Section.INCIDENT, incident, FormContext(today=self._today(), earliest_incident_date=earliest)
            )
            incident_date = parsed.incident_date if isinstance(parsed, IncidentDetails) else None
        return FormContext(
            today=self._today(),
            agencies=tuple(self.services.partnership.agencies),
            incident_date=incident_date,
            earliest_incident_date=earliest,
        )

    def _today(self):  # noqa: ANN202
        return self.services.clock.now().astimezone(self.services.tz).date()

    def _validate(self, state: dict[str, Any], section: Section) -> dict[str, str]:
        raw = state["raw"].get(section.value, {})
        answers = form.answers_from_raw(section, raw, state["children"])
        _, errors = validate_section(section, answers, self._context(state))
        return form.errors_for_inputs(section, errors) | self._too_long(state, section)

    @staticmethod
    def _too_long(state: dict[str, Any], section: Section) -> dict[str, str]:
        """The section's inputs last sent over their cap, with what the card says about each."""
        errors: dict[str, str] = {}
        for where, written in (state.get("too_long") or {}).items():
            at, _, key = where.partition(".")
            limit = form.input_cap(section, key) if at == section.value else None
            if limit is not None:
                errors[key] = (
                    f"{limit:,} characters at most — you wrote {written:,}. The first {limit:,} are "
                    "kept here: shorten it and send it again."
                )
        return errors

    @staticmethod
    def _mark(state: dict[str, Any], section: Section, *, valid: bool) -> None:
        valid_sections = [s for s in state["valid"] if s != section.value]
        state["valid"] = valid_sections + ([section.value] if valid else [])

    def _referral(self, state: dict[str, Any]) -> Referral:
        context = self._context(state)
        parts = {}
        for section, key in (
            (Section.REFERRER, "referrer"),
            (Section.PATHWAY, "pathway"),
            (Section.INCIDENT, "incident"),
            (Section.CHILDREN, "children"),
            (Section.VIEWS, "views"),
            (Section.REVIEW, "declaration"),
        ):
            answers = form.answers_from_raw(section, state["raw"].get(section.value, {}), state["children"])
            parsed, errors = validate_section(section, answers, context)
            if parsed is None:  # pragma: no cover - _submit validated every section just before
                raise ValueError(f"section {section.value} is not valid")
            parts[key] = parsed
        return Referral(**parts)

    # ---- who changed what, and a card that came too late ---------------------------------------

    def _record_change(
        self, turn: FormTurn, state: dict[str, Any], verb: str, raw_before: dict[str, dict[str, str]]
    ) -> None:
        """Remember who last changed the draft, when, and which answers: what a later press
        from another window (or an older card) is told when its own change cannot be saved."""
        actor = turn.actor
        changed = [
            [section, key]
            for section, answers in state["raw"].items()
            for key, value in answers.items()
            if raw_before.get(section, {}).get(key) != value
        ]
        state[LAST_CHANGE] = {
            "by": actor.name if actor else None,
            "at": self.services.clock.now().isoformat(),
            "verb": verb,
            "fields": changed[:20],
        }

    def present_changed_elsewhere(
        self, turn: FormTurn, state: dict[str, Any], action: FormAction, *, another_window: bool
    ) -> None:
        """The form as it is now, told who changed it, what and when, with what this press typed
        shown back. `another_window`: the state was saved by another turn while this one ran (the
        card is shown at the stored version and nothing is written); else the press came from an
        older card (rendered as any other turn)."""
        typed_in = self._section_of(action, state)
        unsaved = form.unsaved_answers(typed_in, action.inputs, state["raw"].get(typed_in.value, {}), state["children"])
        banner = form.changed_elsewhere_banner(*self._last_change_words(state), another_window=another_window)
        if not unsaved and not another_window:  # e.g. the second click of a double-click: nothing is lost
            banner = "That card was out of date, so nothing was changed. Here is your referral where you left it."
        if another_window:
            self._render(turn, state, banner, unsaved)
        else:
            self._present(turn, state, banner=banner, unsaved=unsaved)

    @staticmethod
    def _section_of(action: FormAction, state: dict[str, Any]) -> Section:
        try:
            return Section(action.section or state["section"])
        except ValueError:
            return Section(state["section"])

    def _last_change_words(self, state: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
        change = state.get(LAST_CHANGE)
        if not isinstance(change, dict) or not change.get("by"):
            return None, None, None
        try:
            at = datetime.fromisoformat(change["at"]).astimezone(self.services.tz)
        except (TypeError, ValueError):
            return None, None, None
        when = at.strftime("%H:%M") if at.date() == self._today() else f"{at.day} {at:%B} at {at:%H:%M}"
        return change["by"], self._what_changed(change, state), when

    @staticmethod
    def _what_changed(change: dict[str, Any], state: dict[str, Any]) -> str:
        labels: list[str] = []
        by_section: dict[Section, dict[str, tuple[str, dict[str, str]]]] = {}
        for section_value, key in change.get("fields") or []:
            try:
                section = Section(section_value)
            except ValueError:
                continue
            if section not in by_section:
                by_section[section] = form.input_labels(section, state["children"])
            label = by_section[section].get(key, (None, {}))[0]
            if label and f"'{label}'" not in labels:
                labels.append(f"'{label}'")
        if labels:
            shown = labels[:3] + ([f"{len(labels) - 3} more"] if len(labels) > 3 else [])
            return "changed " + (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0])
        return CHANGE_WORDS.get(change.get("verb") or "", "changed the referral")

    # ---- presenting -----------------------------------------------------------------------------

    def _view(
        self, state: dict[str, Any], banner: str | None = None, unsaved: tuple[tuple[str, str], ...] = ()
    ) -> FormView:
        return FormView(
            draft_id=state["draft_id"],
            version=state["v"],
            today=self._today(),
            agencies=tuple(self.services.partnership.agencies),
            editing_from_review=state["editing"],
            child_count=state["children"],
            banner=banner,
            errors=state.get("errors") or {},
            unsaved=unsaved,
        )

    def _present(
        self,
        turn: FormTurn,
        state: dict[str, Any],
        banner: str | None = None,
        unsaved: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Render the card for where the draft is now; every render gets a new version so
        older cards in the chat become stale and cannot change anything."""
        state["v"] += 1
        self._render(turn, state, banner, unsaved)

    def _render(
        self, turn: FormTurn, state: dict[str, Any], banner: str | None, unsaved: tuple[tuple[str, str], ...] = ()
    ) -> None:
        view = self._view(state, banner, unsaved)
        if state.get("confirm_cancel"):
            turn.reply = form.cancel_confirm_card(view)
            return
        section = Section(state["section"])
        raw = state["raw"].get(section.value, {})
        if section is Section.REVIEW:
            turn.reply = form.review_card(
                state["raw"], view, child_count=state["children"], likely_notifiable=self._likely_notifiable(state)
            )
        else:
            turn.reply = form.section_card(section, raw, view)

    def _likely_notifiable(self, state: dict[str, Any]) -> bool | None:
        context = self._context(state)
        incident, _ = validate_section(Section.INCIDENT, state["raw"].get(Section.INCIDENT.value, {}), context)
        children_answers = form.answers_from_raw(
            Section.CHILDREN, state["raw"].get(Section.CHILDREN.value, {}), state["children"]
        )
        children, _ = validate_section(Section.CHILDREN, children_answers, context)
        if not isinstance(incident, IncidentDetails):
            return None
        return likely_notifiable(incident, children.children if isinstance(children, ChildrenDetails) else [])
