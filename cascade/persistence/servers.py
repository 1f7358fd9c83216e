"""The cached projection of servers: one row per top server with what a list
needs (name, status, owner, timestamps) as last seen in its site.

Status sync writes it in batches; the compute front reads it to answer for
servers of a site that is down and to find a tenant's servers without asking
every site.
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cascade.errors import NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import ServerRow, utcnow


@dataclasses.dataclass(frozen=True)
class ProjectedServer:
    top_id: str
    site_id: str
    project_id: str
    user_id: str
    name: str
    status: str
    flavor_id: str
    created: str                    # as the site's Nova wrote it, e.g. "2024-05-01T10:00:00Z"
    image_id: str | None = None     # None for a server booted from a volume
    task_state: str | None = None
    updated: str | None = None
    deleted: bool = False

    @property
    def created_at(self) -> datetime.datetime:
        return parse_timestamp(self.created)


def parse_timestamp(text: str) -> datetime.datetime:
    """Nova's timestamps ("2024-05-01T10:00:00Z", with or without fraction or
    offset) as aware UTC datetimes; a naive one is taken as UTC."""
    value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


_FIELDS = tuple(f.name for f in dataclasses.fields(ProjectedServer))


def _server(row: ServerRow) -> ProjectedServer:
    return ProjectedServer(**{name: getattr(row, name) for name in _FIELDS})


def _values(server: ProjectedServer, now: datetime.datetime) -> dict[str, Any]:
    values = dataclasses.asdict(server)
    values["created_at"] = server.created_at
    values["updated_at"] = now
    return values


def _not_found(top_id: str) -> NotFound:
    return NotFound(f"Instance {top_id} could not be found.", kind="server", resource_id=top_id)


class ServerProjection:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert(self, server: ProjectedServer) -> None:
        await self.upsert_many([server])

    async def upsert_many(self, servers: Iterable[ProjectedServer]) -> None:
        """Insert or overwrite rows in one statement (a status sync batch)."""
        now = utcnow()
        rows = [_values(server, now) for server in servers]
        if not rows:
            return
        async with self._db.session() as session:
            await session.execute(_upsert_statement(self._db.dialect), rows)

    async def get(self, top_id: str) -> ProjectedServer:
        async with self._db.session() as session:
            row = await session.get(ServerRow, top_id)
            if row is None:
                raise _not_found(top_id)
            return _server(row)

    async def list_for_project(
        self, project_id: str | None, *, site_ids: Sequence[str] | None = None,
        limit: int | None = None, include_deleted: bool = False,
    ) -> list[ProjectedServer]:
        """A project's servers (every project's with None), newest first, as Nova lists them."""
        query = select(ServerRow)
        if project_id is not None:
            query = query.where(ServerRow.project_id == project_id)
        if site_ids is not None:
            query = query.where(ServerRow.site_id.in_(list(site_ids)))
        if not include_deleted:
            query = query.where(ServerRow.deleted.is_(False))
        query = query.order_by(ServerRow.created_at.desc(), ServerRow.top_id.desc())
        if limit is not None:
            query = query.limit(limit)
        async with self._db.session() as session:
            return [_server(row) for row in await session.scalars(query)]

    async def mark_deleted(self, top_id: str) -> None:
        async with self._db.session() as session:
            result = await session.execute(
                update(ServerRow).where(ServerRow.top_id == top_id)
                .values(deleted=True, updated_at=utcnow()))
            if result.rowcount == 0:
                raise _not_found(top_id)

    async def delete(self, top_id: str) -> None:
        """Forget a server's row; absent rows are fine (the sync may have gone first)."""
        async with self._db.session() as session:
            await session.execute(delete(ServerRow).where(ServerRow.top_id == top_id))


def _upsert_statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(ServerRow)
    changed = {name: statement.excluded[name] for name in (*_FIELDS, "created_at", "updated_at")
               if name != "top_id"}
    return statement.on_conflict_do_update(index_elements=[ServerRow.top_id], set_=changed)
