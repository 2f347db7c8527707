"""Form and dialog state is versioned: of two writers that read the same state, exactly one
saves and the other is told (`StateConflict`), never both "saved" with one value lost.

Each "process" here is its own `Database` stack on the same database, as two `python -m
bot` processes would be (tests/integration/test_two_windows.py drives two real ones); the
writes start at the same moment on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.adapters.clock import FixedClock
from bot.adapters.db.database import Database
from bot.app import sql_stores
from bot.teams.storage import SqlStorage, StateConflict

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
KEY = "msteams/conversations/a:personal-riley/"
ROUNDS = 8


@pytest.fixture
async def two_processes(database_url):
    first = Database(database_url)
    await first.migrate()
    second = Database(database_url)
    yield [SqlStorage(sql_stores(db).turns, FixedClock(NOW)) for db in (first, second)]
    await first.dispose()
    await second.dispose()


async def _write(storage: SqlStorage, item: dict) -> str:
    try:
        await storage.write({KEY: item})
    except StateConflict:
        return "conflict"
    return "saved"


async def test_two_processes_saving_what_they_both_read_one_saves_the_other_is_told(two_processes):
    a, b = two_processes
    await a.write({KEY: {"answer": "start"}})
    for round_ in range(ROUNDS):
        read_a, read_b = (await a.read([KEY]))[KEY], (await b.read([KEY]))[KEY]
        read_a["answer"], read_b["answer"] = f"a{round_}", f"b{round_}"
        outcomes = await asyncio.gather(_write(a, read_a), _write(b, read_b))
        assert sorted(outcomes) == ["conflict", "saved"], outcomes
        stored = (await a.read([KEY]))[KEY]
        winner = read_a if outcomes[0] == "saved" else read_b
        assert stored["answer"] == winner["answer"]
        assert stored["e_tag"] == winner["e_tag"]


async def test_two_processes_starting_the_same_conversation_one_saves_the_other_is_told(two_processes):
    """Nothing stored yet, so neither has an etag: the second to write must not overwrite the first."""
    a, b = two_processes
    for round_ in range(ROUNDS):
        key = f"{KEY}{round_}"
        assert await a.read([key]) == {} and await b.read([key]) == {}

        async def create(storage: SqlStorage, answer: str, key: str = key) -> str:
            try:
                await storage.write({key: {"answer": answer}})
            except StateConflict:
                return "conflict"
            return "saved"

        outcomes = await asyncio.gather(create(a, "a"), create(b, "b"))
        assert sorted(outcomes) == ["conflict", "saved"], outcomes
        assert (await a.read([key]))[key]["answer"] == ("a" if outcomes[0] == "saved" else "b")


async def test_a_write_of_state_never_read_does_not_replace_a_stored_one(two_processes):
    a, b = two_processes
    await a.write({KEY: {"answer": "kept"}})
    with pytest.raises(StateConflict):
        await b.write({KEY: {"answer": "blind"}})
    with pytest.raises(StateConflict):
        await b.write({KEY: {"answer": "blind", "e_tag": "*"}})
    assert (await a.read([KEY]))[KEY]["answer"] == "kept"
