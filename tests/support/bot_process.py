"""Real `python -m bot` processes for tests that need them (two processes on one database,
a database locked from outside): started in local mode on a free port, stopped with SIGTERM.

They run outside the repository (no `.env` applies) with the repository on PYTHONPATH. The
test migrates the database before any process starts, so two processes never race to
migrate it; the activities it posts name its fake Bot Connector as their service URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bot.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    def __init__(self, workdir: Path, name: str, database_url: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "GRAPH_", "RR_"))}
        environment.update({"PORT": str(self.port), "HOST": "127.0.0.1", "DATABASE_URL": database_url,
                            "BOT_ENV": "local", "LOG_LEVEL": "INFO", "MicrosoftAppId": "",
                            "MicrosoftAppPassword": "", "PYTHONUNBUFFERED": "1",
                            "PUBLIC_BASE_URL": f"http://localhost:{self.port}", "PYTHONPATH": str(REPO_ROOT),
                            **(env or {})})
        with self.log.open("wb") as handle:
            self.popen = subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=environment,  # noqa: S603
                                          stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/api/messages"

    async def ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"the bot exited:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError):  # not listening yet
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"the bot did not start:\n{self.tail()}")

    async def post(self, http: aiohttp.ClientSession, activity: dict[str, Any],
                   timeout: float = 30.0) -> tuple[int, Any, float]:
        """POST an activity; (status, JSON body or None, seconds taken)."""
        started = time.monotonic()
        async with http.post(self.url, json=activity, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            text = await response.text()
            took = time.monotonic() - started
            try:
                body = await response.json(content_type=None) if text else None
            except ValueError:
                body = text
            return response.status, body, took

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
