"""Modules imported after start-up join the frozen heap (bot/adapters/frozen_heap.py), so a full
collection during a turn does not walk them again."""

from __future__ import annotations

import asyncio
import gc
import sys
import types

import pytest

from bot.adapters import frozen_heap


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def _import_a_module(name: str) -> None:
    module = types.ModuleType(name)
    module.table = {i: [str(i)] for i in range(2000)}  # objects the collector tracks
    sys.modules[name] = module


def test_a_late_import_is_frozen_with_what_it_loaded(unfrozen) -> None:
    seen = len(sys.modules)
    _import_a_module("late_module_for_the_test")
    try:
        assert frozen_heap.freeze_if_imported(seen) == len(sys.modules)
        assert gc.get_freeze_count() >= 2000
        table = sys.modules["late_module_for_the_test"].table
        assert not gc.is_tracked(table) or table not in gc.get_objects()  # out of the collector's sight
    finally:
        del sys.modules["late_module_for_the_test"]


def test_nothing_is_frozen_when_nothing_was_imported(unfrozen) -> None:
    assert frozen_heap.freeze_if_imported(len(sys.modules)) == len(sys.modules)
    assert gc.get_freeze_count() == 0


def test_it_looks_a_bounded_number_of_times_and_then_stops(unfrozen) -> None:
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            _import_a_module("late_module_after_a_minute")

    try:
        asyncio.run(frozen_heap.freeze_late_imports(no_wait))
        assert slept == [frozen_heap.LOOK_EVERY_SECONDS] * frozen_heap.LOOKS
        assert gc.get_freeze_count() >= 2000  # frozen at the look after the import
    finally:
        sys.modules.pop("late_module_after_a_minute", None)
