"""The backup drill under load (docs/admin.md): a real `python -m bot` process takes panel votes
over HTTP while `python -m bot admin db backup` runs in another process; the backup restores
(`db restore`) into an empty database that passes `admin check`, and every vote whose HTTP
answer came back before the backup started is in it.

SQLite in WAL mode: the bot's writers are not blocked while the online backup API copies one
consistent snapshot (bot/adapters/db/operations.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.adapters.db import schema as t
from bot.adapters.db.database import Database
from bot.settings import DEFAULT_PARTNERSHIP_FILE, REPO_ROOT
from tests.support import activities as A
from tests.support.bot_process import BotProcess
from tests.support.fake_connector import FakeConnector
from tests.support.seeding import BASIS, RATIONALE, seed

CASES = 16
VOTERS = {A.LAURA: "local_authority", A.DAN: "police"}  # two of three: every case stays open for votes


def _admin(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "admin", "--operator", "drill", *argv],  # noqa: S603
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


async def test_a_backup_taken_while_votes_are_cast_restores_with_every_answered_vote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live' / 'rr.db'}"
    references = await seed(url, CASES, decide_first=False)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "GRAPH_", "RR_"))}
    environment.update({"DATABASE_URL": url, "PARTNERSHIP_FILE": str(DEFAULT_PARTNERSHIP_FILE), "BOT_ENV": "local",
                        "PYTHONPATH": str(REPO_ROOT)})
    answered: list[tuple[float, str, str]] = []  # (when the answer came back, reference, partner)
    backup = tmp_path / "backup" / "rr.db"
    async with FakeConnector() as connector:
        bot = BotProcess(tmp_path, "bot", url)
        try:
            await bot.ready()

            async def vote(http: aiohttp.ClientSession, person: A.Person, reference: str) -> None:
                data = {"verb": "panel.vote", "action": "panel.vote", "ref": reference, "v": 1,
                        "choice": "rapid_review", "rationale": RATIONALE, "serious_harm_basis": BASIS}
                status, body, _ = await bot.post(http, A.invoke(connector.url, person, "panel.vote", data,
                                                                channel=True))
                assert status == 200 and body["statusCode"] == 200, (status, body, bot.tail())
                answered.append((time.monotonic(), reference, VOTERS[person]))

            async def voting(http: aiohttp.ClientSession) -> None:
                for reference in references:
                    for person in VOTERS:
                        await vote(http, person, reference)

            async with aiohttp.ClientSession() as http:
                status, _, _ = await bot.post(http, A.channel_message(connector.url, A.PAT,
                                                                      "use this channel for the panel"))
                assert status in (200, 201), bot.tail()
                votes = asyncio.create_task(voting(http))
                while len(answered) < 4 and not votes.done():  # some votes in before the backup
                    await asyncio.sleep(0.01)
                if votes.done():
                    await votes  # a vote that failed says why
                started = time.monotonic()
                taken = await asyncio.to_thread(_admin, environment, tmp_path, "db", "backup", str(backup))
                finished = time.monotonic()
                await votes
        finally:
            bot.stop()
    assert taken.returncode == 0, taken.stdout + taken.stderr
    before = {(reference, partner) for at, reference, partner in answered if at < started}
    during = [at for at, _, _ in answered if started <= at <= finished]
    assert len(before) >= 4 and during, "votes were being cast while the backup ran"
    assert len(answered) == CASES * len(VOTERS)

    restored_url = f"sqlite:///{tmp_path / 'restored' / 'rr.db'}"
    restored_env = {**environment, "DATABASE_URL": restored_url}
    restored = _admin(restored_env, tmp_path, "db", "restore", str(backup))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "ok: audit trail intact" in restored.stdout
    checked = _admin(restored_env, tmp_path, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    db = Database(restored_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(t.cases.c.reference, t.votes.c.partner)
                                       .join(t.votes, t.votes.c.case_id == t.cases.c.id))).all()
            cast_events = (await conn.execute(select(t.events.c.id).where(t.events.c.kind == "vote_cast"))).all()
    finally:
        await db.dispose()
    present = {(reference, partner) for reference, partner in rows}
    assert before <= present, f"votes answered before the backup but missing from it: {sorted(before - present)}"
    assert len(cast_events) == len(present)  # each vote in the backup has its audit event, and only those
