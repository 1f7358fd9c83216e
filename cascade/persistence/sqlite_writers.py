"""How this process's connections to a SQLite file write: one transaction
at a time, queued in the event loop, its statements run on the loop's own
thread once it holds SQLite's write lock.

SQLite has one write lock per database. A connection that finds it taken
waits in SQLite's busy handler, which sleeps between tries (up to 100 ms
each) and so leaves the lock idle after it is freed. Here a connection's
first write of a transaction first waits for its turn in an asyncio lock,
handed on the moment the previous writer's connection goes back to the pool
(its transaction ended). Another process's writers still meet this one's in
SQLite's busy handler; a turn not given within the busy timeout fails as
SQLite would.

aiosqlite runs each statement on the connection's own thread: the statement
takes SQLite microseconds, the hand-off there and back about a millisecond
when the loop is busy, and a writer holds the lock for every hand-off of its
transaction. So a writer whose turn has come takes SQLite's lock at once,
on the loop's thread, if no other process holds it (`BEGIN IMMEDIATE`
without waiting), and then runs its whole transaction, commit included, on
the loop's thread: no other connection of this process can be in its way,
and WAL readers never are. If another process holds the lock, the first
write waits for it on the connection's thread, where waiting blocks nothing
else, and the rest runs inline after it.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
from typing import Any, AsyncIterator, Callable

import aiosqlite
from sqlalchemy import Connection, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class InlineCapableConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs its calls at once, on the calling
    thread, while `inline` is set (its sqlite3 connection is opened with
    check_same_thread off)."""

    inline = False

    async def _execute(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        if self.inline and self._connection is not None:
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)


def connect(database: str, **kwargs: Any) -> InlineCapableConnection:
    """The `async_creator_fn` of SQLAlchemy's aiosqlite dialect."""
    connection = InlineCapableConnection(lambda: sqlite3.connect(database, **{**kwargs, "check_same_thread": False}),
                                         iter_chunk_size=64)
    connection._thread.daemon = True
    return connection


class HandOffLock(asyncio.Lock):
    """An asyncio.Lock whose release runs the next holder's task before the
    callbacks already waiting in the loop's ready queue (asyncio's own loop;
    any other loop keeps the plain order)."""

    def _wake_up_first(self) -> None:
        ready = getattr(self._get_loop(), "_ready", None)
        if not isinstance(ready, collections.deque):
            super()._wake_up_first()
            return
        queued = len(ready)
        super()._wake_up_first()
        if len(ready) == queued + 1:
            ready.appendleft(ready.pop())


class WriterTurns:
    """Attached to an engine over a SQLite file (see the module's text)."""

    def __init__(self, *, busy_timeout: float) -> None:
        self._busy_timeout = busy_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = HandOffLock()
        self._holder: dict | None = None     # the pooled connection's record_info, which outlives reconnects
        self._turn_task: asyncio.Task | None = None  # the task holding a turn taken by `turn`

    @contextlib.asynccontextmanager
    async def turn(self, timeout: float) -> AsyncIterator[None]:
        """This task's turn to write, held for the block: the first write of
        the block's connection takes SQLite's lock without queueing again.
        Not given within `timeout`: SQLAlchemy's TimeoutError, as for a
        pooled connection not given in time (the service is busy)."""
        self._bind(asyncio.get_running_loop())
        try:
            await _acquire(self._lock, timeout)
        except TimeoutError:
            raise PoolTimeout(f"no writer turn within {timeout:.0f} s") from None
        self._turn_task = asyncio.current_task()
        try:
            yield
        finally:
            self._turn_task = None
            self._holder = None
            self._lock.release()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is not loop:
            # a lock serves one event loop (a tool may run several, one after another)
            self._loop, self._lock, self._holder, self._turn_task = loop, HandOffLock(), None, None

    def attach(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after_execute)
        event.listen(engine.sync_engine.pool, "checkout", self._checked_out)
        event.listen(engine.sync_engine.pool, "reset", self._ended)
        event.listen(engine.sync_engine.pool, "checkin", self._checked_in)

    def _checked_out(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if self._turn_task is not None and self._turn_task is asyncio.current_task():
            driver = _driver(dbapi_connection)
            if isinstance(driver, InlineCapableConnection):
                driver.inline = True

    def _before_execute(self, connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        info = connection.connection.record_info
        if info is None or info is self._holder or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        self._bind(asyncio.get_running_loop())
        if not (self._holder is None and self._turn_task is not None and self._turn_task is asyncio.current_task()):
            try:
                await_only(_acquire(self._lock, self._busy_timeout))
            except TimeoutError:
                raise OperationalError(statement, None, Exception("database is locked (no writer turn)")) from None
        self._holder = info
        driver = _driver(connection.connection.dbapi_connection)
        if isinstance(driver, InlineCapableConnection):
            driver.inline = _begin_at_once(driver._conn, self._busy_timeout)

    def _after_execute(self, connection: Connection, *_args: Any) -> None:
        if connection.connection.record_info is self._holder:
            # SQLite's write lock is now this connection's: the rest runs inline
            _driver(connection.connection.dbapi_connection).inline = True

    def _ended(self, dbapi_connection: Any, record: Any, *_args: Any) -> None:
        """The holder's transaction ended (the pool resets or takes back its
        connection): a turn taken at its first write passes on at once,
        and the reset then runs on the connection's thread; a turn taken by
        `turn` passes at the block's end, the reset still inline."""
        if record is not None and self._holder is not None and record.record_info is self._holder:
            self._holder = None
            if self._turn_task is None:
                if dbapi_connection is not None:
                    _driver(dbapi_connection).inline = False
                self._lock.release()

    def _checked_in(self, dbapi_connection: Any, record: Any) -> None:
        self._ended(dbapi_connection, record)
        if dbapi_connection is not None and isinstance(driver := _driver(dbapi_connection), InlineCapableConnection):
            driver.inline = False


async def _acquire(lock: asyncio.Lock, timeout: float) -> None:
    # not asyncio.wait_for: it runs the wait as a task of its own, one more
    # turn of a busy loop for every write
    async with asyncio.timeout(timeout):
        await lock.acquire()


def _begin_at_once(raw: sqlite3.Connection, busy_timeout: float) -> bool:
    """Take SQLite's write lock for `raw`'s transaction now, without
    waiting; False when another process holds it. (The driver then sees
    a transaction begun and adds no BEGIN of its own before the write.)"""
    if raw.in_transaction:
        return True
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("BEGIN IMMEDIATE")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")


def _driver(dbapi_connection: Any) -> Any:
    """The aiosqlite connection inside SQLAlchemy's adapter of it."""
    return getattr(dbapi_connection, "_connection", dbapi_connection)
