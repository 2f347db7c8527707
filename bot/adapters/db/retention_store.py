"""Retention, erasure and legal holds in the database (the RetentionStore port).

An erasure is one transaction (`erase`): the register's row is written, the case's data key
destroyed (crypto-shredding: `SqlCaseStore.destroy_case_key`, on the same connection), every
plain text and identifier the case still has anywhere is cleared, its reminders and outbox
rows removed, and the messages that finish the job — a tombstone card over each of the bot's
Teams messages, the Graph meeting cancelled or scrubbed — enqueued in the outbox with the
tombstone audit row. So a crash leaves either nothing done or everything done in the
database, and what is left to do outside it is in the outbox, which survives restarts and
is delivered by whichever process runs; `finish_erasure` closes the register's row once the
outbox has nothing left of it.

Tables and columns, and what happens to each (docs/data-protection.md, "Erasure"):

- cases: referral (sealed) emptied; decision (sealed) cleared; the referrer's name and Entra id
  cleared; the incident date kept to its month; reference, pseudonym, status, agency, kind,
  pathway sought and the dates kept (the anonymised record); `erased_at` set;
- votes, queries: texts (sealed) cleared, voters' and askers' names and ids cleared, partner,
  choice, round and times kept;
- meetings: outcome (sealed), attendees, options, join link and last error cleared; times kept;
- agency_requests: the contact typed by the business unit and who marked it returned cleared;
- deadlines: who marked a step done cleared; any still running closed, their reminders off;
- reminders: deleted; outbox and outbox_sends: the case's rows deleted (their activity ids
  are first copied into the tombstone messages);
- processed_activities: stored invoke answers that name the case cleared;
- bot_state: a conversation's dialog state still holding the case's form deleted, with its key;
- file_links: kept (who received which file, when: the erasure card lists them); links not yet
  used are made to expire now;
- events: untouched — the audit trail holds no identifiers and no free text by construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.case_keys import KeyDestroyed
from bot.adapters.db.case_store import ReferralCache, SqlCaseStore, add_event_in
from bot.adapters.db.outbox_store import enqueue_in
from bot.adapters.db.scope import Scope, aware, aware_or_none
from bot.adapters.db.turn_store import RESPONSE_FIELD, RESPONSES_OWNER, STATE_FIELD, state_owner
from bot.adapters.envelope import SealBroken
from bot.domain.case import Actor
from bot.domain.events import Event
from bot.domain.lifecycle import CaseStatus
from bot.domain.outbox import OutboxKind
from bot.domain.retention import ErasureBasis, HoldKind, RetentionOutcome, RetentionPolicy, outcome_of
from bot.services.ports import (
    CONSENT,
    Address,
    BotMessage,
    ClosedCase,
    DeliveredFile,
    ErasurePlan,
    ErasureRecord,
    HeldRefused,
    HoldRecord,
    OutboxMessage,
)

REGISTER_OWNER = "erasure-register"  # the data key the register's reasons are sealed under (never a case's)
REASON_FIELD = "erasures.reason"
ERASURE_KINDS = (OutboxKind.ERASURE_TOMBSTONE.value, OutboxKind.ERASURE_MEETING.value)
ERASED_NAME = "(erased)"


def _hold(row: Any) -> HoldRecord:
    return HoldRecord(id=row.id, case_id=row.case_id, kind=HoldKind(row.kind), placed_at=aware(row.placed_at),
                      placed_by_name=row.placed_by_name, lifted_at=aware_or_none(row.lifted_at),
                      lifted_by_name=row.lifted_by_name, reference=getattr(row, "reference", "") or "")


def _record(row: Any) -> ErasureRecord:
    return ErasureRecord(case_id=row.case_id, reference=row.reference, basis=ErasureBasis(row.basis),
                         outcome=RetentionOutcome(row.outcome), confirmed_by_name=row.confirmed_by_name,
                         started_at=aware(row.started_at), finished_at=aware_or_none(row.finished_at),
                         plan=dict(row.plan or {}), result=dict(row.result) if row.result is not None else None)


def plan_summary(plan: ErasurePlan) -> dict[str, Any]:
    """What the register keeps of the dry run: ids and counts, no text."""
    return {
        "messages": [{"conversation_id": m.conversation_id, "activity_id": m.activity_id, "what": m.what}
                     for m in plan.messages],
        "meeting": {"event_id": plan.meeting_event_id, "action": plan.meeting_action} if plan.meeting_event_id
        else None,
        "files": [{"kind": f.kind, "issued_to": f.issued_to, "issued_at": f.issued_at.isoformat(),
                   "fetched_at": f.fetched_at.isoformat() if f.fetched_at else None, "how": f.how}
                  for f in plan.files],
        "reminders": plan.reminders,
        "outbox_rows": plan.outbox_rows,
    }


class SqlRetentionStore:
    def __init__(self, scope: Scope, cases: SqlCaseStore, policy: RetentionPolicy, tz: Any = None) -> None:
        self.scope = scope
        self._cases = cases
        self._policy = policy
        self._tz = tz

    # ---- how each case ended -------------------------------------------------------------------------

    async def _outcomes(self, conn: AsyncConnection, case_ids: Sequence[str]) -> dict[str, RetentionOutcome]:
        """From the audit trail, which holds every decision and every status move (no sealed value
        need be opened)."""
        decisions: dict[str, list[str]] = {c: [] for c in case_ids}
        statuses: dict[str, set[str]] = {c: set() for c in case_ids}
        if not case_ids:
            return {}
        rows = await conn.execute(select(t.events.c.case_id, t.events.c.kind, t.events.c.detail)
                                  .where(t.events.c.case_id.in_(list(case_ids)),
                                         t.events.c.kind.in_(("panel_decided", "case_moved")))
                                  .order_by(t.events.c.id))
        for row in rows:
            detail = row.detail if isinstance(row.detail, dict) else {}
            if row.kind == "panel_decided" and detail.get("outcome"):
                decisions[row.case_id].append(str(detail["outcome"]))
            elif row.kind == "case_moved":
                statuses[row.case_id].update(str(detail.get(k)) for k in ("from", "to") if detail.get(k))
        return {c: outcome_of(decisions[c], statuses[c]) for c in case_ids}

    async def case_id_of(self, reference: str) -> str | None:
        async with self.scope.read() as conn:
            return (await conn.execute(select(t.cases.c.id).where(t.cases.c.reference == reference))).scalar()

    async def closed_cases(self) -> list[ClosedCase]:
        async with self.scope.read() as conn:
            rows = (await conn.execute(select(t.cases.c.id, t.cases.c.reference, t.cases.c.closed_at)
                                       .where(t.cases.c.closed_at.is_not(None), t.cases.c.erased_at.is_(None))
                                       .order_by(t.cases.c.closed_at, t.cases.c.reference))).all()
            outcomes = await self._outcomes(conn, [r.id for r in rows])
        return [ClosedCase(r.id, r.reference, aware(r.closed_at), outcomes[r.id]) for r in rows]

    # ---- the dry run ---------------------------------------------------------------------------------

    async def _address_of(self, conn: AsyncConnection, conversation_id: str) -> Address | None:
        channel = (await conn.execute(select(t.channels).where(
            t.channels.c.conversation_id == conversation_id.split(";messageid=")[0]))).first()
        if channel is not None:
            return Address(conversation_id, channel.service_url, channel.tenant_id, channel.bot_id)
        ref = (await conn.execute(select(t.conversation_refs).where(
            t.conversation_refs.c.conversation_id == conversation_id).limit(1))).first()
        if ref is not None:
            return Address(conversation_id, ref.service_url, ref.tenant_id, ref.bot_id)
        return None

    async def _messages(self, conn: AsyncConnection, case_id: str, panel_activity: str | None) -> list[BotMessage]:
        found: dict[tuple[str, str], str] = {}
        panel = (await conn.execute(select(t.channels).where(t.channels.c.purpose == "panel"))).first()
        if panel_activity and panel is not None:
            found[(panel.conversation_id, panel_activity)] = "panel card"
        outbox_ids = select(t.outbox.c.id).where(t.outbox.c.case_id == case_id).scalar_subquery()
        sends = await conn.execute(select(t.outbox_sends.c.conversation_id, t.outbox_sends.c.activity_id)
                                   .where(t.outbox_sends.c.outbox_id.in_(outbox_ids),
                                          t.outbox_sends.c.activity_id.is_not(None))
                                   .order_by(t.outbox_sends.c.id))
        for send in sends:
            in_channel = panel is not None and send.conversation_id.split(";messageid=")[0] == panel.conversation_id
            found.setdefault((send.conversation_id, send.activity_id),
                             "channel message" if in_channel else "personal message")
        return [BotMessage(conversation, activity, what, await self._address_of(conn, conversation))
                for (conversation, activity), what in found.items()]

    async def _delivered_files(self, conn: AsyncConnection, case_id: str) -> list[DeliveredFile]:
        rows = await conn.execute(select(t.file_links).where(t.file_links.c.case_id == case_id)
                                  .order_by(t.file_links.c.issued_at))
        # a file saved to the person's OneDrive (Teams' file consent card) reached them when it was
        # delivered; a one-time link when it was fetched
        return [DeliveredFile(kind=r.kind, issued_to=r.issued_to, issued_at=aware(r.issued_at),
                              fetched_at=aware_or_none(r.delivered_at or r.fetched_at),
                              how="file saved to their OneDrive" if r.via == CONSENT else "one-time link")
                for r in rows]

    async def delivered_files(self, case_id: str) -> list[DeliveredFile]:
        async with self.scope.read() as conn:
            return await self._delivered_files(conn, case_id)

    async def _active_holds(self, conn: AsyncConnection, case_id: str | None = None) -> list[HoldRecord]:
        query = (select(t.legal_holds, t.cases.c.reference)
                 .join(t.cases, t.cases.c.id == t.legal_holds.c.case_id)
                 .where(t.legal_holds.c.lifted_at.is_(None)).order_by(t.legal_holds.c.id))
        if case_id is not None:
            query = query.where(t.legal_holds.c.case_id == case_id)
        return [_hold(r) for r in await conn.execute(query)]

    async def _plan(self, conn: AsyncConnection, case_id: str, now: datetime) -> ErasurePlan | None:
        case = (await conn.execute(select(t.cases.c.id, t.cases.c.reference, t.cases.c.status, t.cases.c.received_at,
                                          t.cases.c.closed_at, t.cases.c.panel_activity_id)
                                   .where(t.cases.c.id == case_id))).first()
        if case is None:
            return None
        outcome = (await self._outcomes(conn, [case_id]))[case_id]
        closed_at = aware_or_none(case.closed_at)
        local_closed = closed_at.astimezone(self._tz).date() if closed_at and self._tz else None
        meeting = (await conn.execute(select(t.meetings).where(t.meetings.c.case_id == case_id))).first()
        event_id = meeting.event_id if meeting is not None and meeting.provider == "graph" else None
        start = aware_or_none(meeting.start_at) if meeting is not None else None
        action = None
        if event_id and meeting is not None:
            action = "cancel" if meeting.status not in ("cancelled", "held") and start and start > now else "scrub"
        reminders = (await conn.execute(select(func.count()).select_from(t.reminders)
                                        .where(t.reminders.c.case_id == case_id))).scalar_one()
        outbox_rows = (await conn.execute(select(func.count()).select_from(t.outbox)
                                          .where(t.outbox.c.case_id == case_id))).scalar_one()
        return ErasurePlan(
            case_id=case.id, reference=case.reference, status=CaseStatus(case.status), outcome=outcome,
            received_at=aware(case.received_at), closed_at=closed_at,
            due_on=self._policy.due_on(outcome, closed_at, local_closed),
            messages=await self._messages(conn, case_id, case.panel_activity_id),
            meeting_event_id=event_id, meeting_start=start, meeting_action=action,
            files=await self._delivered_files(conn, case_id), holds=await self._active_holds(conn, case_id),
            reminders=int(reminders), outbox_rows=int(outbox_rows))

    async def plan(self, case_id: str, now: datetime) -> ErasurePlan | None:
        async with self.scope.read() as conn:
            return await self._plan(conn, case_id, now)

    # ---- the erasure ---------------------------------------------------------------------------------

    async def erasure(self, case_id: str) -> ErasureRecord | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.erasures).where(t.erasures.c.case_id == case_id))).first()
        return _record(row) if row is not None else None

    async def erase(self, case_id: str, basis: ErasureBasis, reason: str | None, actor: Actor, now: datetime,
                    finish: Callable[[ErasurePlan], tuple[Sequence[OutboxMessage], Event]]
                    ) -> tuple[ErasureRecord, ErasurePlan] | None:
        async with self.scope.write() as conn:
            # Take the case row first (PostgreSQL: locked to the end; SQLite: BEGIN IMMEDIATE already), so
            # the dry run read below is what is erased: no message is sent about the case meanwhile.
            case = (await conn.execute(update(t.cases).where(t.cases.c.id == case_id)
                                       .values(version=t.cases.c.version + 1)
                                       .returning(t.cases.c.draft_id, t.cases.c.reference,
                                                  t.cases.c.incident_date, t.cases.c.erased_at))).first()
            if case is None or case.erased_at is not None:
                return None  # rolled back with the block: nothing written
            if (await conn.execute(select(t.erasures.c.case_id).where(t.erasures.c.case_id == case_id))).first():
                return None
            plan = await self._plan(conn, case_id, now)
            assert plan is not None  # the row was just taken
            if plan.held:
                raise HeldRefused(case.reference)
            outbox, event = finish(plan)
            sealed_reason = None
            if reason:
                sealed_reason = (await self.scope.db.keyring.sealer(conn, REGISTER_OWNER)).text(REASON_FIELD, reason)
            # The outbox rows deleted below, kept by id: a send of one of them already under way in another
            # process lands in the send ledger after this commits, and is then found and tombstoned too.
            outbox_ids = list((await conn.execute(select(t.outbox.c.id).where(t.outbox.c.case_id == case_id)
                                                  .order_by(t.outbox.c.id))).scalars())
            await conn.execute(insert(t.erasures).values(
                case_id=case_id, reference=case.reference, basis=basis.value, outcome=plan.outcome.value,
                reason=sealed_reason, confirmed_by_aad_id=actor.aad_object_id, confirmed_by_name=actor.name,
                started_at=now, finished_at=None, plan={**plan_summary(plan), "outbox_ids": outbox_ids},
                result=None))
            # Crypto-shredding, on this transaction's connection: committed with everything else.
            await self._cases.bound(self.scope.bound(conn)).destroy_case_key(case_id, now)
            await self._clear(conn, case_id, case.reference, case.draft_id, case.incident_date, now)
            await enqueue_in(conn, outbox, now)
            await add_event_in(conn, event)
            row = (await conn.execute(select(t.erasures).where(t.erasures.c.case_id == case_id))).one()
            return _record(row), plan

    async def _clear(self, conn: AsyncConnection, case_id: str, reference: str, draft_id: str, incident_date: Any,
                     now: datetime) -> None:
        await conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(
            referral={}, decision=None, referrer_name=ERASED_NAME, referrer_aad_id="",
            incident_date=incident_date.replace(day=1), erased_at=now, updated_at=now))
        await conn.execute(update(t.votes).where(t.votes.c.case_id == case_id).values(
            rationale="", serious_harm_basis=None, question=None, voter_name=ERASED_NAME, voter_aad_id="",
            organisation=None))
        await conn.execute(update(t.queries).where(t.queries.c.case_id == case_id).values(
            question="", answer=None, asked_by_name=ERASED_NAME, asked_by_aad_id=""))
        await conn.execute(update(t.meetings).where(t.meetings.c.case_id == case_id).values(
            outcome=None, attendees=[], options=None, join_url=None, last_error=None, updated_at=now))
        await conn.execute(update(t.agency_requests).where(t.agency_requests.c.case_id == case_id).values(
            contact=None, returned_by_name=None))
        await conn.execute(update(t.deadlines).where(t.deadlines.c.case_id == case_id).values(
            done_by_name=None, done_by_aad_id=None))
        await conn.execute(update(t.deadlines).where(t.deadlines.c.case_id == case_id,
                                                     t.deadlines.c.status.in_(("open", "pending")))
                           .values(status="closed", next_reminder_at=None))
        await conn.execute(delete(t.reminders).where(t.reminders.c.case_id == case_id))
        # after the decision (bot/services/pathways.py): hand-over, challenge, family, returns, guests
        await conn.execute(delete(t.case_records).where(t.case_records.c.case_id == case_id))
        # the keyed hashes of its children's names and dates of birth (bot/services/duplicates.py)
        await conn.execute(delete(t.referral_fingerprints).where(t.referral_fingerprints.c.case_id == case_id))
        # the rapid review report (bot/services/report.py): comments, texts, sign-off names
        await conn.execute(delete(t.reports).where(t.reports.c.case_id == case_id))
        # the local review, its agency reports and progress checks, the actions (bot/services/review.py)
        for table in (t.reviews, t.review_entries, t.case_actions):
            await conn.execute(delete(table).where(table.c.case_id == case_id))
        outbox_ids = select(t.outbox.c.id).where(t.outbox.c.case_id == case_id).scalar_subquery()
        await conn.execute(delete(t.outbox_sends).where(t.outbox_sends.c.outbox_id.in_(outbox_ids)))
        await conn.execute(delete(t.outbox).where(t.outbox.c.case_id == case_id))
        await conn.execute(update(t.file_links).where(t.file_links.c.case_id == case_id,
                                                      t.file_links.c.fetched_at.is_(None),
                                                      t.file_links.c.expires_at > now).values(expires_at=now))
        await self._clear_stored_answers(conn, (reference, case_id, draft_id))  # the form's cards carry the draft id
        await self._clear_dialog_states(conn, draft_id)

    async def _clear_stored_answers(self, conn: AsyncConnection, marks: tuple[str, ...]) -> None:
        """Invoke answers kept to answer Teams' retries (sealed under one key of their own) that
        show this case — its cards name its reference or id, the referral form's its draft id:
        cleared, so a retry is answered as new."""
        keyring = self.scope.db.keyring
        rows = (await conn.execute(select(t.processed_activities.c.key, t.processed_activities.c.response)
                                   .where(t.processed_activities.c.response.is_not(None)))).all()
        for key, response in rows:
            try:
                opened = await keyring.open_json(conn, RESPONSES_OWNER, RESPONSE_FIELD, response)
            except (KeyDestroyed, SealBroken):
                continue
            text = json.dumps(opened, ensure_ascii=False)
            if any(mark in text for mark in marks):
                await conn.execute(update(t.processed_activities).where(t.processed_activities.c.key == key)
                                   .values(response=None))

    async def _clear_dialog_states(self, conn: AsyncConnection, draft_id: str) -> None:
        """A conversation's dialog state still holding this case's referral form (a state saved
        between the submission and the end of the dialog): deleted, with its data key."""
        keyring = self.scope.db.keyring
        rows = (await conn.execute(select(t.bot_state.c.key, t.bot_state.c.data)
                                   .where(t.bot_state.c.key.like("%/conversations/%")))).all()
        for key, data in rows:
            try:
                opened = await keyring.open_json(conn, state_owner(key), STATE_FIELD, data)
            except (KeyDestroyed, SealBroken):
                continue
            if draft_id in json.dumps(opened):
                await conn.execute(delete(t.bot_state).where(t.bot_state.c.key == key))
                await conn.execute(delete(t.case_keys).where(t.case_keys.c.owner == state_owner(key)))

    async def unfinished_erasures(self) -> list[ErasureRecord]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.erasures).where(t.erasures.c.finished_at.is_(None))
                                      .order_by(t.erasures.c.started_at))
            return [_record(r) for r in rows]

    async def late_messages(self, case_id: str) -> list[BotMessage]:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.erasures.c.plan).where(t.erasures.c.case_id == case_id))).first()
            ids = [int(i) for i in (row.plan or {}).get("outbox_ids", [])] if row is not None else []
            if not ids:
                return []
            sends = (await conn.execute(select(t.outbox_sends.c.conversation_id, t.outbox_sends.c.activity_id)
                                        .where(t.outbox_sends.c.outbox_id.in_(ids),
                                               t.outbox_sends.c.activity_id.is_not(None))
                                        .order_by(t.outbox_sends.c.id))).all()
            return [BotMessage(s.conversation_id, s.activity_id, "message sent during the erasure",
                               await self._address_of(conn, s.conversation_id)) for s in sends]

    async def forget_late_sends(self, case_id: str) -> int:
        async with self.scope.write() as conn:
            row = (await conn.execute(select(t.erasures.c.plan).where(t.erasures.c.case_id == case_id))).first()
            ids = [int(i) for i in (row.plan or {}).get("outbox_ids", [])] if row is not None else []
            if not ids:
                return 0
            deleted = await conn.execute(delete(t.outbox_sends).where(t.outbox_sends.c.outbox_id.in_(ids)))
            return int(deleted.rowcount or 0)

    async def finish_erasure(self, case_id: str, now: datetime) -> ErasureRecord | None:
        async with self.scope.write() as conn:
            rows = (await conn.execute(select(t.outbox.c.kind, t.outbox.c.status)
                                       .where(t.outbox.c.case_id == case_id,
                                              t.outbox.c.kind.in_(ERASURE_KINDS)))).all()
            if any(r.status not in ("sent", "failed") for r in rows):  # still to be delivered (or waiting)
                return None
            result = {"tombstones_sent": sum(1 for r in rows if r.kind == ERASURE_KINDS[0] and r.status == "sent"),
                      "tombstones_failed": sum(1 for r in rows if r.kind == ERASURE_KINDS[0] and r.status != "sent"),
                      "meeting": next((r.status for r in rows if r.kind == ERASURE_KINDS[1]), None)}
            await conn.execute(update(t.erasures).where(t.erasures.c.case_id == case_id,
                                                        t.erasures.c.finished_at.is_(None))
                               .values(finished_at=now, result=result))
            row = (await conn.execute(select(t.erasures).where(t.erasures.c.case_id == case_id))).first()
            return _record(row) if row is not None else None

    # ---- legal holds ---------------------------------------------------------------------------------

    async def place_hold(self, case_id: str, kind: HoldKind, actor: Actor, now: datetime, event: Event) -> bool:
        async with self.scope.write() as conn:
            if any(h.kind is kind for h in await self._active_holds(conn, case_id)):
                return False
            await conn.execute(insert(t.legal_holds).values(
                case_id=case_id, kind=kind.value, placed_at=now, placed_by_aad_id=actor.aad_object_id,
                placed_by_name=actor.name))
            await add_event_in(conn, event)
            return True

    async def lift_holds(self, case_id: str, actor: Actor, now: datetime, event: Event) -> int:
        async with self.scope.write() as conn:
            lifted = await conn.execute(update(t.legal_holds).where(t.legal_holds.c.case_id == case_id,
                                                                    t.legal_holds.c.lifted_at.is_(None))
                                        .values(lifted_at=now, lifted_by_aad_id=actor.aad_object_id,
                                                lifted_by_name=actor.name))
            if not lifted.rowcount:
                return 0
            await add_event_in(conn, event)
            return int(lifted.rowcount)

    async def active_holds(self) -> list[HoldRecord]:
        async with self.scope.read() as conn:
            return await self._active_holds(conn)


async def case_statistics(db: Any) -> list[tuple[str, str, str, str, str, str]]:
    """Every case as `python -m bot admin cases` lists it: what statistics may keep, identifiers never
    (reference, status, how it ended, the days it was received, closed and erased)."""
    store = SqlRetentionStore(Scope(db), SqlCaseStore(Scope(db), ReferralCache()), RetentionPolicy())
    async with db.read() as conn:
        rows = (await conn.execute(select(t.cases.c.id, t.cases.c.reference, t.cases.c.status, t.cases.c.received_at,
                                          t.cases.c.closed_at, t.cases.c.erased_at)
                                   .order_by(t.cases.c.reference))).all()
        outcomes = await store._outcomes(conn, [r.id for r in rows])

    def day(value: Any) -> str:
        return aware(value).date().isoformat() if value is not None else ""

    return [(r.reference, r.status, outcomes[r.id].value if r.closed_at is not None else "", day(r.received_at),
             day(r.closed_at), day(r.erased_at)) for r in rows]
