"""What is imported after start-up is frozen once a full collection has run (bot/__main__.py,
`FreezeLateImports`), so later full collections do not walk it again during turns."""

from __future__ import annotations

import asyncio
import gc

from bot.__main__ import FreezeLateImports


class _Loop:
    def __init__(self) -> None:
        self.scheduled: list[object] = []

    def call_soon_threadsafe(self, callback: object) -> None:
        self.scheduled.append(callback)

    def is_closed(self) -> bool:
        return False


def _freezer(modules: list[int]) -> tuple[FreezeLateImports, _Loop, list[str]]:
    loop, frozen = _Loop(), []
    hook = FreezeLateImports(loop, modules=lambda: modules[0], freeze=lambda: frozen.append("frozen"))  # type: ignore[arg-type]
    return hook, loop, frozen


def test_modules_imported_since_the_last_freeze_are_frozen_after_the_next_full_collection() -> None:
    modules = [300]
    hook, loop, frozen = _freezer(modules)
    hook("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    assert loop.scheduled == [], "nothing imported since start-up: nothing to freeze"
    modules[0] = 630  # the holidays library, the scheduler: imported at their first use
    hook("start", {"generation": 2})
    hook("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
    hook("stop", {"generation": 1, "collected": 0, "uncollectable": 0})
    assert loop.scheduled == [], "only after a full collection: what it kept is live"
    hook("stop", {"generation": 2, "collected": 5, "uncollectable": 0})
    assert len(loop.scheduled) == 1
    loop.scheduled[0]()  # type: ignore[operator]
    assert frozen == ["frozen"]
    hook("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    assert len(loop.scheduled) == 1, "once per batch of late imports"
    modules[0] = 631
    hook("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    assert len(loop.scheduled) == 2


async def test_the_real_collector_hands_the_freeze_to_the_loop() -> None:
    """Installed as the bot installs it, a full collection after an import freezes on the loop."""
    loaded = [0]
    frozen: list[int] = []
    hook = FreezeLateImports(
        asyncio.get_running_loop(), modules=lambda: loaded[0], freeze=lambda: frozen.append(gc.get_freeze_count())
    )
    gc.callbacks.append(hook)
    try:
        loaded[0] = 1
        gc.collect()
        await asyncio.sleep(0)
    finally:
        gc.callbacks.remove(hook)
    assert len(frozen) == 1


def test_a_full_collection_after_the_loop_closed_asks_nothing_of_it() -> None:
    """At shutdown the loop closes first and the last collections run after it: the hook must not
    raise "Event loop is closed" out of the collector (Python prints it as an ignored exception)."""
    loop = asyncio.new_event_loop()
    loop.close()
    modules = [300]
    hook = FreezeLateImports(loop, modules=lambda: modules[0])
    modules[0] = 630  # imported since start-up
    hook("stop", {"generation": 2, "collected": 0, "uncollectable": 0})  # raised RuntimeError before
