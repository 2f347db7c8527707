"""After submission: a referral's dates corrected, or the referral withdrawn with a reason.

Decision: only a partnership manager corrects or withdraws (the referrer asks them). The
incident date and the date the local authority became aware start the statutory clock, so a
correction is the partnership's act, made on any open case, whatever the panel has decided;
the referral's other answers are the referrer's own words and are not edited here.

- `correct RR-… incident 2026-11-19` / `correct RR-… aware 2026-11-20`: the referral is
  validated again with the new date (the form's own rules: not in the future, not before the
  partnership's earliest date, awareness not before the incident, children's ages at the
  incident), stored sealed under the case's key through the case store, every deadline
  recomputed in the same unit of work, a `referral_corrected` audit row naming the field (never
  the dates) and a status-only line in the panel channel.
- `withdraw RR-… <reason>`: the lifecycle's `referred → closed` ("the referral was withdrawn",
  manager), which stops every deadline; the reason is required, refused when it holds an
  identifier, kept sealed in the case's records (`case_records`, kind `withdrawal`) and audited
  as given, never quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import uuid4

from pydantic import ValidationError

from bot.domain.case import Actor, Case
from bot.domain.events import EventKind
from bot.domain.lifecycle import CaseStatus, Mover
from bot.domain.limits import cap, too_long
from bot.domain.outbox import OutboxKind
from bot.domain.referral import ChildrenDetails, FormContext, IncidentDetails
from bot.services import deadlines
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import OutboxMessage
from bot.services.refusals import NotAuthorised, Refused
from bot.services.shared_text import refuse_identifiers

ONLY_MANAGER = "Only a partnership manager can correct or withdraw a referral."
# what a correction may change: the word typed → the referral's field
DATE_FIELDS = {"incident": "incident_date", "aware": "la_aware_date"}
WITHDRAWAL = "withdrawal"  # the case_records kind holding the sealed reason
REASON_REASON = "the reason is kept with the case and read by the partnership"


class CorrectionRefused(Refused):
    """A correction or a withdrawal was refused (no such case, closed, a bad date or reason)."""


@dataclass(frozen=True)
class Corrected:
    case: Case  # as it is now
    field: str
    changed: bool


async def require_manager(ctx: ServiceContext, actor: Actor, action: str, reference: str | None) -> None:
    roles = await ctx.roster.roles_of(actor.aad_object_id)
    if not roles.manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": action, "reference": reference})
        raise NotAuthorised(ONLY_MANAGER)


async def _open_case(ctx: ServiceContext, reference: str) -> Case:
    case = await ctx.cases.get_case(reference)
    if case is None:
        raise CorrectionRefused(f"There is no case {reference}.")
    if not case.summary.status.is_open:
        raise CorrectionRefused(f"{reference} is closed; its referral can no longer be changed.")
    return case


def notice(case_id: str, what: str, at: datetime) -> OutboxMessage:
    """A status-only line for the panel channel (cards/correction_cards.py): the reference, the
    pseudonym and what happened; never a date or a reason."""
    return OutboxMessage(key=f"case_notice:{case_id}:{what}:{at:%Y%m%dT%H%M%S%f}:{uuid4().hex[:8]}",
                         kind=OutboxKind.CASE_NOTICE, case_id=case_id, payload={"what": what})


def _card_update(case_id: str, at: datetime) -> OutboxMessage:
    return OutboxMessage(key=f"panel_card:{case_id}:corrected:{at:%Y%m%dT%H%M%S%f}:{uuid4().hex[:8]}",
                         kind=OutboxKind.PANEL_CARD, case_id=case_id)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    message = str(first.get("msg", "That date cannot be used."))
    return message.removeprefix("Value error, ")


async def correct_date(ctx: ServiceContext, actor: Actor, reference: str, which: str, day: date) -> Corrected:
    """Correct the incident date or the date the local authority became aware; every deadline
    recomputed from it, audited by field name, the panel channel told status-only."""
    await require_manager(ctx, actor, "correct_referral", reference)
    field = DATE_FIELDS.get(which)
    if field is None:
        raise CorrectionRefused("Say which date: **incident** or **aware** (when the local authority became aware).")
    case = await _open_case(ctx, reference)
    incident = case.referral.incident
    if getattr(incident, field) == day:
        return Corrected(case, field, changed=False)
    today = ctx.clock.now().astimezone(ctx.tz).date()
    # the manager typed the date on purpose: an old incident date is confirmed by it
    data = {**incident.model_dump(mode="python"), field: day, "incident_date_confirmed": True}
    try:
        corrected = IncidentDetails.model_validate(data, context=FormContext(
            today=today, earliest_incident_date=ctx.partnership.earliest_incident_date))
        ChildrenDetails.model_validate(case.referral.children.model_dump(mode="python"), context=FormContext(
            today=today, incident_date=corrected.incident_date,
            earliest_incident_date=ctx.partnership.earliest_incident_date))
    except ValidationError as error:
        raise CorrectionRefused(f"Not changed: {_first_error(error)}") from None
    referral = case.referral.model_copy(update={"incident": corrected})
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await tx.cases.correct_referral(case.id, referral, now)
        await audit(ctx, actor, EventKind.REFERRAL_CORRECTED, case_id=case.id, into=tx.cases,
                    detail={"fields": [field]})
        await tx.outbox.enqueue([notice(case.id, "dates_corrected", now), _card_update(case.id, now)], now)
        await deadlines.refresh_deadlines(ctx, case.id, tx)
    ctx.kick_outbox()
    after = await ctx.cases.get_case_by_id(case.id)
    assert after is not None
    return Corrected(after, field, changed=True)


def check_reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise CorrectionRefused("Give the reason, for example: **withdraw RR-2026-0001 referred to the wrong "
                                "partnership**.", "reason")
    if (over := too_long(text, cap("withdrawal.reason"))) is not None:
        raise CorrectionRefused(over, "reason")
    refuse_identifiers({"reason": text}, lambda message, f: CorrectionRefused(message, f),
                       reason=REASON_REASON, verb="withdrawing")
    return text


async def withdraw(ctx: ServiceContext, actor: Actor, reference: str, reason: str | None) -> Case:
    """Withdraw a referral the panel has not decided: `referred → closed` (every deadline
    stops), the reason sealed in the case's records, audited without its text."""
    await require_manager(ctx, actor, "withdraw_referral", reference)
    case = await _open_case(ctx, reference)
    text = check_reason(reason)
    if case.summary.status is not CaseStatus.REFERRED:
        raise CorrectionRefused(f"{reference} can no longer be withdrawn: the panel has decided and it is now "
                                f"{case.summary.status.title.lower()}. Close it through its pathway instead.")
    now = ctx.clock.now()
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, WITHDRAWAL, "reason",
                                           {"reason": text, "by": actor.aad_object_id, "at": now.isoformat()}, now)
        await tx.cases.move(case.id, CaseStatus.CLOSED, Mover.MANAGER, actor, now, detail={"withdrawn": True},
                            outbox=[notice(case.id, "withdrawn", now), _card_update(case.id, now)],
                            expect=CaseStatus.REFERRED)
        await audit(ctx, actor, EventKind.REFERRAL_WITHDRAWN, case_id=case.id, into=tx.cases,
                    detail={"reason_given": True})
    ctx.kick_outbox()
    after = await ctx.cases.get_case_by_id(case.id)
    assert after is not None
    return after
