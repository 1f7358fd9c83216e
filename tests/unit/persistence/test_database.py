"""Database.open: URL forms, migration to head from the installed package,
SQLite's pragmas, and the session's commit/rollback contract."""
from __future__ import annotations

import asyncio
import datetime
import sqlite3
import time
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, select, text

from cascade.persistence import sqlite_writers
from cascade.persistence.db import MIGRATIONS_DIR, Database, alembic_config, async_url
from cascade.persistence.models import Base, KeypairRow
from tests.dbfixtures import database, module_database, scratch_url  # noqa: F401


@pytest.mark.parametrize("given, expected", [
    ("sqlite:////var/lib/cascade/db.sqlite", "sqlite+aiosqlite:////var/lib/cascade/db.sqlite"),
    ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
    ("postgresql://u:p@db:5432/cascade", "postgresql+asyncpg://u:p@db:5432/cascade"),
    ("postgresql+psycopg2://u@db/cascade", "postgresql+asyncpg://u@db/cascade"),
    ("postgresql+asyncpg://u@db/cascade", "postgresql+asyncpg://u@db/cascade"),
])
def test_async_url_uses_the_async_driver(given: str, expected: str) -> None:
    assert async_url(given) == make_url(expected)


def test_async_url_refuses_other_databases() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        async_url("mysql://u@db/cascade")


async def test_open_migrates_to_the_newest_revision(database: Database) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    # revisions are numbered like their files: the head is the highest-numbered file
    newest = max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    async with database.session() as session:
        assert await session.scalar(text("SELECT version_num FROM alembic_version")) == head == newest


async def test_migrations_create_exactly_the_declared_models(database: Database) -> None:
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with database.session() as session:
        assert (await session.scalar(text("PRAGMA journal_mode"))).lower() == "wal"
        assert await session.scalar(text("PRAGMA foreign_keys")) == 1
        assert await session.scalar(text("PRAGMA busy_timeout")) >= 1000


def _keypair(name: str) -> KeypairRow:
    return KeypairRow(id=str(uuid.uuid4()), user_id="u", name=name, type="ssh", public_key="k", fingerprint="f")


async def test_session_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    async with database.session() as session:
        session.add(_keypair("kept"))
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            session.add(_keypair("dropped"))
            await session.flush()
            raise RuntimeError("boom")
    async with database.session() as session:
        assert list(await session.scalars(select(KeypairRow.name))) == ["kept"]


async def test_timestamps_are_read_back_as_aware_utc(database: Database) -> None:
    async with database.session() as session:
        session.add(_keypair("k"))
    async with database.session() as session:
        created = await session.scalar(select(KeypairRow.created_at))
    assert created.tzinfo is not None and created.utcoffset() == datetime.timedelta(0)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created) < datetime.timedelta(minutes=1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_reopening_and_concurrent_opening_are_harmless(backend: str, tmp_path) -> None:
    async with scratch_url(backend, tmp_path) as url:
        # two processes starting together on an empty database: both end up on head
        first, second = await asyncio.gather(Database.open(url), Database.open(url))
        await first.close()
        await second.close()
        again = await Database.open(url)
        async with again.session() as session:
            assert await session.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        await again.close()


async def test_writers_take_turns_and_every_ending_gives_the_turn_back(database: Database) -> None:
    """Writes of many sessions at once, ending by commit, by an error and by
    a refused insert (the key exists): each gives the next writer its turn,
    so none waits until the busy timeout (whose lapse would fail it)."""
    async def write(i: int) -> str:
        try:
            async with database.session() as session:
                session.add(_keypair(f"k{i % 10}"))   # names repeat: the unique key refuses some
                await session.flush()
                await asyncio.sleep(0.001)                   # the turn is held across awaits
                if i % 7 == 0:
                    raise ValueError("the work failed")
            return "made"
        except ValueError:
            return "failed"
        except Exception as exc:  # noqa: BLE001
            return "refused" if "unique" in str(exc).lower() else f"error: {exc}"

    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(*(write(i) for i in range(60)))
    assert set(outcomes) <= {"made", "failed", "refused"}, outcomes
    assert outcomes.count("made") == 10     # each name once (each has a writer that does not fail)
    async with asyncio.timeout(2):          # the turn is free again
        async with database.session() as session:
            session.add(_keypair("after"))


async def test_writing_sessions_wait_for_their_turn_without_holding_a_pooled_connection(
        database: Database) -> None:
    """Many more sessions waiting to write than the pool has connections:
    a reader still gets one at once, and every writer gets its turn."""
    from cascade.persistence import db as db_module
    if database.dialect != "sqlite":
        pytest.skip("SQLite's writers only")
    waiting = db_module.SQLITE_POOL_SIZE + db_module.SQLITE_POOL_OVERFLOW + 10
    holding, go_on = asyncio.Event(), asyncio.Event()

    async def hold_the_turn() -> None:
        async with database.session(writing=True) as session:
            session.add(_keypair("first"))
            await session.flush()
            holding.set()
            await go_on.wait()

    async def write(i: int) -> None:
        async with database.session(writing=True) as session:
            session.add(_keypair(f"w{i}"))

    holder = asyncio.create_task(hold_the_turn())
    await holding.wait()
    writers = [asyncio.create_task(write(i)) for i in range(waiting)]
    await asyncio.sleep(0.2)
    try:
        assert not any(w.done() for w in writers)
        async with asyncio.timeout(5):        # a waiting writer holding a connection each would take the pool
            async with database.session() as session:
                assert list(await session.scalars(select(KeypairRow.name))) == []
    finally:
        go_on.set()
    async with asyncio.timeout(10):
        await asyncio.gather(holder, *writers)
    async with database.session() as session:
        assert len(list(await session.scalars(select(KeypairRow.name)))) == waiting + 1


@pytest.fixture
def modes(database: Database, monkeypatch) -> list[bool]:  # noqa: F811
    """Whether each call of a SQLite connection ran inline (True) or on its
    thread, in order; SQLite's writers only."""
    if database.dialect != "sqlite":
        pytest.skip("SQLite's writers only")
    seen: list[bool] = []
    original = sqlite_writers.InlineCapableConnection._execute

    async def spy(self, fn, *args, **kwargs):
        seen.append(self.inline)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_writers.InlineCapableConnection, "_execute", spy)
    return seen


async def test_a_sqlite_writer_runs_inline_once_it_holds_the_lock(database: Database, modes: list[bool]) -> None:
    async with database.session() as session:
        session.add(_keypair("a"))
        await session.flush()
        session.add(_keypair("b"))
        await session.flush()
    written = list(modes)
    modes.clear()
    async with database.session() as session:
        assert len(list(await session.scalars(select(KeypairRow.name)))) == 2
    # the cursor is made before the turn; the pool's reset, once the turn has passed, goes to the thread
    assert written[0] is False and all(written[1:-1]) and written[-1] is False, str(written)
    assert modes and not any(modes)                            # a reader's statements go to its thread


async def test_a_writing_session_runs_inline_from_its_checkout_to_its_commit(database: Database,
                                                                              modes: list[bool]) -> None:
    async with database.session(writing=True) as session:
        await session.scalars(select(KeypairRow.name))
        session.add(_keypair("a"))
        await session.flush()
    written = list(modes)
    modes.clear()
    async with database.session() as session:
        assert list(await session.scalars(select(KeypairRow.name))) == ["a"]
    assert written and all(written), str(written)      # no hand-off to the connection's thread
    assert modes and not any(modes)                    # a reader's statements go to its thread


async def test_a_writing_session_passes_the_turn_on_without_waiting_for_turns_of_the_loop(
        database: Database) -> None:
    """The next writer starts in the same turn of the loop as the previous
    one's block ends: under load a turn of the loop is long (a 1,000-row
    page), and a session closed in a task of its own (SQLAlchemy's exit of
    `async with` a session) held the writer's turn for two of them."""
    if database.dialect != "sqlite":
        pytest.skip("SQLite's writers only")
    ticks = 0
    ended_at: list[int] = []
    started_at: list[int] = []

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def write(name: str) -> None:
        async with database.session(writing=True) as session:
            started_at.append(ticks)
            session.add(_keypair(name))
            await session.flush()
        ended_at.append(ticks)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        await asyncio.gather(*(write(f"k{i}") for i in range(5)))
    finally:
        ticker.cancel()
    # each writer after the first started before the ticker ran again
    assert started_at[1:] == started_at[:-1] == [started_at[0]] * 4, (started_at, ended_at)


async def test_the_writer_turn_passes_ahead_of_callbacks_already_ready() -> None:
    lock = sqlite_writers.HandOffLock()
    order: list[str] = []
    await lock.acquire()

    async def next_writer():
        async with lock:
            order.append("writer")

    writer = asyncio.create_task(next_writer())
    await asyncio.sleep(0)                  # it waits for the lock
    loop = asyncio.get_running_loop()
    for i in range(3):
        loop.call_soon(order.append, f"ready {i}")
    lock.release()
    await writer
    assert order[0] == "writer", order


async def test_another_process_holding_sqlite_lock_delays_a_writer_without_blocking_the_loop(
        database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("SQLite's writers only")
    other = sqlite3.connect(database.engine.url.database, timeout=15, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")          # as another process's writer would
    try:
        async def write():
            async with database.session() as session:
                session.add(_keypair("late"))
        writer = asyncio.create_task(write())
        began = time.monotonic()
        await asyncio.sleep(0.3)
        assert time.monotonic() - began < 0.6     # the loop kept turning
        assert not writer.done()
    finally:
        other.execute("COMMIT")
        other.close()
    async with asyncio.timeout(5):
        await writer
    async with database.session() as session:
        assert list(await session.scalars(select(KeypairRow.name))) == ["late"]
