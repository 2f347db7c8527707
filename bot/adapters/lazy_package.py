"""A package whose `__init__` runs in full only when something asks it for a name it has not
bound yet (start-up time and memory: README, Performance).

bot/teams/lazy_dialogs.py (botbuilder's dialogs without their prompts) and
bot/adapters/db/lazy_asyncio.py (SQLAlchemy's asyncio engine without its ORM session) bind
the names the bot uses at import, from the very submodules the real `__init__` takes them
from, and leave this hook on the package for every other name.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Loader

# The `from .submodule import name as bound` statements to run at once, in order; None when
# the package's `__init__` is not what the caller expects (it then imports as usual).
Imports = list[tuple[str, list[tuple[str, str]]]]


def install_lazily(
    package_name: str, read_init: Callable[[str], Imports | None], also: Callable[[], None] | None = None
) -> bool:
    """Create the package module, bind the names `read_init(source of its __init__)` lists from
    their submodules (the very same objects), run `also` (what else the `__init__` does that must
    happen at import), and leave `complete_on_first_miss` for every other name. Returns whether
    it did; False when the package is already imported or its `__init__` is not as expected."""
    if package_name in sys.modules:
        return False
    spec = importlib.util.find_spec(package_name)
    if spec is None or spec.origin is None or spec.loader is None or spec.submodule_search_locations is None:
        return False
    imports = read_init(Path(spec.origin).read_text(encoding="utf-8"))
    if imports is None:
        return False
    parent = importlib.import_module(package_name.rpartition(".")[0])  # already imported by find_spec
    package = importlib.util.module_from_spec(spec)
    sys.modules[package_name] = package
    try:
        for submodule, names in imports:
            module = importlib.import_module(f"{package_name}.{submodule}")
            for name, bound in names:
                setattr(package, bound, getattr(module, name))
        if also is not None:
            also()
    except BaseException:
        sys.modules.pop(package_name, None)
        raise
    setattr(parent, package_name.rpartition(".")[2], package)  # what the import system does for a submodule
    package.__getattr__ = complete_on_first_miss(package, spec.loader)  # type: ignore[method-assign]
    return True


def complete_on_first_miss(package: ModuleType, loader: Loader) -> Callable[[str], object]:
    """The package's `__getattr__` (PEP 562), called only for names not bound yet: runs the
    real `__init__` once (under a lock: one thread runs it, the others wait for it), then
    answers from it, exactly as a plain import would have."""
    lock = threading.Lock()
    name_of_package = package.__name__

    def __getattr__(name: str) -> object:  # noqa: N807 - the module hook's name
        if name.startswith("__") and name != "__all__":  # probes (`__wrapped__` …): the real package has none either
            raise AttributeError(f"module {name_of_package!r} has no attribute {name!r}")
        with lock:
            if package.__dict__.get("__getattr__") is __getattr__:
                del package.__getattr__
                loader.exec_module(package)  # the real __init__, in full
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {name_of_package!r} has no attribute {name!r}") from None

    return __getattr__
