"""Persistence of the statutory clock: anchors, deadlines, reminders sent, agency requests.

The deadline rows are the record of what is due, and the reminder rows of what was
sent (APScheduler only decides when to look). `next_reminder_at` on each deadline is
kept up to date so that the sweep is one indexed query, however many cases there are.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal_column, select, update

from bot.adapters.db import schema as t
from bot.adapters.db.in_lists import padded_ids
from bot.adapters.db.outbox_store import enqueue_in
from bot.adapters.db.scope import Scope, aware, aware_or_none
from bot.domain.timeline import STATUTORY_RECORDS, Anchor, Deadline
from bot.services.ports import AgencyRequest, DeadlineRow, OutboxMessage, StatusRow

RECORDS_FIELD = "case_records.data"  # hand-overs, challenges, agency returns, guests: sealed


def _row(r: Any) -> DeadlineRow:
    return DeadlineRow(
        id=r.id, case_id=r.case_id, step_id=r.step_id, label=r.label, owner=r.owner, anchor=r.anchor,
        anchor_at=aware_or_none(r.anchor_at), due_at=aware_or_none(r.due_at), earliest_at=aware_or_none(r.earliest_at), is_window=r.is_window,
        asks_for_date=r.asks_for_date, records=r.records, plan=r.plan, source=r.source, position=r.position,
        status=r.status, next_reminder_at=aware_or_none(r.next_reminder_at), last_reminder_at=aware_or_none(r.last_reminder_at),
        done_at=aware_or_none(r.done_at), done_on=r.done_on, done_by_name=r.done_by_name,
    )


class SqlDeadlineStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def bound(self, scope: Scope) -> SqlDeadlineStore:
        return SqlDeadlineStore(scope)

    # ---- anchors -----------------------------------------------------------------------------

    async def set_anchor(self, case_id: str, anchor: Anchor, at: datetime) -> None:
        stmt = self.scope.insert(t.case_anchors).values(case_id=case_id, anchor=anchor.value, at=at)
        async with self.scope.write() as conn:
            await conn.execute(stmt.on_conflict_do_update(index_elements=[t.case_anchors.c.case_id,
                                                                          t.case_anchors.c.anchor], set_={"at": at}))

    async def clear_anchor(self, case_id: str, anchor: Anchor) -> None:
        async with self.scope.write() as conn:
            await conn.execute(delete(t.case_anchors).where(t.case_anchors.c.case_id == case_id,
                                                            t.case_anchors.c.anchor == anchor.value))

    async def anchors(self, case_id: str) -> dict[Anchor, datetime]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.case_anchors).where(t.case_anchors.c.case_id == case_id))
            return {Anchor(r.anchor): aware(r.at) for r in rows}

    # ---- deadlines ---------------------------------------------------------------------------

    async def deadlines(self, case_id: str) -> list[DeadlineRow]:
        async with self.scope.read() as conn:
            rows = await conn.execute(
                select(t.deadlines).where(t.deadlines.c.case_id == case_id).order_by(t.deadlines.c.position)
            )
            return [_row(r) for r in rows]

    async def deadline(self, deadline_id: int) -> DeadlineRow | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.deadlines).where(t.deadlines.c.id == deadline_id))).first()
            return _row(row) if row else None

    async def deadlines_by_id(self, deadline_ids: Collection[int]) -> dict[int, DeadlineRow]:
        if not deadline_ids:
            return {}
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.deadlines).where(t.deadlines.c.id.in_(padded_ids(deadline_ids))))
            return {r.id: _row(r) for r in rows}

    async def sync(self, case_id: str, computed: Sequence[Deadline], next_reminders: dict[str, datetime | None],
                   keep_open: bool, superseded: Collection[str] = ()) -> None:
        """Make the case's deadline rows match `computed`, keeping what was done. Steps
        that no longer apply (another pathway) are removed unless done."""
        async with self.scope.write() as conn:
            existing = {r.step_id: r for r in await conn.execute(
                select(t.deadlines).where(t.deadlines.c.case_id == case_id))}
            for position, d in enumerate(computed):
                values = {
                    "label": d.label, "owner": d.owner.value, "anchor": d.anchor.value, "anchor_at": d.anchor_at,
                    "due_at": d.due_at, "earliest_at": d.earliest_at, "is_window": d.is_window,
                    "asks_for_date": d.asks_for_date, "records": d.records.value if d.records else None,
                    "plan": d.reminders.model_dump(mode="json"), "source": d.source, "position": position,
                }
                row = existing.pop(d.step_id, None)
                if row is not None and row.status == "done":
                    await conn.execute(update(t.deadlines).where(t.deadlines.c.id == row.id).values(**values))
                    continue
                status = ("superseded" if d.step_id in superseded else
                          "closed" if not keep_open else "pending" if d.due_at is None else "open")
                # Only an open step has a next reminder: a closed case has none pending.
                values |= {"status": status,
                           "next_reminder_at": next_reminders.get(d.step_id) if status == "open" else None}
                if row is None:
                    await conn.execute(insert(t.deadlines).values(case_id=case_id, step_id=d.step_id, **values))
                else:
                    await conn.execute(update(t.deadlines).where(t.deadlines.c.id == row.id).values(**values))
            stale = [r.id for r in existing.values() if r.status != "done"]
            if stale:
                await conn.execute(delete(t.deadlines).where(t.deadlines.c.id.in_(stale)))

    async def due_for_reminder(self, now: datetime, limit: int) -> list[DeadlineRow]:
        async with self.scope.read() as conn:
            rows = await conn.execute(
                select(t.deadlines)
                .where(t.deadlines.c.status == "open", t.deadlines.c.next_reminder_at <= now)
                .order_by(t.deadlines.c.next_reminder_at)
                .limit(limit)
            )
            return [_row(r) for r in rows]

    async def record_reminder(self, deadline_id: int, key: str, kind: str, scheduled_for: datetime,
                              delayed: bool, now: datetime, next_at: datetime | None,
                              message: OutboxMessage | None, case_id: str) -> bool:
        """One transaction: the reminder row (unique key), its outbox message, and the
        deadline's next reminder time. False when that reminder already existed."""
        async with self.scope.write() as conn:
            created = False
            if message is not None:
                stmt = self.scope.insert(t.reminders).values(
                    key=key, case_id=case_id, deadline_id=deadline_id, kind=kind, scheduled_for=scheduled_for,
                    delayed=delayed, created_at=now)
                result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.reminders.c.key]))
                created = bool(result.rowcount)
                if created:
                    await enqueue_in(conn, [message], now)
            values: dict[str, Any] = {"next_reminder_at": next_at}
            if message is not None:
                values["last_reminder_at"] = scheduled_for
            await conn.execute(update(t.deadlines).where(t.deadlines.c.id == deadline_id).values(**values))
            return created

    async def reminders_sent(self, keys: Sequence[str], at: datetime) -> None:
        """The reminders went (one message can carry several: a digest), in one transaction."""
        async with self.scope.write() as conn:
            await conn.execute(update(t.reminders).where(t.reminders.c.key.in_(list(keys))).values(sent_at=at))

    async def mark_done(self, deadline_id: int, at: datetime, done_on: date, aad: str, name: str) -> bool:
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.deadlines).where(t.deadlines.c.id == deadline_id, t.deadlines.c.status != "done")
                .values(status="done", done_at=at, done_on=done_on, done_by_aad_id=aad, done_by_name=name,
                        next_reminder_at=None)
            )
            return bool(result.rowcount)

    async def reopen(self, deadline_id: int) -> bool:
        """A done step is due again: pending until the next refresh dates it and sets its reminders."""
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.deadlines).where(t.deadlines.c.id == deadline_id, t.deadlines.c.status == "done")
                .values(status="pending", done_at=None, done_on=None, done_by_aad_id=None, done_by_name=None,
                        next_reminder_at=None)
            )
            return bool(result.rowcount)

    # ---- the status overview -------------------------------------------------------------------

    async def status_rows(self, limit: int) -> tuple[list[StatusRow], int]:
        """Open cases, most urgent first, with their next open deadline (`_status_rows`), read away
        from the event loop (Database.read_off_loop): ranking the open cases by their next step
        takes the embedded SQLite several milliseconds with 10,000 cases, during which every other
        request would wait (README, Performance)."""
        if self.scope.conn is not None:
            return await self.scope.conn.run_sync(_status_rows, limit)
        return await self.scope.db.read_off_loop(lambda conn: _status_rows(conn, limit))

    # ---- agencies' information -------------------------------------------------------------------

    async def add_agency_requests(self, case_id: str, requests: Sequence[tuple[str, str | None]],
                                  at: datetime) -> int:
        async with self.scope.write() as conn:
            added = 0
            for agency, contact in requests:
                stmt = self.scope.insert(t.agency_requests).values(case_id=case_id, agency=agency, contact=contact,
                                                                   sent_at=at)
                result = await conn.execute(stmt.on_conflict_do_nothing(
                    index_elements=[t.agency_requests.c.case_id, t.agency_requests.c.agency]))
                added += int(result.rowcount or 0)
            return added

    async def agency_requests(self, case_id: str) -> list[AgencyRequest]:
        async with self.scope.read() as conn:
            rows = await conn.execute(select(t.agency_requests).where(t.agency_requests.c.case_id == case_id)
                                      .order_by(t.agency_requests.c.id))
            return [AgencyRequest(r.id, r.agency, r.contact, aware(r.sent_at), aware_or_none(r.returned_at),
                                  r.returned_by_name) for r in rows]

    async def mark_agency_returned(self, case_id: str, request_id: int, at: datetime, name: str) -> bool:
        async with self.scope.write() as conn:
            result = await conn.execute(
                update(t.agency_requests)
                .where(t.agency_requests.c.id == request_id, t.agency_requests.c.case_id == case_id,
                       t.agency_requests.c.returned_at.is_(None))
                .values(returned_at=at, returned_by_name=name)
            )
            return bool(result.rowcount)

    # ---- what a case gathers after the decision (bot/services/pathways.py) ---------------------

    async def case_records(self, case_id: str, kind: str) -> dict[str, dict[str, Any]]:
        """{key: data} of one kind of record of the case, opened (they are sealed at rest)."""
        async with self.scope.read() as conn:
            rows = (await conn.execute(select(t.case_records.c.key, t.case_records.c.data)
                                       .where(t.case_records.c.case_id == case_id, t.case_records.c.kind == kind)
                                       .order_by(t.case_records.c.key))).all()
            keyring = self.scope.db.keyring
            return {r.key: await keyring.open_json(conn, case_id, RECORDS_FIELD, r.data) for r in rows}

    async def case_records_of_kind(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        async with self.scope.read() as conn:
            rows = (await conn.execute(
                select(t.case_records.c.case_id, t.case_records.c.key, t.case_records.c.data)
                .join(t.cases, t.cases.c.id == t.case_records.c.case_id)
                .where(t.case_records.c.kind == kind, t.cases.c.erased_at.is_(None))  # an erased case has no key
                .order_by(t.case_records.c.case_id, t.case_records.c.key))).all()
            keyring = self.scope.db.keyring
            return [(r.case_id, r.key, await keyring.open_json(conn, r.case_id, RECORDS_FIELD, r.data)) for r in rows]

    async def put_case_record(self, case_id: str, kind: str, key: str, data: dict[str, Any], at: datetime) -> None:
        async with self.scope.write() as conn:
            sealed = (await self.scope.db.keyring.sealer(conn, case_id)).json(RECORDS_FIELD, data)
            values = {"data": sealed, "updated_at": at}
            stmt = self.scope.insert(t.case_records).values(case_id=case_id, kind=kind, key=key, **values)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=[t.case_records.c.case_id, t.case_records.c.kind, t.case_records.c.key], set_=values))


def _status_rows(conn: Connection, limit: int) -> tuple[list[StatusRow], int]:
    """Open cases, most urgent first, with their next open deadline. Never loads every case.

    A case's next deadline is its earliest open statutory step (the National Panel
    notification, the 15-day report: shown before any local step of the same case, whatever
    their dates; bot/domain/timeline.py), else its earliest open step. The cases are ranked
    by that date in SQL from the open steps' partial index (ix_deadlines_open_due), aggregated
    per case; then the steps of the cases shown are read to name them. Counting the open
    cases reads only their partial index (ix_cases_open). (Ranking every open step with a
    window function and reading each case row to its `closed_at`, past the referral JSON,
    took 10-25 ms with 10,000 cases; tests/bench/bench.py, README, Performance.)"""
    d, c = t.deadlines.c, t.cases.c
    statutory = d.records.in_(sorted(STATUTORY_RECORDS))
    # Written as a literal, not a bound parameter: SQLite uses a partial index only when the query's
    # condition implies the index's, which it cannot know of a parameter's value.
    open_step = (d.status == literal_column("'open'")) & d.due_at.is_not(None)
    open_case = c.closed_at.is_(None) & c.erased_at.is_(None)  # an erased case is gone
    next_due = (select(d.case_id, func.coalesce(func.min(case((statutory, d.due_at))), func.min(d.due_at))
                       .label("due_at"))
                .where(open_step).group_by(d.case_id).subquery())
    total = int(conn.execute(select(func.count()).select_from(t.cases).where(open_case)).scalar_one())
    shown = conn.execute(
        select(c.id, c.reference, c.pseudonym, c.status)
        .select_from(next_due.join(t.cases, c.id == next_due.c.case_id))
        .where(open_case).order_by(next_due.c.due_at, c.reference).limit(limit)).all()
    steps: dict[str, tuple[bool, datetime, int, str]] = {}
    if shown:
        for r in conn.execute(select(d.case_id, d.due_at, d.label, d.position, statutory.label("statutory"))
                              .where(open_step, d.case_id.in_([s.id for s in shown]))):
            step = (not r.statutory, r.due_at, r.position, r.label)
            if r.case_id not in steps or step < steps[r.case_id]:
                steps[r.case_id] = step
    result = []
    for s in shown:
        local, due, _, label = steps[s.id]
        result.append(StatusRow(s.reference, s.pseudonym, s.status, aware(due), label, not local))
    if len(result) < limit:  # open cases without an open dated step come last
        rest = conn.execute(
            select(c.reference, c.pseudonym, c.status)
            .where(open_case, c.id.not_in(select(d.case_id).where(open_step)))
            .order_by(c.reference)
            .limit(limit - len(result))
        )
        result += [StatusRow(r.reference, r.pseudonym, r.status, None, None) for r in rest]
    return result, total
