"""Use cases after the virtual panel's decision: the hand-over of a decision other than a
rapid review, a challenge to "no further action", who tells the family, the agencies told
the outcome, each agency's information return and the practitioners invited to the meeting
(the rules and their sources: bot/domain/pathways.py).

Authority comes from the roster by the actor's Entra object id, never from card data. Each
use case writes its records, its audit event (ids and kinds only, never text) and its outbox
messages in one unit of work. Texts that name people are sealed at rest by the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any
from uuid import uuid4

from pydantic import ValidationError

from bot.domain.case import Actor, Case, CaseSummary
from bot.domain.events import EventKind
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.limits import cap, too_long
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.domain.pathways import (
    AGENCY_RETURN_FIELDS,
    DECISION_WORDS,
    FAMILY_STEP,
    HANDED_OVER_PATHWAYS,
    HANDOVER_STEP,
    PROCESSES,
    AgencyReturn,
    Challenge,
    FamilyStep,
    HandOver,
    PathwayError,
    Process,
    process_for,
)
from bot.domain.timeline import Anchor
from bot.domain.votes import VoteChoice
from bot.services import deadlines
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import (
    AgencyRequest,
    Attendee,
    DeadlineStore,
    MeetingError,
    MeetingRecord,
    OutboxMessage,
    Transaction,
)
from bot.services.refusals import NotAuthorised, Refused
from bot.services.shared_text import refuse_identifiers

# The kinds of record a case gathers here (the `case_records` table, sealed).
HANDOVER, CHALLENGE, FAMILY, AGENCY_RETURN, GUESTS, AGENCIES_TOLD, NFA = (
    "handover", "challenge", "family", "agency_return", "meeting_guests", "agencies_told", "nfa")

# The messages this module sends to people (an outbox `pathway_message`, payload "what").
TO_OWNER, TO_REFERRER, TO_MANAGERS, TO_TELLER, CHALLENGED, AGENCIES_NOTICE = (
    "handover_owner", "handover_referrer", "handover_prompt", "family_teller", "challenged", "agencies_notice")
MAX_GUESTS = 20
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")

ONLY_ROSTER = "Only panel members, chairs and partnership managers can do that."
ONLY_MANAGER = "Only a partnership manager can record the hand-over."
ONLY_CHAIR_OR_MANAGER = "Only the chair or a partnership manager can do that."


class PathwayRefused(Refused):
    """A hand-over, challenge, family step, agency return or invitation was refused."""


@dataclass(frozen=True)
class Person:
    aad_object_id: str
    name: str


@dataclass(frozen=True)
class PathwayView:
    """What the cards of this module show about one case (no identifiers)."""

    case: CaseSummary
    outcome: VoteChoice | None
    handover: HandOver | None
    challenge: Challenge | None
    family: FamilyStep | None
    challenge_until: datetime | None
    people: list[Person]  # roster members who may be named as an owner or the family's contact
    processes: list[Process]
    agencies: list[str]  # the partnership's agencies, to choose whom to tell
    agencies_told: dict[str, Any] | None = None
    family_step_id: int | None = None  # the family step's deadline row, for its "Mark done"
    handover_step_id: int | None = None

    @property
    def closed(self) -> bool:
        return not self.case.status.is_open

    @property
    def challengeable(self) -> bool:
        return (self.outcome is VoteChoice.NO_FURTHER_ACTION and not self.closed and self.challenge is None
                and self.challenge_until is not None)


# ---- reading ------------------------------------------------------------------------------------


async def _roles(ctx: ServiceContext, actor: Actor, action: str, *, need: str = "roster") -> Any:
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    allowed = {"roster": roles.may_see_identifiers, "manager": roles.manager,
               "chair_or_manager": roles.chair or roles.manager}[need]
    if not allowed:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action})
        raise NotAuthorised({"roster": ONLY_ROSTER, "manager": ONLY_MANAGER,
                             "chair_or_manager": ONLY_CHAIR_OR_MANAGER}[need])
    return roles


async def _case(ctx: ServiceContext, reference: str) -> Case:
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise PathwayRefused("That case could not be found.")
    return case


async def _outcome(ctx: ServiceContext, case: Case) -> VoteChoice | None:
    decision = (await ctx.panel.panel_state(case.id)).decision
    return decision.outcome if decision else None


async def people(ctx: ServiceContext) -> list[Person]:
    """Everyone on the roster who can be named as an owner (one entry each, by name)."""
    found: dict[str, Person] = {}
    for m in await ctx.roster.members():
        if m.aad_object_id and m.role in (Role.PANEL, Role.CHAIR, Role.MANAGER):
            found.setdefault(m.aad_object_id, Person(m.aad_object_id, m.name))
    return sorted(found.values(), key=lambda p: p.name.lower())


async def view(ctx: ServiceContext, case: Case) -> PathwayView:
    outcome = await _outcome(ctx, case)
    handover = await _one(ctx, case.id, HANDOVER)
    challenge = await _one(ctx, case.id, CHALLENGE)
    family = await _one(ctx, case.id, FAMILY)
    nfa = await _one(ctx, case.id, NFA)
    told = await _one(ctx, case.id, AGENCIES_TOLD)
    rows = {r.step_id: r for r in await ctx.deadlines.deadlines(case.id)}
    allowed = list(PROCESSES.get(outcome, ())) if outcome else []
    if challenge is not None and Process.ESCALATION not in allowed:
        allowed.append(Process.ESCALATION)  # a challenge goes to the escalation process
    return PathwayView(
        case=case.summary, outcome=outcome,
        handover=HandOver.model_validate(handover) if handover else None,
        challenge=Challenge.model_validate(challenge) if challenge else None,
        family=FamilyStep.model_validate(family) if family else None,
        challenge_until=datetime.fromisoformat(nfa["challenge_until"]) if nfa else None,
        people=await people(ctx), processes=allowed, agencies=list(ctx.partnership.agencies), agencies_told=told,
        family_step_id=rows[FAMILY_STEP].id if FAMILY_STEP in rows else None,
        handover_step_id=rows[HANDOVER_STEP].id if HANDOVER_STEP in rows else None,
    )


async def _one(ctx: ServiceContext | Transaction, case_id: str, kind: str) -> dict[str, Any] | None:
    return (await ctx.deadlines.case_records(case_id, kind)).get("")


async def pathway(ctx: ServiceContext, actor: Actor, reference: str) -> PathwayView:
    """`pathway RR-…`, and the card's own refresh: roster only."""
    await _roles(ctx, actor, "pathway")
    return await view(ctx, await _case(ctx, reference))


# ---- after the decision ---------------------------------------------------------------------------


def challenge_end(ctx: ServiceContext, decided_at: datetime) -> datetime:
    """The end of the working day `nfa_challenge_working_days` after the decision."""
    day = ctx.calendar.add_working_days(decided_at.astimezone(ctx.tz).date(),
                                        ctx.partnership.nfa_challenge_working_days)
    return datetime.combine(day, time(17, 0), tzinfo=ctx.tz)


async def after_decision(ctx: ServiceContext, tx: Transaction, case_id: str, outcome: VoteChoice,
                         now: datetime) -> list[OutboxMessage]:
    """Inside the vote's unit of work, when the panel decided anything but a rapid review: the
    partnership managers are asked to record the hand-over; "no further action" records the
    end of its challenge period and schedules its closing then. Returns the outbox messages
    due now (the closing row is enqueued here, due later)."""
    if outcome not in HANDED_OVER_PATHWAYS:
        return []
    messages = [OutboxMessage(key=f"pathway:{case_id}:{TO_MANAGERS}", kind=OutboxKind.PATHWAY_MESSAGE,
                              case_id=case_id, payload={"what": TO_MANAGERS})]
    if outcome is VoteChoice.NO_FURTHER_ACTION:
        until = challenge_end(ctx, now)
        await tx.deadlines.put_case_record(case_id, NFA, "", {"challenge_until": until.isoformat()}, now)
        await tx.outbox.enqueue([OutboxMessage(key=f"nfa_challenge_ends:{case_id}", kind=OutboxKind.NFA_CHALLENGE_ENDS,
                                               case_id=case_id)], until)
        # The referrer's agency may challenge it: told so, and until when (status only).
        messages.append(OutboxMessage(key=f"pathway:{case_id}:{TO_REFERRER}:decided",
                                      kind=OutboxKind.PATHWAY_MESSAGE, case_id=case_id,
                                      payload={"what": TO_REFERRER}))
    return messages


def _message(case_id: str, what: str, stamp: datetime, **extra: Any) -> OutboxMessage:
    """A key of its own for each change (two changes in one clock tick are two messages); a retry of
    the same row is still sent once."""
    return OutboxMessage(key=f"pathway:{case_id}:{what}:{stamp:%Y%m%dT%H%M%S%f}:{uuid4().hex[:8]}",
                         kind=OutboxKind.PATHWAY_MESSAGE, case_id=case_id, payload={"what": what, **extra})


def _card_update(case_id: str, stamp: datetime) -> OutboxMessage:
    """The channel's case card brought up to date (rendered from the database when delivered)."""
    return OutboxMessage(key=f"panel_card:{case_id}:pathway:{stamp:%Y%m%dT%H%M%S%f}:{uuid4().hex[:8]}",
                         kind=OutboxKind.PANEL_CARD, case_id=case_id)


async def _member(ctx: ServiceContext, aad_object_id: str | None, field_name: str) -> Person:
    for p in await people(ctx):
        if p.aad_object_id == (aad_object_id or "").strip().lower():
            return p
    raise PathwayRefused("Choose someone from the list (people on the partnership's roster).", field_name)


# ---- the hand-over ----------------------------------------------------------------------------------


async def record_handover(ctx: ServiceContext, actor: Actor, reference: str, *, process: str | None,
                          owner: str | None, agencies: list[str]) -> PathwayView:
    """A partnership manager names the process the decision is handed to and its owner, and the
    agencies to tell. The case moves to "handed over"; the owner is asked to confirm, the
    referrer and the managers are told (status only)."""
    await _roles(ctx, actor, "handover", need="manager")
    case = await _case(ctx, reference)
    outcome = await _outcome(ctx, case)
    if outcome not in HANDED_OVER_PATHWAYS or case.summary.status not in (CaseStatus.DECIDED, CaseStatus.HANDED_OVER):
        raise PathwayRefused("This case has no decision to hand over (a rapid review goes to its meeting).")
    assert outcome is not None
    challenge = await _one(ctx, case.id, CHALLENGE)
    try:
        chosen = (Process.ESCALATION if challenge is not None and process == Process.ESCALATION.value
                  else process_for(outcome, process))
    except PathwayError as error:
        raise PathwayRefused(str(error), error.field) from error
    who = await _member(ctx, owner, "owner")
    known = set(ctx.partnership.agencies) | {case.summary.referring_agency}
    told = [a for a in dict.fromkeys(a.strip() for a in agencies) if a]
    if any(a not in known for a in told):
        raise PathwayRefused("Choose the agencies from the list.", "agencies")
    if case.summary.referring_agency not in told:  # the referring agency is always told (4.7.2)
        told.insert(0, case.summary.referring_agency)
    now = ctx.clock.now()
    nfa = await _one(ctx, case.id, NFA)
    record = HandOver(outcome=outcome, process=chosen, owner_aad_id=who.aad_object_id, owner_name=who.name,
                      recorded_by=actor.name, recorded_at=now.isoformat(),
                      challenge_until=nfa["challenge_until"] if nfa else None, agencies_told=told)
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, HANDOVER, "", record.model_dump(mode="json"), now)
        current = await tx.cases.get_case_by_id(case.id)
        assert current is not None
        messages = [_message(case.id, TO_REFERRER, now), _card_update(case.id, now),
                    _message(case.id, AGENCIES_NOTICE, now)]
        if chosen.needs_confirming:
            messages.append(_message(case.id, TO_OWNER, now, to=who.aad_object_id))
        if current.summary.status is CaseStatus.DECIDED:
            await tx.cases.move(case.id, CaseStatus.HANDED_OVER, Mover.MANAGER, actor, now,
                                detail={"process": chosen.value})
        await audit(ctx, actor, EventKind.HANDOVER_RECORDED, case_id=case.id, into=tx.cases,
                    detail={"process": chosen.value, "owner": who.aad_object_id, "agencies": len(told)})
        await tx.outbox.enqueue(messages, now)
        if not chosen.needs_confirming:  # no process takes it: nothing to confirm, the step is done
            await tx.deadlines.set_anchor(case.id, Anchor.HANDOVER_CONFIRMED, now)
        await deadlines.refresh_deadlines(ctx, case.id, tx)
        if not chosen.needs_confirming:
            await _maybe_close(ctx, tx, case.id, actor, now)
    ctx.kick_outbox()
    return await view(ctx, await _case(ctx, reference))


async def confirm_handover(ctx: ServiceContext, actor: Actor, reference: str, confirmed_on: str | None
                           ) -> PathwayView:
    """The owner (or a partnership manager) confirms the process has taken the case: the
    hand-over step is done and the case closes (after a "no further action" decision's
    challenge period, if that has not yet passed)."""
    roles = await _roles(ctx, actor, "handover_confirm")
    case = await _case(ctx, reference)
    record = await _one(ctx, case.id, HANDOVER)
    if record is None:
        raise PathwayRefused("No hand-over is recorded for this case yet.")
    handover = HandOver.model_validate(record)
    if handover.owner_aad_id != actor.aad_object_id and not roles.manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, case_id=case.id, detail={"action": "handover_confirm"})
        raise NotAuthorised(f"Only {handover.owner_name}, who has the case, or a partnership manager can confirm "
                            "the hand-over.")
    if handover.confirmed_at is not None:
        raise PathwayRefused(f"The hand-over was already confirmed by {handover.confirmed_by}.")
    if not case.summary.status.is_open or not handover.process.needs_confirming:
        raise PathwayRefused("There is no hand-over to confirm: " + ("the case is closed." if not
                             case.summary.status.is_open else "no other process takes this case."))
    today = ctx.clock.now().astimezone(ctx.tz).date()
    day = _date(confirmed_on, "confirmed_on", today) if confirmed_on else today
    if day < case.summary.incident_date:
        raise PathwayRefused("That date is before the incident; check the year.", "confirmed_on")
    now = ctx.clock.now()
    confirmed = handover.model_copy(update={"confirmed_by": actor.name, "confirmed_at": now.isoformat()})
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, HANDOVER, "", confirmed.model_dump(mode="json"), now)
        await tx.deadlines.set_anchor(case.id, Anchor.HANDOVER_CONFIRMED,
                                      datetime.combine(day, time(0), tzinfo=ctx.tz))
        await audit(ctx, actor, EventKind.HANDOVER_CONFIRMED, case_id=case.id, into=tx.cases,
                    detail={"process": handover.process.value, "confirmed_on": day.isoformat()})
        await deadlines.refresh_deadlines(ctx, case.id, tx)
        if not await _maybe_close(ctx, tx, case.id, actor, now):
            await tx.outbox.enqueue([_card_update(case.id, now)], now)
    ctx.kick_outbox()
    return await view(ctx, await _case(ctx, reference))


async def _maybe_close(ctx: ServiceContext, tx: Transaction, case_id: str, actor: Actor | None,
                       now: datetime) -> bool:
    """Close the case when nothing keeps it open: the hand-over confirmed (or none needed),
    and for "no further action" the challenge period passed with no challenge."""
    case = await tx.cases.get_case_by_id(case_id)
    if case is None or case.summary.status not in (CaseStatus.DECIDED, CaseStatus.HANDED_OVER):
        return False
    stored = await _one(tx, case_id, HANDOVER)
    handover = HandOver.model_validate(stored) if stored else None
    nfa = await _one(tx, case_id, NFA)
    if nfa is not None:
        escalated = handover is not None and handover.process is Process.ESCALATION
        if await _one(tx, case_id, CHALLENGE) is not None:
            if not escalated:
                return False  # challenged: with the partnership manager until handed to the escalation process
        elif now < datetime.fromisoformat(nfa["challenge_until"]):
            return False  # the challenge period is still running
    elif handover is None or case.summary.status is CaseStatus.DECIDED:
        return False
    if handover is not None and not handover.confirmed:
        return False
    why = ("handover_confirmed" if handover is not None and handover.process.needs_confirming
           else "challenge_period_passed")
    await tx.cases.move(case_id, CaseStatus.CLOSED, Mover.BOT, actor, now, detail={"because": why},
                        outbox=[_card_update(case_id, now)])
    return True


async def challenge_period_ended(ctx: ServiceContext, case_id: str) -> None:
    """The outbox row due when a "no further action" decision's challenge period ends."""
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        closed = await _maybe_close(ctx, tx, case_id, None, now)
    if closed:
        ctx.log.info("no further action: closed after its challenge period")
        ctx.kick_outbox()


# ---- a challenge to "no further action" -------------------------------------------------------------


async def record_challenge(ctx: ServiceContext, actor: Actor, reference: str, *, agency: str | None,
                           reason: str | None) -> PathwayView:
    """A partner on the roster records an agency's challenge to "no further action", inside
    the challenge period: the case is not closed, and the partnership managers and the chair
    are asked to hand it to the escalation process."""
    await _roles(ctx, actor, "challenge")
    case = await _case(ctx, reference)
    if await _outcome(ctx, case) is not VoteChoice.NO_FURTHER_ACTION:
        raise PathwayRefused("Only a \"no further action\" decision can be challenged here; other decisions go "
                             "to the partnership manager through the escalation process.")
    nfa = await _one(ctx, case.id, NFA)
    now = ctx.clock.now()
    if await _one(ctx, case.id, CHALLENGE) is not None:
        raise PathwayRefused("A challenge is already recorded for this decision: it is with the partnership "
                             "manager for the escalation process.")
    if not case.summary.status.is_open or nfa is None or now > datetime.fromisoformat(nfa["challenge_until"]):
        until = datetime.fromisoformat(nfa["challenge_until"]).astimezone(ctx.tz) if nfa else None
        raise PathwayRefused("The challenge period for this decision ended"
                             + (f" on {until:%a %d %b %Y} at {until:%H:%M}" if until else "")
                             + ". Raise it with the partnership manager through the escalation process.")
    over = too_long(reason, cap("pathway.challenge"))
    if over is not None:
        raise PathwayRefused(over, "reason")
    try:
        challenge = Challenge(agency=agency or "", reason=reason or "", recorded_by=actor.name,
                              recorded_at=now.isoformat())
    except ValidationError as error:
        where = str(error.errors(include_url=False)[0]["loc"][0])
        raise PathwayRefused("Choose the agency that challenges." if where == "agency"
                             else "Say why the decision is challenged (at least 10 characters).", where) from error
    if challenge.agency not in set(ctx.partnership.agencies) | {case.summary.referring_agency}:
        raise PathwayRefused("Choose the agency from the list.", "agency")
    refuse_identifiers({"reason": challenge.reason}, PathwayRefused)
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, CHALLENGE, "", challenge.model_dump(mode="json"), now)
        await audit(ctx, actor, EventKind.DECISION_CHALLENGED, case_id=case.id, into=tx.cases,
                    detail={"outcome": VoteChoice.NO_FURTHER_ACTION.value})
        await tx.outbox.enqueue([_message(case.id, CHALLENGED, now), _card_update(case.id, now)], now)
    ctx.kick_outbox()
    return await view(ctx, await _case(ctx, reference))


# ---- the family -------------------------------------------------------------------------------------


def _date(value: str | None, field_name: str, today: date) -> date:
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError as error:
        raise PathwayRefused("Give the date.", field_name) from error
    if field_name != "tell_by" and day > today:
        raise PathwayRefused("That date is in the future.", field_name)
    return day


async def agree_family(ctx: ServiceContext, actor: Actor, reference: str, *, teller: str | None,
                       tell_by: str | None) -> PathwayView:
    """Who will tell the family the outcome, and by when (the agenda template's 'Outcome
    Notification'): a step of the clock, due that day, owned by that person, who gets the
    decision letter in personal chat."""
    await _roles(ctx, actor, "family", need="chair_or_manager")
    case = await _case(ctx, reference)
    if await _outcome(ctx, case) is None:
        raise PathwayRefused("The panel has not decided this case yet.")
    if not case.summary.status.is_open:
        raise PathwayRefused("This case is closed.")
    who = await _member(ctx, teller, "teller")
    today = ctx.clock.now().astimezone(ctx.tz).date()
    by = _date(tell_by, "tell_by", today)
    if by < today:
        raise PathwayRefused("That date has passed; give the date by which the family will be told.", "tell_by")
    now = ctx.clock.now()
    step = FamilyStep(teller_aad_id=who.aad_object_id, teller_name=who.name, tell_by=by, agreed_by=actor.name,
                      agreed_at=now.isoformat())
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, FAMILY, "", step.model_dump(mode="json"), now)
        await tx.deadlines.set_anchor(case.id, Anchor.FAMILY_TELL_BY, datetime.combine(by, time(0), tzinfo=ctx.tz))
        await audit(ctx, actor, EventKind.FAMILY_STEP_AGREED, case_id=case.id, into=tx.cases,
                    detail={"teller": who.aad_object_id, "tell_by": by.isoformat()})
        await deadlines.refresh_deadlines(ctx, case.id, tx)
        await tx.outbox.enqueue([_message(case.id, TO_TELLER, now, to=who.aad_object_id)], now)
    ctx.kick_outbox()
    return await view(ctx, await _case(ctx, reference))


async def family_teller(ctx: ServiceContext, case: Case) -> FamilyStep | None:
    record = await _one(ctx, case.id, FAMILY)
    return FamilyStep.model_validate(record) if record else None


async def letter_values(ctx: ServiceContext, case: Case) -> dict[str, str]:
    """Every placeholder of the family letter (LETTER_PLACEHOLDERS), filled from the case. The
    letter names the child: it goes only to the person who tells the family, by a one-time link."""
    shown = await view(ctx, case)
    members = await ctx.roster.members()
    teller = next((m for m in members if shown.family and m.aad_object_id == shown.family.teller_aad_id), None)
    chair = next((m for m in members if m.role is Role.CHAIR), None)
    if shown.handover is not None:
        next_steps = f"The case has been passed to: {shown.handover.process.title}."
    elif shown.outcome is VoteChoice.RAPID_REVIEW:
        record = await ctx.meeting_store.get(case.id)
        outcome = (record.outcome or {}) if record else {}
        next_steps = ("A local child safeguarding practice review will now take place."
                      if outcome.get("local_cspr") == "yes" else
                      "The partners' findings go to the national Child Safeguarding Practice Review Panel.")
    else:
        next_steps = ""
    names = [c.name for c in case.referral.children.children]
    today = ctx.clock.now().astimezone(ctx.tz).date()
    return {
        "partnership": ctx.partnership.name,
        "reference": case.reference,
        "date": f"{today.day} {today:%B %Y}",
        "child_names": " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1],
        "incident_date": f"{case.summary.incident_date.day} {case.summary.incident_date:%B %Y}",
        "decision": DECISION_WORDS.get(shown.outcome, "the safeguarding partners are still considering it")
        if shown.outcome else "the safeguarding partners are still considering it",
        "next_steps": next_steps,
        "teller_name": shown.family.teller_name if shown.family else "",
        "teller_job_title": f"({teller.job_title})" if teller and teller.job_title else "",
        "chair_name": chair.name if chair else ctx.partnership.name,
    }


# ---- the agencies ------------------------------------------------------------------------------------


async def agencies_to_tell(ctx: ServiceContext, case: Case) -> list[AgencyRequest | str]:
    """The agencies told the outcome (West Midlands procedures, 4.7.2): those asked for
    information on a rapid review (with their contacts), or those named on the hand-over."""
    requests = await ctx.deadlines.agency_requests(case.id)
    if requests:
        return list(requests)
    handover = await _one(ctx, case.id, HANDOVER)
    if handover:
        return list(HandOver.model_validate(handover).agencies_told)
    return [case.summary.referring_agency]


async def record_agencies_told(ctx: ServiceContext, actor: Actor, reference: str) -> PathwayView:
    """The partnership manager has sent each agency the status-only notice."""
    await _roles(ctx, actor, "agencies_told", need="manager")
    case = await _case(ctx, reference)
    if await _one(ctx, case.id, AGENCIES_TOLD) is not None:
        raise PathwayRefused("The agencies are already recorded as told.")
    now = ctx.clock.now()
    count = len(await agencies_to_tell(ctx, case))
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, AGENCIES_TOLD, "", {"by": actor.name, "at": now.isoformat(),
                                                                         "count": count}, now)
        await audit(ctx, actor, EventKind.AGENCIES_TOLD, case_id=case.id, into=tx.cases, detail={"agencies": count})
    return await view(ctx, await _case(ctx, reference))


def agencies_notice_message(case_id: str, now: datetime) -> OutboxMessage:
    """For the meeting's outcome (bot/services/meeting.py): tell the agencies asked."""
    return _message(case_id, AGENCIES_NOTICE, now)


async def record_agency_return(ctx: ServiceContext, actor: Actor, reference: str, request_id: int | None,
                               answers: dict[str, str]) -> AgencyRequest:
    """One agency's information return (Stockport Rapid Review Process (2019), Appendix D),
    recorded by the business unit from what the agency sent: sealed at rest, audited without
    its text, read by the chair on the notes card. Recording it marks the agency returned."""
    await _roles(ctx, actor, "agency_return")
    case = await _case(ctx, reference)
    request = next((r for r in await ctx.deadlines.agency_requests(case.id) if r.id == request_id), None)
    if request is None:
        raise PathwayRefused("That agency's request could not be found.", audit="unknown agency request")
    for name in AGENCY_RETURN_FIELDS:
        over = too_long(answers.get(name), cap("agency_return.text"))
        if over is not None:
            raise PathwayRefused(over, name)
    try:
        information = AgencyReturn.model_validate({k: answers.get(k) for k in AGENCY_RETURN_FIELDS})
    except ValidationError as error:
        raise PathwayRefused("Say what the agency's involvement was.", "involvement") from error
    refuse_identifiers({k: getattr(information, k) for k in AGENCY_RETURN_FIELDS}, PathwayRefused,
                       reason="the chair's notes and the record are shared and must not hold identifiers",
                       verb="saving")
    now = ctx.clock.now()
    data = {**information.model_dump(mode="json"), "recorded_by": actor.name, "recorded_at": now.isoformat()}
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, AGENCY_RETURN, str(request.id), data, now)
        await tx.deadlines.mark_agency_returned(case.id, request.id, now, actor.name)
        await audit(ctx, actor, EventKind.AGENCY_RETURN_RECORDED, case_id=case.id, into=tx.cases,
                    detail={"request_id": request.id})
        outstanding = [r for r in await tx.deadlines.agency_requests(case.id) if r.returned_at is None]
        if not outstanding:
            for row in await tx.deadlines.deadlines(case.id):
                if deadlines.chases_agency_requests(row) and row.status in ("open", "pending"):
                    await tx.deadlines.mark_done(row.id, now, now.astimezone(ctx.tz).date(), actor.aad_object_id,
                                                 actor.name)
    updated = next(r for r in await ctx.deadlines.agency_requests(case.id) if r.id == request.id)
    return updated


async def agency_return(ctx: ServiceContext, actor: Actor, reference: str, request_id: int | None
                       ) -> tuple[CaseSummary, AgencyRequest, dict[str, Any]]:
    """One agency's return card: the request and what is recorded so far (roster only)."""
    await _roles(ctx, actor, "agency_return")
    case = await _case(ctx, reference)
    request = next((r for r in await ctx.deadlines.agency_requests(case.id) if r.id == request_id), None)
    if request is None:
        raise PathwayRefused("That agency's request could not be found.", audit="unknown agency request")
    stored = (await ctx.deadlines.case_records(case.id, AGENCY_RETURN)).get(str(request.id)) or {}
    return case.summary, request, stored


async def agency_return_list(ctx: ServiceContext, actor: Actor, reference: str
                             ) -> tuple[CaseSummary, list[tuple[AgencyRequest, str | None]]]:
    await _roles(ctx, actor, "agency_returns")
    case = await _case(ctx, reference)
    stored = await ctx.deadlines.case_records(case.id, AGENCY_RETURN)
    return case.summary, [(r, (stored.get(str(r.id)) or {}).get("recorded_by"))
                          for r in await ctx.deadlines.agency_requests(case.id)]


@dataclass(frozen=True)
class ReturnShown:
    agency: str
    answers: dict[str, str | None] = field(default_factory=dict)
    recorded_by: str | None = None


async def agency_returns(store: DeadlineStore, case_id: str) -> list[ReturnShown]:
    """Every agency asked, with its return where one is recorded (for the chair's notes)."""
    stored = await store.case_records(case_id, AGENCY_RETURN)
    shown = []
    for r in await store.agency_requests(case_id):
        data = stored.get(str(r.id))
        shown.append(ReturnShown(r.agency, {k: data.get(k) for k in AGENCY_RETURN_FIELDS} if data else {},
                                 data.get("recorded_by") if data else None))
    return shown


# ---- practitioners and managers invited to the meeting ----------------------------------------------


def parse_guests(text: str | None) -> list[Attendee]:
    """One person a line: "Name <upn@…>", "Name, upn@…" or just the UPN."""
    guests: dict[str, Attendee] = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        match = re.match(r"^(?P<name>.*?)[\s,]*<(?P<email>[^>]+)>$", line) or re.match(
            r"^(?P<name>.*?)[\s,]+(?P<email>\S+@\S+)$", line)
        name, email = (match.group("name").strip(" ,"), match.group("email").strip()) if match else ("", line)
        if not _EMAIL.match(email):
            raise PathwayRefused(f"\"{line[:60]}\" is not a work e-mail address (UPN); give one person a line, "
                                 "for example: Sam Social Worker <sam.worker@example.org>.", "guests")
        guests.setdefault(email.lower(), Attendee(name or email.split("@")[0], email.lower()))
    if len(guests) > MAX_GUESTS:
        raise PathwayRefused(f"Invite at most {MAX_GUESTS} people this way.", "guests")
    return list(guests.values())


async def guests(ctx: ServiceContext, case_id: str) -> list[Attendee]:
    stored = (await ctx.deadlines.case_records(case_id, GUESTS)).get("")
    return [Attendee(g["name"], g["email"]) for g in (stored or {}).get("people", [])]


async def invite_guests(ctx: ServiceContext, actor: Actor, reference: str, text: str | None) -> MeetingRecord:
    """The chair or a partnership manager invites agency practitioners and managers to the
    meeting (Stockport Rapid Review Process (2019): "managers and practitioners involved with
    the case"; they leave before the threshold discussion). Added to the Teams meeting
    through Graph when it is booked there, listed on the meeting card, kept for a re-booking."""
    await _roles(ctx, actor, "meeting_guests", need="chair_or_manager")
    case = await _case(ctx, reference)
    over = too_long(text, cap("meeting.guests"))
    if over is not None:
        raise PathwayRefused(over, "guests")
    invited = parse_guests(text)
    if not invited:
        raise PathwayRefused("Give at least one person: one a line, name and work e-mail address.", "guests")
    record = await ctx.meeting_store.get(case.id)
    if record is None or record.status not in ("booked", "needs_chair", "booking", "failed"):
        raise PathwayRefused("This case has no meeting to invite people to.")
    known = {g.email: g for g in await guests(ctx, case.id)}
    roster_emails = {str(a.get("email", "")).lower() for a in record.attendees if not a.get("guest")}
    added = [g for g in invited if g.email not in known and g.email not in roster_emails]
    if not added:
        raise PathwayRefused("Everyone listed is already invited.", "guests")
    every = list(known.values()) + added
    members = [Attendee(str(a.get("name", "")), str(a.get("email", ""))) for a in record.attendees
               if not a.get("guest") and a.get("email")]
    if record.event_id and record.status == "booked":
        try:
            await ctx.meetings.set_attendees(record.event_id, members + every)
        except MeetingError as error:
            raise PathwayRefused(f"The meeting could not be changed in Outlook: {error}") from error
    now = ctx.clock.now()
    attendees = [a for a in record.attendees if not a.get("guest")] + [
        {"name": g.name, "email": g.email, "partner": None, "role": None, "guest": True} for g in every]
    updated = replace(record, attendees=attendees)
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, GUESTS, "", {"people": [{"name": g.name, "email": g.email}
                                                                            for g in every]}, now)
        await tx.meetings.save(updated, now)
        await audit(ctx, actor, EventKind.MEETING_GUESTS_INVITED, case_id=case.id, into=tx.cases,
                    detail={"added": len(added)})
    return updated


def days_left(ctx: ServiceContext, until: datetime | None) -> int | None:
    if until is None:
        return None
    today = ctx.clock.now().astimezone(ctx.tz).date()
    return ctx.calendar.working_days_between(today, until.astimezone(ctx.tz).date())



# ---- what the outbox delivers ---------------------------------------------------------------------


@dataclass(frozen=True)
class PathwayMessage:
    """One card of this module for one person, as the notifier renders it."""

    what: str
    view: PathwayView
    agencies: list[tuple[str, str | None]] = field(default_factory=list)  # (agency, contact) to tell
    family_step: Any = None  # the family step's deadline row, for the teller's "Mark done"


async def recipients_of(ctx: ServiceContext, what: str, case: Case) -> list[str]:
    """Who a message goes to when it is not addressed to one person already."""
    members = await ctx.roster.members()
    managers = sorted({m.aad_object_id for m in members if m.role is Role.MANAGER and m.aad_object_id})
    chairs = sorted({m.aad_object_id for m in members if m.role is Role.CHAIR and m.aad_object_id})
    if what == TO_REFERRER:
        return [case.summary.referrer_aad_id]
    if what == CHALLENGED:
        return sorted(set(managers) | set(chairs))
    return managers


async def message_for(ctx: ServiceContext, what: str, case: Case) -> PathwayMessage | None:
    """The message as it is now; None when it no longer applies (sent nothing)."""
    shown = await view(ctx, case)
    agencies: list[tuple[str, str | None]] = []
    if what == AGENCIES_NOTICE:
        agencies = [(a.agency, a.contact) if isinstance(a, AgencyRequest) else (a, None)
                    for a in await agencies_to_tell(ctx, case)]
    if what == TO_MANAGERS and (shown.handover is not None or shown.closed):
        return None  # already recorded
    step = None
    if what == TO_TELLER:
        step = next((r for r in await ctx.deadlines.deadlines(case.id) if r.step_id == FAMILY_STEP), None)
    return PathwayMessage(what, shown, agencies, step)
