"""Use cases of the rapid review meeting (docs/architecture.md, Meeting).

Booking runs from the outbox after a rapid review decision: find the slot inside the
profile's window, create the Teams meeting in everyone's calendar, record it, and make
its start the anchor of the meeting-based deadlines. Prompts to the chair (agenda and
notes before, the outcome card after) are outbox messages due at those times; re-booking
makes new ones and the old ones see they are stale and do nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from bot.domain.case import Actor, Case
from bot.domain.dates import format_day, format_moment
from bot.domain.events import EventKind
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.limits import cap, too_long
from bot.domain.meeting import MANUAL_BOOKING_ACTION, MeetingOutcome, Slot, best, candidates, earliest_free
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.domain.redaction import redact
from bot.domain.timeline import Anchor
from bot.services import deadlines, pathways
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import Attendee, MeetingError, MeetingRecord, OutboxMessage, Transaction
from bot.services.refusals import MeetingRefused, NotAuthorised
from bot.services.shared_text import OUTCOME_REASON, refuse_identifiers

# working days from the panel's decision (Stockport Rapid Review Process (2019) and West Midlands procedures)
FALLBACK_WINDOW = (7, 13)
# The outcome's free texts that may be shared: refused while they hold an identifier. Who
# took part is a list of professionals (names, perhaps their work numbers) for the record.
SHARED_OUTCOME_TEXT = ("rationale", "immediate_actions", "learning", "agencies_involved", "agencies_absent")


class RetryLater(Exception):
    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


# ---- who and when ------------------------------------------------------------------------------


async def attendees(ctx: ServiceContext, case_id: str | None = None) -> list[Attendee]:
    """The panel members of each statutory partner and the chairs (quorum needs one of
    each partner; all are invited), then, for a case, the agency practitioners and managers
    the chair invited (bot/services/pathways.py)."""
    people: dict[str, Attendee] = {}
    for m in await ctx.roster.members():
        if m.role in (Role.PANEL, Role.CHAIR) and m.upn:
            people.setdefault(m.upn.lower(), Attendee(m.name, m.upn.lower(), m.partner, m.role))
    if case_id is not None:
        for guest in await pathways.guests(ctx, case_id):
            people.setdefault(guest.email, guest)
    return list(people.values())


async def window(ctx: ServiceContext, case: Case) -> tuple[datetime, datetime]:
    """The profile's meeting window for this case (the window step that records the
    meeting being held), else 7–13 working days from the decision."""
    for row in await ctx.deadlines.deadlines(case.id):
        if row.is_window and row.records == Anchor.MEETING_HELD.value and row.due_at and row.earliest_at:
            return row.earliest_at, row.due_at
    anchors = await ctx.deadlines.anchors(case.id)
    decided = anchors.get(Anchor.PANEL_DECISION, ctx.clock.now()).astimezone(ctx.tz).date()
    first = ctx.calendar.add_working_days(decided, FALLBACK_WINDOW[0])
    last = ctx.calendar.add_working_days(decided, FALLBACK_WINDOW[1])
    return (datetime.combine(first, time(0), tzinfo=ctx.tz), datetime.combine(last, time(23, 59), tzinfo=ctx.tz))


def _slots(ctx: ServiceContext, earliest: datetime, latest: datetime) -> list[tuple[datetime, datetime]]:
    ms = ctx.meeting_settings
    not_before = max(earliest, ctx.clock.now() + timedelta(hours=1))
    return list(candidates(earliest.astimezone(ctx.tz).date(), latest.astimezone(ctx.tz).date(),
                           day_start=ms.day_start, day_end=ms.day_end, length=ms.length, step=ms.step,
                           calendar=ctx.calendar, tz=ctx.tz, not_before=not_before))


# ---- booking -------------------------------------------------------------------------------------


async def book(ctx: ServiceContext, case_id: str, *, at: datetime | None = None) -> MeetingRecord | None:
    """Book the case's meeting (idempotent: a booked meeting is left alone). `at` books a
    time the chair chose. Raises RetryLater when Graph is throttled or unreachable."""
    case = await ctx.cases.get_case_by_id(case_id)
    if case is None or case.summary.status is not CaseStatus.DECIDED:
        return None
    existing = await ctx.meeting_store.get(case_id)
    if existing is not None and existing.status in ("booked", "held", "cancelled") and at is None:
        return existing
    record = await _booking_record(ctx, case_id, existing)
    people = await attendees(ctx, case_id)
    earliest, latest = await window(ctx, case)
    try:
        slot = Slot(at, at + ctx.meeting_settings.length) if at else await _find(ctx, record, people, earliest,
                                                                                   latest)
        if slot is None:
            return record  # the chair has been offered the best slots
        return await _create(ctx, case, record, people, slot)
    except MeetingError as error:
        if error.retryable:
            raise RetryLater(str(error), error.retry_after) from error
        return await _booking_failed(ctx, record, str(error), {"status": error.status})


async def _booking_record(ctx: ServiceContext, case_id: str, existing: MeetingRecord | None) -> MeetingRecord:
    attempt = existing.attempt if existing else 1
    return MeetingRecord(case_id=case_id, status="booking", attempt=attempt,
                         transaction_id=transaction_id(case_id, attempt),
                         provider="offline" if ctx.meetings.offline else "graph",
                         attendees=[{"name": a.name, "email": a.email, "partner": a.partner.value if a.partner
                                     else None, "role": a.role.value if a.role else None,
                                     **({"guest": True} if a.partner is None and a.role is None else {})}
                                    for a in await attendees(ctx, case_id)])


async def _booking_failed(ctx: ServiceContext, record: MeetingRecord, message: str,
                          detail: dict[str, Any]) -> MeetingRecord:
    """The booking failed for good: the meeting row kept as failed, the failure audited, the
    chairs told what went wrong (personal chat) and the channel told to book by hand (no
    error text there), all in one transaction."""
    failed = replace(record, status="failed", last_error=message[:400])
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await tx.meetings.save(failed, now)
        await audit(ctx, None, EventKind.MEETING_BOOKING_FAILED, case_id=record.case_id, detail=detail,
                    into=tx.cases)
        await tx.outbox.enqueue([
            _chairs_message(ctx, record.case_id, OutboxKind.MEETING_PROBLEM, {"message": message[:400]}),
            _chairs_message(ctx, record.case_id, OutboxKind.BOOKING_FAILED, {"attempt": record.attempt}),
        ], now)
    ctx.kick_outbox()
    return failed


async def booking_given_up(ctx: ServiceContext, case_id: str, reason: str, attempts: int) -> MeetingRecord | None:
    """The outbox tried to book for as long as its retry budget allows (Graph kept failing):
    never dropped in silence. Nothing to do if the meeting was booked (or the case moved) since."""
    case = await ctx.cases.get_case_by_id(case_id)
    existing = await ctx.meeting_store.get(case_id)
    if case is None or case.summary.status is not CaseStatus.DECIDED or (
            existing is not None and existing.status in ("booked", "held", "cancelled")):
        return None
    record = await _booking_record(ctx, case_id, existing)
    message = (f"{reason} The bot tried {attempts} times and has stopped: book the meeting in Outlook and record "
               f"it with '{MANUAL_BOOKING_ACTION}', or press Try again.")
    return await _booking_failed(ctx, record, message, {"gave_up": True, "attempts": attempts})


async def _find(ctx: ServiceContext, record: MeetingRecord, people: list[Attendee], earliest: datetime,
                latest: datetime) -> Slot | None:
    slots = _slots(ctx, earliest, latest)
    if not slots:
        raise MeetingError("The meeting window has already passed; choose a time on the card.", retryable=False)
    if ctx.meetings.offline:
        default = [s for s in slots if s[0].timetz().replace(tzinfo=None) == ctx.meeting_settings.default_time]
        return Slot(*(default or slots)[0])
    busy = await ctx.meetings.busy(people, slots[0][0], slots[-1][1])
    names = {a.email: a.name for a in people}
    known = {names.get(email, email): blocks for email, blocks in busy.items() if blocks is not None}
    unknown = sorted(names.get(email, email) for email, blocks in busy.items() if blocks is None)
    if unknown:  # e.g. guests whose calendars live in another tenant: booked without seeing them
        await audit(ctx, None, EventKind.AVAILABILITY_UNKNOWN, case_id=record.case_id,
                    detail={"attendees": len(unknown)})
        record.options.clear()
        record.options.append({"availability_unknown": unknown})
    slot = earliest_free(slots, known)
    if slot is not None:
        return slot
    options = [{"start": s.start.isoformat(), "end": s.end.isoformat(), "busy": list(s.busy)}
               for s in best(slots, known)]
    async with ctx.uow.begin() as tx:
        await tx.meetings.save(replace(record, status="needs_chair", options=options), ctx.clock.now())
        await tx.outbox.enqueue([_chairs_message(ctx, record.case_id, OutboxKind.SLOT_CHOICE,
                                                 {"attempt": record.attempt})], ctx.clock.now())
    ctx.kick_outbox()
    return None


def agenda_html(case: Case) -> str:
    """The invitation's body: the agenda only. Invitations land in mailboxes, so no
    child identifiers: the reference and pseudonym stand in (docs/architecture.md, Confidentiality)."""
    items = ["Welcome, purpose and introductions", "Overview of the case (chair)", "Discussion with invited partners",
             "Assessment of need by the core panel (criteria 4.1–4.7)", "Conclusion and proposal to the National Panel",
             "Actions"]
    return (f"<p>Rapid review meeting for {case.reference} ({case.summary.pseudonym}).</p><ol>"
            + "".join(f"<li>{i}</li>" for i in items) + "</ol><p>Papers follow from the business unit.</p>")


async def _create(ctx: ServiceContext, case: Case, record: MeetingRecord, people: list[Attendee],
                  slot: Slot) -> MeetingRecord:
    created = await ctx.meetings.create_event(
        subject=f"Rapid review meeting: {case.reference} ({case.summary.pseudonym})", body_html=agenda_html(case),
        start=slot.start, end=slot.end, attendees=people, transaction_id=record.transaction_id,
    )
    unknown = [o for o in record.options if "availability_unknown" in o]
    booked = replace(record, status="booked", event_id=created.event_id, join_url=created.join_url,
                     start_at=slot.start, end_at=slot.end, options=unknown, last_error=None)
    async with ctx.uow.begin() as tx:  # the booking, the case's move and its deadlines, or none of it
        await tx.meetings.save(booked, ctx.clock.now())
        await _scheduled(ctx, tx, case, booked, EventKind.MEETING_BOOKED, None)
    ctx.kick_outbox()
    return booked


def meeting_card_key(case_id: str, record: MeetingRecord) -> str:
    """The outbox key of the channel's card for this booking (attempt and time): the card a
    re-booking or a cancellation updates (found by this key in the send ledger)."""
    assert record.start_at is not None
    return f"meeting_card:{case_id}:{record.attempt}:{record.start_at:%Y%m%d%H%M}"


async def _scheduled(ctx: ServiceContext, tx: Transaction, case: Case, record: MeetingRecord, kind: EventKind,
                     actor: Actor | None, replaces: MeetingRecord | None = None) -> None:
    """A meeting time was set or moved, inside the caller's unit of work: anchor, status,
    deadlines, channel card, prompts. `replaces` is the booking it moves: its card is updated
    to say the meeting moved."""
    assert record.start_at is not None and record.end_at is not None
    now = ctx.clock.now()
    await tx.deadlines.set_anchor(case.id, Anchor.MEETING, record.start_at)
    current = (await tx.cases.get_case_by_id(case.id))
    if current is not None and current.summary.status is not CaseStatus.MEETING_SCHEDULED:
        await tx.cases.move(case.id, CaseStatus.MEETING_SCHEDULED, _mover(actor), actor, now)
    await audit(ctx, actor, kind, case_id=case.id, into=tx.cases,
                detail={"start": record.start_at.isoformat(), "attempt": record.attempt, "provider": record.provider})
    notes_at = record.start_at - timedelta(hours=ctx.meeting_settings.notes_hours_before)
    previous = ({"replaces": meeting_card_key(case.id, replaces), "old_start": replaces.start_at.isoformat()}
                if replaces is not None and replaces.start_at is not None else {})
    await tx.outbox.enqueue([OutboxMessage(key=meeting_card_key(case.id, record), kind=OutboxKind.MEETING_CARD,
                                           case_id=case.id, payload=previous)], now)
    await tx.outbox.enqueue([OutboxMessage(key=f"chair_notes:{case.id}:{record.start_at:%Y%m%d%H%M}",
                                           kind=OutboxKind.CHAIR_NOTES, case_id=case.id,
                                           payload={"start": record.start_at.isoformat()})], max(notes_at, now))
    await tx.outbox.enqueue([OutboxMessage(key=f"outcome_prompt:{case.id}:{record.start_at:%Y%m%d%H%M}",
                                           kind=OutboxKind.OUTCOME_PROMPT, case_id=case.id,
                                           payload={"start": record.start_at.isoformat()})], record.end_at)
    await deadlines.refresh_deadlines(ctx, case.id, tx)


async def outside_window(ctx: ServiceContext, case: Case, start: datetime) -> str | None:
    """A warning when a chosen time is outside the profile's meeting window (the bot books
    it — the chair may have reasons — but says so)."""
    earliest, latest = await window(ctx, case)
    if earliest <= start <= latest:
        return None
    side = "after the end" if start > latest else "before the start"
    return (f"This time is {side} of the meeting window the partnership's timescales give "
            f"({format_day(earliest.astimezone(ctx.tz).date())} to {format_day(latest.astimezone(ctx.tz).date())}). "
            "Record the reason on the case, and check the report to the National Panel can still be on time.")


def _mover(actor: Actor | None) -> frozenset[Mover]:
    """The bot books on its own after the decision; a person re-books as the chair or a manager
    (already checked against the roster by `_chair`)."""
    return frozenset({Mover.BOT}) if actor is None else frozenset({Mover.CHAIR, Mover.MANAGER})


def _chairs_message(ctx: ServiceContext, case_id: str, kind: OutboxKind, payload: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage(key=f"{kind.value}:{case_id}:{payload.get('attempt', '')}:{ctx.clock.now():%Y%m%d%H%M%S}",
                         kind=kind, case_id=case_id, payload=payload)


def transaction_id(case_id: str, attempt: int) -> str:
    """Graph's idempotency key: the same booking attempt always sends the same id, so a
    retried create returns the event already made instead of a second one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rapid-review:{case_id}:meeting:{attempt}"))


# ---- the chair's actions ---------------------------------------------------------------------------


async def _chair(ctx: ServiceContext, actor: Actor, action: str, *, managers_too: bool = True) -> None:
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if roles.chair or (managers_too and roles.manager):
        return
    await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action})
    raise NotAuthorised("Only the chair" + (" or a partnership manager" if managers_too else "") + " can do that.")


def _parse_time(day: str | None, clock: str | None, ctx: ServiceContext) -> datetime:
    try:
        return datetime.combine(datetime.fromisoformat((day or "").strip()).date(),
                                time.fromisoformat((clock or "").strip()[:5]), tzinfo=ctx.tz)
    except ValueError as error:
        raise MeetingRefused("Give a date and a start time.", "date") from error


async def choose_time(ctx: ServiceContext, actor: Actor, reference: str, *, start_iso: str | None = None,
                      day: str | None = None, clock: str | None = None) -> MeetingRecord:
    """Book (no common slot) or move the meeting to a time the chair chose."""
    await _chair(ctx, actor, "meeting_time")
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise MeetingRefused("That case could not be found.")
    try:
        start = datetime.fromisoformat(start_iso).astimezone(ctx.tz) if start_iso else _parse_time(day, clock, ctx)
    except ValueError as error:
        raise MeetingRefused("That time could not be read.") from error
    if start <= ctx.clock.now():
        raise MeetingRefused("That time has passed; choose a later one.", "date")
    if not ctx.calendar.is_working_day(start.date()):
        raise MeetingRefused("That day is not a working day (weekend, bank holiday or closure day).", "date")
    existing = await ctx.meeting_store.get(case.id)
    end = start + ctx.meeting_settings.length
    try:
        if existing is not None and existing.status == "booked" and existing.event_id:
            await ctx.meetings.move_event(existing.event_id, start, end)
            moved = replace(existing, start_at=start, end_at=end, attempt=existing.attempt + 1)
            async with ctx.uow.begin() as tx:
                await tx.meetings.save(moved, ctx.clock.now())
                await audit(ctx, actor, EventKind.MEETING_MOVED, case_id=case.id, detail={"start": start.isoformat()},
                            into=tx.cases)
                await _scheduled(ctx, tx, case, moved, EventKind.MEETING_RESCHEDULED, actor, replaces=existing)
            ctx.kick_outbox()
            return moved
        if case.summary.status is not CaseStatus.DECIDED:
            raise MeetingRefused("This case has no meeting to book.")
        result = await book(ctx, case.id, at=start)
    except MeetingError as error:
        raise MeetingRefused(str(error)) from error
    except RetryLater as later:
        raise MeetingRefused(f"{later} Try again in a minute.") from later
    if result is None:
        raise MeetingRefused("This case has no meeting to book.")
    await audit(ctx, actor, EventKind.MEETING_TIME_CHOSEN, case_id=case.id, detail={"start": start.isoformat()})
    return result


TEAMS_JOIN_HOSTS = ("teams.microsoft.com", "teams.live.com", "teams.microsoft.us", "dod.teams.microsoft.us")


def _join_link(text: str | None) -> str | None:
    """An optional Teams join link, as copied from the Outlook invitation: https and a Teams
    host only, since the meeting card shows it to the whole panel as a button."""
    link = (text or "").strip()
    if not link:
        return None
    over = too_long(link, cap("meeting.join_url"))
    if over:
        raise MeetingRefused(f"The join link is too long: {over}", "join_url")
    parsed = urlsplit(link)
    host = (parsed.hostname or "").lower()
    if (any(c.isspace() for c in link) or parsed.scheme != "https"
            or not any(host == h or host.endswith("." + h) for h in TEAMS_JOIN_HOSTS)):
        raise MeetingRefused("The join link must be the Teams meeting link from the Outlook invitation "
                             "(https://teams.microsoft.com/…), or left empty.", "join_url")
    return link


async def record_manual_booking(ctx: ServiceContext, actor: Actor, reference: str, *, day: str | None,
                                clock: str | None, join_url: str | None) -> MeetingRecord:
    """The meeting was booked by hand in Outlook (the bot could not book it): record it as
    an automatic booking would be, so the case moves to "meeting scheduled", the deadlines
    that count from the meeting are set and the chair's prompts and reminders are scheduled."""
    await _chair(ctx, actor, "meeting_manual")
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise MeetingRefused("That case could not be found.")
    existing = await ctx.meeting_store.get(case.id)
    if existing is not None and existing.status in ("booked", "held"):
        raise MeetingRefused("This meeting is already booked; to change its time use Re-book on the meeting card.")
    if case.summary.status is not CaseStatus.DECIDED:
        raise MeetingRefused("This case has no meeting to book.")
    start = _parse_time(day, clock, ctx)
    if start <= ctx.clock.now():
        raise MeetingRefused("That time has passed; give the time the meeting is booked for.", "date")
    if not ctx.calendar.is_working_day(start.date()):
        raise MeetingRefused("That day is not a working day (weekend, bank holiday or closure day).", "date")
    link = _join_link(join_url)
    base = await _booking_record(ctx, case.id, existing)
    attempt = existing.attempt + 1 if existing is not None else 1
    booked = replace(base, status="booked", attempt=attempt, transaction_id=transaction_id(case.id, attempt),
                     provider="manual", event_id=None, join_url=link, start_at=start,
                     end_at=start + ctx.meeting_settings.length, options=[], last_error=None)
    async with ctx.uow.begin() as tx:  # the booking, the case's move and its deadlines, or none of it
        await tx.meetings.save(booked, ctx.clock.now())
        await _scheduled(ctx, tx, case, booked, EventKind.MEETING_BOOKED_MANUALLY, actor)
    ctx.kick_outbox()
    return booked


async def retry_booking(ctx: ServiceContext, actor: Actor, reference: str) -> None:
    await _chair(ctx, actor, "meeting_retry")
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise MeetingRefused("That case could not be found.")
    existing = await ctx.meeting_store.get(case.id)
    async with ctx.uow.begin() as tx:
        if existing is not None and existing.status == "failed":
            await tx.meetings.save(replace(existing, status="booking"), ctx.clock.now())
        await tx.outbox.enqueue([OutboxMessage(key=f"book_meeting:{case.id}:retry:{ctx.clock.now():%Y%m%d%H%M%S}",
                                               kind=OutboxKind.BOOK_MEETING, case_id=case.id)], ctx.clock.now())
    ctx.kick_outbox()


async def cancel(ctx: ServiceContext, actor: Actor, reference: str) -> MeetingRecord:
    await _chair(ctx, actor, "meeting_cancel")
    case = await ctx.cases.get_case(reference)
    existing = await ctx.meeting_store.get(case.id) if case else None
    if case is None or existing is None or existing.status not in ("booked", "needs_chair", "failed"):
        raise MeetingRefused("There is no booked meeting to cancel.")
    if existing.event_id:
        try:
            await ctx.meetings.cancel_event(existing.event_id, f"Cancelled by the chair ({case.reference}).")
        except MeetingError as error:
            raise MeetingRefused(str(error)) from error
    cancelled = replace(existing, status="cancelled", attempt=existing.attempt + 1)
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await tx.meetings.save(cancelled, now)
        await tx.deadlines.clear_anchor(case.id, Anchor.MEETING)  # papers etc. go back to pending
        current = await tx.cases.get_case_by_id(case.id)
        if current is not None and current.summary.status is CaseStatus.MEETING_SCHEDULED:
            await tx.cases.move(case.id, CaseStatus.DECIDED, frozenset({Mover.CHAIR, Mover.MANAGER}), actor, now)
        await audit(ctx, actor, EventKind.MEETING_CANCELLED, case_id=case.id, into=tx.cases)
        if existing.start_at is not None:  # the channel's meeting card shows the cancellation (and re-booking)
            await tx.outbox.enqueue([OutboxMessage(
                key=f"meeting_cancelled:{case.id}:{cancelled.attempt}", kind=OutboxKind.MEETING_CARD, case_id=case.id,
                payload={"replaces": meeting_card_key(case.id, existing), "cancelled": True})], now)
        await deadlines.refresh_deadlines(ctx, case.id, tx)
    ctx.kick_outbox()
    return cancelled


# ---- after the meeting ---------------------------------------------------------------------------


async def record_outcome(ctx: ServiceContext, actor: Actor, reference: str, answers: dict[str, str]
                         ) -> tuple[Case, MeetingOutcome]:
    await _chair(ctx, actor, "meeting_outcome", managers_too=False)
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case else None
    if case is None or meeting is None or meeting.status not in ("booked", "held"):
        raise MeetingRefused("This case has no meeting whose outcome can be recorded.")
    if meeting.status == "held":
        raise MeetingRefused("The outcome of this meeting is already recorded.")
    try:
        outcome = MeetingOutcome.model_validate(answers)
    except ValidationError as error:
        found = error.errors(include_url=False)
        # Text over its cap first: its message says how much was written (bot/domain/limits.py).
        first = next((e for e in found if e["type"] == "string_too_long"), found[0])
        field = str(first["loc"][0]) if first["loc"] else None
        words = {"rationale": "Give the rationale (at least 20 characters).",
                 "participants": "Say who took part in the decision.",
                 "local_cspr": "Say whether a local review is recommended.",
                 "national_review": "Say whether a national review is recommended."}
        over = str(first["msg"]) if first["type"] == "string_too_long" else None
        raise MeetingRefused(over or words.get(field or "", "Check the answers."), field) from error
    refuse_identifiers({name: getattr(outcome, name) for name in SHARED_OUTCOME_TEXT}, MeetingRefused,
                       reason=OUTCOME_REASON, verb="saving")
    if not outcome.quorate:
        missing = [name for name, ok in (("local authority", outcome.quorum_local_authority),
                                         ("police", outcome.quorum_police), ("health", outcome.quorum_health)) if not ok]
        raise MeetingRefused("The meeting is only quorate with a representative of each statutory partner "
                             f"(West Midlands procedures, 4.6.1). Not present: {', '.join(missing)}. If that is "
                             "right, press 'The meeting was inquorate': it is recorded as inquorate, naming who "
                             "was missing, and booked again.", "quorum")
    now = ctx.clock.now()
    # One unit of work: a crash part-way leaves the meeting booked and the case as it was,
    # never "held" with no outcome posted or no post-meeting deadlines.
    async with ctx.uow.begin() as tx:
        await tx.meetings.save(replace(meeting, status="held", outcome=outcome.model_dump(mode="json")), now)
        await tx.deadlines.set_anchor(case.id, Anchor.MEETING_HELD, meeting.start_at or now)
        if outcome.local_cspr.value == "yes":
            await tx.deadlines.set_anchor(case.id, Anchor.REVIEW_COMMISSIONED, now)
        await tx.cases.move(case.id, CaseStatus.MEETING_HELD, Mover.CHAIR, actor, now,
                            expect=CaseStatus.MEETING_SCHEDULED, outbox=[
            OutboxMessage(key=f"outcome_summary:{case.id}", kind=OutboxKind.OUTCOME_SUMMARY, case_id=case.id),
            OutboxMessage(key=f"outcome_referrer:{case.id}", kind=OutboxKind.OUTCOME_REFERRER, case_id=case.id),
            OutboxMessage(key=f"record_links:{case.id}", kind=OutboxKind.RECORD_LINKS, case_id=case.id),
            pathways.agencies_notice_message(case.id, now),  # West Midlands procedures, 4.7.2
        ])
        await audit(ctx, actor, EventKind.MEETING_OUTCOME_RECORDED, case_id=case.id, into=tx.cases,
                    detail={"choice": outcome.choice.value, "local_cspr": outcome.local_cspr.value,
                            "national_review": outcome.national_review.value, "quorate": outcome.quorate})
        await deadlines.refresh_deadlines(ctx, case.id, tx)
    ctx.kick_outbox()
    updated = await ctx.cases.get_case(reference)
    assert updated is not None
    return updated, outcome


QUORUM_PARTNERS = (("local_authority", "local authority"), ("police", "police"), ("health", "health"))


async def record_inquorate(ctx: ServiceContext, actor: Actor, reference: str, answers: dict[str, str]
                           ) -> tuple[Case, list[str]]:
    """The meeting was held without a representative of every statutory partner (West Midlands
    procedures, 4.6.1): it is recorded as inquorate, naming who was missing, and re-convened —
    the case goes back to "decided" and the bot books a new meeting (or asks the chair for a
    time when the window has passed). Nothing typed on the outcome card is lost: the chair
    records the outcome at the re-convened meeting."""
    await _chair(ctx, actor, "meeting_inquorate", managers_too=False)
    case = await ctx.cases.get_case(reference)
    meeting = await ctx.meeting_store.get(case.id) if case else None
    if case is None or meeting is None or meeting.status != "booked":
        raise MeetingRefused("This case has no booked meeting to record as inquorate.")
    missing = [key for key, _ in QUORUM_PARTNERS if answers.get(f"quorum_{key}", "").lower() != "true"]
    if not missing:
        raise MeetingRefused("Every statutory partner was present, so the meeting was quorate: record its "
                             "outcome with Save the outcome.", "quorum")
    words = [word for key, word in QUORUM_PARTNERS if key in missing]
    now = ctx.clock.now()
    held_at = meeting.start_at or now
    reconvene = replace(await _booking_record(ctx, case.id, meeting), attempt=meeting.attempt + 1,
                        transaction_id=transaction_id(case.id, meeting.attempt + 1))
    async with ctx.uow.begin() as tx:  # recorded and re-convened, or none of it
        await tx.meetings.save(reconvene, now)
        await tx.deadlines.clear_anchor(case.id, Anchor.MEETING)
        await tx.cases.move(case.id, CaseStatus.DECIDED, frozenset({Mover.CHAIR}), actor, now,
                            expect=CaseStatus.MEETING_SCHEDULED)
        await audit(ctx, actor, EventKind.MEETING_INQUORATE, case_id=case.id, into=tx.cases,
                    detail={"missing": missing, "held_at": held_at.isoformat()})
        await tx.outbox.enqueue([
            _chairs_message(ctx, case.id, OutboxKind.MEETING_PROBLEM, {
                "message": (f"The rapid review meeting for {case.reference} on {format_moment(held_at, ctx.tz)} was "
                            f"recorded as inquorate: not present: {', '.join(words)}. The bot is booking it "
                            "again; you will get the new meeting card, or be asked to choose a time."),
                "attempt": reconvene.attempt}),
            OutboxMessage(key=f"book_meeting:{case.id}:reconvene:{reconvene.attempt}", kind=OutboxKind.BOOK_MEETING,
                          case_id=case.id),
        ], now)
        await deadlines.refresh_deadlines(ctx, case.id, tx)
    ctx.kick_outbox()
    updated = await ctx.cases.get_case(reference)
    assert updated is not None
    return updated, words


def shareable_outcome(case: Case, outcome: MeetingOutcome) -> MeetingOutcome:
    """The outcome as the channel and the referrer may read it: every free text through the
    redaction step (bot/domain/redaction.py), so an outcome stored before the form refused
    identifiers is redacted too."""
    texts = SHARED_OUTCOME_TEXT + ("participants",)
    return outcome.model_copy(update={name: redact(value, case.referral) for name in texts
                                      if (value := getattr(outcome, name)) is not None})


async def deciders(ctx: ServiceContext, case: Case) -> list[str]:
    """Names and organisations of the virtual panel members who decided (form section 2)."""
    decision = (await ctx.panel.panel_state(case.id)).decision
    if decision is None:
        return []
    return [f"{v.voter_name}" + (f" ({v.organisation})" if v.organisation else "") + f", {v.partner.title}"
            for v in decision.votes]


