"""Use cases of the rapid review report, after the meeting (docs/architecture.md, Lifecycle).

1. The chair or a partnership manager starts the report from the meeting's outcome: the
   case becomes "report in draft" and the panel members and the chair are asked for comments
   by the profile's deadline (the step that records `comments_received`).
2. Each of them comments (one comment per person, replaced if they comment again). When every
   partner asked and the chair have commented — or a manager sends the final draft for
   sign-off first — comments are in: the `comments_received` anchor gets its date.
3. The manager fills in what the meeting did not record (the report card asks for it) and
   sends the final draft to the chair and the managers; the chair AND a partnership manager
   sign it off, each with their name and the time (Stockport Rapid Review Process (2019),
   'What a completed Rapid Review Report should include'). Editing it afterwards takes the
   sign-offs away.
4. Recording "sent" (the manager, with the date) completes the 15-working-day step and
   moves the case to "report submitted".
5. The National Panel's response is recorded with its date; "asks for more information"
   reopens the report with its own resubmission deadline (a profile step).
6. After the response the case closes ("no further review") or a local review is
   commissioned — each with a reason; closing stops every deadline and reminder.

Every change is audited (kinds, seats and dates — never the texts); the panel channel gets
status-only notices ("RR-2026-0003: report signed off by the chair").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from uuid import uuid4

from bot.domain.case import Actor, Case
from bot.domain.events import EventKind
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.limits import cap, too_long
from bot.domain.meeting import MeetingOutcome
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.domain.report import (
    CHAIR_SEAT,
    ITEMS,
    Closure,
    Comment,
    Item,
    PanelAnswer,
    Report,
    Response,
    SignOff,
    Stage,
    Submission,
    applies,
    missing_items,
    value,
)
from bot.domain.text import clean_text
from bot.domain.timeline import Anchor
from bot.services import closing, deadlines, late_reasons
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import DeadlineRow, OutboxMessage, Roles, Transaction
from bot.services.refusals import NotAuthorised, Refused
from bot.services.shared_text import refuse_identifiers

SOURCE = "Stockport Rapid Review Process (2019), 'What a completed Rapid Review Report should include'"
NOT_MANAGING = "Only the chair or a partnership manager can do that."
NOT_ON_PANEL = ("Only the panel members and the chair are asked for comments on the report. If you should be, ask a "
                "partnership manager to add you.")
NOT_SIGNING = ("Only the chair and a partnership manager sign off the rapid review report (" + SOURCE + "). Panel "
               "members comment on the draft instead.")
CHANGED = "Someone else changed the report just now, so nothing was saved: open the report again and repeat that."
COMMENT_REASON = "comments are shared with the panel and must not hold identifiers"
TEXT_REASON = "this text is shared with the panel and must not hold identifiers"


class ReportRefused(Refused):
    """A report action was refused (wrong stage, missing input, a bad date)."""


class CommentsClosed(ReportRefused):
    """A comment pressed on a request card once the final draft has gone for sign-off: the
    request is no longer live, so the presser is told and shown the report as it stands."""


# ---- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportView:
    """What the report card and the National Panel's copy show."""

    case: Case
    outcome: MeetingOutcome
    report: Report | None
    meeting_start: datetime | None
    deciders: list[str]
    notified_on: date | None  # the National Panel notification, when the step was marked done
    today: date
    still_open: tuple[DeadlineRow, ...] = ()  # what closing the case now would stop (bot/services/closing.py)
    report_due: datetime | None = None  # the statutory step's due time, for "if sent late: why"

    def value(self, key: str) -> str | None:
        return value(self.report, key, self.outcome, self.case.referral) if self.report else None

    @property
    def items(self) -> list[Item]:
        """The items this report has (some depend on the meeting's recommendation or the round)."""
        return [i for i in ITEMS if self.report is not None and applies(i.key, self.outcome, self.report)]

    @property
    def missing(self) -> list[Item]:
        return missing_items(self.report, self.outcome, self.case.referral) if self.report else []


async def _roles(ctx: ServiceContext, actor: Actor) -> Roles:
    return await ctx.roster.roles_of(actor.aad_object_id)


async def _manager_or_chair(ctx: ServiceContext, actor: Actor, action: str) -> Roles:
    roles = await _roles(ctx, actor)
    if roles.chair or roles.manager:
        return roles
    await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action})
    raise NotAuthorised(NOT_SIGNING if action == "report_sign" else NOT_MANAGING)


def _movers(roles: Roles) -> frozenset[Mover]:
    return frozenset({m for m, has in ((Mover.CHAIR, roles.chair), (Mover.MANAGER, roles.manager)) if has})


async def view(ctx: ServiceContext, reference: str) -> ReportView:
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case is not None else None
    if case is None:
        raise ReportRefused("That case could not be found.")
    if meeting is None or not meeting.outcome:
        raise ReportRefused("The report starts from the meeting's outcome: record the outcome first.")
    stored = await ctx.reports.get(case.id)
    decision = (await ctx.panel.panel_state(case.id)).decision
    deciders = [v.voter_name + (f" ({v.organisation})" if v.organisation else "") + f", {v.partner.title}"
                for v in decision.votes] if decision else []
    rows = await ctx.deadlines.deadlines(case.id)
    notified = next((r.done_on for r in rows if r.records == Anchor.NATIONAL_PANEL_NOTIFIED.value and r.done_on),
                    None)
    return ReportView(case, MeetingOutcome.model_validate(meeting.outcome), stored[0] if stored else None,
                      meeting.start_at, deciders, notified, ctx.clock.now().astimezone(ctx.tz).date(),
                      tuple(closing.still_open(rows)) if case.summary.status.is_open else (),
                      next((r.due_at for r in rows if r.records == Anchor.REPORT_SUBMITTED.value), None))


async def open_report(ctx: ServiceContext, actor: Actor, reference: str) -> ReportView:
    """The report card, for the roster (panel members, chairs, managers): `timeline RR-…`
    brings it back at every step."""
    roles = await _roles(ctx, actor)
    if not roles.may_see_identifiers:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "report_open"})
        raise NotAuthorised("Only panel members, chairs and partnership managers can open the report.")
    return await view(ctx, reference)


async def open_for_editing(ctx: ServiceContext, actor: Actor, reference: str) -> ReportView:
    await _manager_or_chair(ctx, actor, "report_edit")
    shown = await view(ctx, reference)
    if shown.report is None:
        raise ReportRefused("The report has not been started yet.")
    if shown.report.stage is Stage.SENT:
        raise ReportRefused("The report has been sent to the National Panel; it reopens only if the National Panel "
                            "asks for more information.")
    return shown


async def _current(ctx: ServiceContext, reference: str) -> tuple[ReportView, Report, int]:
    shown = await view(ctx, reference)
    stored = await ctx.reports.get(shown.case.id)
    if stored is None:
        raise ReportRefused("The report has not been started yet.")
    return shown, stored[0], stored[1]


async def _save(tx: Transaction, case_id: str, report: Report, now: datetime, version: int | None) -> None:
    if not await tx.reports.save(case_id, report, now, version):
        raise ReportRefused(CHANGED)


# ---- messages -----------------------------------------------------------------------------------


def _stamp(ctx: ServiceContext) -> str:
    """Each message's own key: written once, in the unit of work of the change it follows (the
    edge never runs the same press twice), so two changes in the same instant both keep theirs."""
    return f"{ctx.clock.now():%Y%m%d%H%M%S%f}:{uuid4().hex[:8]}"


def notice(ctx: ServiceContext, case_id: str, what: str, **payload: Any) -> OutboxMessage:
    """A status-only line for the panel channel: the reference, the pseudonym and what happened."""
    return OutboxMessage(key=f"report_notice:{case_id}:{what}:{_stamp(ctx)}", kind=OutboxKind.REPORT_NOTICE,
                         case_id=case_id, payload={"what": what, **payload})


def _request(ctx: ServiceContext, case_id: str, what: str, people: list[str], round_: int) -> OutboxMessage:
    """A card asking each of `people` for something (split per person when it falls due)."""
    return OutboxMessage(key=f"report_request:{case_id}:{what}:{round_}:{_stamp(ctx)}", kind=OutboxKind.REPORT_REQUEST,
                         case_id=case_id, payload={"what": what, "people": sorted(set(people)), "round": round_})


def _card_update(ctx: ServiceContext, case_id: str) -> OutboxMessage:
    """The channel's case card, brought up to date (its status line)."""
    return OutboxMessage(key=f"panel_card:{case_id}:report:{_stamp(ctx)}", kind=OutboxKind.PANEL_CARD,
                         case_id=case_id)


async def _people(ctx: ServiceContext, *roles: Role) -> list[str]:
    return sorted({m.aad_object_id for m in await ctx.roster.members() if m.role in roles and m.aad_object_id})


async def _seats(ctx: ServiceContext) -> list[str]:
    """Who is asked for comments: each statutory partner with a panel member, and the chair."""
    seats = {m.partner.value for m in await ctx.roster.members(Role.PANEL) if m.partner and m.aad_object_id}
    if await ctx.roster.members(Role.CHAIR):
        seats.add(CHAIR_SEAT)
    order = ["local_authority", "police", "health", CHAIR_SEAT]
    return [s for s in order if s in seats]


# ---- 1. starting the report ---------------------------------------------------------------------


async def start(ctx: ServiceContext, actor: Actor, reference: str) -> ReportView:
    roles = await _manager_or_chair(ctx, actor, "report_start")
    shown = await view(ctx, reference)
    case = shown.case
    if shown.report is not None:
        raise ReportRefused("The report has already been started: open it from the timeline.")
    now = ctx.clock.now()
    report = Report(started_by=actor.name, started_at=now, seats=await _seats(ctx))
    async with ctx.uow.begin() as tx:
        await tx.cases.move(case.id, CaseStatus.REPORT_IN_DRAFT, _movers(roles), actor, now,
                            expect=CaseStatus.MEETING_HELD)
        await tx.deadlines.set_anchor(case.id, Anchor.REPORT_STARTED, now)
        rows = await deadlines.refresh_deadlines(ctx, case.id, tx)
        due = next((r.due_at for r in rows if r.records == Anchor.COMMENTS_RECEIVED.value), None)
        report = report.model_copy(update={"comments_due_at": due})
        await _save(tx, case.id, report, now, None)
        await audit(ctx, actor, EventKind.REPORT_STARTED, case_id=case.id, into=tx.cases,
                    detail={"seats": report.seats, "comments_due": due.isoformat() if due else None})
        await tx.outbox.enqueue([
            _request(ctx, case.id, "comment", await _people(ctx, Role.PANEL, Role.CHAIR), report.round),
            notice(ctx, case.id, "started", due=due.isoformat() if due else None),
            _card_update(ctx, case.id),
        ], now)
    ctx.kick_outbox()
    return await view(ctx, reference)


# ---- 2. comments --------------------------------------------------------------------------------


def _seat_of(roles: Roles) -> str | None:
    if roles.panel_partners:
        return sorted(p.value for p in roles.panel_partners)[0]
    return CHAIR_SEAT if roles.chair else None


def _text(raw: str | None, field: str, cap_name: str, *, required: str | None = None,
          reason: str = TEXT_REASON, identifiers: bool = True) -> str | None:
    text = clean_text(raw or "")
    if not text:
        if required:
            raise ReportRefused(required, field)
        return None
    over = too_long(text, cap(cap_name))
    if over:
        raise ReportRefused(over, field)
    if identifiers:
        refuse_identifiers({field: text}, ReportRefused, reason=reason, verb="saving")
    return text


async def comment(ctx: ServiceContext, actor: Actor, reference: str, text: str | None) -> ReportView:
    roles = await _roles(ctx, actor)
    seat = _seat_of(roles)
    if seat is None:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "report_comment"})
        raise NotAuthorised(NOT_ON_PANEL)
    written = _text(text, "comment", "report.comment", required="Write your comment on the draft.",
                    reason=COMMENT_REASON)
    assert written is not None
    for _attempt in range(3):  # two comments saved at once: the second reads the first and is saved after it
        shown, report, version = await _current(ctx, reference)
        if report.stage is not Stage.DRAFT or report.round != 1 or report.comments_closed_at is not None:
            raise CommentsClosed("Comments on this report are closed: the final draft has gone for sign-off, so "
                                 "your comment was not recorded. This is the report as it stands now; tell the "
                                 "partnership manager directly if something must still change.")
        now = ctx.clock.now()
        kept = [c for c in report.comments if not (c.author_aad == actor.aad_object_id and c.round == 1)]
        updated = report.model_copy(update={"comments": [*kept, Comment(
            author_aad=actor.aad_object_id, author_name=actor.name, seat=seat, text=written, at=now)]})
        all_in = updated.comments_in and not report.comments_in
        if all_in:
            updated = updated.model_copy(update={"comments_closed_at": now})
        case_id = shown.case.id
        try:
            async with ctx.uow.begin() as tx:
                await _save(tx, case_id, updated, now, version)
                await audit(ctx, actor, EventKind.REPORT_COMMENTED, case_id=case_id, into=tx.cases,
                            detail={"seat": seat, "replaced": len(kept) != len(report.comments)})
                if all_in:
                    await _comments_received(ctx, tx, case_id, now)
        except ReportRefused as refused:
            if str(refused) == CHANGED:
                continue
            raise
        ctx.kick_outbox()
        return await view(ctx, reference)
    raise ReportRefused(CHANGED)


async def _comments_received(ctx: ServiceContext, tx: Transaction, case_id: str, now: datetime) -> None:
    """Comments are in: the anchor the final draft's deadline counts from, and the channel told."""
    if Anchor.COMMENTS_RECEIVED not in await tx.deadlines.anchors(case_id):
        await tx.deadlines.set_anchor(case_id, Anchor.COMMENTS_RECEIVED, now)
        await deadlines.refresh_deadlines(ctx, case_id, tx)
        await tx.outbox.enqueue([notice(ctx, case_id, "comments_in")], now)


# ---- 3. the texts, the final draft and the sign-offs --------------------------------------------


async def save_items(ctx: ServiceContext, actor: Actor, reference: str, typed: dict[str, str]) -> ReportView:
    """The report's texts as the manager (or the chair) wrote them on the card. A change
    after a sign-off takes the sign-offs away: they signed another text."""
    await _manager_or_chair(ctx, actor, "report_edit")
    shown, report, version = await _current(ctx, reference)
    if report.stage is Stage.SENT:
        raise ReportRefused("The report has been sent to the National Panel; it reopens only if the National Panel "
                            "asks for more information.")
    fields = dict(report.fields)
    changed = []
    for item in shown.items:
        if item.key not in typed:
            continue
        text = _text(typed[item.key], item.key, "report.item", identifiers=False) or ""
        if text != (shown.value(item.key) or ""):
            fields[item.key] = text
            changed.append(item.key)
    if not changed:
        return shown
    now = ctx.clock.now()
    had_sign_offs = report.chair_sign_off is not None or report.manager_sign_off is not None
    updated = report.model_copy(update={"fields": fields, "chair_sign_off": None, "manager_sign_off": None})
    async with ctx.uow.begin() as tx:
        await _save(tx, shown.case.id, updated, now, version)
        await audit(ctx, actor, EventKind.REPORT_EDITED, case_id=shown.case.id, into=tx.cases,
                    detail={"items": changed, "sign_offs_withdrawn": had_sign_offs})
        if had_sign_offs:
            await tx.outbox.enqueue([notice(ctx, shown.case.id, "sign_offs_withdrawn")], now)
    ctx.kick_outbox()
    return await view(ctx, reference)


async def send_final(ctx: ServiceContext, actor: Actor, reference: str) -> ReportView:
    """The final draft goes to the chair and the managers for sign-off (closing comments if
    they were still open)."""
    roles = await _manager_or_chair(ctx, actor, "report_final")
    if not roles.manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": "report_final"})
        raise NotAuthorised("The partnership manager sends the final draft for sign-off.")
    shown, report, version = await _current(ctx, reference)
    if report.stage is not Stage.DRAFT:
        raise ReportRefused("The final draft has already gone for sign-off." if report.stage is Stage.SIGN_OFF
                            else "The report has been sent to the National Panel.")
    if shown.missing:
        raise ReportRefused("Before the final draft goes for sign-off, fill in: "
                            + "; ".join(i.label.lower() for i in shown.missing) + ".")
    now = ctx.clock.now()
    case_id = shown.case.id
    updated = report.model_copy(update={"stage": Stage.SIGN_OFF, "chair_sign_off": None, "manager_sign_off": None,
                                        "comments_closed_at": report.comments_closed_at or now})
    async with ctx.uow.begin() as tx:
        await _save(tx, case_id, updated, now, version)
        await _comments_received(ctx, tx, case_id, now)
        if Anchor.FINAL_DRAFT_SENT not in await tx.deadlines.anchors(case_id):
            await tx.deadlines.set_anchor(case_id, Anchor.FINAL_DRAFT_SENT, now)
            await deadlines.refresh_deadlines(ctx, case_id, tx)
        await audit(ctx, actor, EventKind.REPORT_FINAL_DRAFT, case_id=case_id, into=tx.cases,
                    detail={"round": report.round, "comments_from": sorted(report.commented_seats)})
        await tx.outbox.enqueue([
            _request(ctx, case_id, "sign_off", await _people(ctx, Role.CHAIR, Role.MANAGER), report.round),
            notice(ctx, case_id, "final_draft"),
        ], now)
    ctx.kick_outbox()
    return await view(ctx, reference)


async def sign_off(ctx: ServiceContext, actor: Actor, reference: str) -> ReportView:
    roles = await _manager_or_chair(ctx, actor, "report_sign")
    shown, report, version = await _current(ctx, reference)
    if report.stage is not Stage.SIGN_OFF:
        raise ReportRefused("The report can be signed off once the partnership manager has sent the final draft "
                            "for sign-off." if report.stage is Stage.DRAFT else
                            "The report has already been sent to the National Panel.")
    signed_by_me = {s.aad for s in (report.chair_sign_off, report.manager_sign_off) if s is not None}
    if actor.aad_object_id in signed_by_me:
        raise ReportRefused("You have already signed off this report. The other sign-off must come from "
                            + ("a partnership manager." if report.manager_sign_off is None else "the chair."))
    now = ctx.clock.now()
    me = SignOff(aad=actor.aad_object_id, name=actor.name, at=now)
    if roles.chair and report.chair_sign_off is None:
        updated, as_who = report.model_copy(update={"chair_sign_off": me}), "chair"
    elif roles.manager and report.manager_sign_off is None:
        updated, as_who = report.model_copy(update={"manager_sign_off": me}), "partnership_manager"
    else:
        done = report.chair_sign_off if roles.chair else report.manager_sign_off
        assert done is not None
        raise ReportRefused(f"Already signed off for the {'chair' if roles.chair else 'partnership managers'} by "
                            f"{done.name} on {done.at.astimezone(ctx.tz):%d %b %Y at %H:%M}.")
    case_id = shown.case.id
    async with ctx.uow.begin() as tx:
        await _save(tx, case_id, updated, now, version)
        await audit(ctx, actor, EventKind.REPORT_SIGNED_OFF, case_id=case_id, into=tx.cases,
                    detail={"as": as_who, "round": report.round})
        await tx.outbox.enqueue([notice(ctx, case_id, "signed_off", by=as_who, complete=updated.signed_off)], now)
    ctx.kick_outbox()
    return await view(ctx, reference)


# ---- 4. sent to the National Panel --------------------------------------------------------------


def _date(raw: str | None, field: str, words: str) -> date:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError as error:
        raise ReportRefused(words, field) from error


def _midnight(ctx: ServiceContext, day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ctx.tz)


async def record_sent(ctx: ServiceContext, actor: Actor, reference: str, sent_on: str | None,
                      late_reason: str | None = None) -> ReportView:
    """The report went to the National Panel: the 15-working-day step done by the person who
    sent it — after its due day only with the reason (bot/services/late_reasons.py)."""
    roles = await _manager_or_chair(ctx, actor, "report_sent")
    shown, report, version = await _current(ctx, reference)
    if report.stage is Stage.SENT:
        raise ReportRefused("The report is already recorded as sent.")
    missing = [who for who, s in (("the chair", report.chair_sign_off),
                                  ("a partnership manager", report.manager_sign_off)) if s is None]
    if missing:
        raise ReportRefused("The report goes to the National Panel only once the chair and a partnership manager "
                            f"have both signed it off. Still to sign off: {' and '.join(missing)}.")
    day = _date(sent_on, "sent_on", "Give the date the report was sent to the National Panel.")
    if day > shown.today:
        raise ReportRefused("That date is in the future.", "sent_on")
    if day < report.started_at.astimezone(ctx.tz).date():
        raise ReportRefused("That date is before the report was started; check it.", "sent_on")
    now = ctx.clock.now()
    case_id = shown.case.id
    anchor = Anchor.REPORT_SUBMITTED if report.round == 1 else Anchor.REPORT_RESUBMITTED
    step = next((r for r in await ctx.deadlines.deadlines(case_id) if r.records == anchor.value), None)
    late = (late_reasons.required(step, day, late_reason, ctx.tz, ReportRefused)
            if step is not None and step.status != "done" else None)
    updated = report.model_copy(update={"stage": Stage.SENT, "submissions": [
        *report.submissions, Submission(round=report.round, sent_on=day, by_name=actor.name, at=now)]})
    async with ctx.uow.begin() as tx:
        await tx.cases.move(case_id, CaseStatus.REPORT_SUBMITTED, _movers(roles), actor, now,
                            expect=CaseStatus.REPORT_IN_DRAFT, detail={"round": report.round},
                            outbox=[notice(ctx, case_id, "sent", round=report.round, on=day.isoformat()),
                                    _card_update(ctx, case_id)])
        await _save(tx, case_id, updated, now, version)
        for row in await tx.deadlines.deadlines(case_id):  # the statutory step, done by the person who sent it
            if row.records == anchor.value and row.status != "done":
                await tx.deadlines.mark_done(row.id, now, day, actor.aad_object_id, actor.name)
        if step is not None and late is not None:
            await late_reasons.keep(tx, case_id, step, late, actor, now)
        await tx.deadlines.set_anchor(case_id, anchor, _midnight(ctx, day))
        await deadlines.refresh_deadlines(ctx, case_id, tx)
        await audit(ctx, actor, EventKind.REPORT_SENT, case_id=case_id, into=tx.cases,
                    detail={"round": report.round, "sent_on": day.isoformat(),
                            **({"late_reason": True} if late is not None else {})})
    ctx.kick_outbox()
    return await view(ctx, reference)


# ---- 5. the National Panel's response -----------------------------------------------------------


async def record_response(ctx: ServiceContext, actor: Actor, reference: str, response: str | None,
                          response_on: str | None, asked_for: str | None) -> ReportView:
    roles = await _manager_or_chair(ctx, actor, "report_response")
    shown, report, version = await _current(ctx, reference)
    if report.stage is not Stage.SENT:
        raise ReportRefused("The National Panel's response is recorded once the report has been sent to it.")
    if report.answer is not None:
        raise ReportRefused(f"The National Panel's response to this report is already recorded "
                            f"({report.answer.response.label.lower()}).")
    try:
        kind = Response((response or "").strip())
    except ValueError as error:
        raise ReportRefused("Choose what the National Panel answered.", "response") from error
    day = _date(response_on, "response_on", "Give the date of the National Panel's response.")
    sent = report.submissions[-1].sent_on if report.submissions else shown.today
    if day > shown.today:
        raise ReportRefused("That date is in the future.", "response_on")
    if day < sent:
        raise ReportRefused("That date is before the report was sent; check it.", "response_on")
    request = _text(asked_for, "asked_for", "report.asked_for",
                    required="Say what the National Panel asked for." if kind is Response.MORE_INFORMATION else None)
    now = ctx.clock.now()
    case_id = shown.case.id
    answer = PanelAnswer(round=report.round, response=kind, on=day, by_name=actor.name, at=now,
                         asked_for=request if kind is Response.MORE_INFORMATION else None)
    updated = report.model_copy(update={"answers": [*report.answers, answer]})
    async with ctx.uow.begin() as tx:
        if kind is Response.MORE_INFORMATION:
            updated = updated.model_copy(update={"round": report.round + 1, "stage": Stage.DRAFT,
                                                 "chair_sign_off": None, "manager_sign_off": None})
            await tx.cases.move(case_id, CaseStatus.REPORT_IN_DRAFT, _movers(roles), actor, now,
                                expect=CaseStatus.REPORT_SUBMITTED, detail={"response": kind.value},
                                outbox=[_card_update(ctx, case_id)])
            await tx.deadlines.clear_anchor(case_id, Anchor.REPORT_RESUBMITTED)
            for row in await tx.deadlines.deadlines(case_id):  # asked again after a resubmission: due again
                if row.records == Anchor.REPORT_RESUBMITTED.value and row.status == "done":
                    await tx.deadlines.reopen(row.id)
            await tx.deadlines.set_anchor(case_id, Anchor.NATIONAL_PANEL_ASKED, _midnight(ctx, day))
        await _save(tx, case_id, updated, now, version)
        rows = await deadlines.refresh_deadlines(ctx, case_id, tx)
        due = next((r.due_at for r in rows if r.records == Anchor.REPORT_RESUBMITTED.value
                    and kind is Response.MORE_INFORMATION), None)
        await audit(ctx, actor, EventKind.NATIONAL_PANEL_RESPONDED, case_id=case_id, into=tx.cases,
                    detail={"response": kind.value, "on": day.isoformat(), "round": report.round})
        await tx.outbox.enqueue([notice(ctx, case_id, "response", response=kind.value,
                                        due=due.isoformat() if due else None)], now)
    ctx.kick_outbox()
    return await view(ctx, reference)


# ---- 6. closure ---------------------------------------------------------------------------------


async def close(ctx: ServiceContext, actor: Actor, reference: str, closure: str | None,
                reason: str | None, close_anyway: str | None = None) -> ReportView:
    """After the National Panel's response: no further review (the case closes, every
    deadline and reminder stops) or a local review commissioned — each with a reason. Closing
    with follow-up work still open (the desk-top reviews, the family told, actions…) needs
    Close anyway (bot/services/closing.py)."""
    roles = await _manager_or_chair(ctx, actor, "report_close")
    shown, report, version = await _current(ctx, reference)
    answer = report.answer
    if report.stage is not Stage.SENT or answer is None:
        raise ReportRefused("Record the National Panel's response first: the case closes, or a review is "
                            "commissioned, after it.")
    try:
        how = Closure((closure or "").strip())
    except ValueError as error:
        raise ReportRefused("Choose how the rapid review ends.", "closure") from error
    why = _text(reason, "reason", "report.closure_reason", required="Give the reason.")
    now = ctx.clock.now()
    case_id = shown.case.id
    target = CaseStatus.CLOSED if how is Closure.NO_FURTHER_REVIEW else CaseStatus.REVIEW_COMMISSIONED
    stopping = list(shown.still_open) if target is CaseStatus.CLOSED else []
    anyway = closing.checked(stopping, close_anyway, why, ctx.tz, ReportRefused, reason_field="reason")
    updated = report.model_copy(update={"closure": how, "closure_reason": why, "closed_by": actor.name,
                                        "closed_at": now})
    async with ctx.uow.begin() as tx:
        stopped = await closing.record(tx, case_id, actor, stopping, anyway, now) if anyway else {}
        await tx.cases.move(case_id, target, _movers(roles), actor, now, expect=CaseStatus.REPORT_SUBMITTED,
                            detail={"closure": how.value, "response": answer.response.value, **stopped},
                            outbox=[notice(ctx, case_id, how.value), _card_update(ctx, case_id)])
        await _save(tx, case_id, updated, now, version)
        if how is Closure.REVIEW_COMMISSIONED and Anchor.REVIEW_COMMISSIONED not in await tx.deadlines.anchors(
                case_id):
            await tx.deadlines.set_anchor(case_id, Anchor.REVIEW_COMMISSIONED, now)
        if how is Closure.NO_FURTHER_REVIEW:
            await audit(ctx, actor, EventKind.CASE_CLOSED, case_id=case_id, into=tx.cases,
                        detail={"closure": how.value, **stopped})
        await deadlines.refresh_deadlines(ctx, case_id, tx)
    ctx.kick_outbox()
    return await view(ctx, reference)
