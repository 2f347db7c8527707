"""Use cases of the statutory clock (docs/architecture.md, Statutory clock).

A case's deadlines are computed from its anchors (incident, awareness, referral,
decision, notification, meeting …) by its partnership's timeline profile, and stored.
They are recomputed whenever an anchor is recorded or moves. The sweep, triggered by
the scheduler, turns due reminders into reminder rows plus outbox messages in one
transaction, so each reminder is recorded and posted exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from bot.domain.case import Actor, Case, CaseStatus, IncidentKind
from bot.domain.dates import format_day
from bot.domain.events import EventKind
from bot.domain.limits import cap, excerpt, length, too_long
from bot.domain.outbox import OutboxKind
from bot.domain.referral import PathwaySought
from bot.domain.reminders import DELAYED_AFTER, Rag, due_now, is_delayed, next_after, rag
from bot.domain.review import action_step_id, recorded_on_review_card
from bot.domain.text import clean_line, clean_text
from bot.domain.timeline import (
    Anchor,
    Deadline,
    Fact,
    Offset,
    Owner,
    Pathway,
    ReminderPlan,
    Step,
    TimelineProfile,
    compute_deadlines,
    non_working_day_note,
    superseded,
)
from bot.domain.votes import VoteChoice
from bot.services import late_reasons
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import (
    AgencyRequest,
    DeadlineRow,
    DeadlineStore,
    MeetingRecord,
    OutboxMessage,
    ReviewStore,
    StatusRow,
    Transaction,
)
from bot.services.refusals import ClockRefused, NotAuthorised

PANEL_VOTE_STEP = "panel_vote"

# The "done by" of a step the bot marked done because its event was recorded on the case (the
# meeting held, the report sent…): a marker, not a person, so cards say how it was done instead.
RECORDED_ON_THE_CASE = "Recorded on the case"

# The virtual panel's deadline when a profile has no `panel_vote` step. No source document gives
# a number: Stockport's 'The Virtual Panel' and Appendix C ask the panel to screen referrals
# swiftly. It is local policy, and each shipped profile states it as a step marked so
# (docs/sources.md, "The virtual panel's deadline").
PANEL_VOTE_WORKING_DAYS = 2
SWEEP_BATCH = 500
# Reminders recorded in one transaction: a backlog after downtime is a few dozen commits, not one per
# reminder, while each stays short (a SQLite write lock held for tens of milliseconds, not seconds).
SWEEP_CHUNK = 50


# ---- anchors and deadlines -------------------------------------------------------------------


def _local_midnight(ctx: ServiceContext, day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ctx.tz)


def case_anchor_dates(ctx: ServiceContext, case: Case) -> dict[Anchor, datetime]:
    anchors: dict[Anchor, datetime] = {Anchor.REFERRAL_RECEIVED: case.summary.received_at,
                                       Anchor.INCIDENT: _local_midnight(ctx, case.summary.incident_date)}
    if case.aware_date:
        anchors[Anchor.AWARE] = _local_midnight(ctx, case.aware_date)
    else:  # not known: the clock runs from receipt, as the referral is when the partnership became aware
        anchors[Anchor.AWARE] = case.summary.received_at
    return anchors


def panel_vote_step(profile: TimelineProfile) -> Step:
    """The profile's `panel_vote` step, or the documented default (2 working days from receipt)."""
    try:
        return profile.step(PANEL_VOTE_STEP)
    except KeyError:
        return Step(id=PANEL_VOTE_STEP, label="Virtual panel decides the pathway (all three partners vote)",
                    anchor=Anchor.REFERRAL_RECEIVED, offset=Offset(working_days=PANEL_VOTE_WORKING_DAYS),
                    owner=Owner.PANEL, pathways=list(Pathway), local_policy=True,
                    source=("Local policy (the default of every shipped profile): no source document gives the "
                            "virtual panel a number of days; Stockport Rapid Review Process (2019), "
                            "'The Virtual Panel' and Appendix C ask it to screen referrals swiftly"),
                    reminders=ReminderPlan(heads_up_working_days=1))


def _panel_vote_deadline(ctx: ServiceContext, case: Case, anchors: dict[Anchor, datetime]) -> Deadline:
    step = panel_vote_step(ctx.profile)
    return compute_deadlines(_only(ctx.profile, step), anchors, ctx.calendar, pathway=step.pathways[0],
                             tz=ctx.tz)[0]


def _only(profile: TimelineProfile, step: Step) -> TimelineProfile:
    return profile.model_copy(update={"steps": [step]})


def _provisional_pathway(case: Case) -> Pathway:
    """The pathway the referrer sought: its steps are shown, provisionally, until the panel decides."""
    return {PathwaySought.RAPID_REVIEW_SCREENING: Pathway.RAPID_REVIEW,
            PathwaySought.PRACTICE_REVIEW: Pathway.PRACTICE_REVIEW,
            PathwaySought.ESCALATION: Pathway.ESCALATION}[case.summary.pathway_sought]


# Before the panel decides, only the steps counted from what the referral itself dates exist
# (Surrey's Day-1 steps count from awareness: they must not first appear already overdue).
_KNOWN_AT_REFERRAL = frozenset({Anchor.INCIDENT, Anchor.AWARE, Anchor.REFERRAL_RECEIVED})


def _facts(case: Case, anchors: dict[Anchor, datetime]) -> set[str]:
    facts = {Fact.CHILD_DEATH.value} if case.summary.incident_kind is IncidentKind.CHILD_DEATH else set()
    if Anchor.REVIEW_COMMISSIONED in anchors:
        facts.add(Fact.REVIEW_COMMISSIONED.value)
    if Anchor.NATIONAL_PANEL_ASKED in anchors:
        facts.add(Fact.MORE_INFORMATION_ASKED.value)
    return facts


async def refresh_deadlines(ctx: ServiceContext, case_id: str, tx: Transaction | None = None) -> list[DeadlineRow]:
    """Recompute and store the case's deadlines from its anchors. Idempotent. With `tx`,
    inside that unit of work (the change that moved an anchor commits with its deadlines)."""
    stores = tx or ctx
    case = await stores.cases.get_case_by_id(case_id)
    if case is None:
        return []
    anchors = case_anchor_dates(ctx, case) | await stores.deadlines.anchors(case_id)
    decision = await _decision(ctx, case)
    computed: list[Deadline] = [_panel_vote_deadline(ctx, case, anchors)]
    if Anchor.REVIEW_COMMISSIONED in anchors:
        # the first progress check counts from the decision; each check recorded moves the next one
        anchors.setdefault(Anchor.REVIEW_PROGRESS_CHECKED, anchors[Anchor.REVIEW_COMMISSIONED])
    steps = [step for step in ctx.profile.steps if step.id != PANEL_VOTE_STEP]
    profile = ctx.profile.model_copy(update={"steps": steps}) if steps else None
    if profile is not None and decision is not None:
        computed += compute_deadlines(profile, anchors, ctx.calendar, pathway=decision.value,
                                      facts=_facts(case, anchors), tz=ctx.tz)
    elif profile is not None and case.summary.status is CaseStatus.REFERRED:  # provisional until the panel decides
        computed += [d for d in compute_deadlines(profile, anchors, ctx.calendar,
                                                  pathway=_provisional_pathway(case).value,
                                                  facts=_facts(case, anchors), tz=ctx.tz)
                     if d.anchor in _KNOWN_AT_REFERRAL]
    computed += await _action_deadlines(ctx, stores.reviews, case_id)
    moot = {d.step_id for d in computed if superseded(d, anchors)}
    existing = {d.step_id: d for d in await stores.deadlines.deadlines(case_id)}
    next_reminders = {}
    now = ctx.clock.now()
    for d in computed:
        if d.due_at is None or d.step_id in moot:
            continue
        previous = existing.get(d.step_id)
        last = previous.last_reminder_at if previous else None
        due_day = d.due_at.astimezone(ctx.tz).date()
        first = next_after(due_day, d.reminders, ctx.calendar, ctx.tz, last or datetime.min.replace(tzinfo=ctx.tz))
        if first is not None and first < now and (previous is None or previous.status == "pending"
                                                  or previous.due_at != d.due_at):
            # Dated (or re-dated) only now: a reminder that fell due before the step had this date
            # is due now, and was not missed while the bot was down (not "delayed").
            first = now
        next_reminders[d.step_id] = first
    await stores.deadlines.sync(case_id, computed, next_reminders, keep_open=case.summary.status.is_open,
                                superseded=moot)
    if decision is not None:
        await _close_panel_vote(ctx, stores.deadlines, case_id)
    rows = await stores.deadlines.deadlines(case_id)
    for row in rows:  # a step whose event is already on the case (the meeting was held…) is done
        if row.status == "open" and row.records and Anchor(row.records) in anchors:
            recorded = anchors[Anchor(row.records)]
            await stores.deadlines.mark_done(row.id, ctx.clock.now(), recorded.astimezone(ctx.tz).date(), "",
                                             RECORDED_ON_THE_CASE)
    return await stores.deadlines.deadlines(case_id)


async def _action_deadlines(ctx: ServiceContext, reviews: ReviewStore, case_id: str) -> list[Deadline]:
    """One deadline per action (bot/services/review.py): due at the end of its due day, its
    reminders to its owner (Owner.ACTION_OWNER; bot/services/reminder_view.py)."""
    found = []
    for number, action in enumerate(await reviews.actions(case_id), start=1):
        origin = "the rapid review meeting" if action.origin == "meeting" else "the local review"
        found.append(Deadline(
            step_id=action_step_id(action.id), label=f"Action {number} ({action.owner_agency})",
            owner=Owner.ACTION_OWNER, anchor=Anchor.ACTION_AGREED, anchor_at=action.created_at,
            due_at=datetime.combine(action.due_on, time(17, 0), tzinfo=ctx.tz),
            source=f"A SMART action agreed from {origin}, with its owner and due date"))
    return found


async def _decision(ctx: ServiceContext, case: Case) -> VoteChoice | None:
    if case.summary.status is CaseStatus.REFERRED:
        return None
    decision = (await ctx.panel.panel_state(case.id)).decision
    return decision.outcome if decision else None


async def _close_panel_vote(ctx: ServiceContext, store: DeadlineStore, case_id: str) -> None:
    for d in await store.deadlines(case_id):
        if d.step_id == PANEL_VOTE_STEP and d.status != "done":
            await store.mark_done(d.id, ctx.clock.now(), ctx.clock.now().astimezone(ctx.tz).date(),
                                          "", "The panel's decision")


# ---- the sweep --------------------------------------------------------------------------------


async def sweep(ctx: ServiceContext, *, clock_moved: bool = False) -> int:
    """Record every reminder that is due now (one per deadline: the latest), each with
    its outbox message. Safe to run at any time, any number of times, in any process.

    `clock_moved`: the clock was moved on on purpose (training mode's `advance`), so a reminder
    whose time it passed is not late: the card must not say the bot was unavailable."""
    now = ctx.clock.now()
    recorded = 0
    while True:
        rows = await ctx.deadlines.due_for_reminder(now, SWEEP_BATCH)
        if not rows:
            break
        for start in range(0, len(rows), SWEEP_CHUNK):
            recorded += await _remind_together(ctx, rows[start:start + SWEEP_CHUNK], now, clock_moved)
        if len(rows) < SWEEP_BATCH:
            break
    if recorded:
        ctx.log.info("reminders recorded", extra={"count": recorded})
    return recorded


async def _remind_together(ctx: ServiceContext, rows: Sequence[DeadlineRow], now: datetime,
                           clock_moved: bool) -> int:
    """Record the reminders of these steps in one transaction (in the steps' order, so two sweeps
    at once lock their rows in the same order), and hand them to the outbox at once: after
    downtime the first reminders go out while the sweep is still recording the rest."""
    async with ctx.uow.begin() as tx:
        recorded = sum([await _remind(ctx, tx.deadlines, row, now, clock_moved) for row in sorted(rows, key=lambda r: r.id)])
    if recorded:
        ctx.kick_outbox()
    return recorded


async def _remind(ctx: ServiceContext, store: DeadlineStore, row: DeadlineRow, now: datetime,
                  clock_moved: bool) -> int:
    assert row.due_at is not None
    plan = ReminderPlan.model_validate(row.plan)
    due_day = row.due_at.astimezone(ctx.tz).date()
    slot, next_at = due_now(due_day, plan, ctx.calendar, ctx.tz, now, row.last_reminder_at)
    if slot is None:
        await store.record_reminder(row.id, "", "", now, False, now, next_at, None, row.case_id)
        return 0
    key = f"reminder:{row.id}:{slot.key_part}"
    # Late when the sweep acts well after the slot fell due, and after the deadline asked for it
    # (a step dated at 10:00 whose heads-up slot was 09:00 is on time, not delayed).
    delayed = not clock_moved and is_delayed(slot, now) and (row.next_reminder_at is None
                                                             or now - row.next_reminder_at > DELAYED_AFTER)
    message = OutboxMessage(key=key, kind=OutboxKind.REMINDER, case_id=row.case_id,
                            payload={"deadline_id": row.id, "kind": slot.kind.value, "delayed": delayed,
                                     "scheduled_for": slot.at.isoformat()})
    created = await store.record_reminder(row.id, key, slot.kind.value, slot.at, delayed, now, next_at,
                                                  message, row.case_id)
    return int(created)


# ---- marking a step done ----------------------------------------------------------------------


async def _authorised(ctx: ServiceContext, actor: Actor, action: str) -> None:
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.may_see_identifiers:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action})
        raise NotAuthorised("Only panel members, chairs and partnership managers can do that.")


async def mark_done(ctx: ServiceContext, actor: Actor, reference: str, deadline_id: int | None,
                    done_on: str | None, late_reason: str | None = None) -> DeadlineRow:
    """Record that a step was done (who, when), which stops its reminders. A step that
    records an anchor (the National Panel notification, the requests being sent) asks
    for the date, and the deadlines that count from it move accordingly. The National Panel
    notification done after its due day needs the reason (bot/services/late_reasons.py)."""
    await _authorised(ctx, actor, "mark_done")
    case = await ctx.cases.get_case(reference)
    row = await ctx.deadlines.deadline(deadline_id) if deadline_id is not None else None
    if case is None or row is None or row.case_id != case.id:
        raise ClockRefused("That step could not be found.")
    if row.status == "done":
        raise ClockRefused(f"Already marked done by {row.done_by_name} on {format_day(row.done_at.astimezone(ctx.tz).date())}." if row.done_at
                           else "Already marked done.")
    if recorded_on_review_card(row.anchor):  # it needs more than a date: a lead reviewer, evidence, a reason
        raise ClockRefused("Record this on the case's review and actions card (the 'Review and actions' button "
                           "on the timeline).")
    today = ctx.clock.now().astimezone(ctx.tz).date()
    day = today
    if row.asks_for_date:
        try:
            day = date.fromisoformat((done_on or "").strip())
        except ValueError as error:
            raise ClockRefused("Give the date it was done (for example the date the notification was sent).",
                               "done_on") from error
        if day > today:
            raise ClockRefused("That date is in the future.", "done_on")
        if day < case.summary.incident_date:
            raise ClockRefused("That date is before the incident; check the year.", "done_on")
    reason = late_reasons.required(row, day, late_reason, ctx.tz, ClockRefused)
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:  # done, audited and its anchor moved, or none of it
        if not await tx.deadlines.mark_done(row.id, now, day, actor.aad_object_id, actor.name):
            raise ClockRefused("Already marked done.")
        if reason is not None:
            await late_reasons.keep(tx, case.id, row, reason, actor, now)
        await audit(ctx, actor, EventKind.DEADLINE_DONE, case_id=case.id, into=tx.cases,
                    detail={"step": row.step_id, "done_on": day.isoformat(),
                            **({"late_reason": True} if reason is not None else {})})
        if row.records:
            await tx.deadlines.set_anchor(case.id, Anchor(row.records), _local_midnight(ctx, day))
            await refresh_deadlines(ctx, case.id, tx)
    updated = await ctx.deadlines.deadline(row.id)
    assert updated is not None
    return updated


# ---- seeing the clock -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusLine:
    row: StatusRow
    rag: Rag | None
    working_days_left: int | None


async def status(ctx: ServiceContext, actor: Actor, limit: int = 25) -> tuple[list[StatusLine], int]:
    await _authorised(ctx, actor, "status")
    rows, total = await ctx.deadlines.status_rows(limit)
    today = ctx.clock.now().astimezone(ctx.tz).date()
    lines = []
    for row in rows:
        if row.next_due_at is None:
            lines.append(StatusLine(row, None, None))
            continue
        due_day = row.next_due_at.astimezone(ctx.tz).date()
        lines.append(StatusLine(row, rag(due_day, today, ctx.calendar),
                                ctx.calendar.working_days_between(today, due_day)))
    return lines, total


@dataclass(frozen=True)
class Timeline:
    case: Case
    deadlines: list[DeadlineRow]
    agencies: list[AgencyRequest]
    today: date
    # The agencies to choose from when none has been recorded yet after a rapid review decision:
    # the timeline then carries the agencies form too, so a prompt that never arrived is no dead end.
    agencies_to_ask: list[str] | None = None
    # Before the panel decides, the dated steps are those of the pathway the referrer sought.
    provisional: bool = False
    # Deadline id -> "a Saturday, not a working day", for a due date that is not a working day.
    not_working: dict[int, str] | None = None
    # The rapid review meeting, so the timeline can give again the cards a lost message carried
    # (the chair's notes, the outcome form, the record).
    meeting: MeetingRecord | None = None
    now: datetime | None = None


async def timeline(ctx: ServiceContext, actor: Actor, reference: str) -> Timeline:
    await _authorised(ctx, actor, "timeline")
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise ClockRefused("That case could not be found.")
    requests = await ctx.deadlines.agency_requests(case.id)
    decision = (await ctx.panel.panel_state(case.id)).decision
    ask = (list(ctx.partnership.agencies)
           if not requests and decision is not None and decision.outcome is VoteChoice.RAPID_REVIEW
           and case.summary.status.is_open else None)  # a closed case asks no agency for anything
    rows = await ctx.deadlines.deadlines(case.id)
    return Timeline(case, rows, requests, ctx.clock.now().astimezone(ctx.tz).date(), ask,
                    provisional=case.summary.status is CaseStatus.REFERRED,
                    not_working=not_working_days(ctx, rows), meeting=await ctx.meeting_store.get(case.id),
                    now=ctx.clock.now())


def not_working_days(ctx: ServiceContext, rows: list[DeadlineRow]) -> dict[int, str]:
    """The open steps whose due date is not a working day (a calendar-day or hour step can
    land on a weekend): the card says so next to the date."""
    found = {}
    for row in rows:
        if row.due_at is not None and row.status in ("open", "pending"):
            note = non_working_day_note(row.due_at.astimezone(ctx.tz).date(), ctx.calendar)
            if note:
                found[row.id] = note
    return found


# ---- agencies' information --------------------------------------------------------------------


async def record_agency_requests(ctx: ServiceContext, actor: Actor, reference: str, agencies: list[str],
                                 contacts: str | None) -> Timeline:
    """The business unit records which agencies were asked for information, with a contact
    each; sending them starts the agencies' clock (the `requests_sent` anchor)."""
    await _authorised(ctx, actor, "agency_requests")
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise ClockRefused("That case could not be found.")
    chosen = [clean_line(a) for a in agencies if clean_line(a)]
    _check_lengths(chosen, contacts or "")
    contact_of = _contacts(contacts or "")
    if not chosen:
        raise ClockRefused("Choose at least one agency.", "agencies")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        added = await tx.deadlines.add_agency_requests(case.id, [(a, contact_of.get(a.lower())) for a in chosen],
                                                       now)
        await audit(ctx, actor, EventKind.AGENCY_REQUESTS_SENT, case_id=case.id, detail={"agencies": chosen},
                    into=tx.cases)
        if Anchor.REQUESTS_SENT not in await tx.deadlines.anchors(case.id):
            await tx.deadlines.set_anchor(case.id, Anchor.REQUESTS_SENT, now)
            for row in await tx.deadlines.deadlines(case.id):
                if row.records == Anchor.REQUESTS_SENT.value and row.status != "done":
                    await tx.deadlines.mark_done(row.id, now, now.astimezone(ctx.tz).date(), actor.aad_object_id,
                                                 actor.name)
        await refresh_deadlines(ctx, case.id, tx)
    ctx.log.info("agency requests recorded", extra={"case": case.reference, "added": added})
    return await timeline(ctx, actor, reference)


def chases_agency_requests(row: DeadlineRow) -> bool:
    """The step for the agencies returning the information asked for: its reminders list the
    agencies still outstanding, and it is done when all have returned. Counted from the
    requests being sent (Stockport, West Midlands) or, owned by the agencies, from another
    rapid review anchor (Surrey: from the notification); not a commissioned review's IMRs."""
    return row.anchor == Anchor.REQUESTS_SENT.value or (
        row.owner == Owner.AGENCIES.value and row.anchor != Anchor.REVIEW_COMMISSIONED.value)


def _check_lengths(agencies: list[str], contacts: str) -> None:
    """Refuse an agency's name, the contacts box or one contact over its cap
    (bot/domain/limits.py); nothing of the press is stored then."""
    for agency in agencies:
        if too_long(agency, cap("agencies.agency")):
            raise ClockRefused(f"An agency's name is {cap('agencies.agency'):,} characters at most: "
                               f"\"{excerpt(agency)}\" is {length(agency):,}.", "agencies")
    over = too_long(clean_text(contacts), cap("agencies.contacts"))
    if over is not None:
        raise ClockRefused(over, "contacts")
    for agency, contact in _contacts(contacts).items():
        if too_long(contact, cap("agencies.contact")):
            raise ClockRefused(f"Each contact is {cap('agencies.contact'):,} characters at most: the one for "
                               f"\"{excerpt(agency)}\" has {length(contact):,}.", "contacts")


def _contacts(text: str) -> dict[str, str]:
    """"Agency: contact" lines, as typed on the card."""
    found = {}
    for line in text.splitlines():
        if ":" in line:
            agency, contact = line.split(":", 1)
            if clean_line(agency) and clean_line(contact):
                found[clean_line(agency).lower()] = clean_line(contact)
    return found


async def mark_agency_returned(ctx: ServiceContext, actor: Actor, reference: str,
                               request_id: int | None) -> Timeline:
    await _authorised(ctx, actor, "agency_returned")
    case = await ctx.cases.get_case(reference)
    if case is None or request_id is None:
        raise ClockRefused("That request could not be found.")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        if not await tx.deadlines.mark_agency_returned(case.id, request_id, now, actor.name):
            raise ClockRefused("That agency's information is already marked as returned.")
        await audit(ctx, actor, EventKind.AGENCY_RETURNED, case_id=case.id, detail={"request_id": request_id},
                    into=tx.cases)
        outstanding = [r for r in await tx.deadlines.agency_requests(case.id) if r.returned_at is None]
        if not outstanding:  # everyone has returned: the agencies' step is done and its chasing stops
            for row in await tx.deadlines.deadlines(case.id):
                if chases_agency_requests(row) and row.status in ("open", "pending"):
                    await tx.deadlines.mark_done(row.id, now, now.astimezone(ctx.tz).date(), actor.aad_object_id,
                                                 actor.name)
    return await timeline(ctx, actor, reference)


