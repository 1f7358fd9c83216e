"""The cascade's one database: an async SQLAlchemy engine over SQLite (the
embedded default) or PostgreSQL (production), migrated to the newest schema
when opened.

Every store in this package takes a `Database` and does its work in short
sessions from `Database.session()`; many coroutines share the one engine.
Hot reads of committed rows (a route, a page's routes, projected servers) go
through `Database.read`, which on a SQLite file runs them at once on the
event loop's thread over a plain connection: a lookup by key takes SQLite a
few microseconds, where a trip through the async driver's thread (begin,
execute, fetch, commit) takes about a millisecond.
"""
from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import time
from typing import Any, AsyncIterator, Callable, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from cascade.persistence import sqlite_writers

MIGRATIONS_DIR = pathlib.Path(__file__).resolve().parent / "migrations"

# seconds a SQLite writer waits for another writer before giving up
SQLITE_BUSY_TIMEOUT = 15
# the readers' pool, and writers that did not say so (sqlite_writers): a
# session holds its connection while it waits for a turn at its first write,
# so under load more are in use than SQLAlchemy's 5 + 10; each keeps a page
# cache of its own (up to 2 MB), hence not many more
SQLITE_POOL_SIZE = 10
SQLITE_POOL_OVERFLOW = 20
# seconds a session known to write waits for the writer's turn (sqlite_writers)
# before the service answers that it is too busy, as it does when no pooled
# connection is free within SQLAlchemy's 30 s
SQLITE_TURN_TIMEOUT = 60
# any fixed number; it keeps processes that start together from migrating at once
_MIGRATION_LOCK_KEY = 0x6361736361646501

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> URL:
    """The async driver form of a URL written in its sync form
    (`sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`). Async forms pass as they are."""
    parsed = make_url(url)
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite:// or postgresql://")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured from the installed package, with no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _sqlite_is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


@dataclasses.dataclass
class _Writers:
    """On a SQLite file: the turns of this process's writers, and the engine
    of the sessions known to write. Only a turn's holder uses that engine,
    so its connection is always free: a holder waiting for a pooled
    connection (the readers' pool empty under load) held every writer up."""
    turns: sqlite_writers.WriterTurns
    engine: AsyncEngine


def _sqlite_file_engine(url: URL, **pool: int) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT,
                                                    "async_creator_fn": sqlite_writers.connect}, **pool)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    return engine


def _create_engine(url: URL) -> tuple[AsyncEngine, _Writers | None]:
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True), None
    if _sqlite_is_memory(url):
        # one shared connection, or every connection would see its own empty database
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT}, poolclass=StaticPool)
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        return engine, None
    engine = _sqlite_file_engine(url, pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_OVERFLOW)
    writers = _Writers(sqlite_writers.WriterTurns(busy_timeout=SQLITE_BUSY_TIMEOUT),
                       _sqlite_file_engine(url, pool_size=1, max_overflow=1))
    writers.turns.attach(engine)
    writers.turns.attach(writers.engine)
    return engine, writers


def _create_reader(url: URL) -> Engine | None:
    """A synchronous engine over the same SQLite file, for `Database.read`;
    None for PostgreSQL and for in-memory SQLite (another connection would
    see another, empty, database)."""
    if url.get_backend_name() != "sqlite" or _sqlite_is_memory(url):
        return None
    engine = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


T = TypeVar("T")


def insert_for(dialect: str) -> Callable[..., Any]:
    """The dialect's own `insert` construct, which has ON CONFLICT (upserts,
    insert-or-ignore): PostgreSQL's or SQLite's."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call `callback` once `session`'s transaction has committed (say, to
    drop a cached row that a reader must not take again from the old one)."""
    event.listen(session.sync_session, "after_commit", lambda _session: callback(), once=True)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
    # readers never block the writer, nor the writer the readers
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Two connections that switch a new database's journal at once: SQLite
    refuses one at once ("database is locked") without waiting its busy
    timeout, so that one tries again; the mode is the file's, so the retry
    usually finds it switched already."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError, as the adapter raises it
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _upgrade(connection: Connection) -> None:
    # Take the database's write lock first, held until this transaction ends:
    # processes starting together wait for the first, then find nothing to do.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(alembic_config(connection), "head")


class Database:
    """An open, migrated database. Build it with `await Database.open(url)`."""

    def __init__(self, engine: AsyncEngine, reader: Engine | None = None, writers: _Writers | None = None) -> None:
        self.engine = engine
        self._reader = reader
        self._writers = writers
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._writing_sessions = async_sessionmaker(writers.engine, expire_on_commit=False) if writers else None

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> "Database":
        engine, writers = _create_engine(async_url(url))
        try:
            if migrate:
                async with engine.begin() as connection:
                    await connection.run_sync(_upgrade)
        except BaseException:
            await engine.dispose()
            if writers is not None:
                await writers.engine.dispose()
            raise
        return cls(engine, _create_reader(async_url(url)), writers)

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def session(self, *, writing: bool = False) -> AsyncIterator[AsyncSession]:
        """A short unit of work: committed when the block ends, rolled back if
        it raises. `writing`: it will write (on a SQLite file it takes the
        writer's turn before its connection, see sqlite_writers)."""
        if writing and self._writers is not None:
            async with self._writers.turns.turn(SQLITE_TURN_TIMEOUT), self._closed_inline() as session:
                yield session
            return
        async with self._unit(self._sessions) as session:
            yield session

    @contextlib.asynccontextmanager
    async def _closed_inline(self) -> AsyncIterator[AsyncSession]:
        """A writing unit of work, ended and closed before the turn passes
        on. Not `async with` the session: its exit closes it in a task of
        its own (SQLAlchemy's `_run_to_completion`), two turns of the loop
        later, and a busy loop's turns are long (a 1,000-row page). The
        holder's statements run inline, so rolling back and closing here
        cannot be cut short by a cancellation."""
        session = self._writing_sessions()
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    @staticmethod
    @contextlib.asynccontextmanager
    async def _unit(sessions: async_sessionmaker) -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @contextlib.asynccontextmanager
    async def joined(self, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
        """The caller's session when it gives one (the work joins its
        transaction, which the caller ends), else a writing unit of work of
        its own. Lets a store's write be one step of a caller's larger
        transaction."""
        if session is not None:
            yield session
            return
        async with self.session(writing=True) as own:
            yield own

    async def read(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)`'s result, reading committed rows: on a SQLite
        file at once on this thread (WAL readers wait for no writer), else
        in a connection of the async engine. For short reads only: on SQLite
        nothing else on the event loop runs meanwhile."""
        if self._reader is not None:
            with self._reader.connect() as connection:
                return work(connection)
        async with self.engine.connect() as connection:
            return await connection.run_sync(work)

    async def first(self, query: Any) -> Any:
        """The first row of a read-only `query`, None when there is none, read
        through `read` (a lookup by key in a request's hot path)."""
        return await self.read(lambda connection: connection.execute(query).first())

    async def close(self) -> None:
        await self.engine.dispose()
        if self._writers is not None:
            await self._writers.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()
