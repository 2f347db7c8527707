"""`botbuilder.dialogs` without loading its prompts until something asks for one (start-up time: README, Performance).

The package's `__init__` ends with `from .prompts import *`, `from .choices import *` and
`from .skills import *`. The prompts and choices import Microsoft's Recognizers-Text
(dates, numbers, choices in a dozen languages), which compiles hundreds of regular
expressions at import: ~17 MiB of the bot's memory and 0.2–0.4 s of its start-up
(tests/bench/bench.py), for prompts the bot never uses: its one dialog
(dialogs/referral_dialog.py) is an Adaptive Card form.

`install()` creates the package module itself and binds, in the package's own order,
every name its `__init__` imports explicitly (`from .dialog_set import DialogSet` …),
from the same submodules, so those are the very same objects as before. The first time
anyone asks the package for any other name (a prompt, a choice, `__all__` …), the real
`__init__` runs in full, exactly as a plain import would have, and the name is answered
from it. Submodules (`botbuilder.dialogs.prompts`, …) import normally at any time.

The SDK is pinned at 4.17.1 (pyproject.toml). If its `__init__` ever holds anything but
those imports and `__all__`, `install()` does nothing and the package imports as usual;
tests/unit/test_startup_imports.py checks both the saving and that every exported name still
resolves.
"""

from __future__ import annotations

import ast

from bot.adapters.lazy_package import install_lazily

PACKAGE = "botbuilder.dialogs"
DEFERRED = frozenset({"prompts", "choices", "skills"})  # the star-imported subpackages


def _explicit_imports(source: str) -> list[tuple[str, list[tuple[str, str]]]] | None:
    """The package `__init__`'s `from .x import a, b` statements in order, or None when it holds
    anything this module does not expect (then the package is imported as usual)."""
    imports: list[tuple[str, list[tuple[str, str]]]] = []
    starred: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            names = [(alias.name, alias.asname or alias.name) for alias in node.names]
            if names == [("*", "*")]:
                starred.add(node.module)
            elif not any(name == "*" for name, _ in names) and node.module.split(".")[0] not in DEFERRED:
                imports.append((node.module, names))
            else:
                return None
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]:
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # a docstring
            continue
        else:
            return None
    return imports if starred == DEFERRED else None


def install() -> bool:
    """Make `botbuilder.dialogs` load its prompts, choices and skills on first use. Returns
    whether it did; False when the package is already imported or not as expected."""
    return install_lazily(PACKAGE, _explicit_imports)
