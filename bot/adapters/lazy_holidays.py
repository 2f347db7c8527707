"""England's bank holidays from the `holidays` library without importing every other country's
module, holiday group and calendar system (memory: README, Performance).

The calendar asks `holidays.country_holidays("GB", subdiv="ENG")` (scheduler/calendar.py). The
library resolves "GB" through its own lazy entity loader, which imports the one module
`holidays.countries.united_kingdom`; but Python first runs the parent package's `__init__`, and
`holidays/countries/__init__.py` imports all ~250 country modules to re-export their classes,
as `holidays/groups/__init__.py` and `holidays/calendars/__init__.py` import every holiday group
and calendar system (Chinese, Hindu, Islamic… with their tables): 9 MiB of the bot's memory and
85 ms of the first working-day question, for countries and calendars it never asks about. The
library stays the source of the bank holidays: nothing of its tables or rules is copied here,
only which of its own modules load, and when.

`install()` puts a finder on `sys.meta_path` (nothing of `holidays` is imported by it). When
each of those packages is first imported, the finder creates it from its real file, binds only
what its `__init__` takes from the modules England needs (`PACKAGES`; the very same objects),
and leaves the real `__init__` to run in full the first time anyone asks the package for any
other name (bot/adapters/lazy_package.py), exactly as a plain import would have. Submodules
import normally at any time. If an installed `__init__` is not the plain list of
`from <package>.<module> import …` statements expected, the finder steps aside and that package
imports as usual; tests/unit/test_startup_imports.py checks the saving, that the bank holidays
are the same, and that every other name still resolves to the same object.
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

# Each package whose `__init__` re-exports every module of its kind, and the modules of it that
# England's bank holidays need: the United Kingdom's class, the holiday groups it mixes in, and
# the calendars those groups compute with (the others: Chinese, Hindu, Islamic… tables).
PACKAGES: dict[str, frozenset[str]] = {
    "holidays.countries": frozenset({"united_kingdom"}),
    "holidays.groups": frozenset({"christian", "custom", "international"}),
    "holidays.calendars": frozenset({"gregorian", "julian", "julian_revised"}),
}


def package_imports(package: str, source: str) -> Imports | None:
    """The `from <package>.<module> import …` statements of the package's `__init__` for the
    modules England needs (`PACKAGES`), or None when the `__init__` holds anything but such
    statements, or does not import each of those modules."""
    eager = PACKAGES[package]
    imports: Imports = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # a docstring
            continue
        if not (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.startswith(f"{package}.")
        ):
            return None
        names = [(alias.name, alias.asname or alias.name) for alias in node.names]
        if any(name == "*" for name, _ in names):
            return None
        submodule = node.module.removeprefix(f"{package}.")
        if submodule in eager:
            imports.append((submodule, names))
    return imports if {submodule for submodule, _ in imports} == eager else None


class _PackageLoader(importlib.abc.Loader):
    """Creates one of `PACKAGES` from its real spec and runs only the eager imports."""

    def __init__(self, real: ModuleSpec, imports: Imports) -> None:
        self._real = real
        self._imports = imports

    def create_module(self, _spec: ModuleSpec) -> ModuleType:
        return importlib.util.module_from_spec(self._real)

    def exec_module(self, package: ModuleType) -> None:
        for submodule, names in self._imports:  # the package is in sys.modules: its submodules import
            module = importlib.import_module(f"{self._real.name}.{submodule}")
            for name, bound in names:
                setattr(package, bound, getattr(module, name))
        package.__spec__ = self._real  # as a plain import leaves it
        package.__loader__ = self._real.loader
        assert self._real.loader is not None
        package.__getattr__ = complete_on_first_miss(package, self._real.loader)  # type: ignore[method-assign]


class _PackagesFinder:
    """Answers for each package of `PACKAGES` once, then leaves the normal finders to it."""

    def __init__(self) -> None:
        self._waiting = {package for package in PACKAGES if package not in sys.modules}

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name not in self._waiting:
            return None
        self._waiting.discard(name)
        if not self._waiting:
            _uninstall(self)
        real = importlib.machinery.PathFinder.find_spec(name, path)
        if real is None or real.origin is None or real.loader is None or real.submodule_search_locations is None:
            return None
        imports = package_imports(name, Path(real.origin).read_text(encoding="utf-8"))
        if imports is None:
            return None
        spec = importlib.util.spec_from_loader(
            name,
            _PackageLoader(real, imports),
            origin=real.origin,
            is_package=True,
        )
        assert spec is not None
        spec.submodule_search_locations = real.submodule_search_locations
        return spec


def _uninstall(finder: _PackagesFinder) -> None:
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def install() -> bool:
    """Make `holidays`' countries, groups and calendars packages import only what England's bank
    holidays need until something asks them for another name. Returns whether it did; False
    when `holidays` is already imported or the finder is already in place."""
    if "holidays" in sys.modules or any(isinstance(f, _PackagesFinder) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _PackagesFinder())
    return True
