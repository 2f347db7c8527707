"""`python -m bot.adapters.db.migrate`: apply migrations to DATABASE_URL and exit."""

from __future__ import annotations

import sys

from bot.adapters.db.database import upgrade_to_head
from bot.settings import ConfigError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    upgrade_to_head(settings.database_url)
    print("database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
