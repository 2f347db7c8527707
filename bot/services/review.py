"""After the meeting: the local child safeguarding practice review, and the actions and
learning (bot/domain/review.py says what the sources ask).

Who may do what (authority from the roster, never from a card):
- the review's record — lead reviewer, terms of reference, lines of enquiry, panel, agencies'
  reports, progress checks, the report sent and the publication — partnership managers;
- actions — added by a partnership manager or the chair; marked done, with evidence, by the
  person who owns the action or a partnership manager;
- the recorded learning and the 7-minute briefing — a partnership manager or the chair.

Every free text here is written to be shared (the briefing is disseminated; the card may be
opened in the panel channel), so it is refused while it carries an identifier
(bot/services/shared_text.py), and it is sealed at rest (bot/adapters/db/review_store.py).
Each change is one unit of work with its audit event and the deadlines it moves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bot.domain.case import Actor, Case, CaseStatus
from bot.domain.events import EventKind
from bot.domain.lifecycle import Mover
from bot.domain.limits import cap, too_long
from bot.domain.meeting import MeetingOutcome
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.domain.review import (
    PROGRESS_STEP,
    PUBLISHED_STEP,
    REPORT_STEP,
    SETUP_STEP,
    ActionOrigin,
    Evidence,
    NewAction,
    ProgressCheck,
    ReviewSetup,
    action_step_id,
    is_imr_step,
)
from bot.domain.text import clean_line, clean_text
from bot.domain.timeline import Anchor
from bot.services import closing, deadlines
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import (
    ActionRecord,
    DeadlineRow,
    MemberRecord,
    OutboxMessage,
    ReviewEntry,
    ReviewRecord,
    Roles,
    Transaction,
)
from bot.services.refusals import NotAuthorised, Refused
from bot.services.shared_text import refuse_identifiers

M = TypeVar("M", bound=BaseModel)
SHARED_REASON = "the review's record and its learning are shared and must not hold identifiers"
AGENCY_REPORT = "agency_report"
PROGRESS_CHECK = "progress_check"
# Statuses after the meeting, where actions and learning are recorded.
AFTER_MEETING = frozenset({CaseStatus.MEETING_HELD, CaseStatus.REPORT_IN_DRAFT, CaseStatus.REPORT_SUBMITTED,
                           CaseStatus.REVIEW_COMMISSIONED, CaseStatus.HANDED_OVER})
MANAGERS_ONLY = "Only a partnership manager can record the local review."
# Publication completes the review's own steps: no progress check follows it.
PUBLISHING_COMPLETES = frozenset({PUBLISHED_STEP, PROGRESS_STEP})
MANAGERS_OR_CHAIR = "Only a partnership manager or the chair can do that."


class ReviewRefused(Refused):
    """A record of the review, an action or the learning was refused (wrong status, bad input)."""


@dataclass(frozen=True)
class ReviewView:
    """What the review and actions card shows."""

    case: Case
    review: ReviewRecord | None
    entries: list[ReviewEntry]
    actions: list[ActionRecord]
    steps: dict[str, DeadlineRow]  # the review's and the actions' deadlines, by step id
    owners: list[MemberRecord]  # the roster people an action can be given to
    agencies: list[str]
    today: date
    commissioned: bool  # a local review is under way (or was, for a closed case)
    learning: str | None  # the review's learning, or the meeting's while none is recorded
    may_manage: bool  # the viewer is a partnership manager

    @property
    def setup(self) -> ReviewSetup | None:
        return ReviewSetup.model_validate(self.review.setup) if self.review and self.review.setup else None

    @property
    def still_open(self) -> list[DeadlineRow]:
        """What recording the publication (which closes the case) would stop."""
        return closing.still_open(list(self.steps.values()), completing=PUBLISHING_COMPLETES)

    @property
    def reports_received(self) -> list[str]:
        return [e.agency for e in self.entries if e.kind == AGENCY_REPORT and e.agency]

    @property
    def progress_checks(self) -> list[ReviewEntry]:
        return [e for e in self.entries if e.kind == PROGRESS_CHECK]


# ---- who ------------------------------------------------------------------------------------------


async def _roles(ctx: ServiceContext, actor: Actor) -> Roles:
    return await ctx.roster.roles_of(actor.aad_object_id)


async def _require(ctx: ServiceContext, actor: Actor, action: str, *, chair_too: bool) -> Roles:
    roles = await _roles(ctx, actor)
    if not (roles.manager or (chair_too and roles.chair)):
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action})
        raise NotAuthorised(MANAGERS_OR_CHAIR if chair_too else MANAGERS_ONLY)
    return roles


async def _case(ctx: ServiceContext, reference: str) -> Case:
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise ReviewRefused("That case could not be found.")
    return case


def _commissioned(case: Case) -> None:
    if case.summary.status is not CaseStatus.REVIEW_COMMISSIONED:
        raise ReviewRefused(f"No local review is under way for {case.summary.reference}: the case is "
                            f"{case.summary.status.title.lower()}. The review is recorded once the case shows "
                            "'Review commissioned'.")


def _validated(model: type[M], answers: dict[str, object], words: dict[str, str]) -> M:
    try:
        return model.model_validate(answers)
    except ValidationError as error:
        found = error.errors(include_url=False)
        first = next((e for e in found if e["type"] == "string_too_long"), found[0])
        field = str(first["loc"][0]) if first["loc"] else None
        if first["type"] == "string_too_long":
            raise ReviewRefused(str(first["msg"]), field) from error
        raise ReviewRefused(words.get(field or "", "Check the answers."), field) from error


def _refuse_identifiers(fields: dict[str, str | None]) -> None:
    refuse_identifiers(fields, ReviewRefused, reason=SHARED_REASON, verb="saving")


def _day(value: str | None, field: str, words: str) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError as error:
        raise ReviewRefused(words, field) from error


# ---- the view -------------------------------------------------------------------------------------


async def view(ctx: ServiceContext, actor: Actor, reference: str) -> ReviewView:
    """The review and actions of a case, for the roster (as the timeline is)."""
    roles = await _roles(ctx, actor)
    if not roles.may_see_identifiers:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "review_view"})
        raise NotAuthorised("Only panel members, chairs and partnership managers can do that.")
    case = await _case(ctx, reference)
    review = await ctx.reviews.review(case.id)
    rows = await ctx.deadlines.deadlines(case.id)
    anchors = await ctx.deadlines.anchors(case.id)
    owners = [m for m in await ctx.roster.members() if m.aad_object_id and m.role is not Role.DPO]
    unique: dict[str, MemberRecord] = {}
    for member in owners:
        assert member.aad_object_id is not None
        unique.setdefault(member.aad_object_id, member)
    learning = review.learning if review and review.learning else await _meeting_learning(ctx, case)
    commissioned = (case.summary.status is CaseStatus.REVIEW_COMMISSIONED
                    or (Anchor.REVIEW_COMMISSIONED in anchors and review is not None and review.setup is not None))
    return ReviewView(case=case, review=review, entries=await ctx.reviews.entries(case.id),
                      actions=await ctx.reviews.actions(case.id), steps={r.step_id: r for r in rows},
                      owners=sorted(unique.values(), key=lambda m: m.name.lower()),
                      agencies=sorted(set(ctx.partnership.agencies)), today=ctx.clock.now().astimezone(ctx.tz).date(),
                      commissioned=commissioned, learning=learning, may_manage=roles.manager)


async def _meeting_learning(ctx: ServiceContext, case: Case) -> str | None:
    record = await ctx.meeting_store.get(case.id)
    if record is None or not record.outcome:
        return None
    return MeetingOutcome.model_validate(record.outcome).learning


async def _review_or_new(tx: Transaction, case_id: str) -> ReviewRecord:
    return await tx.reviews.review(case_id) or ReviewRecord(
        case_id=case_id, setup=None, agencies_asked=[], learning=None, report_sent_on=None, published_on=None,
        late_reason=None)


async def _done(ctx: ServiceContext, tx: Transaction, case_id: str, step_id: str, day: date, actor: Actor) -> None:
    for row in await tx.deadlines.deadlines(case_id):
        if row.step_id == step_id and row.status in ("open", "pending"):
            await tx.deadlines.mark_done(row.id, ctx.clock.now(), day, actor.aad_object_id, actor.name)


async def _ensure_commissioned_anchor(ctx: ServiceContext, tx: Transaction, case: Case) -> None:
    """The review's clock starts at the decision to commission it (recorded with the meeting's
    outcome when the panel recommended one); a case commissioned later starts it now."""
    if Anchor.REVIEW_COMMISSIONED not in await tx.deadlines.anchors(case.id):
        await tx.deadlines.set_anchor(case.id, Anchor.REVIEW_COMMISSIONED, ctx.clock.now())


# ---- the local review -----------------------------------------------------------------------------


async def set_up(ctx: ServiceContext, actor: Actor, reference: str, answers: dict[str, str]) -> ReviewView:
    """Lead reviewer, terms of reference with 3–4 key lines of enquiry, the review panel, and the
    agencies asked for their reports (IMRs and chronologies). May be recorded again to amend
    (Stockport: the terms 'may need to be revisited as the review progresses')."""
    await _require(ctx, actor, "review_setup", chair_too=False)
    case = await _case(ctx, reference)
    _commissioned(case)
    recorded = await ctx.reviews.review(case.id)
    given: dict[str, object] = {k: v for k, v in answers.items() if v and v.strip()}
    if recorded is not None and recorded.setup:  # amending: a box left empty keeps what is recorded
        kept = dict(recorded.setup)
        kept["lines_of_enquiry"] = "\n".join(kept.get("lines_of_enquiry") or [])
        given = {**kept, **given}
    setup = _validated(ReviewSetup, given, {
        "lead_reviewer": "Give the lead reviewer's name.",
        "terms_of_reference": "Give the terms of reference (at least 10 characters).",
        "lines_of_enquiry": "Give 3 or 4 key lines of enquiry, one per line (each at least 5 characters).",
        "review_panel": "Say who sits on the review panel."})
    _refuse_identifiers({"terms_of_reference": setup.terms_of_reference,
                         "lines_of_enquiry": "\n".join(setup.lines_of_enquiry)})
    asked = [clean_line(a) for a in (answers.get("agencies") or "").split(",") if clean_line(a)]
    for agency in asked:
        if too_long(agency, cap("agencies.agency")):
            raise ReviewRefused(f"An agency's name is {cap('agencies.agency'):,} characters at most.", "agencies")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await _ensure_commissioned_anchor(ctx, tx, case)
        current = await _review_or_new(tx, case.id)
        merged = list(dict.fromkeys([*current.agencies_asked, *asked]))
        await tx.reviews.save_review(replace(current, setup=setup.model_dump(mode="json"), agencies_asked=merged),
                                     now, actor.name)
        await audit(ctx, actor, EventKind.REVIEW_SET_UP, case_id=case.id, into=tx.cases,
                    detail={"lines_of_enquiry": len(setup.lines_of_enquiry), "agencies_asked": merged})
        await deadlines.refresh_deadlines(ctx, case.id, tx)
        await _done(ctx, tx, case.id, SETUP_STEP, now.astimezone(ctx.tz).date(), actor)
        await _imr_done_if_all_in(ctx, tx, case.id, actor)
    return await view(ctx, actor, reference)


async def _imr_done_if_all_in(ctx: ServiceContext, tx: Transaction, case_id: str, actor: Actor) -> None:
    review = await tx.reviews.review(case_id)
    if review is None or not review.agencies_asked:
        return
    received = {e.agency for e in await tx.reviews.entries(case_id) if e.kind == AGENCY_REPORT}
    if all(a in received for a in review.agencies_asked):
        for row in await tx.deadlines.deadlines(case_id):
            if is_imr_step(row.anchor, row.owner) and row.status in ("open", "pending"):
                await tx.deadlines.mark_done(row.id, ctx.clock.now(), ctx.clock.now().astimezone(ctx.tz).date(),
                                             actor.aad_object_id, actor.name)


async def outstanding_reports(ctx: ServiceContext, case_id: str) -> list[str]:
    """The agencies asked for a report for the local review that have not sent it (reminders list them)."""
    review = await ctx.reviews.review(case_id)
    if review is None:
        return []
    received = {e.agency for e in await ctx.reviews.entries(case_id) if e.kind == AGENCY_REPORT}
    return [a for a in review.agencies_asked if a not in received]


async def agency_report(ctx: ServiceContext, actor: Actor, reference: str, agency: str | None) -> ReviewView:
    """An agency's report (IMR and chronology) came in; when every agency asked has sent one,
    the agencies' step is done and its reminders stop."""
    await _require(ctx, actor, "review_agency_report", chair_too=False)
    case = await _case(ctx, reference)
    _commissioned(case)
    name = clean_line(agency or "")
    if not name:
        raise ReviewRefused("Choose the agency whose report came in.", "agency")
    if too_long(name, cap("agencies.agency")):
        raise ReviewRefused(f"An agency's name is {cap('agencies.agency'):,} characters at most.", "agency")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        if name in {e.agency for e in await tx.reviews.entries(case.id) if e.kind == AGENCY_REPORT}:
            raise ReviewRefused(f"The report from {name} is already recorded.", "agency")
        current = await _review_or_new(tx, case.id)
        if name not in current.agencies_asked:  # a report from an agency not listed at set-up: it was asked too
            await tx.reviews.save_review(replace(current, agencies_asked=[*current.agencies_asked, name]), now,
                                         actor.name)
        await tx.reviews.add_entry(case.id, AGENCY_REPORT, now, actor.name, agency=name)
        await audit(ctx, actor, EventKind.REVIEW_AGENCY_REPORT, case_id=case.id, into=tx.cases,
                    detail={"agency": name})
        await _imr_done_if_all_in(ctx, tx, case.id, actor)
    return await view(ctx, actor, reference)


async def progress_check(ctx: ServiceContext, actor: Actor, reference: str, answers: dict[str, str]) -> ReviewView:
    """Regulation 14: the partners monitor the review's time and quality. Each check moves the
    next one on by the profile's interval (the `review_progress_checked` anchor)."""
    await _require(ctx, actor, "review_progress", chair_too=False)
    case = await _case(ctx, reference)
    _commissioned(case)
    check = _validated(ProgressCheck, dict(answers), {
        "on_time": "Say whether the review is on time.",
        "quality": "Say how the quality of the work looks (at least 10 characters)."})
    _refuse_identifiers({"quality": check.quality})
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await _ensure_commissioned_anchor(ctx, tx, case)
        await tx.reviews.add_entry(case.id, PROGRESS_CHECK, now, actor.name, on_time=check.on_time,
                                   note=check.quality)
        await tx.deadlines.set_anchor(case.id, Anchor.REVIEW_PROGRESS_CHECKED, now)
        await audit(ctx, actor, EventKind.REVIEW_PROGRESS_CHECKED, case_id=case.id, into=tx.cases,
                    detail={"on_time": check.on_time})
        await deadlines.refresh_deadlines(ctx, case.id, tx)
    return await view(ctx, actor, reference)


async def report_sent(ctx: ServiceContext, actor: Actor, reference: str, sent_on: str | None) -> ReviewView:
    """The review's final report went to the National Panel (the date it went)."""
    await _require(ctx, actor, "review_report_sent", chair_too=False)
    case = await _case(ctx, reference)
    _commissioned(case)
    day = _day(sent_on, "sent_on", "Give the date the report was sent to the National Panel.")
    _plausible(ctx, case, day, "sent_on")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        current = await _review_or_new(tx, case.id)
        if current.setup is None:
            raise ReviewRefused("Record the lead reviewer and the terms of reference first.")
        await tx.reviews.save_review(replace(current, report_sent_on=day), now, actor.name)
        await audit(ctx, actor, EventKind.REVIEW_REPORT_SENT, case_id=case.id, into=tx.cases,
                    detail={"sent_on": day.isoformat()})
        await _done(ctx, tx, case.id, REPORT_STEP, day, actor)
        await _done(ctx, tx, case.id, PROGRESS_STEP, day, actor)  # nothing left to monitor
    return await view(ctx, actor, reference)


def _plausible(ctx: ServiceContext, case: Case, day: date, field: str) -> None:
    if day > ctx.clock.now().astimezone(ctx.tz).date():
        raise ReviewRefused("That date is in the future.", field)
    if day < case.summary.incident_date:
        raise ReviewRefused("That date is before the incident; check the year.", field)


async def published(ctx: ServiceContext, actor: Actor, reference: str, published_on: str | None,
                    late_reason: str | None, close_anyway: str | None = None,
                    close_reason: str | None = None) -> ReviewView:
    """The review was published: within 6 months of the decision, or with the reason it was
    not. Then the case closes (lifecycle: review_commissioned → closed, "the review was
    published"), which stops every deadline and reminder of the case — with follow-up work
    still open (the 12-month desk-top review, actions…) only by Close anyway, with a reason
    (bot/services/closing.py)."""
    await _require(ctx, actor, "review_published", chair_too=False)
    case = await _case(ctx, reference)
    _commissioned(case)
    day = _day(published_on, "published_on", "Give the date the report was published.")
    _plausible(ctx, case, day, "published_on")
    reason = clean_text(late_reason or "") or None
    over = too_long(reason, cap("review.late_reason"))
    if over:
        raise ReviewRefused(over, "late_reason")
    rows = {r.step_id: r for r in await ctx.deadlines.deadlines(case.id)}
    due = rows[PUBLISHED_STEP].due_at if PUBLISHED_STEP in rows else None
    late = due is not None and day > due.astimezone(ctx.tz).date()
    if late and (reason is None or len(reason) < 10):
        assert due is not None
        raise ReviewRefused(f"The review was due to be published by {due.astimezone(ctx.tz):%d %b %Y}: say why it "
                            "was published later (at least 10 characters).", "late_reason")
    if not late:
        reason = None
    _refuse_identifiers({"late_reason": reason})
    stopping = closing.still_open(list(rows.values()), completing=PUBLISHING_COMPLETES)
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        current = await _review_or_new(tx, case.id)
        if current.report_sent_on is None:
            raise ReviewRefused("Record the report going to the National Panel first: it is published after that.")
        if day < current.report_sent_on:
            raise ReviewRefused("The report is published after it goes to the National Panel: check the date.",
                                "published_on")
        anyway = closing.checked(stopping, close_anyway, close_reason, ctx.tz, ReviewRefused,
                                 reason_field="close_reason")
        await tx.reviews.save_review(replace(current, published_on=day, late_reason=reason), now, actor.name)
        await _done(ctx, tx, case.id, PUBLISHED_STEP, day, actor)
        await audit(ctx, actor, EventKind.REVIEW_PUBLISHED, case_id=case.id, into=tx.cases,
                    detail={"published_on": day.isoformat(), "late": late})
        stopped = await closing.record(tx, case.id, actor, stopping, anyway, now) if anyway else {}
        await tx.cases.move(case.id, CaseStatus.CLOSED, Mover.MANAGER, actor, now,
                            expect=CaseStatus.REVIEW_COMMISSIONED, detail={"late": late, **stopped},
                            outbox=[_card_update(case.id, now)])
    ctx.kick_outbox()
    return await view(ctx, actor, reference)


def _card_update(case_id: str, now: datetime) -> OutboxMessage:
    """The channel's case card brought up to date: it says Closed once the review is published."""
    return OutboxMessage(key=f"panel_card:{case_id}:review:{now:%Y%m%dT%H%M%S%f}", kind=OutboxKind.PANEL_CARD,
                         case_id=case_id)


# ---- learning -------------------------------------------------------------------------------------


async def record_learning(ctx: ServiceContext, actor: Actor, reference: str, learning: str | None) -> ReviewView:
    """The learning to disseminate (the 7-minute briefing is made from it)."""
    await _require(ctx, actor, "learning", chair_too=True)
    case = await _case(ctx, reference)
    text = clean_text(learning or "")
    over = too_long(text, cap("review.learning"))
    if over:
        raise ReviewRefused(over, "learning")
    if len(text) < 20:
        raise ReviewRefused("Write the learning to share (at least 20 characters).", "learning")
    _refuse_identifiers({"learning": text})
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        current = await _review_or_new(tx, case.id)
        await tx.reviews.save_review(replace(current, learning=text), now, actor.name)
        await audit(ctx, actor, EventKind.LEARNING_RECORDED, case_id=case.id, into=tx.cases)
    return await view(ctx, actor, reference)


async def briefing_allowed(ctx: ServiceContext, actor: Actor, reference: str) -> Case:
    """A 7-minute briefing can be made once there is learning to share (the meeting's or the review's)."""
    await _require(ctx, actor, "briefing", chair_too=True)
    case = await _case(ctx, reference)
    review = await ctx.reviews.review(case.id)
    if not (review and review.learning) and not await _meeting_learning(ctx, case):
        raise ReviewRefused("There is no learning recorded yet: record it on this card first.")
    return case


# ---- actions --------------------------------------------------------------------------------------


async def add_action(ctx: ServiceContext, actor: Actor, reference: str, answers: dict[str, str]) -> ReviewView:
    """A SMART action: what, the agency and the person (on the roster) who own it, and by when.
    Its reminders go to its owner; when overdue, to the partnership managers too."""
    await _require(ctx, actor, "action_add", chair_too=True)
    case = await _case(ctx, reference)
    if case.summary.status not in AFTER_MEETING:
        raise ReviewRefused("Actions are recorded once the meeting's outcome is recorded.")
    new = _validated(NewAction, dict(answers), {
        "description": "Describe the action: what will be done, and how anyone will know it is done "
                       "(at least 15 characters).",
        "owner_agency": "Choose the agency that owns the action.",
        "owner_aad_id": "Choose the person who owns the action.",
        "due_on": "Give the date it is due.",
        "origin": "Say whether the action comes from the meeting or the review."})
    if new.origin is ActionOrigin.REVIEW and case.summary.status is not CaseStatus.REVIEW_COMMISSIONED:
        raise ReviewRefused("There is no local review under way: choose the rapid review meeting.", "origin")
    today = ctx.clock.now().astimezone(ctx.tz).date()
    if new.due_on <= today:
        raise ReviewRefused("An action is due after today.", "due_on")
    owner = next((m for m in await ctx.roster.members() if m.aad_object_id == new.owner_aad_id), None)
    if owner is None:
        raise ReviewRefused("Choose the action's owner from the list: they must be on the partnership's roster.",
                            "owner_aad_id")
    _refuse_identifiers({"description": new.description})
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        action_id = await tx.reviews.add_action(case.id, new.origin.value, new.description, new.owner_agency,
                                                new.owner_aad_id, owner.name, new.due_on, now, actor.name)
        await audit(ctx, actor, EventKind.ACTION_ADDED, case_id=case.id, into=tx.cases,
                    detail={"action": action_id, "origin": new.origin.value, "owner": new.owner_aad_id,
                            "due_on": new.due_on.isoformat()})
        await deadlines.refresh_deadlines(ctx, case.id, tx)
    return await view(ctx, actor, reference)


async def action_done(ctx: ServiceContext, actor: Actor, reference: str, action_id: int | None,
                      evidence: str | None) -> ReviewView:
    """Done, with the evidence that it was done; its reminders stop."""
    roles = await _roles(ctx, actor)
    case = await _case(ctx, reference)
    action = await ctx.reviews.action(action_id) if action_id is not None else None
    if action is None or action.case_id != case.id:
        raise ReviewRefused("That action could not be found.")
    if not (roles.manager or action.owner_aad_id == actor.aad_object_id):
        await audit(ctx, actor, EventKind.ACCESS_DENIED, case_id=case.id, detail={"action": "action_done"})
        raise NotAuthorised(f"Only {action.owner_name}, who owns this action, or a partnership manager can mark it "
                            "done.")
    if action.status == "done":
        raise ReviewRefused(f"Already marked done by {action.done_by_name}.")
    found = _validated(Evidence, {"evidence": evidence}, {
        "evidence": "Give the evidence that the action is done (at least 10 characters)."})
    _refuse_identifiers({"evidence": found.evidence})
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        if not await tx.reviews.action_done(action.id, now, actor.name, found.evidence):
            raise ReviewRefused("Already marked done.")
        await audit(ctx, actor, EventKind.ACTION_DONE, case_id=case.id, into=tx.cases, detail={"action": action.id})
        await _done(ctx, tx, case.id, action_step_id(action.id), now.astimezone(ctx.tz).date(), actor)
    return await view(ctx, actor, reference)


def action_due_at(ctx: ServiceContext, action: ActionRecord) -> datetime:
    return datetime.combine(action.due_on, time(17, 0), tzinfo=ctx.tz)
