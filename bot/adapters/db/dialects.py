"""What differs between the two engines' SQL, chosen without loading the other's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import sqlite


def dialect_insert(is_sqlite: bool) -> Any:
    """SQLite's or PostgreSQL's `insert` (each has ON CONFLICT). SQLAlchemy's PostgreSQL dialect
    is imported only when the database is PostgreSQL: on the embedded SQLite it would be ~2 MiB of
    every process's memory and ~20 ms of its start-up for nothing (README, Performance)."""
    if is_sqlite:
        return sqlite.insert
    from sqlalchemy.dialects import postgresql

    return postgresql.insert
