"""Browser walk-through tests: the real bot, Microsoft 365 Agents Playground and headless Chromium.

Each test gets its own bot process (`python -m bot`, a fresh SQLite database in a temporary
folder, local mode, port 3978 or a free one if 3978 is taken), its own Playground process (the
binary pinned in package-lock.json, the repository's `.m365agentsplayground.yml`, no browser of
its own, no telemetry) and a fresh browser page on it. Every process is started in its own
process group and the whole group is killed at teardown, so nothing is left behind even when a
test fails half-way.

Screenshots: the `shot` fixture saves `tests/e2e/output/<test>/NN-<step>.png` (git-ignored); a
failing test also gets `NN-failure.png` and the bot's and Playground's logs in the same folder.

What it needs (`.ci/e2e-setup` installs all of it): Debian's chromium (`/usr/bin/chromium`, or
the path in E2E_CHROMIUM), Node, `npm ci` at the repository root, and the `playwright` Python
package. When one is missing the tests are skipped with the reason, except with CI=true,
where they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_ROOT = Path(__file__).resolve().parent / "output"
PLAYGROUND_BIN = REPO_ROOT / "node_modules" / ".bin" / "agentsplayground"
PLAYGROUND_CONFIG = REPO_ROOT / ".m365agentsplayground.yml"
BOT_PORT = 3978
PLAYGROUND_PORT = 56150
START_TIMEOUT_S = 30.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# ---- what the tests need on the machine ---------------------------------------------------------------


def _chromium_path() -> str | None:
    wanted = os.environ.get("E2E_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _missing_tools() -> list[str]:
    missing = []
    if _chromium_path() is None:
        missing.append("chromium (apt-get install chromium, or set E2E_CHROMIUM)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs npm)")
    if not PLAYGROUND_BIN.exists():
        missing.append("Microsoft 365 Agents Playground (run `npm ci` at the repository root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install playwright; no `playwright install` needed)")
    return missing


@pytest.fixture(scope="session")
def e2e_tools() -> str:
    """The chromium executable; skips (fails with CI=true) when anything the tests need is missing."""
    missing = _missing_tools()
    if missing:
        reason = "e2e tests need: " + "; ".join(missing) + ". Run .ci/e2e-setup."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    path = _chromium_path()
    assert path is not None
    return path


# ---- processes ------------------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:  # Playground listens on ::
        try:
            s6.bind(("::", port))
        except OSError:
            return False
    return True


def _pick_port(preferred: int) -> int:
    if _port_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepting(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before it was ready:\n"
                                   f"{self.log_tail()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Kill the whole process group: SIGTERM, then SIGKILL after 5 s."""
        try:
            pgid = os.getpgid(self.popen.pid)
        except ProcessLookupError:
            pgid = None
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if pgid is None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self.popen.poll() is not None and not _group_alive(pgid):
                    return
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if pytest itself is killed (Linux), so even `kill -9` leaves no server."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, port: int) -> Proc:
    handle = log.open("wb")
    try:
        popen = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 preexec_fn=_die_with_parent if sys.platform == "linux" else None)  # noqa: PLW1509
    finally:
        handle.close()
    return Proc(name, popen, log, port)


@pytest.fixture
def e2e_workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rr-e2e-") as tmp:
        yield Path(tmp)


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Extra environment for the bot; override in a test module, e.g. `{"TRAINING_MODE": "true"}` for training mode."""
    return {}


@pytest.fixture
def bot(e2e_tools: str, e2e_workdir: Path, bot_env: dict[str, str]) -> Iterator[Proc]:
    """The real bot (`python -m bot`): fresh SQLite database, local mode, started outside the repo so no `.env` applies.

    `bot_env` adds to (or overrides) its environment; the database is always the temporary one
    unless `bot_env` names another DATABASE_URL.
    """
    port = _pick_port(BOT_PORT)
    home = e2e_workdir / "bot"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("Microsoft", "GRAPH_"))}
    env.update(PORT=str(port), HOST="127.0.0.1", BOT_ENV="local", DATABASE_URL=f"sqlite:///{home / 'bot.db'}",
               PYTHONUNBUFFERED="1")
    env.update(bot_env)
    proc = _start("bot", [sys.executable, "-m", "bot"], cwd=home, env=env, log=home / "bot.log", port=port)
    try:
        proc.wait_ready(lambda: _accepting(port))
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def playground_config() -> Path:
    """The mock tenant Playground starts with; override in a test module to act as someone else."""
    return PLAYGROUND_CONFIG


@pytest.fixture
def playground(bot: Proc, e2e_workdir: Path, playground_config: Path) -> Iterator[Proc]:
    """Microsoft 365 Agents Playground (pinned npm binary) talking to `bot`; its devTools/ log stays in the temp folder."""
    port = _pick_port(PLAYGROUND_PORT)
    home = e2e_workdir / "playground"
    home.mkdir()
    env = dict(os.environ, TEAMSAPPTESTER_BROWSER="none", M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(playground_config))
    argv = [str(PLAYGROUND_BIN), "-e", f"http://localhost:{bot.port}/api/messages", "-c", "msteams",
            "-p", str(port), "--disable-telemetry"]
    proc = _start("Playground", argv, cwd=home, env=env, log=home / "playground.log", port=port)
    try:
        def listening() -> bool:
            text = proc.log.read_text(errors="replace")
            match = re.search(r"Listening on (\d+)", text)
            if match:
                proc.port = int(match.group(1))  # it falls back to a random port if ours was taken meanwhile
            return match is not None and _accepting(proc.port)

        try:
            proc.wait_ready(listening)
        except RuntimeError as error:
            devtools = home / "devTools" / "m365agentsplayground.log"
            detail = devtools.read_text(errors="replace")[-3000:] if devtools.exists() else ""
            raise RuntimeError(f"{error}\n{devtools}:\n{detail}") from None
        # "Listening" comes just before it may still exit on a bad config file: make sure it stays up.
        time.sleep(0.3)
        proc.wait_ready(lambda: True)
        yield proc
    finally:
        proc.stop()


# ---- browser ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(e2e_tools: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=e2e_tools, headless=True,
                                      args=["--disable-dev-shm-usage", "--no-first-run"])
        try:
            yield chromium
        finally:
            chromium.close()


def _output_dir(request: pytest.FixtureRequest) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    folder = OUTPUT_ROOT / safe
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


class Shots:
    """Numbered screenshots of one test: shot("help-card") -> output/<test>/01-help-card.png."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.page = None

    def __call__(self, step: str, page: object | None = None) -> Path:
        target = page or self.page
        if target is None:
            raise RuntimeError("no page to screenshot")
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', step)}.png"
        target.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(_output_dir(request))


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: object, playground: Proc, bot: Proc, shot: Shots) -> Iterator[object]:
    """A fresh browser page on Playground, loaded and connected to the bot."""
    from tests.e2e import playground as pg

    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB",  # type: ignore[attr-defined]
                                  timezone_id="Europe/London")
    context.set_default_timeout(pg.TIMEOUT_MS)
    tab = context.new_page()
    shot.page = tab
    try:
        pg.open_playground(tab, playground.url)
        yield tab
    finally:
        failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                     for when in ("setup", "call"))
        if failed:
            with contextlib.suppress(Exception):
                shot("failure", tab)
            logs = [bot.log, playground.log, playground.log.parent / "devTools" / "m365agentsplayground.log"]
            for log in logs:
                with contextlib.suppress(OSError):
                    shutil.copy(log, shot.folder / log.name)
        context.close()
