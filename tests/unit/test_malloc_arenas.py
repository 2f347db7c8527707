"""The bot's process keeps one malloc arena (bot/adapters/malloc_arenas.py): a worker thread's
allocations (status's SQLite reads) go to the main heap instead of a second one kept beside it."""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from bot.adapters import malloc_arenas

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")

# A worker thread that reads through SQLite, as status's aggregate does; then glibc's own count
# of arenas (malloc_stats prints one "Arena N:" block per arena to stderr).
_PROCESS = textwrap.dedent("""
    import ctypes, sqlite3, sys, threading
    from bot.adapters import malloc_arenas
    if sys.argv[1] == "one":
        assert malloc_arenas.use_one_arena()
    def read():
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (v BLOB)")
        conn.executemany("INSERT INTO t VALUES (randomblob(3000))", [()] * 2000)
        conn.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
    worker = threading.Thread(target=read)
    worker.start(); worker.join()
    ctypes.CDLL("libc.so.6").malloc_stats()
""")


def _arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, mode], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def test_a_worker_threads_allocations_stay_in_the_one_arena() -> None:
    assert _arenas("default") >= 2, "glibc's default: the worker thread got an arena of its own"
    assert _arenas("one") == 1


def test_an_operators_own_setting_is_left_alone(monkeypatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert malloc_arenas.use_one_arena() is False


def test_the_bot_sets_it_before_anything_else_starts(monkeypatch) -> None:
    import bot.__main__ as entry

    calls: list[str] = []
    monkeypatch.setattr(entry.malloc_arenas, "use_one_arena", lambda: calls.append("arenas") or True)

    def stop() -> None:
        calls.append("settings")
        raise SystemExit(0)

    monkeypatch.setattr(entry, "load_settings", stop)
    monkeypatch.setattr(sys, "argv", ["bot"])
    collecting = gc.isenabled()
    try:
        with pytest.raises(SystemExit):
            entry.main()
    finally:
        if collecting:  # main() turns the collector off until the bot has started
            gc.enable()
    assert calls == ["arenas", "settings"]
