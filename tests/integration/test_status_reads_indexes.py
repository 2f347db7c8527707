"""`status` on the embedded SQLite reads the open cases and their open steps from partial
indexes alone (bot/adapters/db/deadline_store.py, migration 0019_t17perf): its statements run on
the event loop, and reading the case rows themselves (each past its referral JSON) held the loop
for ~25 ms with 10,000 cases. SQLite's planner uses a partial index only when it covers the query
and the condition is a literal, so a small change to the statements can silently lose it."""

from __future__ import annotations

import sqlite3

from sqlalchemy import event

from bot.adapters.db.database import Database
from bot.app import sql_stores


async def test_status_counts_and_ranks_from_the_partial_indexes(tmp_path) -> None:
    path = tmp_path / "rr.db"
    db = Database(f"sqlite:///{path}")
    await db.migrate()
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001 - SQLAlchemy's
        statements.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await sql_stores(db).deadlines.status_rows(25)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
        await db.dispose()
    plans = []
    with sqlite3.connect(path) as conn:
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("SELECT"):
                plan = conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
                plans.append(" | ".join(row[-1] for row in plan))
    count, ranking = plans[0], plans[1]
    assert "COVERING INDEX ix_cases_open" in count
    assert "COVERING INDEX ix_deadlines_open_due" in ranking
    assert "SCAN cases" not in ranking  # the cases are looked up by id, for the ones ranked
