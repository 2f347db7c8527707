"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

`database_url` runs a test twice: on a SQLite file in the test's tmp_path and on a new
PostgreSQL database created for that test alone (dropped afterwards). PostgreSQL is
reached as `postgres` on 127.0.0.1:5432 (override with TEST_POSTGRES_ADMIN_URL, a URL to
an existing database the tests may create databases from). When it cannot be reached
the PostgreSQL runs are skipped on a developer's machine and fail in CI (CI=true), so
a CI job never goes green without having tested PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from bot.domain.referral import (
    ChildrenDetails,
    Declaration,
    IncidentDetails,
    PathwayChoice,
    ReferrerDetails,
    ReferrerViews,
)
from bot.domain.referral import Referral as _Referral

ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


class _PostgresAdmin:
    """One autocommit connection for CREATE/DROP DATABASE, opened on first use and
    kept for the session (a connection costs more than creating an empty database)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn = None
        self._error: Exception | None = None

    def _connect(self):  # noqa: ANN202 - psycopg.Connection
        if self._conn is None and self._error is None:
            import psycopg

            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
            except Exception as error:  # noqa: BLE001 - any failure means "no PostgreSQL here"
                self._error = error
        if self._conn is None:
            message = f"PostgreSQL is not reachable at {self.url}: {self._error}"
            if _in_ci():
                pytest.fail(f"{message} (CI=true: the PostgreSQL tests must run)", pytrace=False)
            pytest.skip(message)
        return self._conn

    def create(self) -> str:
        from sqlalchemy.engine import make_url

        conn = self._connect()
        name = f"rr_{uuid.uuid4().hex[:16]}"
        conn.execute(f'CREATE DATABASE "{name}"')
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        if self._conn is not None:
            self._conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[_PostgresAdmin]:
    admin = _PostgresAdmin(ADMIN_URL)
    yield admin
    admin.close()


@pytest.fixture
def pg_url(_pg_admin: _PostgresAdmin) -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (no schema: call `Database.migrate()`)."""
    url = _pg_admin.create()
    try:
        yield url
    finally:
        _pg_admin.drop(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    """A new, empty database of each kind (no schema: call `Database.migrate()`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rr.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def db(database_url: str):  # noqa: ANN201 - an async generator fixture
    """A database handle on `database_url`, migrated, disposed of after the test."""
    from bot.adapters.db.database import Database

    database = Database(database_url)
    await database.migrate()
    yield database
    await database.dispose()


# ---- a valid referral as the domain model ------------------------------------------------------


def make_referral(
    *,
    child_name: str = "Test Child",
    date_of_birth: date | None = date(2017, 2, 3),
    location: str | None = "A street",
    family: str | None = "Mother, stepfather",
    agency: str = "Education (school or college)",
) -> _Referral:
    return _Referral(
        referrer=ReferrerDetails(
            agency=agency,
            name="Riley Referrer",
            email="riley.referrer@example.org",
            job_title="Designated safeguarding lead",
            discussed_with="Head teacher",
        ),
        pathway=PathwayChoice(pathway="A"),
        incident=IncidentDetails(
            incident_date=date(2026, 11, 20),
            incident_location=location,
            outcome="seriously_harmed",
            abuse_or_neglect="suspected",
            looked_after="no",
            summary="Admitted to hospital with unexplained injuries.",
        ),
        children=ChildrenDetails(
            children=[{"name": child_name, "date_of_birth": date_of_birth, "gender": "female"}],
            family_members=family,
        ),
        views=ReferrerViews(meets_criteria="Serious injury.", family_consulted="yes", key_worker_consulted="yes"),
        declaration=Declaration(senior_manager_reviewed=True),
    )


@pytest.fixture
def referral_factory():  # noqa: ANN201
    """`referral_factory(child_name=...)` -> a valid `Referral`."""
    return make_referral


@pytest.fixture(params=["botbuilder", "agents"])
def edge(request: pytest.FixtureRequest) -> str:
    """Which Teams edge answers `/api/messages` (TEAMS_EDGE): botbuilder (bot/teams/) or the
    Microsoft 365 Agents SDK (bot/agents/). A suite takes it through `BotHarness.serve_on`."""
    return str(request.param)
