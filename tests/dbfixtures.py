"""Scratch databases for tests, on SQLite and on PostgreSQL alike.

A test module that needs a database imports the fixtures it uses:

    from tests.dbfixtures import database, module_database  # noqa: F401

`database` is a migrated `cascade.persistence.db.Database`, parametrized over
"sqlite" (a temporary file) and "postgresql" (a uniquely named database made
on the local server and dropped afterwards). One database serves a whole
module; every table is emptied after each test. The PostgreSQL case is
skipped, saying why, only when the server cannot be reached.

Functional tests may use `scratch_url(backend, directory)` directly, or,
outside an event loop, `scratch_database(backend, directory)`. The tiers
that run a whole cascade (tests/functional) run on the backend named by
CASCADE_TEST_DATABASE (`selected_backend()`: "sqlite", the default, or
"postgresql"); `bash scripts/test` runs them on both.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import uuid
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy import delete

from cascade.persistence.db import Database
from cascade.persistence.models import Base

BACKENDS = ("sqlite", "postgresql")
BACKEND_VARIABLE = "CASCADE_TEST_DATABASE"

# the maintenance database of the local server, where scratch databases are made
POSTGRES_ADMIN_URL = os.environ.get("CASCADE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin_connection():
    import asyncpg

    try:
        return await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {error}")


def selected_backend() -> str:
    """The backend CASCADE_TEST_DATABASE names for the tiers that run a whole cascade."""
    backend = os.environ.get(BACKEND_VARIABLE, "sqlite")
    if backend not in BACKENDS:
        raise pytest.UsageError(f"{BACKEND_VARIABLE}={backend!r}: use one of {', '.join(BACKENDS)}")
    return backend


async def _create_postgres_database() -> str:
    name = f"cascade_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def _drop_postgres_database(name: str) -> None:
    admin = await _admin_connection()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _sqlite_url(directory: pathlib.Path) -> str:
    return f"sqlite:///{directory / f'cascade-{uuid.uuid4().hex[:8]}.sqlite'}"


def _postgres_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@contextlib.asynccontextmanager
async def scratch_url(backend: str, directory: pathlib.Path) -> AsyncIterator[str]:
    """The URL (sync form, as in cascade.conf) of a new empty database, removed on exit."""
    if backend == "sqlite":
        yield _sqlite_url(directory)
        return
    if backend != "postgresql":
        raise ValueError(backend)
    name = await _create_postgres_database()
    try:
        yield _postgres_url(name)
    finally:
        await _drop_postgres_database(name)


@contextlib.contextmanager
def scratch_database(backend: str, directory: pathlib.Path) -> Iterator[str]:
    """`scratch_url` for code that runs no event loop of its own (a
    functional tier's fixtures, handing the URL to `cascade demo`)."""
    if backend == "sqlite":
        yield _sqlite_url(directory)
        return
    if backend != "postgresql":
        raise ValueError(backend)
    name = asyncio.run(_create_postgres_database())
    try:
        yield _postgres_url(name)
    finally:
        asyncio.run(_drop_postgres_database(name))


async def empty_all_tables(db: Database) -> None:
    async with db.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


@pytest_asyncio.fixture(scope="module", params=BACKENDS)
async def module_database(request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with scratch_url(request.param, tmp_path_factory.mktemp("db")) as url:
        db = await Database.open(url)
        try:
            yield db
        finally:
            await db.close()


@pytest_asyncio.fixture
async def database(module_database: Database) -> AsyncIterator[Database]:
    try:
        yield module_database
    finally:
        await empty_all_tables(module_database)


@contextlib.contextmanager
def demo_database_arguments(directory: pathlib.Path) -> Iterator[list[str]]:
    """The `cascade demo` arguments that put its cascade on the selected
    backend: none for SQLite (the demo's own file in its state dir), or a
    scratch PostgreSQL database, dropped on exit."""
    backend = selected_backend()
    if backend == "sqlite":
        yield []
        return
    with scratch_database(backend, directory) as url:
        yield ["--database-url", url]
