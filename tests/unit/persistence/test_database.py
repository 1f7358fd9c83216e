"""Database.open: URL forms, migration to head from the installed package,
SQLite's pragmas, and the session's commit/rollback contract."""
from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, select, text

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
