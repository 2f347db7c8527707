"""`python -m bot admin …` (or `rapid-review-admin …`): the operator's commands, run beside the
bot, never through Teams. docs/admin.md describes each one and the backup and restore drill.

    check                      the configuration, the partnership file and the database (reachable,
                               at the schema head); exit 1 listing every problem
    cases list [--all]         cases and their next deadlines (no child identifiers; audited)
    cases statistics           every case as the statistics see it: reference, status, how it ended,
                               received, closed and erased dates, erased cases' anonymised records
                               included (no identifiers)
    outbox show                failed, parked and stuck messages, with why (never their content; audited)
    outbox retry ID… | --all-failed
                               make them due now with a fresh set of attempts (audited)
    links rotate-secret        a new secret for the signed file links: links sent before stop working
    db backup PATH             SQLite: an online backup (safe while the bot runs); PostgreSQL: the
                               pg_dump command to run (this command does not pretend to)
    db restore PATH            into an EMPTY database only, then `db verify`
    db verify                  schema at head, audit chain intact, row counts
    db migrate                 apply the migrations
    db grant --owner-url URL --app-role ROLE
                               PostgreSQL only: the owner/application role split (docs/data-protection.md)
    audit verify               recompute the audit trail's hash chain; exit 1 at the first bad row
    keys rotate | keys seal    the master key (docs/data-protection.md)

Every command that reads or changes case data is recorded in the audit trail with the operator
as its actor: the OS user, or `--operator NAME`. The database is the bot's own (DATABASE_URL).
Exit codes: 0 done, 1 a problem found (printed), 2 the command could not run as asked.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import Sequence

from bot.adapters.db.audit_log import apply_role_split, verify_audit_trail
from bot.adapters.db.database import Database
from bot.adapters.db.operations import Operator
from bot.adapters.db.retention_store import case_statistics
from bot.adapters.db.sealing import seal_existing, vacuum_sqlite
from bot.adapters.schema_check import migrate_if_behind
from bot.app import keyring_for
from bot.services.ports import Clock
from bot.settings import ConfigError, Settings, load_settings

_OPERATOR_NAME = re.compile(r"[^A-Za-z0-9._@\\-]")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot admin", description="Operator commands (docs/admin.md).")
    parser.add_argument("--operator", help="who is running this, for the audit trail (default: the OS user)")
    areas = parser.add_subparsers(dest="area", required=True)
    areas.add_parser("check", help="configuration, partnership file and database; exit 1 with each problem")
    cases = areas.add_parser("cases", help="cases").add_subparsers(dest="command", required=True)
    listing = cases.add_parser("list", help="cases and their next deadlines (audited)")
    listing.add_argument("--all", action="store_true", help="closed cases too")
    cases.add_parser("statistics", help="every case's anonymised record (erased ones included)")
    outbox = areas.add_parser("outbox", help="messages waiting to be sent").add_subparsers(dest="command",
                                                                                          required=True)
    outbox.add_parser("show", help="failed, parked and stuck messages with why (audited)")
    retry = outbox.add_parser("retry", help="make messages due now (audited)")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID", help="outbox message ids")
    which.add_argument("--all-failed", action="store_true", help="every failed message")
    links = areas.add_parser("links", help="signed file links").add_subparsers(dest="command", required=True)
    links.add_parser("rotate-secret", help="a new link secret: links sent before stop working (audited)")
    audit = areas.add_parser("audit", help="the audit trail").add_subparsers(dest="command", required=True)
    audit.add_parser("verify", help="recompute the hash chain; exit 1 at the first bad row")
    db = areas.add_parser("db", help="the database").add_subparsers(dest="command", required=True)
    grant = db.add_parser("grant", help="PostgreSQL: the owner/application role split")
    grant.add_argument("--owner-url", required=True, help="a URL that connects as the tables' owner")
    grant.add_argument("--app-role", required=True, help="the role the bot connects as")
    backup = db.add_parser("backup", help="SQLite: online backup to PATH; PostgreSQL: the pg_dump command")
    backup.add_argument("path", help="a new file")
    restore = db.add_parser("restore", help="restore PATH into an empty database, then verify it")
    restore.add_argument("path", help="a backup made by `db backup` (PostgreSQL: by pg_dump)")
    db.add_parser("verify", help="schema at head, audit chain intact, row counts")
    db.add_parser("migrate", help="apply the migrations")
    keys = areas.add_parser("keys", help="the master key").add_subparsers(dest="command", required=True)
    keys.add_parser("rotate", help="re-wrap every case key under the current master key (resumable)")
    keys.add_parser("seal", help="encrypt identifiers stored before encryption at rest (resumable)")
    return parser


def operator_from(flag: str | None) -> Operator:
    """The operator's name for the audit trail: --operator, else the OS user; kept to a plain
    account-name alphabet (no free text in an audit row)."""
    raw = flag if flag is not None else _os_user()
    name = _OPERATOR_NAME.sub("_", raw.strip())[:64]
    return Operator(name or "unknown")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database (a container's random uid)
        return "unknown"


async def _statistics(url: str) -> int:
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


def main(argv: Sequence[str], *, clock: Clock | None = None) -> int:
    """Run one command; `clock` is the time the commands see (tests pass a fixed one)."""
    args = _parser().parse_args(list(argv))
    operator = operator_from(args.operator)
    if args.area == "check":
        from bot.admin.check import run_check

        return asyncio.run(run_check())
    if args.area == "db" and args.command == "grant":
        return asyncio.run(_grant(args.owner_url, args.app_role))
    try:
        settings = load_settings()
        if args.area == "keys":
            return asyncio.run(_rotate(settings) if args.command == "rotate" else _seal(settings))
        if args.area == "audit":
            return asyncio.run(_verify(settings.database_url))
        from bot.admin import data

        if args.area == "db":
            return asyncio.run(data.database_command(settings, operator, args.command, getattr(args, "path", None),
                                                     clock=clock))
        if args.area == "cases" and args.command == "statistics":
            return asyncio.run(_statistics(settings.database_url))
        if args.area == "cases":
            return asyncio.run(data.list_cases(settings, operator, include_closed=args.all, clock=clock))
        if args.area == "outbox":
            if args.command == "show":
                return asyncio.run(data.show_outbox(settings, operator, clock=clock))
            return asyncio.run(data.retry_outbox(settings, operator, args.ids, all_failed=args.all_failed,
                                                 clock=clock))
        return asyncio.run(data.rotate_link_secret(settings, operator, clock=clock))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2


def console() -> None:
    """The `rapid-review-admin` console script."""
    sys.exit(main(sys.argv[1:]))
