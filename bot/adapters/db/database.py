"""The database handle: engines, transactions and migrations.

SQLite (the embedded default) allows one writer at a time. A read-then-write
transaction that starts as a reader can fail with SQLITE_BUSY when it tries to
upgrade, whatever the busy timeout, so every write transaction here starts with
`BEGIN IMMEDIATE` and waits its turn up front. Reads use a plain deferred
transaction and, with WAL, never block the writer. PostgreSQL needs none of this:
correctness there comes from unique constraints, row locks and compare-and-set
updates in the stores.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.adapters.db import inline_sqlite
from bot.adapters.db.case_keys import CaseKeyring
from bot.adapters.db.deferred_writes import DeferredWrites
from bot.adapters.db.json_codec import JSON_CODEC
from bot.adapters.db.wal_checkpoints import WalCheckpoints

inline_sqlite.register()

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """Accept the URLs people write and use the async drivers we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgresql+psycopg", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername in {"sqlite", "sqlite+pysqlite"}:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database for synchronous tools (Alembic's offline mode, APScheduler's job store)."""
    parsed = make_url(normalise_url(url))
    if parsed.drivername == "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


MAX_IDLE_READERS = 4  # SQLite read connections kept open between reads (Database.read)
# A SQLite reader's page cache, in KiB (SQLite's default is 2,000 per connection). In WAL mode a
# reader's cache is emptied whenever another connection has committed since its last read, so
# a bigger one holds little across turns, while each reader fills it within a transaction: with
# the writer's default and the readers' at this size, the bot's peak RSS under the benchmark was
# 1.5 MiB lower for the same CPU per turn (README, Performance). The pages stay in the OS's cache.
READER_CACHE_KIB = 512


class Database:
    def __init__(self, url: str, *, echo: bool = False, busy_seconds: float = inline_sqlite.DEFAULT_BUSY_SECONDS,
                 keyring: CaseKeyring | None = None, checkpoint_off_loop: bool = False) -> None:
        """`checkpoint_off_loop`: SQLite's WAL checkpoints run in a worker thread, not inside a
        commit on the event loop (bot/adapters/db/wal_checkpoints.py); the bot's own process."""
        self.url = normalise_url(url)
        self.busy_seconds = busy_seconds  # how long a SQLite lock wait may last (a turn's budget is shorter)
        # How the stores seal identifiers (bot/adapters/db/case_keys.py); the composition root
        # gives it the configured master key, anything else gets the development key.
        self.keyring = keyring or CaseKeyring()
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self._prepare_sqlite_path()
            self.engine = self._sqlite_engine(echo)
            self._write_engine = self._sqlite_engine(echo, immediate=True)
        else:
            self.engine = create_async_engine(self.url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True,
                                              **JSON_CODEC)
            self._write_engine = self.engine
        # Inside one process SQLite writers queue here rather than spinning on the busy timeout.
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None
        database = make_url(self.url).database if self.is_sqlite else None
        self.checkpoints = (WalCheckpoints(database, self._sqlite_writer)
                            if self._sqlite_writer is not None and checkpoint_off_loop and database
                            and database != ":memory:" else None)
        self._held_writer: AsyncConnection | None = None  # SQLite: the writers' connection (write())
        self._idle_readers: list[AsyncConnection] = []  # SQLite: read connections between reads (read())
        self._thread_reader: Engine | None = None  # SQLite reads too long for the event loop (`read_off_loop`)
        # Writes that follow a turn (a stored answer, a card update's `sent`), carried by the next claim.
        self.deferred = DeferredWrites(self)

    def _prepare_sqlite_path(self) -> None:
        database = make_url(self.url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def _sqlite_engine(self, echo: bool, immediate: bool = False) -> AsyncEngine:
        # The bot's own engines run SQLite on the event loop (bot/adapters/db/inline_sqlite.py:
        # aiosqlite's thread hops were most of a vote's CPU). `timeout` is how long a lock
        # wait may last; it is waited with asyncio.sleep, never inside sqlite3.
        # The write engine is only used through `engine.begin()`, which always ends with COMMIT
        # or ROLLBACK; the pool's reset-on-return ROLLBACK after that would be one more
        # statement per write transaction, for nothing.
        url = make_url(self.url).set(drivername="sqlite+inline")
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        engine = inline_sqlite.InlineAsyncEngine(create_async_engine(
            url, echo=echo, connect_args={"timeout": self.busy_seconds, "begin": begin},
            pool_reset_on_return=None if immediate else "rollback", **JSON_CODEC).sync_engine)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI types
            # Opened with isolation_level None: the dialect issues the connection's BEGIN itself.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted and overwritten content is zeroed on disk, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            if not immediate:
                cursor.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            if self.checkpoints is not None:  # they run in a worker thread instead (wal_checkpoints.py)
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        return engine

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any exception."""
        if self._sqlite_writer is not None:
            async with self._sqlite_writer:
                conn = await self._sqlite_writer_connection()
                try:
                    async with conn.begin():
                        yield conn
                except BaseException:
                    self._held_writer = None  # whatever state it is in, no later writer inherits it
                    await asyncio.shield(conn.close())
                    raise
            if self.checkpoints is not None:
                self.checkpoints.after_write()
        else:
            async with self._write_engine.begin() as conn:
                yield conn

    async def _sqlite_writer_connection(self) -> AsyncConnection:
        """SQLite's writers take turns (`_sqlite_writer`), so they share one connection, kept
        open between transactions instead of taken from the pool and given back each time: that
        was two of a write transaction's four greenlet round trips and a shielded task (about
        60 µs of CPU; a vote makes two or three). Between transactions it holds no lock, so other
        processes and checkpoints are not held up. A transaction that fails closes it (above)."""
        held = self._held_writer
        if held is None or held.closed or held.invalidated:
            held = self._held_writer = await self._write_engine.connect()
        return held

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction, rolled back at the end (whatever was written in it is undone)."""
        if not self.is_sqlite:
            async with self.engine.connect() as conn:
                yield conn
            return
        conn = self._idle_readers.pop() if self._idle_readers else await self.engine.connect()
        try:
            yield conn
        except BaseException:
            await asyncio.shield(conn.close())  # closing rolls back; the next reader gets a fresh one
            raise
        await self._keep_reader(conn)

    async def _keep_reader(self, conn: AsyncConnection) -> None:
        """SQLite's read connections are kept open between transactions (MAX_IDLE_READERS of them)
        instead of taken from the pool and given back: that was two greenlet round trips and a
        shielded task per read (about 60 µs of CPU). The transaction is ended in place (ROLLBACK,
        as the pool's reset did), so the next reader sees what was committed since."""
        try:
            if conn.in_transaction():
                sync = conn.sync_connection
                assert sync is not None  # a connection in a transaction has been started
                sync.rollback()  # never waits: SQLite's ROLLBACK takes no lock
        except Exception:  # noqa: BLE001 - a connection that cannot end its transaction is not kept
            await asyncio.shield(conn.close())
            return
        if len(self._idle_readers) < MAX_IDLE_READERS and not (conn.closed or conn.invalidated):
            self._idle_readers.append(conn)
        else:
            await asyncio.shield(conn.close())

    async def read_off_loop(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on a read connection away from the event loop. The embedded SQLite runs each
        statement on the loop (inline_sqlite.py), fine for indexed statements of well under a
        millisecond but not for an aggregate over every open case (`status`: several milliseconds,
        during which every other request would wait): here it runs in a worker thread on a
        connection of its own, and sqlite3 lets go of the GIL while the statement runs. PostgreSQL's
        driver never holds the loop while the server works, so there it runs as any read does."""
        if not self.is_sqlite:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        return await asyncio.to_thread(self._read_in_thread, work)

    def _read_in_thread(self, work: Callable[[Connection], T]) -> T:
        if self._thread_reader is None:
            reader = create_engine(sync_url(self.url), connect_args={"check_same_thread": False}, **JSON_CODEC)
            event.listen(reader, "connect", _thread_reader_pragmas)
            self._thread_reader = reader
        with self._thread_reader.connect() as conn:
            return work(conn)

    async def migrate(self) -> None:
        """Bring the schema up to date (Alembic `upgrade head`)."""
        await asyncio.to_thread(upgrade_to_head, self.url)

    async def dispose(self) -> None:
        await self.deferred.close()
        if self.checkpoints is not None:
            await self.checkpoints.close()
        if self._held_writer is not None:
            held, self._held_writer = self._held_writer, None
            await held.close()
        while self._idle_readers:
            await self._idle_readers.pop().close()
        if self._thread_reader is not None:
            self._thread_reader.dispose()
        await self.engine.dispose()
        if self._write_engine is not self.engine:
            await self._write_engine.dispose()


def _thread_reader_pragmas(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA query_only=ON")  # for reading only, whatever a caller's `work` tries
    dbapi_connection.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")


def alembic_config(url: str):  # noqa: ANN201 - alembic is imported lazily: start-up speed
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade_to_head(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")
