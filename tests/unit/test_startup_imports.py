"""Start-up budget (README, Performance): what `import bot.app` must not load, and that the lazy
`botbuilder.dialogs` (bot/teams/lazy_dialogs.py) still answers every name it exports.

Each check runs in a fresh interpreter: this test process has imported half the world.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.adapters import lazy_holidays
from bot.adapters.db import lazy_asyncio
from bot.teams.lazy_dialogs import _explicit_imports

ROOT = Path(__file__).resolve().parents[2]

# Heavy libraries that ordinary turns do not need; each is imported where it is used.
NOT_AT_START = (
    "recognizers_text",  # botbuilder.dialogs' prompts (bot/teams/lazy_dialogs.py)
    "recognizers_date_time",
    "botbuilder.dialogs.prompts",
    "botbuilder.dialogs.choices",
    "docx",  # the rapid review record (bot/adapters/documents.py)
    "lxml",
    "icalendar",  # the .ics invitation (bot/adapters/documents.py)
    "alembic",  # only when the schema is behind (bot/adapters/schema_check.py)
    "holidays",  # on the first working-day question (scheduler/calendar.py)
    "tenacity",  # Graph only (bot/adapters/meetings.py)
    "email_validator",  # the referral models are built on first use (bot/domain/referral.py)
    "opentelemetry",  # only when telemetry is configured (bot/adapters/telemetry.py)
    "azure.monitor",
    "sqlalchemy.orm",  # the ORM session of sqlalchemy.ext.asyncio (bot/adapters/db/lazy_asyncio.py)
    "sqlalchemy.dialects.postgresql",  # only on PostgreSQL (bot/adapters/db/dialects.py, schema.partial_index)
    "asyncpg",
)


def _run(code: str) -> dict:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_app_loads_none_of_the_libraries_only_some_turns_need() -> None:
    found = _run("""
        import json, sys
        import bot.app
        print(json.dumps(sorted(m for m in sys.modules)))
    """)
    loaded = [name for name in NOT_AT_START if name in found]
    assert loaded == [], (f"imported at start-up: {loaded} "
                          "(start-up budget, README, Performance: import these where they are used)")


def test_the_lazy_dialogs_package_answers_every_name_the_real_one_exports() -> None:
    lazy = _run("""
        import json, sys
        import bot.teams  # installs the lazy package
        import botbuilder
        import botbuilder.dialogs as d
        from botbuilder.dialogs import DialogSet, DialogState, DialogTurnStatus
        from botbuilder.dialogs.dialog_set import DialogSet as Direct
        before = "recognizers_date_time" in sys.modules
        core_same = DialogSet is Direct and botbuilder.dialogs is d and DialogState is d.DialogState
        names = sorted(d.__all__)  # asks for a name it has not bound: the real __init__ runs
        after = "recognizers_date_time" in sys.modules
        resolved = {n: f"{getattr(d, n).__module__}.{getattr(d, n).__qualname__}"
                    for n in names if hasattr(getattr(d, n), "__qualname__")}
        print(json.dumps({"before": before, "after": after, "core_same": core_same, "names": names,
                          "resolved": resolved, "getattr_left": "__getattr__" in vars(d)}))
    """)
    plain = _run("""
        import json
        import botbuilder.dialogs as d
        names = sorted(d.__all__)
        resolved = {n: f"{getattr(d, n).__module__}.{getattr(d, n).__qualname__}"
                    for n in names if hasattr(getattr(d, n), "__qualname__")}
        print(json.dumps({"names": names, "resolved": resolved}))
    """)
    assert lazy["before"] is False, "the prompts (Recognizers-Text) were loaded before anything asked for them"
    assert lazy["core_same"] is True
    assert lazy["after"] is True and lazy["getattr_left"] is False
    assert lazy["names"] == plain["names"]
    assert lazy["resolved"] == plain["resolved"]


def test_a_prompt_can_still_be_imported_by_name() -> None:
    found = _run("""
        import json
        import bot.teams
        from botbuilder.dialogs import TextPrompt, ChoicePrompt
        from botbuilder.dialogs.choices import Choice
        print(json.dumps([TextPrompt.__module__, ChoicePrompt.__module__, Choice.__module__]))
    """)
    assert found == ["botbuilder.dialogs.prompts.text_prompt", "botbuilder.dialogs.prompts.choice_prompt",
                     "botbuilder.dialogs.choices.choice"]


@pytest.mark.parametrize("source", [
    "from .dialog import Dialog\nfrom .prompts import *\nfrom .choices import *\n",  # no skills: not the 4.17 shape
    "from .dialog import Dialog\nfrom .prompts import *\nfrom .choices import *\nfrom .skills import *\nX = f()\n",
    "import os\nfrom .prompts import *\nfrom .choices import *\nfrom .skills import *\n",
    "from .dialog import *\nfrom .prompts import *\nfrom .choices import *\nfrom .skills import *\n",
    "from .prompts.text_prompt import TextPrompt\nfrom .prompts import *\nfrom .choices import *\n"
    "from .skills import *\n",
])
def test_an_unexpected_package_init_is_left_to_the_normal_import(source: str) -> None:
    assert _explicit_imports(source) is None


def test_the_expected_package_init_is_read_in_order() -> None:
    source = ('"""doc"""\nfrom .about import __version__\nfrom .dialog_set import DialogSet\n'
              "from .prompts import *\nfrom .choices import *\nfrom .skills import *\n"
              "from .object_path import ObjectPath\n__all__ = ['DialogSet']\n")
    assert _explicit_imports(source) == [("about", [("__version__", "__version__")]),
                                         ("dialog_set", [("DialogSet", "DialogSet")]),
                                         ("object_path", [("ObjectPath", "ObjectPath")])]


# ---- sqlalchemy.ext.asyncio without the ORM (bot/adapters/db/lazy_asyncio.py) -------------------

_ASYNCIO_NAMES = """
    import json, sys
    {setup}
    import sqlalchemy.ext.asyncio as a
    from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
    from sqlalchemy.ext.asyncio.engine import AsyncConnection as Direct
    before = "sqlalchemy.orm" in sys.modules
    names = sorted(n for n in dir(__import__("sqlalchemy.ext.asyncio", fromlist=["x"])) if not n.startswith("_"))
    names = sorted(set(names) | {{"AsyncSession", "async_sessionmaker", "async_scoped_session", "AsyncAttrs"}})
    resolved = {{n: f"{{getattr(a, n).__module__}}.{{getattr(a, n).__qualname__}}"
                for n in names if hasattr(getattr(a, n), "__qualname__")}}
    print(json.dumps({{"before": before, "same": AsyncConnection is Direct, "resolved": resolved,
                      "getattr_left": "__getattr__" in vars(a), "after": "sqlalchemy.orm" in sys.modules}}))
"""


def test_the_lazy_asyncio_package_answers_every_name_the_real_one_exports() -> None:
    lazy = _run(_ASYNCIO_NAMES.format(setup="import bot.adapters.db  # installs the lazy package"))
    plain = _run(_ASYNCIO_NAMES.format(setup=""))
    assert lazy["before"] is False, "the ORM was loaded before anything asked for it"
    assert lazy["same"] is True and plain["same"] is True
    assert lazy["resolved"] == plain["resolved"]
    assert lazy["after"] is True and lazy["getattr_left"] is False


@pytest.mark.parametrize("source", [
    "from .engine import AsyncEngine as AsyncEngine\n",  # without the greenlet shim's initialisation
    "from .engine import *\nfrom ...util import concurrency\nconcurrency._concurrency_shim._initialize()\n"
    "del concurrency\n",
    "from .engine import AsyncEngine as AsyncEngine\nimport os\nfrom ...util import concurrency\n"
    "concurrency._concurrency_shim._initialize()\ndel concurrency\n",
])
def test_an_unexpected_asyncio_init_is_left_to_the_normal_import(source: str) -> None:
    assert lazy_asyncio._explicit_imports(source) is None


def test_the_installed_asyncio_init_is_the_shape_the_lazy_package_expects() -> None:
    """Fails after an upgrade of SQLAlchemy that changes the package's `__init__`: then the
    package imports as usual (with the ORM) until bot/adapters/db/lazy_asyncio.py follows it."""
    import importlib.util

    spec = importlib.util.find_spec(lazy_asyncio.PACKAGE)
    assert spec is not None and spec.origin is not None
    found = lazy_asyncio._explicit_imports(Path(spec.origin).read_text(encoding="utf-8"))
    assert found is not None and {module for module, _ in found} == {"engine", "result"}


# ---- holidays.countries with the United Kingdom only (bot/adapters/lazy_holidays.py) --------------

_BANK_HOLIDAYS = """
    import json, sys
    {setup}
    from scheduler.calendar import EnglandCalendar
    calendar = EnglandCalendar()
    found = {{str(y): {{d.isoformat(): n for d, n in calendar.bank_holidays(y).items()}} for y in range(2019, 2031)}}
    countries = sorted(m for m in sys.modules if m.startswith("holidays.countries."))
    systems = sorted(m for m in sys.modules if m.startswith(("holidays.calendars.", "holidays.groups.")))
    import holidays, holidays.countries as c
    same = c.UnitedKingdom is sys.modules["holidays.countries.united_kingdom"].UnitedKingdom
    resolved = {{n: f"{{getattr(c, n).__module__}}.{{getattr(c, n).__qualname__}}" for n in ("France", "FR", "Wales")
                if hasattr(c, n)}}
    print(json.dumps({{"found": found, "countries": countries, "systems": systems, "same": same, "resolved": resolved,
                      "by_code": holidays.country_holidays("FR", years=2026).get("2026-07-14"),
                      "other_calendars": {{c: {{d.isoformat(): n for d, n in holidays.country_holidays(c, years=2026).items()}}
                                          for c in ("SA", "CN", "IN", "IL")}},  # Islamic, Chinese, Hindu, Hebrew
                      "getattr_left": "__getattr__" in vars(c), "loader": type(c.__spec__.loader).__name__}}))
"""


def test_the_bank_holidays_are_the_librarys_with_only_the_united_kingdom_loaded() -> None:
    lazy = _run(_BANK_HOLIDAYS.format(setup="import bot.app  # installs the finder; imports nothing of holidays"))
    plain = _run(_BANK_HOLIDAYS.format(setup=""))
    assert lazy["found"] == plain["found"]
    assert sum(len(days) for days in lazy["found"].values()) > 90  # 12 years of England's bank holidays
    assert lazy["countries"] == ["holidays.countries.united_kingdom"]
    assert len(plain["countries"]) > 150  # what the plain import loads: every country (191 in 0.75, over 200 later)
    assert "holidays.calendars.islamic" in plain["systems"] and "holidays.calendars.islamic" not in lazy["systems"]
    assert "holidays.groups.christian" in lazy["systems"]
    assert lazy["same"] is True and lazy["resolved"] == plain["resolved"] and lazy["by_code"] == plain["by_code"]
    assert lazy["other_calendars"] == plain["other_calendars"] and all(plain["other_calendars"].values())
    assert lazy["getattr_left"] is False and lazy["loader"] == plain["loader"] == "SourceFileLoader"


@pytest.mark.parametrize(("package", "source"), [
    ("holidays.countries", "from holidays.countries.france import France, FR, FRA\n"),  # no United Kingdom
    ("holidays.countries", "from holidays.countries.united_kingdom import *\n"),
    ("holidays.countries", "from holidays.countries.united_kingdom import UnitedKingdom\nimport os\n"),
    ("holidays.countries", "from .united_kingdom import UnitedKingdom\n"),
    ("holidays.groups", "from holidays.groups.christian import ChristianHolidays\n"),  # without custom, international
])
def test_an_unexpected_holidays_init_is_left_to_the_normal_import(package: str, source: str) -> None:
    assert lazy_holidays.package_imports(package, source) is None


@pytest.mark.parametrize("package", sorted(lazy_holidays.PACKAGES))
def test_the_installed_holidays_inits_are_the_shape_the_finder_expects(package: str) -> None:
    """Fails after an upgrade of `holidays` that changes one of these packages' `__init__`: then it
    imports every module as before until bot/adapters/lazy_holidays.py follows it."""
    import importlib.util

    spec = importlib.util.find_spec("holidays")
    assert spec is not None and spec.submodule_search_locations is not None
    init = Path(spec.submodule_search_locations[0], *package.split(".")[1:], "__init__.py")
    found = lazy_holidays.package_imports(package, init.read_text(encoding="utf-8"))
    assert found is not None and {module for module, _ in found} == lazy_holidays.PACKAGES[package]
