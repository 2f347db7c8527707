"""The admin commands that read or change what the bot keeps: cases, the outbox, the link
secret, backup, restore, verification and migrations (docs/admin.md). The SQL is in
bot/adapters/db/operations.py; here are the words an operator reads."""

from __future__ import annotations

import asyncio
import shlex
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url

from bot.adapters.clock import SystemClock
from bot.adapters.db import operations as ops
from bot.adapters.db import schema as t
from bot.adapters.db.audit_log import verify_audit_trail
from bot.adapters.db.database import Database, upgrade_to_head
from bot.adapters.links import SECRET_REFRESH_SECONDS
from bot.adapters.schema_check import current_revisions, head_revisions
from bot.services.ports import Clock
from bot.settings import ConfigError, Settings, load_partnership

# What `db verify` prints counts of, in this order (every other table is counted too, after them).
HEADLINE_TABLES = ("cases", "votes", "events", "deadlines", "meetings", "outbox", "members")


def _clock(clock: Clock | None) -> Clock:
    return clock or SystemClock()


def _time_zone(settings: Settings) -> ZoneInfo:
    """The partnership's time zone for the times printed (UTC if its file cannot be read:
    `admin check` says why)."""
    try:
        return ZoneInfo(load_partnership(Path(settings.partnership_file)).time_zone)
    except ConfigError:
        return ZoneInfo("UTC")


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for line in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip())


# ---- cases ----------------------------------------------------------------------------------------------


async def list_cases(settings: Settings, operator: ops.Operator, *, include_closed: bool = False,
                     clock: Clock | None = None) -> int:
    now, tz = _clock(clock).now(), _time_zone(settings)
    db = Database(settings.database_url)
    try:
        lines = await ops.list_cases(db, now, operator, include_closed=include_closed)
    finally:
        await db.dispose()
    if not lines:
        print("no cases" if include_closed else "no open cases (--all lists closed ones too)")
        return 0
    _table(("REFERENCE", "STATUS", "NEXT STEP", f"DUE ({tz.key})", "OVERDUE"),
           [(c.reference, c.status, c.next_step or "-", _when(c.due, tz),
             "OVERDUE" if c.overdue else ("-" if c.due is None else "no")) for c in lines])
    overdue = sum(c.overdue for c in lines)
    print(f"{len(lines)} case(s), {overdue} with an overdue step. This read is recorded in the audit trail.")
    return 0


# ---- the outbox -----------------------------------------------------------------------------------------


async def show_outbox(settings: Settings, operator: ops.Operator, *, clock: Clock | None = None) -> int:
    now, tz = _clock(clock).now(), _time_zone(settings)
    stuck_after = timedelta(seconds=settings.outbox_stuck_after_seconds)
    db = Database(settings.database_url)
    try:
        lines = await ops.outbox_problems(db, now, stuck_after, operator)
    finally:
        await db.dispose()
    if not lines:
        print(f"outbox: nothing failed, parked or due for longer than {_age(stuck_after)}")
        return 0
    _table(("ID", "KIND", "CASE", "STATUS", "ATTEMPTS", "AGE", "DUE SINCE", "WHY"),
           [(str(m.id), m.kind, m.reference or "-", "stuck" if m.status == "pending" else m.status, str(m.attempts),
             _age(now - m.created_at), _when(m.not_before, tz), m.why or "-") for m in lines])
    print(f"{len(lines)} message(s). `outbox retry ID` (or --all-failed) makes them due now; the running bot "
          "sends them on its next pass. Nothing of their content is shown.")
    return 0


async def retry_outbox(settings: Settings, operator: ops.Operator, ids: Sequence[int], *, all_failed: bool = False,
                       clock: Clock | None = None) -> int:
    db = Database(settings.database_url)
    try:
        retried = await ops.retry_outbox(db, _clock(clock).now(), operator, ids=ids, all_failed=all_failed)
    except ops.NothingToRetry as error:
        print(f"{error}; nothing was changed", file=sys.stderr)
        return 2
    finally:
        await db.dispose()
    for item in retried:
        print(f"outbox message {item.id} ({item.kind}, was {item.was}) is due now")
    print(f"{len(retried)} message(s) made due with a fresh set of attempts; the running bot sends them on its next "
          "pass (within a few seconds)." if retried else "no failed messages")
    return 0


# ---- the link secret --------------------------------------------------------------------------------------


async def rotate_link_secret(settings: Settings, operator: ops.Operator, *, clock: Clock | None = None) -> int:
    db = Database(settings.database_url)
    try:
        await ops.rotate_link_secret(db, _clock(clock).now(), operator)
    finally:
        await db.dispose()
    print("The link secret is new. Every signed file link sent before now (meeting invitations' .ics links, the "
          "rapid review record's download links) STOPS WORKING: a running bot reads the new secret within "
          f"{SECRET_REFRESH_SECONDS:.0f} s, and a restarted one at once. People who still need a file ask again "
          "(`record` on the case, or the meeting card). One-time export links are not signed with this secret.")
    return 0


# ---- the database -----------------------------------------------------------------------------------------


async def database_command(settings: Settings, operator: ops.Operator, command: str, path: str | None, *,
                           clock: Clock | None = None) -> int:
    now = _clock(clock).now()
    if command == "backup":
        assert path is not None
        return await _backup(settings, operator, Path(path), now)
    if command == "restore":
        assert path is not None
        return await _restore(settings, operator, Path(path), now)
    if command == "migrate":
        return await _migrate(settings)
    return await verify_database(settings.database_url)


def _without_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _libpq_url(url: str) -> str:
    """The URL pg_dump/pg_restore take (no SQLAlchemy driver, no password: PGPASSWORD or ~/.pgpass)."""
    parsed = make_url(url).set(drivername="postgresql", password=None)
    return parsed.render_as_string(hide_password=False)


async def _backup(settings: Settings, operator: ops.Operator, target: Path, now: datetime) -> int:
    source = ops.sqlite_path(settings.database_url)
    if source is None:
        command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}",
                   _libpq_url(settings.database_url)]
        print("PostgreSQL: this command does not take the backup (pg_dump does, with a consistent snapshot while the "
              "bot runs). Run, with the password in PGPASSWORD or ~/.pgpass:\n\n  " + shlex.join(command) + "\n\n"
              "then store the file encrypted, away from the database (docs/admin.md, Backups). Nothing was written.")
        return 2
    if target.exists() or not source.exists():
        print(f"backup failed: {target} exists: back up to a new file (nothing was overwritten)" if target.exists()
              else f"backup failed: {source} does not exist: check DATABASE_URL", file=sys.stderr)
        return 1
    db = Database(settings.database_url)
    try:
        await ops.record_backup(db, now, operator, "sqlite")  # recorded first: the backup holds its own record
    finally:
        await db.dispose()
    try:
        await asyncio.to_thread(ops.sqlite_backup, source, target, settings.database_busy_seconds)
    except (FileExistsError, FileNotFoundError, RuntimeError, sqlite3.Error) as error:
        print(f"backup failed: {error}", file=sys.stderr)
        return 1
    counts = await asyncio.to_thread(_file_counts, target)
    print(f"backup written to {target} (SQLite online backup, one consistent snapshot; integrity check ok): "
          + ", ".join(f"{counts.get(name, 0)} {name}" for name in ("cases", "votes", "events")))
    print("It holds the child's and family's details sealed under the case keys, and the case keys wrapped by the "
          "master key: keep it as you keep the database, and the master key apart from it.")
    return 0


def _file_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {table.name: int(conn.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0])  # noqa: S608
                for table in t.metadata.sorted_tables if table.name in present}
    finally:
        conn.close()


async def _restore(settings: Settings, operator: ops.Operator, backup: Path, now: datetime) -> int:
    target = ops.sqlite_path(settings.database_url)
    db = Database(settings.database_url)
    try:
        empty = await ops.is_empty(db)
    finally:
        await db.dispose()
    if not empty:
        print(f"refused: the database at {_without_password(settings.database_url)} is not empty. A restore goes into "
              "an EMPTY database only, so nothing in it can be overwritten: point DATABASE_URL at a new database "
              "(SQLite: a new file name) and run this again. Nothing was changed.", file=sys.stderr)
        return 2
    if target is None:
        command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                   f"--dbname={_libpq_url(settings.database_url)}", str(backup)]
        print("PostgreSQL: the target database is empty. This command does not run pg_restore; run, with the password "
              "in PGPASSWORD or ~/.pgpass:\n\n  " + shlex.join(command) + "\n\nthen `python -m bot admin db grant` "
              "(the role split) and `python -m bot admin db verify`. Nothing was restored by this command.")
        return 2
    try:
        ops.sqlite_check_file(backup)
    except ValueError as error:
        print(f"refused: {error}. Nothing was changed.", file=sys.stderr)
        return 2
    for leftover in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        leftover.unlink(missing_ok=True)  # the empty database just checked (no process may have it open)
    await asyncio.to_thread(ops.sqlite_restore, backup, target)
    print(f"restored {backup} into {target}; verifying it:")
    status = await verify_database(settings.database_url)
    if status == 0:
        db = Database(settings.database_url)
        try:
            report = await verify_audit_trail(db)
            await ops.record_restore(db, now, operator, report.rows, report.head)
        finally:
            await db.dispose()
        print("restore verified; recorded in the restored audit trail. Start the bot on it.")
    return status


async def verify_database(url: str) -> int:
    """Schema at head, the audit chain intact, and the row counts: after a restore, or any time."""
    db = Database(url)
    try:
        current, heads = await current_revisions(db), head_revisions()
        report = await verify_audit_trail(db)
        counts = await ops.table_counts(db)
    finally:
        await db.dispose()
    problems = 0
    if current is None or (heads is not None and current != heads):
        problems += 1
        print(f"PROBLEM: schema at {', '.join(sorted(current or ())) or 'nothing'}, head is "
              f"{', '.join(sorted(heads or ()))}: run `python -m bot admin db migrate`")
    else:
        print(f"ok: schema at the head ({', '.join(sorted(current))})")
    if report.broken is not None:
        problems += 1
        print(f"PROBLEM: audit trail broken at event {report.broken.row_id} ({report.broken.kind}): "
              f"{report.broken.reason}")
    else:
        print(f"ok: audit trail intact, {report.rows} events, head {report.head}")
    order = [name for name in HEADLINE_TABLES if name in counts] + sorted(set(counts) - set(HEADLINE_TABLES))
    print("rows: " + ", ".join(f"{name} {counts[name]}" for name in order))
    return 1 if problems else 0


async def _migrate(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        before = await current_revisions(db)
    finally:
        await db.dispose()
    await asyncio.to_thread(upgrade_to_head, settings.database_url)
    db = Database(settings.database_url)
    try:
        after = await current_revisions(db)
    finally:
        await db.dispose()
    was = ", ".join(sorted(before)) if before else "empty"
    print(f"database migrated: {was} -> {', '.join(sorted(after or ()))}" if before != after
          else f"database already at the head ({was})")
    return 0
