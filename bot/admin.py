"""`python -m bot admin …`: the operator's commands, run beside the bot, never through Teams.

    python -m bot admin audit verify
        recompute the audit trail's hash chain; exit 1 at the first edited, inserted or
        deleted row (printed), 0 when intact (the head hash printed: keep it elsewhere to
        notice later that rows were cut from the end)
    python -m bot admin db grant --owner-url URL --app-role ROLE
        PostgreSQL only: as the tables' owner, give the bot's own role what it needs, and
        only INSERT and SELECT on the audit trail (docs/data-protection.md)
    python -m bot admin keys rotate
        re-wrap every case's data key under the current master key (MASTER_KEY, or the newest
        version of the Key Vault secret); the old one must still be configured
        (MASTER_KEY_PREVIOUS, or its Key Vault version enabled). One key per transaction: after
        a crash run it again and it carries on. Prints what it did; exit 1 if a key could not
        be opened
    python -m bot admin keys seal
        seal in place what the database held before identifiers were encrypted (one case per
        transaction; run again at any time), then vacuum SQLite; prints how many per field

    python -m bot admin cases
        every case as the statistics see it: reference, status, how it ended, received, closed
        and erased dates — an erased case's anonymised record included (no identifiers)

The database is the bot's own (DATABASE_URL, as `python -m bot` reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.adapters.db.audit_log import apply_role_split, verify_audit_trail
from bot.adapters.db.database import Database
from bot.adapters.db.retention_store import case_statistics
from bot.adapters.db.sealing import seal_existing, vacuum_sqlite
from bot.adapters.schema_check import migrate_if_behind
from bot.app import keyring_for
from bot.settings import ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot admin", description="Operator commands.")
    areas = parser.add_subparsers(dest="area", required=True)
    audit = areas.add_parser("audit", help="the audit trail").add_subparsers(dest="command", required=True)
    audit.add_parser("verify", help="recompute the hash chain; exit 1 at the first bad row")
    db = areas.add_parser("db", help="the database").add_subparsers(dest="command", required=True)
    grant = db.add_parser("grant", help="PostgreSQL: the owner/application role split")
    grant.add_argument("--owner-url", required=True, help="a URL that connects as the tables' owner")
    grant.add_argument("--app-role", required=True, help="the role the bot connects as")
    keys = areas.add_parser("keys", help="the master key").add_subparsers(dest="command", required=True)
    keys.add_parser("rotate", help="re-wrap every case key under the current master key (resumable)")
    keys.add_parser("seal", help="encrypt identifiers stored before encryption at rest (resumable)")
    areas.add_parser("cases", help="every case's anonymised record (erased ones included)")
    return parser


async def _cases(url: str) -> int:
    db = Database(url)
    try:
        await migrate_if_behind(db)
        rows = await case_statistics(db)
    finally:
        await db.dispose()
    print("reference\tstatus\toutcome\treceived\tclosed\terased")
    for row in rows:
        print("\t".join(row))
    return 0


async def _verify(url: str) -> int:
    db = Database(url)
    try:
        report = await verify_audit_trail(db)
    finally:
        await db.dispose()
    if report.broken is not None:
        bad = report.broken
        print(f"audit trail BROKEN at event {bad.row_id} ({bad.kind}, {bad.at}): {bad.reason}. "
              f"{report.rows} events before it are intact.")
        return 1
    print(f"audit trail intact: {report.rows} events; head {report.head}")
    return 0


async def _grant(owner_url: str, app_role: str) -> int:
    try:
        statements = await apply_role_split(owner_url, app_role)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    for statement in statements:
        print(statement)
    print(f"{app_role} may now read and append the audit trail, never change it.")
    return 0


async def _seal(settings: Settings) -> int:
    keyring = keyring_for(settings)
    if not keyring.enabled:
        print("ENCRYPT_AT_REST is off: nothing to seal with. Unset it.", file=sys.stderr)
        return 2
    db = Database(settings.database_url, keyring=keyring)
    try:
        await migrate_if_behind(db)
        sealed = await seal_existing(db)
    finally:
        await db.dispose()
    if db.is_sqlite and sealed:
        await asyncio.to_thread(vacuum_sqlite, settings.database_url)
    done = ", ".join(f"{field} {count}" for field, count in sorted(sealed.items())) or "nothing left in plain text"
    print(f"sealed under {keyring.describe()}: {done}")
    return 0


async def _rotate(settings: Settings) -> int:
    keyring = keyring_for(settings)
    if keyring.master is None:
        print("MASTER_KEY (or KEY_VAULT_URL) is not set: set it to the new master key, and the old one as "
              "MASTER_KEY_PREVIOUS, then run this again.", file=sys.stderr)
        return 2
    db = Database(settings.database_url, keyring=keyring)
    try:
        await migrate_if_behind(db)
        report = await keyring.rotate(db)
    finally:
        await db.dispose()
    print(f"case keys under master key {keyring.master.current.key_id}: {report.rewrapped} re-wrapped now, "
          f"{report.already_current} already, {report.destroyed} destroyed (erased cases), "
          f"{report.unopenable} could not be opened")
    if report.unopenable:
        print("Some keys are wrapped under a master key that is not configured: set it as MASTER_KEY_PREVIOUS "
              "and run this again.", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if args.area == "db":
        return asyncio.run(_grant(args.owner_url, args.app_role))
    try:
        settings = load_settings()
        if args.area == "keys":
            return asyncio.run(_rotate(settings) if args.command == "rotate" else _seal(settings))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if args.area == "cases":
        return asyncio.run(_cases(settings.database_url))
    return asyncio.run(_verify(settings.database_url))
