"""Everything the database holds about one case, table by table.

Found by construction rather than listed by hand: every table with a `case_id` column (and
the case row itself), so a table added later is in the export without anyone remembering
to add it. Values become plain JSON (instants as ISO 8601 in UTC); sealed identifiers are
opened (bot/adapters/envelope.py), and those of a case whose key was destroyed read "(erased)".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.case_keys import CaseKeyring, KeyDestroyed
from bot.adapters.db.scope import Scope
from bot.adapters.envelope import is_sealed, sealed_json_token

# Not the case's content: the one-time links to the export itself (their hashes are secrets), and
# the erasure register (an erased case is not exported; its reasons are sealed under the register's key).
NOT_EXPORTED = frozenset({t.file_links.name, t.erasures.name})


def case_tables() -> list[Table]:
    return [table for table in t.metadata.sorted_tables
            if "case_id" in table.c and table.name not in NOT_EXPORTED]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


ERASED = "(erased)"


async def _opened(conn: AsyncConnection, keys: CaseKeyring, case_id: str, field: str, value: Any) -> Any:
    try:
        if sealed_json_token(value) is not None:
            return await keys.open_json(conn, case_id, field, value)
        if is_sealed(value):
            return await keys.open_text(conn, case_id, field, value)
    except KeyDestroyed:
        return ERASED
    return value


class SqlCaseRecords:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def rows_of(self, case_id: str) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        keys = self.scope.db.keyring
        async with self.scope.read() as conn:
            case = (await conn.execute(select(t.cases).where(t.cases.c.id == case_id))).mappings().all()
            found[t.cases.name] = [{k: _plain(await _opened(conn, keys, case_id, f"cases.{k}", v))
                                    for k, v in row.items()} for row in case]
            for table in case_tables():
                order = table.c.id if "id" in table.c else table.c.case_id
                rows = (await conn.execute(select(table).where(table.c.case_id == case_id).order_by(order))).mappings()
                found[table.name] = [{k: _plain(await _opened(conn, keys, case_id, f"{table.name}.{k}", v))
                                      for k, v in row.items()} for row in rows.all()]
            # Each message the bot sent about the case, with the Teams activity id Teams gave it.
            outbox_ids = [row["id"] for row in found.get(t.outbox.name, [])]
            sends = (await conn.execute(select(t.outbox_sends).where(t.outbox_sends.c.outbox_id.in_(outbox_ids))
                                        .order_by(t.outbox_sends.c.id))).mappings().all()
            found[t.outbox_sends.name] = [{k: _plain(v) for k, v in row.items()} for row in sends]
        return found
