"""`sqlalchemy.ext.asyncio` without the ORM session until something asks for it (start-up
time and memory: README, Performance).

The bot uses the asyncio engine and connection only (every store writes SQLAlchemy Core). The
package's `__init__` also imports `AsyncSession` and `async_scoped_session`, which import the
whole ORM (`sqlalchemy.orm`, about 6 MiB of the bot's memory for as long as it runs, and 50 ms
of its start-up), for nothing.

`install()` creates the package module itself, binds every name its `__init__` imports from
`.engine` and `.result` (the very same objects), and runs the one statement the `__init__`
runs besides imports (SQLAlchemy's greenlet shim initialisation). The first time anyone asks
the package for any other name (`AsyncSession`, `__all__` …), the real `__init__` runs in full,
exactly as a plain import would have (bot/adapters/lazy_package.py). Submodules import normally
at any time.

If the installed `__init__` holds anything else than those statements, `install()` does
nothing and the package imports as usual; tests/unit/test_startup_imports.py checks both the
saving and that every name still resolves to the same object.
"""

from __future__ import annotations

import ast

from bot.adapters.lazy_package import install_lazily

PACKAGE = "sqlalchemy.ext.asyncio"
EAGER = frozenset({"engine", "result"})  # what the bot uses; the rest waits for its first use
DEFERRED = frozenset({"session", "scoping"})  # the ORM's
# Besides imports, the __init__ runs exactly this (and deletes the name it imported for it).
_SHIM = ["from ...util import concurrency", "concurrency._concurrency_shim._initialize()", "del concurrency"]


def _explicit_imports(source: str) -> list[tuple[str, list[tuple[str, str]]]] | None:
    """The `from .engine/.result import a as a` statements in order, or None when the
    `__init__` holds anything this module does not expect."""
    imports: list[tuple[str, list[tuple[str, str]]]] = []
    rest: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in EAGER | DEFERRED:
            names = [(alias.name, alias.asname or alias.name) for alias in node.names]
            if any(name == "*" for name, _ in names):
                return None
            if node.module in EAGER:
                imports.append((node.module, names))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # a docstring
            continue
        else:
            rest.append(ast.unparse(node))
    return imports if rest == _SHIM else None


def install() -> bool:
    """Make `sqlalchemy.ext.asyncio` load its ORM session on first use. Returns whether it did;
    False when the package is already imported or not as expected."""
    return install_lazily(PACKAGE, _explicit_imports, also=_initialise_greenlet_shim)


def _initialise_greenlet_shim() -> None:
    """What the package's `__init__` does besides importing (`_SHIM`)."""
    from sqlalchemy.util import concurrency

    concurrency._concurrency_shim._initialize()
