"""`python -m bot`: start the bot.

Without Bot Framework credentials the bot runs in local mode: bound to 127.0.0.1,
requests not authenticated, for Microsoft 365 Agents Playground and development. It
says so loudly. With BOT_ENV=production it refuses to start without credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from bot.adapters import malloc_arenas, telemetry
from bot.domain import trace
from bot.settings import ConfigError, load_settings

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only what the code passes explicitly is logged; the
    code never passes referral content (docs/architecture.md, Confidentiality)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        turn = trace.current()  # every line logged during a turn names it (bot/domain/trace.py)
        if turn is not None:
            entry["correlation"] = turn.correlation
        trace_id = telemetry.trace_id()  # and its OpenTelemetry trace, when telemetry is on
        if trace_id is not None:
            entry["trace_id"] = trace_id
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[1] is not None:
            entry.update(_failure(record.exc_info[1]))
        return json.dumps(entry, default=str)


def _failure(error: BaseException) -> dict[str, object]:
    """An exception's type and where it happened, frame by frame (innermost last) — never its
    text, which can quote what someone typed about a child."""
    frames = traceback.extract_tb(error.__traceback__)[-20:]
    return {"error": type(error).__name__,
            "frames": [f"{'/'.join(Path(f.filename).parts[-3:])}:{f.lineno} in {f.name}" for f in frames]}


# Libraries that log at DEBUG/INFO what we must not: aiosqlite logs every statement with
# its parameters (referral content) at DEBUG; the rest are noise. Kept at WARNING even
# with LOG_LEVEL=DEBUG.
QUIET_LOGGERS = ("aiohttp.access", "msrest", "urllib3", "botframework", "botbuilder", "microsoft_agents", "msal",
                 "apscheduler", "alembic", "aiosqlite", "sqlalchemy", "asyncpg")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _freeze_start_up(_app: web.Application) -> None:
    """What start-up loaded lives as long as the process: moved out of the garbage collector's
    sight (gc.freeze), so a full collection during a turn walks only what turns allocate instead
    of holding the event loop over every module, model and table; collection was off while it all
    loaded (fewer passes over a growing heap: start-up time; README, Performance)."""
    gc.freeze()
    gc.callbacks.append(FreezeLateImports(asyncio.get_running_loop()))
    gc.enable()


class FreezeLateImports:
    """Freeze again what was imported after start-up, once a full collection has run.

    Some libraries are imported when first needed, not at start-up (the `holidays` library at
    the first deadline, the scheduler after the first turn, botbuilder's parts on first use):
    a benchmark run's bot had ~330 modules, ~29,000 objects, loaded after the start-up freeze,
    and every full collection walked them all, holding the event loop for 14-21 ms of CPU
    during turns. When a full collection ends and modules have been imported since the last
    freeze, what survived it is frozen on the loop's next turn: modules live as long as the
    process, and what a collection has just kept is live, so nothing that could be collected
    is frozen beyond the few objects made in between. It happens once per batch of late
    imports, a handful of times in a process's life."""

    def __init__(self, loop: asyncio.AbstractEventLoop, modules: Callable[[], int] = lambda: len(sys.modules),
                 freeze: Callable[[], None] = gc.freeze) -> None:
        self._loop = loop
        self._modules = modules
        self._freeze = freeze
        self._frozen_with = modules()

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        loaded = self._modules()
        if loaded > self._frozen_with and not self._loop.is_closed():  # closed: the process is ending
            self._frozen_with = loaded
            # Not inside the collector's callback (any thread may run it): on the loop, at once.
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                self._loop.call_soon_threadsafe(self._freeze)


def main() -> int:
    if sys.argv[1:2] == ["admin"]:  # the operator's commands (bot/admin/)
        from bot.admin import main as admin

        return admin(sys.argv[2:])
    gc.disable()  # until the bot has started (_freeze_start_up)
    malloc_arenas.use_one_arena()  # before any thread starts
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        if settings.loop_probe_file:  # the benchmark's measurement of the event loop (off by default)
            from bot.adapters import loop_probe

            loop_probe.install(Path(settings.loop_probe_file))
        from bot.app import bootstrap, build_web_app

        components = bootstrap(settings)
    except ConfigError as error:
        print(f"Rapid Review bot cannot start:\n{error}", file=sys.stderr)
        return 2
    log = logging.getLogger("bot")
    if settings.local_mode:
        log.warning(
            "LOCAL MODE: no MicrosoftAppId, so requests are NOT authenticated. Listening on 127.0.0.1 only. "
            "Do not use with real case data.",
            extra={"port": settings.port},
        )
    log.info("starting", extra={"host": settings.bind_host, "port": settings.port,
                                "partnership": components.partnership.short_name,
                                "teams_edge": settings.teams_edge.value})  # which SDK answers Teams (README)
    if settings.training_mode:
        log.warning("TRAINING MODE: a rehearsal with synthetic cases only; every card says so.",
                    extra={"database": settings.database_url})
    try:
        app = build_web_app(components)
        app.on_startup.append(_freeze_start_up)
        web.run_app(app, host=settings.bind_host, port=settings.port, access_log=None, print=lambda *_: None)
        telemetry.shutdown()  # the last spans and metrics out (nothing when telemetry is off)
    except ConfigError as error:  # found at start-up (e.g. the database's training stamp)
        print(f"Rapid Review bot cannot start:\n{error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
