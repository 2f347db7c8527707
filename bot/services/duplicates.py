"""A second referral of the same incident flagged to the partnership managers as a likely
duplicate, who link it to the first or dismiss the flag.

At submission an outbox row (`duplicate_check`, not a message) is committed with the case; when
it is delivered the check runs: each child's name and date of birth (bot/domain/duplicates.py)
is hashed under a key derived from the master key and kept with the incident date
(`referral_fingerprints`); another case (not erased) with the same incident date and a matching
hash is a likely duplicate. The flag is kept in the new case's records (`case_records` kind
`duplicate`, key the earlier case's id, sealed), audited (`duplicate_flagged`, the two case ids),
and each partnership manager gets a card in personal chat naming both references (never the
child): **Link to RR-…** (`duplicate_linked`) or **Not a duplicate** (`duplicate_dismissed`).
Running the check twice flags nothing twice (keys and the outbox's unique keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.case import Actor, CaseSummary
from bot.domain.duplicates import identities
from bot.domain.events import EventKind
from bot.domain.outbox import OutboxKind
from bot.domain.partnership import Role
from bot.services.audit import audit
from bot.services.context import ServiceContext
from bot.services.ports import OutboxMessage
from bot.services.refusals import NotAuthorised, Refused

DUPLICATE = "duplicate"  # the case_records kind: key = the earlier case's id, data = {"status": …}
FLAGGED, LINKED, DISMISSED = "flagged", "linked", "dismissed"
ONLY_MANAGER = "Only a partnership manager can link or dismiss a likely duplicate."


class DuplicateRefused(Refused):
    """Nothing is flagged on the case (any more)."""


@dataclass(frozen=True)
class Flag:
    case: CaseSummary
    first: CaseSummary
    status: str


def check_message(case_id: str) -> OutboxMessage:
    """Committed with the new case (bot/services/referrals.py): the check runs when it is delivered."""
    return OutboxMessage(key=f"duplicate_check:{case_id}", kind=OutboxKind.DUPLICATE_CHECK, case_id=case_id)


async def check(ctx: ServiceContext, case_id: str) -> list[str]:
    """Fingerprint the case and flag each earlier case of the same incident; the ids flagged."""
    case = await ctx.cases.get_case_by_id(case_id)
    if case is None:  # erased meanwhile
        return []
    now = ctx.clock.now()
    earlier = await ctx.cases.match_fingerprints(case.id, case.summary.incident_date, identities(case.referral), now)
    if not earlier:
        return []
    managers = sorted({m.aad_object_id for m in await ctx.roster.members(Role.MANAGER) if m.aad_object_id})
    kept = await ctx.deadlines.case_records(case.id, DUPLICATE)
    flagged = []
    async with ctx.uow.begin() as tx:
        for first_id in earlier:
            if first_id in kept:
                continue
            await tx.deadlines.put_case_record(case.id, DUPLICATE, first_id, {"status": FLAGGED}, now)
            await audit(ctx, None, EventKind.DUPLICATE_FLAGGED, case_id=case.id, into=tx.cases,
                        detail={"of": first_id})
            await tx.outbox.enqueue([OutboxMessage(
                key=f"duplicate_flag:{case.id}:{first_id}", kind=OutboxKind.DUPLICATE_FLAG, case_id=case.id,
                payload={"of": first_id, "people": managers})], now)
            flagged.append(first_id)
    if flagged:
        ctx.kick_outbox()
    return flagged


async def flag_of(ctx: ServiceContext, case_id: str, first_id: str) -> Flag | None:
    record = (await ctx.deadlines.case_records(case_id, DUPLICATE)).get(first_id)
    case = await ctx.cases.get_summary_by_id(case_id)
    first = await ctx.cases.get_summary_by_id(first_id)
    if record is None or case is None or first is None:
        return None
    return Flag(case, first, str(record.get("status") or FLAGGED))


async def answer(ctx: ServiceContext, actor: Actor, reference: str, status: str) -> Flag:
    """A manager links the flagged case to the first (LINKED) or dismisses the flag (DISMISSED)."""
    if not (await ctx.roster.roles_of(actor.aad_object_id)).manager:
        await audit(ctx, actor, EventKind.ACCESS_DENIED, detail={"action": f"duplicate_{status}",
                                                                 "reference": reference[:20]})
        raise NotAuthorised(ONLY_MANAGER)
    case = await ctx.cases.get_case(reference)
    kept = await ctx.deadlines.case_records(case.id, DUPLICATE) if case is not None else {}
    open_flags = [first for first, data in kept.items() if data.get("status") == FLAGGED]
    if case is None or not open_flags:
        answered = next(iter(kept), None) if case is not None else None
        flag = await flag_of(ctx, case.id, answered) if case is not None and answered else None
        if flag is not None:
            return flag  # already answered (a second press, another manager): nothing changes
        raise DuplicateRefused(f"Nothing is flagged as a likely duplicate on {reference}.")
    first_id = open_flags[0]
    now = ctx.clock.now()
    kind = EventKind.DUPLICATE_LINKED if status == LINKED else EventKind.DUPLICATE_DISMISSED
    async with ctx.uow.begin() as tx:
        await tx.deadlines.put_case_record(case.id, DUPLICATE, first_id,
                                           {"status": status, "by": actor.aad_object_id, "at": now.isoformat()}, now)
        await audit(ctx, actor, kind, case_id=case.id, into=tx.cases, detail={"of": first_id})
    flag = await flag_of(ctx, case.id, first_id)
    assert flag is not None
    return flag
