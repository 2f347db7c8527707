"""Sealing what was stored before encryption at rest: `python -m bot admin keys seal`.

The stores seal every identifying value they write (bot/adapters/db/case_keys.py); values a
database held before that stay readable as they were until this command seals them in
place. One case (or one stored dialog state) per transaction, and a sealed value is never
sealed twice, so the command can be stopped and run again at any time. Afterwards SQLite is
vacuumed (`vacuum_sqlite`: secure_delete zeroes the freed pages) and its log truncated; on
PostgreSQL the old row versions stay in the table files until `VACUUM FULL` (docs/data-protection.md).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.case_keys import CaseKeyring, Sealer
from bot.adapters.db.database import normalise_url
from bot.adapters.db.turn_store import RESPONSE_FIELD, RESPONSES_OWNER, STATE_FIELD, state_owner
from bot.adapters.envelope import is_sealed, sealed_json_token


@dataclass(frozen=True)
class SealedColumn:
    """A column that holds a case's identifiers; `key` names the row, `case` the case id."""

    column: Column[Any]
    key: Column[Any]
    case: Column[Any]
    json: bool

    @property
    def field(self) -> str:
        table = self.column.table
        assert isinstance(table, Table)
        return f"{table.name}.{self.column.name}"


# Every column a store seals under the case's key (the field names the stores use).
CASE_COLUMNS = (
    SealedColumn(t.cases.c.referral, t.cases.c.id, t.cases.c.id, json=True),
    SealedColumn(t.cases.c.decision, t.cases.c.id, t.cases.c.id, json=True),
    SealedColumn(t.votes.c.rationale, t.votes.c.id, t.votes.c.case_id, json=False),
    SealedColumn(t.votes.c.serious_harm_basis, t.votes.c.id, t.votes.c.case_id, json=False),
    SealedColumn(t.votes.c.question, t.votes.c.id, t.votes.c.case_id, json=False),
    SealedColumn(t.queries.c.question, t.queries.c.id, t.queries.c.case_id, json=False),
    SealedColumn(t.queries.c.answer, t.queries.c.id, t.queries.c.case_id, json=False),
    SealedColumn(t.meetings.c.outcome, t.meetings.c.case_id, t.meetings.c.case_id, json=True),
    SealedColumn(t.reports.c.body, t.reports.c.case_id, t.reports.c.case_id, json=True),
    SealedColumn(t.reviews.c.setup, t.reviews.c.case_id, t.reviews.c.case_id, json=True),
    SealedColumn(t.reviews.c.learning, t.reviews.c.case_id, t.reviews.c.case_id, json=False),
    SealedColumn(t.reviews.c.late_reason, t.reviews.c.case_id, t.reviews.c.case_id, json=False),
    SealedColumn(t.review_entries.c.note, t.review_entries.c.id, t.review_entries.c.case_id, json=False),
    SealedColumn(t.case_actions.c.description, t.case_actions.c.id, t.case_actions.c.case_id, json=False),
    SealedColumn(t.case_actions.c.evidence, t.case_actions.c.id, t.case_actions.c.case_id, json=False),
)


def _plain(value: Any, json: bool) -> bool:
    if value is None:
        return False
    return sealed_json_token(value) is None if json else not is_sealed(value)


async def _seal_case(conn: AsyncConnection, keys: CaseKeyring, case_id: str) -> Counter[str]:
    sealed: Counter[str] = Counter()
    sealer: Sealer | None = None
    for col in CASE_COLUMNS:
        rows = (await conn.execute(select(col.key, col.column).where(col.case == case_id))).all()
        for key, value in rows:
            if not _plain(value, col.json):
                continue
            sealer = sealer or await keys.sealer(conn, case_id)
            new = sealer.json(col.field, value) if col.json else sealer.text(col.field, value)
            await conn.execute(update(col.column.table).where(col.key == key).values({col.column.name: new}))
            sealed[col.field] += 1
    return sealed


async def seal_existing(db: Any) -> Counter[str]:
    """Seal every identifying value still stored in plain text; returns how many per field."""
    keys: CaseKeyring = db.keyring
    sealed: Counter[str] = Counter()
    async with db.read() as conn:
        case_ids = list((await conn.execute(select(t.cases.c.id).where(t.cases.c.erased_at.is_(None))  # erased: no key
                                            .order_by(t.cases.c.id))).scalars())
        states = list((await conn.execute(select(t.bot_state.c.key).where(
            t.bot_state.c.key.like("%/conversations/%")))).scalars())
    for case_id in case_ids:
        async with db.write() as conn:
            sealed += await _seal_case(conn, keys, case_id)
    for key in states:
        async with db.write() as conn:
            data = (await conn.execute(select(t.bot_state.c.data).where(t.bot_state.c.key == key))).scalar_one_or_none()
            if _plain(data, json=True):
                new = (await keys.sealer(conn, state_owner(key))).json(STATE_FIELD, data)
                await conn.execute(update(t.bot_state).where(t.bot_state.c.key == key).values(data=new))
                sealed[STATE_FIELD] += 1
    async with db.write() as conn:
        rows = (await conn.execute(select(t.processed_activities.c.key, t.processed_activities.c.response)
                                   .where(t.processed_activities.c.response.is_not(None)))).all()
        plain = [(key, response) for key, response in rows if _plain(response, json=True)]
        if plain:
            sealer = await keys.sealer(conn, RESPONSES_OWNER)
            for key, response in plain:
                await conn.execute(update(t.processed_activities).where(t.processed_activities.c.key == key)
                                   .values(response=sealer.json(RESPONSE_FIELD, response)))
            sealed[RESPONSE_FIELD] += len(plain)
    return sealed


def vacuum_sqlite(url: str) -> None:
    """Rewrite a SQLite database without its free pages (zeroed: secure_delete) and empty its
    write-ahead log, so plain text sealed a moment ago is not left behind. Run with the bot's
    own connections closed."""
    path = make_url(normalise_url(url)).database
    if not path or path == ":memory:":
        return
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
