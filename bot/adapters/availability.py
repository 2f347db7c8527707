"""Whether an error means "the database is busy", which both edges answer with BUSY, not as a failure."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlPoolTimeout

# PostgreSQL: lock_not_available, query_canceled, deadlock_detected, serialization_failure.
_UNAVAILABLE_SQLSTATES = frozenset({"55P03", "57014", "40P01", "40001"})


def database_unavailable(error: BaseException) -> bool:
    """The database answered that it is locked, unreachable or out of connections: a "busy"
    answer, not a failure (so is the turn's budget running out: `TimeoutError` at the edge)."""
    if isinstance(error, OperationalError | SqlPoolTimeout):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or getattr(error.orig, "sqlstate", None) in _UNAVAILABLE_SQLSTATES
    return False
