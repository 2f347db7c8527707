"""Two instances starting at once on a new (or older) PostgreSQL database both migrate it at start-up
(bot/app.py → Database.migrate): they take turns (an advisory lock in the migrations' env.py) instead of
running the same migration twice, where the second died on a duplicate table (seen when the container's
two instances first started together on an empty database)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.db.database import sync_url

pytestmark = pytest.mark.postgres

INSTANCES = 4
# Each instance is a process of its own, as in a deployment (Alembic's context is one per process).
# They wait for a common start time, so that all of them find the database empty.
MIGRATE = """
import sys, time
from bot.adapters.db.database import upgrade_to_head
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
upgrade_to_head(sys.argv[1])
"""


def test_instances_migrating_an_empty_database_at_once_all_succeed(pg_url):
    import time

    start = time.time() + 4.0  # after every interpreter has started and imported the bot
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATE, pg_url, str(start)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(INSTANCES)]
    results = [(p.wait(timeout=180), p.stderr.read() if p.stderr else "") for p in processes]
    failed = [err.strip().splitlines()[-1] for code, err in results if code != 0]
    assert failed == [], failed
    engine = create_engine(sync_url(pg_url))
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert len(versions) == 1  # one head, written once
