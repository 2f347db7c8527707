"""`status` on the embedded SQLite reads the open cases and their open steps from partial
indexes alone (bot/adapters/db/deadline_store.py, migration 0019_t17perf): its statements run on
the event loop, and reading the case rows themselves (each past its referral JSON) held the loop
for ~25 ms with 10,000 cases. SQLite's planner uses a partial index only when it covers the query
and the condition is a literal, so a small change to the statements can silently lose it."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import Engine, event

from bot.adapters.clock import FixedClock
from bot.adapters.db.database import Database
from bot.adapters.meetings import OfflineMeetingProvider
from bot.app import build_services, sql_stores
from bot.services.channels import seed_members_from_config
from bot.settings import load_partnership
from scheduler.profiles import load_profile
from tests.support.fakes import DEFAULT_NOW, EXAMPLE_PARTNERSHIP, RecordingNotifier
from tests.unit.services.flow import decided, submit


async def test_status_counts_and_ranks_from_the_partial_indexes(tmp_path) -> None:
    path = tmp_path / "rr.db"
    db = Database(f"sqlite:///{path}")
    await db.migrate()
    statements: list[tuple[str, object]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001 - SQLAlchemy's
        statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", seen)  # whichever engine runs them (off the loop, below)
    try:
        await sql_stores(db).deadlines.status_rows(25)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
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


async def test_status_reads_away_from_the_event_loop_and_answers_as_on_it(tmp_path) -> None:
    """Ranking the open cases takes the embedded SQLite milliseconds, so its statements run in a
    worker thread (Database.read_off_loop): while they run, the loop answers other requests. The
    rows are the same as those read on the loop, in one unit of work."""
    db = Database(f"sqlite:///{tmp_path / 'rr.db'}")
    await db.migrate()
    stores = sql_stores(db)
    ctx = build_services(stores, load_partnership(EXAMPLE_PARTNERSHIP), FixedClock(DEFAULT_NOW), RecordingNotifier(),
                         profile=load_profile("stockport"), meetings=OfflineMeetingProvider())
    await seed_members_from_config(ctx)
    for n in range(3):
        await decided(ctx, draft=f"draft-{n}")
    await submit(ctx, draft="draft-3")  # and one the panel has not decided yet
    threads: set[int] = set()

    def seen(*_args: object) -> None:
        threads.add(threading.get_ident())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        rows, total = await stores.deadlines.status_rows(25)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert threads and threading.get_ident() not in threads
    async with db.write() as conn:  # the same query on the loop's own connection
        on_loop = await stores.deadlines.bound(stores.deadlines.scope.bound(conn)).status_rows(25)
    assert (rows, total) == on_loop
    assert total == 4 and [r.next_due_at is None for r in rows] == [False, False, False, True]  # undated last
    await db.dispose()
