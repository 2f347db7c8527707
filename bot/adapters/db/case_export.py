"""Everything the database holds about one case, table by table.

Found by construction rather than listed by hand: every table with a `case_id` column (and
the case row itself), so a table added later is in the export without anyone remembering
to add it. Values become plain JSON (instants as ISO 8601 in UTC).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select

from bot.adapters.db import schema as t
from bot.adapters.db.scope import Scope

# Not the case's content: the one-time links to the export itself (their hashes are secrets).
NOT_EXPORTED = frozenset({t.file_links.name})


def case_tables() -> list[Table]:
    return [table for table in t.metadata.sorted_tables
            if "case_id" in table.c and table.name not in NOT_EXPORTED]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class SqlCaseRecords:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def rows_of(self, case_id: str) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        async with self.scope.read() as conn:
            case = (await conn.execute(select(t.cases).where(t.cases.c.id == case_id))).mappings().all()
            found[t.cases.name] = [{k: _plain(v) for k, v in row.items()} for row in case]
            for table in case_tables():
                order = table.c.id if "id" in table.c else table.c.case_id
                rows = (await conn.execute(select(table).where(table.c.case_id == case_id).order_by(order))).mappings()
                found[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
            # Each message the bot sent about the case, with the Teams activity id Teams gave it.
            outbox_ids = [row["id"] for row in found.get(t.outbox.name, [])]
            sends = (await conn.execute(select(t.outbox_sends).where(t.outbox_sends.c.outbox_id.in_(outbox_ids))
                                        .order_by(t.outbox_sends.c.id))).mappings().all()
            found[t.outbox_sends.name] = [{k: _plain(v) for k, v in row.items()} for row in sends]
        return found
