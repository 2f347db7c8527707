"""The same referral form card submitted from two windows at once, each answered by its own
real `python -m bot` process on one database: exactly one answer says "saved"; the other is
told who changed what and when, sees the form as it is now, and gets back what it typed —
neither value is lost without the person knowing.

Which of the two wins, and whether the loser's turn read the state before or after the
winner saved it, is up to the race; every round checks the outcome either way. On SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from bot.adapters.db.database import Database
from tests.support import activities as A
from tests.support.bot_process import BotProcess
from tests.support.fake_connector import FakeConnector
from tests.support.harness import VALID, find_action, texts

ROUNDS = 4
WHERE = "Where it happened (confidential)"


@pytest.fixture
async def two_processes(tmp_path: Path, database_url: str):
    db = Database(database_url)
    await db.migrate()
    async with FakeConnector() as connector:
        connector.add_user(A.RILEY.mri, A.RILEY.name, aad_object_id=A.RILEY.aad, email="riley@example.org")
        processes = [BotProcess(tmp_path, name, database_url) for name in ("first", "second")]
        try:
            await asyncio.gather(*(p.ready() for p in processes))
            yield connector, processes, db
        finally:
            for process in processes:
                process.stop()
            await db.dispose()


async def press(process: BotProcess, http: aiohttp.ClientSession, connector: FakeConnector, verb: str,
                data: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = await process.post(http, A.invoke(connector.url, A.RILEY, verb, data))
    assert status == 200, (status, body, process.tail())
    assert body["statusCode"] == 200, body
    return body["value"]


async def stored_incident(db: Database) -> dict[str, str]:
    """The draft's incident answers as the database holds them (plain SQL, no bot code)."""
    async with db.read() as conn:
        rows = list(await conn.execute(text("SELECT data FROM bot_state WHERE key LIKE '%conversations%'")))
    assert len(rows) == 1, rows
    data = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
    return data["DialogState"]["$dialog_state"][0]["$dialog_instance"]["state"]["raw"]["incident"]


async def test_one_card_saved_from_two_windows_at_once_saves_one_and_tells_the_other(two_processes):
    connector, (first, second), database = two_processes
    async with aiohttp.ClientSession() as http:
        card = await press(first, http, connector, "chat.refer", {"verb": "chat.refer", "action": "chat.refer"})
        for section in ("referrer", "pathway"):
            card = await press(first, http, connector, "form.next", {**find_action(card, "form.next"),
                                                                      **VALID[section]})
        assert "The incident" in texts(card)

        outcomes: dict[str, int] = {"saved then told": 0}
        for round_ in range(ROUNDS):
            save = find_action(card, "form.save")
            mine = {**save, **VALID["incident"], "incident_location": f"Park, round {round_}"}
            theirs = {**save, **VALID["incident"], "incident_location": f"School, round {round_}"}
            answers = await asyncio.gather(press(first, http, connector, "form.save", mine),
                                           press(second, http, connector, "form.save", theirs))

            saved = [i for i, a in enumerate(answers) if "Referral saved" in texts(a)]
            assert len(saved) == 1, [texts(a)[:200] for a in answers]
            winner, loser = saved[0], 1 - saved[0]
            won_with, lost_with = (mine, theirs) if winner == 0 else (theirs, mine)
            told = texts(answers[loser])
            # told who changed what, and when
            assert "Riley Referrer changed" in told and f"'{WHERE}'" in told, told
            assert "your answer was not saved — here is the form as it is now" in told, told
            # the form as it is now: the winner's value in the field; the loser's value shown back
            field = next(e for e in _inputs(answers[loser]) if e["id"] == "incident_location")
            assert field.get("value") == won_with["incident_location"]
            assert "What you typed (not saved)" in told and lost_with["incident_location"] in told
            # the database holds the winner's value, and the loser's never overwrote it
            assert (await stored_incident(database))["incident_location"] == won_with["incident_location"]
            outcomes["saved then told"] += 1

            # The loser's card is live: pressing it saves (its version is the stored one).
            card = await press(first, http, connector, "form.resume", {"verb": "form.resume",
                                                                        "action": "form.resume"})
        assert outcomes["saved then told"] == ROUNDS


def _inputs(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if str(value.get("type", "")).startswith("Input.") and "id" in value:
                found.append(value)
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(card)
    return found
