"""SQLite for SQLAlchemy's asyncio engine, run on the event loop's own thread.

Why: the stock async SQLite driver, aiosqlite, sends every cursor call (cursor, execute,
fetchall, close, commit…) to a worker thread and back through `call_soon_threadsafe`.
Measured on this project's 2-core machines (tests/bench/bench.py; README, Performance), one read
transaction with one indexed query cost 1.5–1.7 ms of CPU and each further statement
about 0.5 ms, while the query itself takes 4 µs in sqlite3. A vote turn runs ~40
statements, so most of its CPU went on thread hops, not on SQL.

Here each call runs synchronously, in place: SQLAlchemy's adapters (InlineAdaptedCursor,
InlineAdaptedConnection) call sqlite3 from inside SQLAlchemy's greenlet instead of awaiting
each call through it. That is the right trade for an
embedded database whose statements are indexed and sub-millisecond; what must never
happen is a *wait* on the loop thread, and the only waits SQLite has are lock waits
(another connection or process holds the write lock). So connections are opened with
sqlite3's own busy timeout at zero, and a busy answer is retried here with
`await asyncio.sleep`, letting the loop run, until the configured `timeout` runs out —
the same deadline sqlite3 would have blocked for.

The shim has the small part of aiosqlite's interface that SQLAlchemy's aiosqlite
dialect uses, so SQL compilation, type handling and pooling stay SQLAlchemy's own.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine, AsyncTransaction
from sqlalchemy.ext.asyncio.result import _ensure_sync_result
from sqlalchemy.util.concurrency import await_, in_greenlet

DEFAULT_BUSY_SECONDS = 30.0
FIRST_BACKOFF_SECONDS = 0.002
MAX_BACKOFF_SECONDS = 0.05


def _is_retryable_busy(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY and its retryable extended codes. BUSY_SNAPSHOT (a read transaction
    that tried to write after another commit) can never succeed by waiting."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return "database is locked" in str(error)
    return code & 0xFF == sqlite3.SQLITE_BUSY and code != 517  # 517 = SQLITE_BUSY_SNAPSHOT


async def _retry_busy(action: Callable[[], Any], busy_seconds: float) -> Any:
    try:
        return action()
    except sqlite3.OperationalError as error:
        if not _is_retryable_busy(error):
            raise
    loop = asyncio.get_running_loop()
    deadline = loop.time() + busy_seconds
    delay = FIRST_BACKOFF_SECONDS
    while True:
        await asyncio.sleep(delay)
        try:
            return action()
        except sqlite3.OperationalError as error:
            if not _is_retryable_busy(error) or loop.time() >= deadline:
                raise
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)


class WaitOnLoop(Exception):  # noqa: N818 - a signal to the caller, not an error it reports
    """The database was busy where nothing can wait for it: a statement run straight from a
    coroutine (InlineAsyncConnection.execute), outside SQLAlchemy's greenlet. Nothing was done;
    the caller runs the statement again through the greenlet, whose `await_` can wait."""


def _now(action: Callable[[], Any], busy_seconds: float) -> Any:
    """Run a sqlite3 call in place. Only a busy answer leaves it: inside SQLAlchemy's greenlet
    the wait (`_retry_busy`) runs on the event loop through `await_`; outside it, WaitOnLoop
    sends the caller to the greenlet."""
    try:
        return action()
    except sqlite3.OperationalError as error:
        if not _is_retryable_busy(error):
            raise
        if not in_greenlet():
            raise WaitOnLoop() from error
    return await_(_retry_busy(action, busy_seconds))


class InlineCursor:
    __slots__ = ("_cursor", "_busy_seconds")

    def __init__(self, cursor: sqlite3.Cursor, busy_seconds: float) -> None:
        self._cursor = cursor
        self._busy_seconds = busy_seconds

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def raw(self) -> sqlite3.Cursor:
        return self._cursor

    @property
    def busy_seconds(self) -> float:
        return self._busy_seconds

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> InlineCursor:
        await _retry_busy(lambda: self._cursor.execute(operation, parameters), self._busy_seconds)
        return self

    async def executemany(self, operation: str, seq_of_parameters: Iterable[Any]) -> InlineCursor:
        rows = list(seq_of_parameters)  # an iterator could not be replayed after a busy answer
        await _retry_busy(lambda: self._cursor.executemany(operation, rows), self._busy_seconds)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        return None


class _ImmediateQueue:
    """SQLAlchemy sets `isolation_level` by putting a function on aiosqlite's private
    request queue; here there is no thread, so the function runs at once."""

    __slots__ = ()

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(error)


class InlineConnection:
    _tx = _ImmediateQueue()

    def __init__(self, connection: sqlite3.Connection, busy_seconds: float, begin: str = "BEGIN") -> None:
        self._conn: sqlite3.Connection | None = connection
        self._busy_seconds = busy_seconds
        self._begin = begin

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open().cursor(), self._busy_seconds)

    @property
    def busy_seconds(self) -> float:
        return self._busy_seconds

    def begin_now(self) -> None:
        """The connection's own BEGIN (`BEGIN IMMEDIATE` for a writer), issued straight to
        sqlite3 from SQLAlchemy's greenlet: through SQLAlchemy's `begin` event it was a whole
        statement execution."""
        _now(lambda: self._open().execute(self._begin), self._busy_seconds)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)


async def connect(database: str, *, timeout: float = DEFAULT_BUSY_SECONDS, begin: str = "BEGIN",
                  **kwargs: Any) -> InlineConnection:
    """Open a connection whose lock waits happen on the event loop, never inside sqlite3.
    `begin` is the statement that starts each of its transactions."""
    kwargs.pop("check_same_thread", None)
    if begin not in ("BEGIN", "BEGIN IMMEDIATE", "BEGIN DEFERRED", "BEGIN EXCLUSIVE"):
        raise ValueError(f"not a BEGIN statement: {begin!r}")
    connection = await _retry_busy(
        lambda: sqlite3.connect(database, timeout=0, check_same_thread=False, isolation_level=None, **kwargs),
        timeout,
    )
    return InlineConnection(connection, timeout, begin)


class _Module:
    """What SQLAlchemy's aiosqlite adapter reads off the `aiosqlite` module."""

    Connection = InlineConnection
    connect = staticmethod(connect)
    DatabaseError = sqlite3.DatabaseError
    Error = sqlite3.Error
    IntegrityError = sqlite3.IntegrityError
    NotSupportedError = sqlite3.NotSupportedError
    OperationalError = sqlite3.OperationalError
    ProgrammingError = sqlite3.ProgrammingError
    sqlite_version = sqlite3.sqlite_version
    sqlite_version_info = sqlite3.sqlite_version_info


async def _nothing() -> None:
    return None


class InlineAdaptedCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor adapter with each sqlite3 call made in place. The stock adapter
    awaits every call (open, execute, its fetch, close; the transaction's begin and commit)
    through `await_`: two greenlet switches and a coroutine each, about forty per vote, for
    calls that never wait here (README, Performance). Only a busy answer waits, on the loop.

    Through SQLAlchemy's greenlet one `await_` per statement stays: `AsyncConnection.execute`
    refuses a driver that never awaited (SQLAlchemy's check that the driver is asynchronous),
    so the statement awaits a coroutine that does nothing. Run straight from a coroutine
    (InlineAsyncConnection.execute) there is nothing to switch to."""

    __slots__ = ()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor  # InlineCursor's __aenter__ is itself

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            raw = self._cursor.raw  # type: ignore[attr-defined]
            _now(lambda: raw.execute(operation, () if parameters is None else parameters),
                 self._cursor.busy_seconds)  # type: ignore[attr-defined]
            if raw.description:
                self._rows = collections.deque(raw.fetchall())
            if in_greenlet():
                await_(_nothing())
            return self._cursor
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            raw, rows = self._cursor.raw, list(seq_of_parameters)  # type: ignore[attr-defined]
            _now(lambda: raw.executemany(operation, rows), self._cursor.busy_seconds)  # type: ignore[attr-defined]
            if in_greenlet():
                await_(_nothing())
            return self._cursor
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def close(self) -> None:
        self._rows.clear()
        if self._cursor is not None and not self._soft_closed_memoized:
            self._cursor.raw.close()  # type: ignore[attr-defined]


class InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """The connection adapter whose commit and rollback run in place (see InlineAdaptedCursor)."""

    __slots__ = ()
    _cursor_cls = InlineAdaptedCursor

    def commit(self) -> None:
        # In WAL mode a COMMIT that finds the database busy leaves the transaction open
        # and may simply be tried again.
        raw = self._connection._connection  # type: ignore[attr-defined]
        if raw:
            try:
                _now(raw.commit, self._connection.busy_seconds)  # type: ignore[attr-defined]
            except Exception as error:
                self._handle_exception(error)

    def rollback(self) -> None:
        raw = self._connection._connection  # type: ignore[attr-defined]
        if raw:
            try:
                raw.rollback()
            except Exception as error:
                self._handle_exception(error)


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        # InlineConnection is the part of aiosqlite.Connection the adapter uses, not all of
        # SQLAlchemy's AsyncIODBAPIConnection protocol (no __getattr__, a narrower cursor()).
        return InlineAdaptedConnection(self, await_(connect(*args, **kwargs)))  # type: ignore[arg-type]


class SQLiteDialect_inline(SQLiteDialect_aiosqlite):  # noqa: N801 - SQLAlchemy's dialect naming
    driver = "inline"
    supports_statement_cache = True
    has_terminate = False

    @classmethod
    def import_dbapi(cls) -> InlineDBAPI:
        return InlineDBAPI(_Module, sqlite3)  # type: ignore[arg-type]

    def do_begin(self, dbapi_connection: Any) -> None:
        adapted = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
        adapted._connection.begin_now()


class InlineAsyncConnection(AsyncConnection):
    """An asyncio connection whose statements run straight from the calling coroutine.

    SQLAlchemy's `AsyncConnection.execute` runs each statement in a new greenlet and switches
    to it and back (`greenlet_spawn`), about 29 µs of CPU per statement on top of the 25 µs the
    statement costs through the synchronous `Connection` (measured on an indexed select; a vote
    runs about fourteen). With this driver a statement never waits, except for a lock held
    elsewhere, so it runs in place; when the database is busy (WaitOnLoop: nothing was done)
    it runs again through the greenlet, which waits on the event loop as before. So does BEGIN
    (InlineAsyncTransaction). Connecting, COMMIT and closing still go through the greenlet: the
    pool's lock and a busy COMMIT wait there."""

    __slots__ = ()

    async def execute(self, statement: Any, parameters: Any = None, *,
                      execution_options: Any = None) -> Any:
        sync = self.sync_connection
        if sync is None:  # not started: SQLAlchemy's own error
            return await super().execute(statement, parameters, execution_options=execution_options)
        try:
            result = sync.execute(statement, parameters, execution_options=execution_options)
        except WaitOnLoop:
            return await super().execute(statement, parameters, execution_options=execution_options)
        if getattr(result, "_is_cursor", False) and result.context._is_server_side:
            return await _ensure_sync_result(result, self.execute)  # SQLAlchemy's refusal, as before
        return result

    def begin(self) -> AsyncTransaction:
        return InlineAsyncTransaction(self)


class InlineAsyncTransaction(AsyncTransaction):
    """A transaction whose BEGIN runs in place too (a writer's `BEGIN IMMEDIATE`); when the
    database is busy it begins through the greenlet, which waits on the loop. Commit and
    rollback stay SQLAlchemy's: a COMMIT that found the database busy could not be retried
    once SQLAlchemy had ended the transaction around it."""

    __slots__ = ()

    async def start(self, is_ctxmanager: bool = False) -> AsyncTransaction:
        sync = self.connection.sync_connection
        if self.nested or sync is None:
            return await super().start(is_ctxmanager)
        try:
            begun = sync.begin()
        except WaitOnLoop:
            return await super().start(is_ctxmanager)
        self.sync_transaction = self._assign_proxied(begun)
        if is_ctxmanager:
            begun.__enter__()
        return self


class InlineAsyncEngine(AsyncEngine):
    """An asyncio engine whose connections are InlineAsyncConnection."""

    __slots__ = ()
    _connection_cls = InlineAsyncConnection


def register() -> None:
    """Make `sqlite+inline://` URLs resolve to this dialect."""
    from sqlalchemy.dialects import registry

    registry.register("sqlite.inline", __name__, "SQLiteDialect_inline")
