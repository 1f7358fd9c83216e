"""Alembic environment of the cascade's schema.

`Database.open` runs the migrations programmatically on its own connection
(passed in `config.attributes["connection"]`). A developer may also run the
`alembic` command with `alembic.ini` beside this package, for example to draft
a new revision against a scratch database named in `sqlalchemy.url`.
"""
from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from cascade.persistence.models import Base

TARGET = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=TARGET,
        # SQLite alters tables by copying them; later revisions get that for free
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_own_engine(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from cascade.persistence.db import async_url

    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=TARGET,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif context.config.attributes.get("connection") is not None:
    _run(context.config.attributes["connection"])
else:
    asyncio.run(_run_on_own_engine(context.config.get_main_option("sqlalchemy.url")))
