"""England's bank holidays from the `holidays` library without importing every other country's
module (memory: README, Performance).

The calendar asks `holidays.country_holidays("GB", subdiv="ENG")` (scheduler/calendar.py). The
library resolves "GB" through its own lazy entity loader, which imports the one module
`holidays.countries.united_kingdom`; but Python first runs the parent package's `__init__`, and
`holidays/countries/__init__.py` imports all ~250 country modules to re-export their classes:
7 MiB of the bot's memory and 80 ms of the first working-day question, for countries it never
asks about. The library stays the source of the bank holidays: nothing of its tables or rules
is copied here, only the order in which its own modules load changes.

`install()` puts a one-shot finder on `sys.meta_path` (nothing of `holidays` is imported by
it). When the package `holidays.countries` is first imported, the finder creates it from its
real file, binds only what its `__init__` takes from `.united_kingdom` (the very same objects),
and leaves the real `__init__` to run in full the first time anyone asks the package for any
other name (bot/adapters/lazy_package.py), exactly as a plain import would have. Submodules
import normally at any time. If the installed `__init__` is not the plain list of
`from holidays.countries.<country> import …` statements expected, the finder steps aside and
the package imports as usual; tests/unit/test_startup_imports.py checks the saving, that the
bank holidays are the same, and that every other name still resolves to the same object.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bot.adapters.lazy_package import Imports, complete_on_first_miss

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

PACKAGE = "holidays.countries"
EAGER = frozenset({"united_kingdom"})  # the calendar's country (England is one of its subdivisions)


def country_imports(source: str) -> Imports | None:
    """The `from holidays.countries.united_kingdom import …` statements of the package's
    `__init__`, or None when the `__init__` holds anything but such statements, one per country
    module, or does not import the United Kingdom at all."""
    imports: Imports = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # a docstring
            continue
        if not (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.startswith(f"{PACKAGE}.")
        ):
            return None
        names = [(alias.name, alias.asname or alias.name) for alias in node.names]
        if any(name == "*" for name, _ in names):
            return None
        submodule = node.module.removeprefix(f"{PACKAGE}.")
        if submodule in EAGER:
            imports.append((submodule, names))
    return imports if {submodule for submodule, _ in imports} == EAGER else None


class _CountriesLoader(importlib.abc.Loader):
    """Creates `holidays.countries` from its real spec and runs only the eager imports."""

    def __init__(self, real: ModuleSpec, imports: Imports) -> None:
        self._real = real
        self._imports = imports

    def create_module(self, _spec: ModuleSpec) -> ModuleType:
        return importlib.util.module_from_spec(self._real)

    def exec_module(self, package: ModuleType) -> None:
        for submodule, names in self._imports:  # the package is in sys.modules: its submodules import
            module = importlib.import_module(f"{PACKAGE}.{submodule}")
            for name, bound in names:
                setattr(package, bound, getattr(module, name))
        package.__spec__ = self._real  # as a plain import leaves it
        package.__loader__ = self._real.loader
        assert self._real.loader is not None
        package.__getattr__ = complete_on_first_miss(package, self._real.loader)  # type: ignore[method-assign]


class _CountriesFinder:
    """Answers for `holidays.countries` once, then leaves the normal finders to it."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name != PACKAGE:
            return None
        _uninstall(self)
        real = importlib.machinery.PathFinder.find_spec(name, path)
        if real is None or real.origin is None or real.loader is None or real.submodule_search_locations is None:
            return None
        imports = country_imports(Path(real.origin).read_text(encoding="utf-8"))
        if imports is None:
            return None
        spec = importlib.util.spec_from_loader(
            name,
            _CountriesLoader(real, imports),
            origin=real.origin,
            is_package=True,
        )
        assert spec is not None
        spec.submodule_search_locations = real.submodule_search_locations
        return spec


def _uninstall(finder: _CountriesFinder) -> None:
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def install() -> bool:
    """Make `holidays.countries` import only the United Kingdom until something asks it for
    another name. Returns whether it did; False when the package is already imported or the
    finder is already in place."""
    if PACKAGE in sys.modules or any(isinstance(f, _CountriesFinder) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _CountriesFinder())
    return True
