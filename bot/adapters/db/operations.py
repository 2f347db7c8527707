"""What the operator's commands (`python -m bot admin …`, bot/admin/) read and change in the
database: the cases and their next deadlines, the outbox's failed and stuck messages, the link
secret, row counts, and the SQLite online backup and restore.

Nothing here reads a sealed column or an outbox payload: what an operator sees is references,
statuses, step labels from the timeline profile, kinds, counts and times. Every read of case
data and every change is recorded as an audit event in the same transaction (`record`).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, inspect, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.adapters.db import schema as t
from bot.adapters.db.case_store import add_event_in
from bot.adapters.db.database import Database
from bot.adapters.db.scope import aware
from bot.domain.events import Event, EventKind
from bot.domain.lifecycle import CLOSED_STATUSES

LINK_SECRET = "file-links"  # noqa: S105 - its name, not a secret: the secret the signed /files/… links are made with (bot/adapters/links.py)
_FAILED = "failed"
_PENDING = "pending"


@dataclass(frozen=True)
class Operator:
    """Who ran the command: the OS user, or --operator. Recorded as the audit event's actor."""

    name: str

    @property
    def actor_name(self) -> str:
        return f"operator:{self.name}"[:100]


async def record(conn: AsyncConnection, operator: Operator, kind: EventKind, at: datetime, *,
                 case_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    await add_event_in(conn, Event(kind=kind, at=at, actor_aad_id=None, actor_name=operator.actor_name,
                                   case_id=case_id, detail=detail or {}))


# ---- cases and their next deadlines ---------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    reference: str
    status: str
    next_step: str | None  # the step's label (from the timeline profile), None when nothing is outstanding
    due: datetime | None
    overdue: bool


async def list_cases(db: Database, now: datetime, operator: Operator, *, include_closed: bool = False) -> list[CaseLine]:
    """Each case (open ones only, unless asked) with the outstanding step that falls due first
    (a step with no date yet comes after every dated one, in the profile's order). The read is
    audited before anything is returned."""
    closed = [status.value for status in CLOSED_STATUSES]
    query = select(t.cases.c.id, t.cases.c.reference, t.cases.c.status).order_by(t.cases.c.reference)
    if not include_closed:
        query = query.where(t.cases.c.status.not_in(closed))
    async with db.write() as conn:
        cases = (await conn.execute(query)).all()
        steps = (await conn.execute(
            select(t.deadlines.c.case_id, t.deadlines.c.label, t.deadlines.c.due_at, t.deadlines.c.position)
            .where(t.deadlines.c.status != "done"))).all()
        await record(conn, operator, EventKind.ADMIN_CASES_LISTED, now,
                     detail={"cases": len(cases), "closed_included": include_closed})
    first: dict[str, tuple[Any, ...]] = {}
    for case_id, label, due, position in steps:
        due = aware(due) if due is not None else None
        rank = (due is None, due or now, position)
        if case_id not in first or rank < first[case_id][0]:
            first[case_id] = (rank, label, due)
    lines = []
    for case_id, reference, status in cases:
        _, label, due = first.get(case_id, (None, None, None))
        lines.append(CaseLine(reference, status, label, due, due is not None and due < now))
    return lines


# ---- the outbox ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxLine:
    id: int
    kind: str
    reference: str | None
    status: str
    attempts: int
    created_at: datetime
    not_before: datetime
    why: str | None  # the delivery error's reason as the dispatcher recorded it (never the payload)


async def outbox_problems(db: Database, now: datetime, stuck_after: timedelta, operator: Operator) -> list[OutboxLine]:
    """Messages that gave up (`failed`), that wait for something (parked: no panel channel, a
    person Teams cannot reach), and due messages older than `stuck_after`. Audited."""
    stuck = and_(t.outbox.c.status == _PENDING, t.outbox.c.not_before <= now - stuck_after)
    parked = t.outbox.c.status.not_in([_PENDING, "sent"])
    query = (select(t.outbox.c.id, t.outbox.c.kind, t.cases.c.reference, t.outbox.c.status, t.outbox.c.attempts,
                    t.outbox.c.created_at, t.outbox.c.not_before, t.outbox.c.last_error)
             .select_from(t.outbox.outerjoin(t.cases, t.cases.c.id == t.outbox.c.case_id))
             .where(or_(stuck, parked)).order_by(t.outbox.c.id))
    async with db.write() as conn:
        rows = (await conn.execute(query)).all()
        await record(conn, operator, EventKind.ADMIN_OUTBOX_VIEWED, now, detail={"messages": len(rows)})
    return [OutboxLine(r.id, r.kind, r.reference, r.status, r.attempts, aware(r.created_at), aware(r.not_before),
                       r.last_error) for r in rows]


@dataclass(frozen=True)
class Retried:
    id: int
    kind: str
    was: str


class NothingToRetry(Exception):
    """The message does not exist, or is already sent."""


async def retry_outbox(db: Database, now: datetime, operator: Operator, *, ids: Sequence[int] = (),
                       all_failed: bool = False) -> list[Retried]:
    """Make messages due now with a fresh set of attempts: the named ones (failed, parked or
    pending; never a sent one) or every failed one. Each is audited with its case. A running
    bot delivers them on its next outbox pass."""
    query = select(t.outbox.c.id, t.outbox.c.kind, t.outbox.c.status, t.outbox.c.case_id)
    query = query.where(t.outbox.c.status == _FAILED) if all_failed else query.where(t.outbox.c.id.in_(list(ids)))
    async with db.write() as conn:
        rows = (await conn.execute(query.order_by(t.outbox.c.id))).all()
        if not all_failed:
            found = {row.id: row for row in rows}
            for wanted in ids:
                if wanted not in found:
                    raise NothingToRetry(f"there is no outbox message {wanted}")
                if found[wanted].status == "sent":
                    raise NothingToRetry(f"outbox message {wanted} was sent already: nothing to retry")
        retried = []
        for row in rows:
            await conn.execute(update(t.outbox).where(t.outbox.c.id == row.id).values(
                status=_PENDING, not_before=now, claimed_until=None, attempts=0))
            await record(conn, operator, EventKind.ADMIN_OUTBOX_RETRIED, now, case_id=row.case_id,
                         detail={"outbox_id": row.id, "kind": row.kind, "was": row.status})
            retried.append(Retried(row.id, row.kind, row.status))
    return retried


# ---- the link secret ----------------------------------------------------------------------------------


async def rotate_link_secret(db: Database, now: datetime, operator: Operator) -> None:
    """A new random secret for the signed /files/… links (bot/adapters/links.py): every link
    signed under the old one is refused from then on. Audited."""
    key, value = f"secret:{LINK_SECRET}", secrets.token_hex(32)
    async with db.write() as conn:
        changed = await conn.execute(update(t.bot_state).where(t.bot_state.c.key == key).values(
            data={"value": value}, updated_at=now))
        if not changed.rowcount:
            await conn.execute(t.bot_state.insert().values(key=key, data={"value": value}, etag="secret",
                                                           updated_at=now))
        await record(conn, operator, EventKind.ADMIN_LINK_SECRET_ROTATED, now, detail={"secret": LINK_SECRET})


# ---- row counts, emptiness --------------------------------------------------------------------------------


async def table_counts(db: Database) -> dict[str, int]:
    """Rows per table the bot keeps (the schema's tables, plus Alembic's stamp)."""
    async with db.read() as conn:
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        counts: dict[str, int] = {}
        for table in t.metadata.sorted_tables:
            if table.name in present:
                counts[table.name] = int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
    return counts


async def is_empty(db: Database) -> bool:
    """No table the bot keeps holds a row (a database just created, or only migrated)."""
    async with db.read() as conn:
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        for table in t.metadata.sorted_tables:
            if table.name in present and (await conn.execute(select(table).limit(1))).first() is not None:
                return False
    return True


async def record_backup(db: Database, now: datetime, operator: Operator, engine: str) -> None:
    async with db.write() as conn:
        await record(conn, operator, EventKind.ADMIN_DATABASE_BACKED_UP, now, detail={"engine": engine})


async def record_restore(db: Database, now: datetime, operator: Operator, rows: int, head: str) -> None:
    async with db.write() as conn:
        await record(conn, operator, EventKind.ADMIN_DATABASE_RESTORED, now,
                     detail={"audit_rows": rows, "audit_head": head})


# ---- SQLite: the online backup API -------------------------------------------------------------------


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL (or an in-memory SQLite)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def sqlite_backup(source: Path, target: Path, busy_seconds: float = 30.0) -> None:
    """Copy a live SQLite database with its online backup API, in one step: the copy is the
    database as one read transaction saw it, whatever the running bot commits meanwhile (in WAL
    mode the bot's writers are not blocked while it runs). Copying the file instead can lose
    what is still in the WAL, or catch a half-written checkpoint."""
    if target.exists():
        raise FileExistsError(f"{target} exists: back up to a new file (nothing was overwritten)")
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: check DATABASE_URL")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=busy_seconds)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)  # every page in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            problem = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    if problem != "ok":
        target.unlink(missing_ok=True)
        raise RuntimeError(f"the copy failed SQLite's integrity check ({problem}); nothing was kept")


def sqlite_check_file(path: Path) -> None:
    """A backup file that SQLite opens and finds intact; raises ValueError saying what is wrong."""
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            problem = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise ValueError(f"{path} is not a SQLite database ({type(error).__name__})") from error
    if problem != "ok":
        raise ValueError(f"{path} fails SQLite's integrity check ({problem})")
    if "alembic_version" not in tables or t.cases.name not in tables:
        raise ValueError(f"{path} is not a Rapid Review database (no cases or alembic_version table)")


def sqlite_restore(backup: Path, target: Path) -> None:
    """Write the backup into the (empty) target database through the backup API, which
    replaces the target's pages under SQLite's own locking."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=WAL")  # as the bot runs it
        finally:
            dst.close()
    finally:
        src.close()
