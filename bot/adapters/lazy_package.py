"""A package whose `__init__` runs in full only when something asks it for a name it has not
bound yet (start-up time and memory: README, Performance).

bot/teams/lazy_dialogs.py (botbuilder's dialogs without their prompts) and
bot/adapters/db/lazy_asyncio.py (SQLAlchemy's asyncio engine without its ORM session) bind
the names the bot uses at import, from the very submodules the real `__init__` takes them
from, and leave this hook on the package for every other name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Loader


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
