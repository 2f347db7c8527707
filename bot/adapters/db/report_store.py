"""Persistence of the rapid review report (one per case). The whole report is sealed under
the case's key (`reports.body`): comments and the texts of the National Panel's copy are
written about the child's case. The case's status moves go through the case store's `move`
(bot/domain/lifecycle.py), never through here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope
from bot.domain.report import Report

BODY_FIELD = "reports.body"


class SqlReportStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def bound(self, scope: Scope) -> SqlReportStore:
        return SqlReportStore(scope)

    async def get(self, case_id: str) -> tuple[Report, int] | None:
        async with self.scope.read() as conn:
            row = (await conn.execute(select(t.reports).where(t.reports.c.case_id == case_id))).first()
            if row is None:
                return None
            body = await self.scope.db.keyring.open_json(conn, case_id, BODY_FIELD, row.body)
            return Report.model_validate(body), row.version

    async def save(self, case_id: str, report: Report, at: datetime, expected_version: int | None) -> bool:
        """Insert (expected_version None) or update the version read; False when the row was
        there already, or changed since it was read."""
        async with self.scope.write() as conn:
            body = (await self.scope.db.keyring.sealer(conn, case_id)).json(BODY_FIELD,
                                                                             report.model_dump(mode="json"))
            values = {"stage": report.stage.value, "round": report.round, "body": body, "updated_at": at}
            if expected_version is None:
                stmt = self.scope.insert(t.reports).values(case_id=case_id, version=1, **values)
                result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=[t.reports.c.case_id]))
                return bool(result.rowcount)
            result = await conn.execute(
                update(t.reports).where(t.reports.c.case_id == case_id, t.reports.c.version == expected_version)
                .values(version=expected_version + 1, **values))
            return bool(result.rowcount)
