"""One unit of work: every store bound to one database transaction.

`async with uow.begin() as tx:` gives the use case `tx.cases`, `tx.roster`, `tx.outbox`,
`tx.deadlines`, `tx.meetings`, `tx.panel`, `tx.reports` and `tx.reviews` on one connection: all of it commits when
the block ends, none of it when anything raises (a crash, a refusal, a lock timeout).
On SQLite the transaction is BEGIN IMMEDIATE, taken in turn with the process's other
writers; on PostgreSQL the rows it updates stay locked until it ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.adapters.db.case_store import SqlCaseStore
from bot.adapters.db.deadline_store import SqlDeadlineStore
from bot.adapters.db.meeting_store import SqlMeetingStore
from bot.adapters.db.outbox_store import SqlOutboxStore
from bot.adapters.db.panel_store import SqlPanelTransaction
from bot.adapters.db.report_store import SqlReportStore
from bot.adapters.db.review_store import SqlReviewStore
from bot.adapters.db.roster_store import SqlRosterStore
from bot.adapters.db.scope import Scope


@dataclass(frozen=True)
class SqlTransaction:
    cases: SqlCaseStore
    roster: SqlRosterStore
    outbox: SqlOutboxStore
    deadlines: SqlDeadlineStore
    meetings: SqlMeetingStore
    panel: SqlPanelTransaction
    reports: SqlReportStore
    reviews: SqlReviewStore


class SqlUnitOfWork:
    def __init__(self, scope: Scope, cases: SqlCaseStore, roster: SqlRosterStore) -> None:
        self._scope = scope
        self._cases = cases
        self._roster = roster

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[SqlTransaction]:
        async with self._scope.db.write() as conn:
            bound = self._scope.bound(conn)
            yield SqlTransaction(
                cases=self._cases.bound(bound),
                roster=self._roster.bound(bound),
                outbox=SqlOutboxStore(bound),
                deadlines=SqlDeadlineStore(bound),
                meetings=SqlMeetingStore(bound),
                panel=SqlPanelTransaction(conn, bound.db.keyring),
                reports=SqlReportStore(bound),
                reviews=SqlReviewStore(bound),
            )
