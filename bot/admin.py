"""`python -m bot admin …`: the operator's commands, run beside the bot, never through Teams.

    python -m bot admin audit verify
        recompute the audit trail's hash chain; exit 1 at the first edited, inserted or
        deleted row (printed), 0 when intact (the head hash printed: keep it elsewhere to
        notice later that rows were cut from the end)
    python -m bot admin db grant --owner-url URL --app-role ROLE
        PostgreSQL only: as the tables' owner, give the bot's own role what it needs, and
        only INSERT and SELECT on the audit trail (docs/data-protection.md)

The database is the bot's own (DATABASE_URL, as `python -m bot` reads it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from bot.adapters.db.audit_log import apply_role_split, verify_audit_trail
from bot.adapters.db.database import Database
from bot.settings import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot admin", description="Operator commands.")
    areas = parser.add_subparsers(dest="area", required=True)
    audit = areas.add_parser("audit", help="the audit trail").add_subparsers(dest="command", required=True)
    audit.add_parser("verify", help="recompute the hash chain; exit 1 at the first bad row")
    db = areas.add_parser("db", help="the database").add_subparsers(dest="command", required=True)
    grant = db.add_parser("grant", help="PostgreSQL: the owner/application role split")
    grant.add_argument("--owner-url", required=True, help="a URL that connects as the tables' owner")
    grant.add_argument("--app-role", required=True, help="the role the bot connects as")
    return parser


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


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if args.area == "db":
        return asyncio.run(_grant(args.owner_url, args.app_role))
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    return asyncio.run(_verify(settings.database_url))
