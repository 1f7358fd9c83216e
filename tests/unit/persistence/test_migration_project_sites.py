"""Migration 0007 fills `project_sites` from the projection already there."""
from __future__ import annotations

import pathlib

import pytest
from alembic import command
from sqlalchemy import Connection, text

from cascade.persistence.db import Database, alembic_config
from tests.dbfixtures import BACKENDS, scratch_url

ROW = ("INSERT INTO servers (top_id, site_id, project_id, user_id, name, status, flavor_id, created, created_at,"
       " updated_at, deleted) VALUES (:top, :site, :project, 'u', 'vm', 'ACTIVE', 'f', '2024-01-01T00:00:00Z',"
       " '2024-01-01 00:00:00', '2024-01-01 00:00:00', :deleted)")


def _to_0006_with_servers(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "0006")
    for top, site, project, deleted in [("a", "s1", "p1", False), ("b", "s1", "p1", False),
                                        ("c", "s2", "p1", False), ("d", "s3", "p2", True)]:
        connection.execute(text(ROW), {"top": top, "site": site, "project": project, "deleted": deleted})


@pytest.mark.parametrize("backend", BACKENDS)
async def test_upgrade_fills_project_sites_from_live_servers(backend: str, tmp_path: pathlib.Path) -> None:
    async with scratch_url(backend, tmp_path) as url:
        db = await Database.open(url, migrate=False)
        try:
            async with db.engine.begin() as connection:
                await connection.run_sync(_to_0006_with_servers)
        finally:
            await db.close()
        db = await Database.open(url)   # to head
        try:
            async with db.session() as session:
                rows = await session.execute(text("SELECT project_id, site_id FROM project_sites"))
                assert sorted(tuple(row) for row in rows) == [("p1", "s1"), ("p1", "s2")]
        finally:
            await db.close()
