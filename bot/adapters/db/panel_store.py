"""Persistence of the virtual panel: votes, queries and the decision.

Every change runs in one `PanelTransaction`, which starts by taking the case row:
an `UPDATE … SET version = version + 1` on the case. On PostgreSQL that row lock
makes concurrent votes on the same case (from any number of bot processes) queue up,
so each sees the votes committed before it and exactly one of them records the
decision; on SQLite the whole write transaction is already serialised (BEGIN
IMMEDIATE). Nothing here decides anything: bot/services/panel.py does, inside the
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.case_keys import CaseKeyring
from bot.adapters.db.scope import Scope, aware
from bot.domain.case import CaseStatus
from bot.domain.partnership import Partner
from bot.domain.votes import Decision, Vote, VoteChoice
from bot.services.ports import LockedCase, PanelState, QueryRecord

# Built once: a vote runs each of these (the performance work's profile).
_LOCK_CASE = (
    update(t.cases)
    .where(t.cases.c.reference == bindparam("b_ref"), t.cases.c.erased_at.is_(None))  # erased: no case left
    .values(version=t.cases.c.version + 1, updated_at=bindparam("b_now"))
    .returning(t.cases.c.id, t.cases.c.status, t.cases.c.vote_round, t.cases.c.version,
               t.cases.c.referrer_aad_id, t.cases.c.panel_activity_id)
)
_ROUND_VOTES = select(t.votes).where(t.votes.c.case_id == bindparam("b_case"), t.votes.c.round == bindparam("b_round"))
_INSERT_VOTE = insert(t.votes)
_REPLACE_VOTE = update(t.votes).where(
    t.votes.c.case_id == bindparam("b_case"), t.votes.c.round == bindparam("b_round"),
    t.votes.c.partner == bindparam("b_partner"),
)
_OPEN_QUERIES = select(t.queries).where(t.queries.c.case_id == bindparam("b_case"), t.queries.c.status == "open")
_CASE_PANEL = select(t.cases.c.vote_round, t.cases.c.decision, t.cases.c.version).where(
    t.cases.c.id == bindparam("b_case")
)
DECISION_FIELD = "cases.decision"  # it holds the deciding votes' rationales: sealed
_CASE_QUERIES = select(t.queries).where(t.queries.c.case_id == bindparam("b_case")).order_by(t.queries.c.id)


async def _vote(conn: AsyncConnection, keys: CaseKeyring, row: Any) -> Vote:
    return Vote(
        partner=Partner(row.partner),
        choice=VoteChoice(row.choice),
        rationale=await keys.open_text(conn, row.case_id, "votes.rationale", row.rationale),
        serious_harm_basis=await keys.open_text(conn, row.case_id, "votes.serious_harm_basis", row.serious_harm_basis),
        question=await keys.open_text(conn, row.case_id, "votes.question", row.question),
        voter_aad_id=row.voter_aad_id,
        voter_name=row.voter_name,
        organisation=row.organisation,
        cast_at=aware(row.cast_at),
    )


async def _votes(conn: AsyncConnection, keys: CaseKeyring, rows: Any) -> dict[Partner, Vote]:
    return {Partner(r.partner): await _vote(conn, keys, r) for r in rows}


async def _query(conn: AsyncConnection, keys: CaseKeyring, row: Any) -> QueryRecord:
    return QueryRecord(
        id=row.id,
        case_id=row.case_id,
        round=row.round,
        partner=Partner(row.partner),
        asked_by_aad_id=row.asked_by_aad_id,
        asked_by_name=row.asked_by_name,
        question=await keys.open_text(conn, row.case_id, "queries.question", row.question) or "",
        status=row.status,
        asked_at=aware(row.asked_at),
        answer=await keys.open_text(conn, row.case_id, "queries.answer", row.answer),
    )


async def _decision(conn: AsyncConnection, keys: CaseKeyring, case_id: str, stored: Any) -> Decision | None:
    data = await keys.open_json(conn, case_id, DECISION_FIELD, stored) if stored else None
    return Decision.model_validate(data) if data else None


@dataclass
class SqlPanelTransaction:
    """The panel's tables inside a unit of work (bot/adapters/db/unit_of_work.py)."""

    conn: AsyncConnection
    keys: CaseKeyring

    async def lock_case(self, reference: str, now: datetime) -> LockedCase | None:
        row = (await self.conn.execute(_LOCK_CASE, {"b_ref": reference, "b_now": now})).first()
        if row is None:
            return None
        return LockedCase(row.id, reference, CaseStatus(row.status), row.vote_round, row.version,
                          row.referrer_aad_id, row.panel_activity_id)

    async def votes(self, case_id: str, round_: int) -> dict[Partner, Vote]:
        rows = await self.conn.execute(_ROUND_VOTES, {"b_case": case_id, "b_round": round_})
        return await _votes(self.conn, self.keys, rows)

    async def panel_state(self, case_id: str) -> PanelState:
        """What the voting card shows, read back inside this transaction (its own writes
        included): a vote answers from it without a read transaction of its own."""
        return await _panel_state(self.conn, self.keys, case_id)

    async def queries(self, case_id: str) -> list[QueryRecord]:
        """Every query of the case, in the order asked, as this transaction leaves them."""
        rows = await self.conn.execute(_CASE_QUERIES, {"b_case": case_id})
        return [await _query(self.conn, self.keys, q) for q in rows]

    async def save_vote(self, case_id: str, round_: int, vote: Vote, replace: bool) -> None:
        seal = await self.keys.sealer(self.conn, case_id)
        values = {
            "choice": vote.choice.value,
            "rationale": seal.text("votes.rationale", vote.rationale),
            "serious_harm_basis": seal.text("votes.serious_harm_basis", vote.serious_harm_basis),
            "question": seal.text("votes.question", vote.question),
            "voter_aad_id": vote.voter_aad_id,
            "voter_name": vote.voter_name,
            "organisation": vote.organisation,
            "cast_at": vote.cast_at,
        }
        if replace:
            await self.conn.execute(_REPLACE_VOTE, {"b_case": case_id, "b_round": round_,
                                                    "b_partner": vote.partner.value, **values})
        else:
            await self.conn.execute(_INSERT_VOTE, {"case_id": case_id, "round": round_,
                                                   "partner": vote.partner.value, **values})

    async def open_queries(self, case_id: str) -> list[QueryRecord]:
        rows = await self.conn.execute(_OPEN_QUERIES, {"b_case": case_id})
        return [await _query(self.conn, self.keys, r) for r in rows]

    async def query(self, query_id: int) -> QueryRecord | None:
        row = (await self.conn.execute(select(t.queries).where(t.queries.c.id == query_id))).first()
        return await _query(self.conn, self.keys, row) if row else None

    async def add_query(self, case_id: str, round_: int, vote: Vote, now: datetime) -> int:
        seal = await self.keys.sealer(self.conn, case_id)
        result = await self.conn.execute(
            insert(t.queries)
            .values(case_id=case_id, round=round_, partner=vote.partner.value, asked_by_aad_id=vote.voter_aad_id,
                    asked_by_name=vote.voter_name, question=seal.text("queries.question", vote.question or ""), status="open", asked_at=now)
            .returning(t.queries.c.id)
        )
        return int(result.scalar_one())

    async def close_query(self, query_id: int, status: str, now: datetime, answer: str | None = None) -> None:
        if answer is not None:
            case_id = (await self.conn.execute(select(t.queries.c.case_id)
                                               .where(t.queries.c.id == query_id))).scalar_one()
            answer = (await self.keys.sealer(self.conn, case_id)).text("queries.answer", answer)
        await self.conn.execute(
            update(t.queries).where(t.queries.c.id == query_id)
            .values(status=status, answer=answer, answered_at=now)
        )

    async def new_round(self, case_id: str) -> int:
        result = await self.conn.execute(
            update(t.cases).where(t.cases.c.id == case_id)
            .values(vote_round=t.cases.c.vote_round + 1).returning(t.cases.c.vote_round)
        )
        return int(result.scalar_one())

    async def record_decision(self, case_id: str, decision: Decision) -> None:
        """The decision's record; the status moves through the case store's `move`."""
        seal = await self.keys.sealer(self.conn, case_id)
        await self.conn.execute(
            update(t.cases).where(t.cases.c.id == case_id, t.cases.c.status == CaseStatus.REFERRED.value)
            .values(decided_at=decision.decided_at, decision=seal.json(DECISION_FIELD, decision.model_dump(mode="json")))
        )


class SqlPanelStore:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def panel_state(self, case_id: str) -> PanelState:
        """What the voting card shows: the round, its votes, the decision and the queries,
        with the case's version, all from one snapshot."""
        async with self.scope.read() as conn:
            return await _panel_state(conn, self.scope.db.keyring, case_id)


async def _panel_state(conn: AsyncConnection, keys: CaseKeyring, case_id: str) -> PanelState:
    row = (await conn.execute(_CASE_PANEL, {"b_case": case_id})).first()
    if row is None:
        return PanelState(1, {}, None, [], 0)
    votes = await conn.execute(_ROUND_VOTES, {"b_case": case_id, "b_round": row.vote_round})
    queries = await conn.execute(_CASE_QUERIES, {"b_case": case_id})
    decision = await _decision(conn, keys, case_id, row.decision)
    return PanelState(row.vote_round, await _votes(conn, keys, votes), decision,
                      [await _query(conn, keys, q) for q in queries], row.version)
