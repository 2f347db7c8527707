"""`python -m bot admin …` (bot/admin/, docs/admin.md): each command on a real database (SQLite, and
PostgreSQL where the command differs), its printed answer, its exit code, and the audit event it
records with the operator as actor — and never a child's identifier on the screen or in the trail.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from bot.adapters.clock import FixedClock
from bot.adapters.db import schema as t
from bot.adapters.db.audit_log import verify_audit_trail
from bot.adapters.db.database import Database
from bot.adapters.db.scope import Scope
from bot.adapters.db.turn_store import SqlTurnStore
from bot.adapters.links import SECRET_REFRESH_SECONDS, LinkSigner
from bot.admin import main as admin
from bot.app import sql_stores
from bot.domain.outbox import OutboxKind
from bot.services.ports import OutboxMessage
from bot.settings import DEFAULT_PARTNERSHIP_FILE, REPO_ROOT
from tests.support.fake_time import FakeMonotonic
from tests.support.seeding import CHILD, NOW, seed

PAYLOAD_CANARY = "Quillfeather-payload"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    """The admin commands' environment: the bot's own settings, local mode, this test's database."""
    monkeypatch.chdir(tmp_path)  # no .env applies
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "BOT_ENV", "TRAINING_MODE", "MASTER_KEY", "KEY_VAULT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PARTNERSHIP_FILE", str(DEFAULT_PARTNERSHIP_FILE))
    return database_url


def run(capsys: pytest.CaptureFixture[str], *argv: str, at: datetime = NOW) -> tuple[int, str, str]:
    status = admin(["--operator", "alice", *argv], clock=FixedClock(at))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def events(url: str, kind: str) -> list[dict[str, Any]]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(t.events).where(t.events.c.kind == kind).order_by(t.events.c.id))).all()
            report = await verify_audit_trail(db)
    finally:
        await db.dispose()
    assert report.intact, report.broken
    return [dict(row._mapping) for row in rows]


def no_identifiers(*texts: str) -> None:
    for value in texts:
        assert CHILD not in value and "2017-02-03" not in value and PAYLOAD_CANARY not in value, value


# ---- check --------------------------------------------------------------------------------------------


def test_check_lists_every_problem_then_passes_once_they_are_fixed(env: str, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PARTNERSHIP_FILE", str(tmp_path / "missing.toml"))
    status, out, _ = run(capsys, "check")
    assert status == 1
    assert "PROBLEM: PARTNERSHIP_FILE" in out and "does not exist" in out
    assert "has no schema: run `python -m bot admin db migrate`" in out and "2 problem(s)" in out

    monkeypatch.setenv("PARTNERSHIP_FILE", str(DEFAULT_PARTNERSHIP_FILE))
    assert run(capsys, "db", "migrate")[0] == 0
    status, out, _ = run(capsys, "check")
    assert status == 0, out
    assert "ok: database reachable, at the schema head" in out and "check: all well" in out


def test_check_reports_bad_settings_and_an_unreachable_database(env: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    status, out, _ = run(capsys, "check")
    assert status == 1 and "PROBLEM: environment: configuration is not valid" in out and "PORT" in out
    monkeypatch.delenv("PORT")
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")  # nothing listens on port 1
    status, out, _ = run(capsys, "check")
    assert status == 1 and "cannot be reached" in out and "check DATABASE_URL" in out


def test_check_finds_a_database_behind_the_schema(env: str, capsys) -> None:
    asyncio.run(seed(env, 1, decide_first=False))

    async def behind() -> None:
        db = Database(env)
        try:
            async with db.write() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = '0009_t13delivery'"))
        finally:
            await db.dispose()

    asyncio.run(behind())
    status, out, _ = run(capsys, "check")
    assert status == 1 and "behind the schema head" in out and "0009_t13delivery" in out
    assert run(capsys, "db", "verify")[0] == 1


# ---- cases list ---------------------------------------------------------------------------------------


def test_cases_list_shows_references_statuses_and_next_deadlines_without_identifiers_and_is_audited(
        env: str, capsys) -> None:
    decided, referred = asyncio.run(seed(env, 2))
    status, out, err = run(capsys, "cases", "list", at=NOW + timedelta(days=30))
    assert status == 0, err
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("RR-")}
    assert set(lines) == {decided, referred}
    assert "decided" in lines[decided] and "OVERDUE" in lines[decided]  # 30 days on, the first step is late
    assert "referred" in lines[referred]
    assert "REFERENCE" in out and "NEXT STEP" in out and "DUE (Europe/London)" in out
    no_identifiers(out, err)

    listed = asyncio.run(events(env, "admin_cases_listed"))
    assert len(listed) == 1
    assert listed[0]["actor_name"] == "operator:alice" and listed[0]["actor_aad_id"] is None
    assert listed[0]["detail"] == {"cases": 2, "closed_included": False}
    no_identifiers(json.dumps(listed[0]["detail"]))


def test_the_operator_defaults_to_the_os_user_and_is_kept_to_an_account_name(env: str, capsys, monkeypatch) -> None:
    asyncio.run(seed(env, 1, decide_first=False))
    monkeypatch.setattr("getpass.getuser", lambda: "svc-rr")
    assert admin(["cases", "list"], clock=FixedClock(NOW)) == 0
    assert admin(["--operator", "Robert'); DROP TABLE cases;--", "cases", "list"], clock=FixedClock(NOW)) == 0
    capsys.readouterr()
    names = [e["actor_name"] for e in asyncio.run(events(env, "admin_cases_listed"))]
    assert names == ["operator:svc-rr", "operator:Robert____DROP_TABLE_cases_--"]


# ---- the outbox -----------------------------------------------------------------------------------------


async def _outbox(url: str, case_reference: str) -> dict[str, int]:
    """A failed message, a stuck one, a fresh one and a sent one; returns their ids."""
    db = Database(url)
    try:
        async with db.read() as conn:
            case_id = (await conn.execute(select(t.cases.c.id).where(t.cases.c.reference == case_reference))
                       ).scalar_one()
        outbox = sql_stores(db).outbox
        made = {}
        for name, created in (("failed", NOW - timedelta(hours=3)), ("stuck", NOW - timedelta(hours=1)),
                              ("fresh", NOW - timedelta(seconds=30)), ("sent", NOW - timedelta(hours=5))):
            await outbox.enqueue([OutboxMessage(key=f"admin-test:{name}", kind=OutboxKind.PERSON_NOTICE,
                                                case_id=case_id, payload={"text": PAYLOAD_CANARY})], created)
            async with db.read() as conn:
                made[name] = (await conn.execute(select(t.outbox.c.id).where(t.outbox.c.key == f"admin-test:{name}"))
                              ).scalar_one()
        await outbox.retry(made["failed"], NOW, "Teams answered 400 (bad request)", give_up=True)
        async with db.write() as conn:
            await conn.execute(update(t.outbox).where(t.outbox.c.id == made["failed"]).values(attempts=10))
            await conn.execute(update(t.outbox).where(t.outbox.c.id == made["sent"]).values(status="sent"))
    finally:
        await db.dispose()
    return made


async def _row(url: str, outbox_id: int) -> Any:
    db = Database(url)
    try:
        async with db.read() as conn:
            return (await conn.execute(select(t.outbox).where(t.outbox.c.id == outbox_id))).one()
    finally:
        await db.dispose()


def test_outbox_show_lists_failed_and_stuck_messages_with_why_and_never_their_content(env: str, capsys) -> None:
    reference = asyncio.run(seed(env, 1, decide_first=False))[0]
    made = asyncio.run(_outbox(env, reference))
    status, out, _ = run(capsys, "outbox", "show")
    assert status == 0
    shown = {int(line.split()[0]): line for line in out.splitlines()
             if line[:1].isdigit() and "message(s)" not in line}
    assert made["failed"] in shown and made["stuck"] in shown
    assert made["fresh"] not in shown and made["sent"] not in shown
    failed, stuck = shown[made["failed"]], shown[made["stuck"]]
    assert "failed" in failed and "Teams answered 400 (bad request)" in failed and " 10 " in failed
    assert reference in failed and "person_notice" in failed and "3 h 0 min" in failed
    assert "stuck" in stuck and "1 h 0 min" in stuck
    no_identifiers(out)
    viewed = asyncio.run(events(env, "admin_outbox_viewed"))
    assert [(e["actor_name"], e["detail"]) for e in viewed] == [("operator:alice", {"messages": len(shown)})]


def test_outbox_retry_makes_a_message_due_now_with_fresh_attempts_and_audits_it(env: str, capsys) -> None:
    reference = asyncio.run(seed(env, 1, decide_first=False))[0]
    made = asyncio.run(_outbox(env, reference))
    status, out, _ = run(capsys, "outbox", "retry", str(made["failed"]))
    assert status == 0 and f"outbox message {made['failed']} (person_notice, was failed) is due now" in out
    row = asyncio.run(_row(env, made["failed"]))
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 0, None)
    assert row.not_before.replace(tzinfo=UTC) == NOW
    retried = asyncio.run(events(env, "admin_outbox_retried"))
    assert len(retried) == 1 and retried[0]["case_id"] is not None
    assert retried[0]["detail"] == {"outbox_id": made["failed"], "kind": "person_notice", "was": "failed"}

    status, _, err = run(capsys, "outbox", "retry", str(made["sent"]))
    assert status == 2 and "was sent already" in err
    status, _, err = run(capsys, "outbox", "retry", "999999")
    assert status == 2 and "there is no outbox message 999999" in err
    assert len(asyncio.run(events(env, "admin_outbox_retried"))) == 1  # the refusals changed nothing


def test_outbox_retry_all_failed(env: str, capsys) -> None:
    reference = asyncio.run(seed(env, 1, decide_first=False))[0]
    made = asyncio.run(_outbox(env, reference))
    status, out, _ = run(capsys, "outbox", "retry", "--all-failed")
    assert status == 0 and "1 message(s) made due" in out
    assert asyncio.run(_row(env, made["failed"])).status == "pending"
    assert asyncio.run(_row(env, made["sent"])).status == "sent"
    status, out, _ = run(capsys, "outbox", "retry", "--all-failed")
    assert status == 0 and "no failed messages" in out


# ---- the link secret -------------------------------------------------------------------------------------


def test_rotating_the_link_secret_stops_links_signed_before_in_a_running_process(env: str, capsys) -> None:
    asyncio.run(seed(env, 1, decide_first=False))
    monotonic = FakeMonotonic()
    db = Database(env)
    expires = NOW + timedelta(days=30)

    async def before() -> tuple[LinkSigner, str]:
        signer = LinkSigner(lambda: SqlTurnStore(Scope(db)).shared_secret("file-links"), "https://bot.example",
                            monotonic=monotonic)
        url = await signer.url("case-1", "ics", expires)
        assert await signer.verify(url.rsplit("/", 1)[1], NOW) == ("case-1", "ics")
        return signer, url.rsplit("/", 1)[1]

    signer, old = asyncio.run(before())
    asyncio.run(db.dispose())
    status, out, _ = run(capsys, "links", "rotate-secret")
    assert status == 0 and "STOPS WORKING" in out

    async def after() -> None:
        fresh = LinkSigner(lambda: SqlTurnStore(Scope(db)).shared_secret("file-links"), "https://bot.example")
        assert await fresh.verify(old, NOW) is None  # a process started after the rotation refuses it at once
        monotonic.now += SECRET_REFRESH_SECONDS
        assert await signer.verify(old, NOW) is None  # a running one, once it has read the secret again
        new = (await signer.url("case-1", "ics", expires)).rsplit("/", 1)[1]
        assert await fresh.verify(new, NOW) == ("case-1", "ics")
        await db.dispose()

    asyncio.run(after())
    rotated = asyncio.run(events(env, "admin_link_secret_rotated"))
    assert [(e["actor_name"], e["detail"]) for e in rotated] == [("operator:alice", {"secret": "file-links"})]


# ---- backup, restore, verify, migrate -----------------------------------------------------------------------


def _sqlite_only(url: str) -> None:
    if not url.startswith("sqlite"):
        pytest.skip("the SQLite online backup")


def test_a_sqlite_backup_restores_into_an_empty_database_and_verifies(env: str, capsys, monkeypatch,
                                                                      tmp_path: Path) -> None:
    _sqlite_only(env)
    references = asyncio.run(seed(env, 3))
    backup = tmp_path / "backups" / "rr-backup.db"
    status, out, err = run(capsys, "db", "backup", str(backup))
    assert status == 0, err
    assert "3 cases, 3 votes" in out and backup.is_file()
    assert run(capsys, "db", "backup", str(backup))[0] == 1  # never over an existing file
    assert len(asyncio.run(events(env, "admin_database_backed_up"))) == 1

    restored = f"sqlite:///{tmp_path / 'restored' / 'rr.db'}"
    monkeypatch.setenv("DATABASE_URL", restored)
    status, out, err = run(capsys, "db", "restore", str(backup))
    assert status == 0, (out, err)
    assert "ok: schema at the head" in out and "ok: audit trail intact" in out
    assert "rows: cases 3, votes 3," in out and "restore verified" in out
    assert run(capsys, "check")[0] == 0
    status, out, _ = run(capsys, "cases", "list", "--all")
    assert {line.split()[0] for line in out.splitlines() if line.startswith("RR-")} == set(references)
    assert len(asyncio.run(events(restored, "admin_database_restored"))) == 1

    # a second restore into the now non-empty database is refused, and changes nothing
    status, _, err = run(capsys, "db", "restore", str(backup))
    assert status == 2 and "is not empty" in err and "Nothing was changed" in err
    assert len(asyncio.run(events(restored, "admin_database_restored"))) == 1


def test_restore_refuses_a_file_that_is_not_a_backup(env: str, capsys, tmp_path: Path) -> None:
    _sqlite_only(env)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    status, _, err = run(capsys, "db", "restore", str(junk))
    assert status == 2 and "not a SQLite database" in err


@pytest.mark.postgres
def test_postgresql_backup_and_restore_print_the_pg_commands_and_refuse_to_pretend(
        pg_url: str, capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("PARTNERSHIP_FILE", str(DEFAULT_PARTNERSHIP_FILE))
    status, out, _ = run(capsys, "db", "backup", str(tmp_path / "rr.dump"))
    assert status == 2 and "pg_dump --format=custom --no-owner --no-privileges" in out
    assert "Nothing was written" in out and not (tmp_path / "rr.dump").exists()
    status, out, _ = run(capsys, "db", "restore", str(tmp_path / "rr.dump"))  # empty: told the command
    assert status == 2 and "pg_restore --no-owner" in out and "--single-transaction" in out
    asyncio.run(seed(pg_url, 1, decide_first=False))
    status, _, err = run(capsys, "db", "restore", str(tmp_path / "rr.dump"))
    assert status == 2 and "is not empty" in err


def test_db_migrate_and_verify(env: str, capsys) -> None:
    status, out, _ = run(capsys, "db", "migrate")
    assert status == 0 and "database migrated: empty ->" in out
    status, out, _ = run(capsys, "db", "migrate")
    assert status == 0 and "already at the head" in out
    status, out, _ = run(capsys, "db", "verify")
    assert status == 0 and "ok: audit trail intact, 0 events" in out and "rows: cases 0" in out


def test_the_console_script_and_python_m_bot_admin_run_the_same_commands(env: str, tmp_path: Path) -> None:
    _sqlite_only(env)
    environment = {"DATABASE_URL": env, "PARTNERSHIP_FILE": str(DEFAULT_PARTNERSHIP_FILE), "PATH": "/usr/bin:/bin",
                   "PYTHONPATH": str(REPO_ROOT)}
    script = Path(sys.executable).with_name("rapid-review-admin")
    for command in ([sys.executable, "-m", "bot", "admin"], [str(script)]):
        done = subprocess.run([*command, "db", "migrate"], cwd=tmp_path, env=environment, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        done = subprocess.run([*command, "check"], cwd=tmp_path, env=environment, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0 and "check: all well" in done.stdout, done.stdout + done.stderr
