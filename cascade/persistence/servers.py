"""The cached projection of servers: one row per top server with what a list
needs (name, status, owner, timestamps) as last seen in its site.

Status sync writes it in batches (`synced_at` says when it last did); the
compute front reads it to answer for servers of a site that is down and to
find a tenant's servers without asking every site; the admin API shows it.

Every write of a live row also records, in `project_sites`, that its project
has servers in its site (insert-if-absent, in the same statement batch and
transaction): a tenant's server list asks only those sites (`sites_of`).
"""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.errors import BadRequest, NotFound
from cascade.persistence.db import Database, insert_for
from cascade.persistence.models import ProjectSiteRow, ServerRow, utcnow


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
    synced_at: datetime.datetime | None = None   # when status sync last wrote the row

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
_COLUMNS = tuple(getattr(ServerRow, name) for name in _FIELDS)   # plain rows: no ORM objects to build


def _server(row: ServerRow) -> ProjectedServer:
    return ProjectedServer(**{name: getattr(row, name) for name in _FIELDS})


def _values(server: ProjectedServer, now: datetime.datetime) -> dict[str, Any]:
    values = dataclasses.asdict(server)
    values["created_at"] = server.created_at
    values["updated_at"] = now
    return values


# ids per IN (...) list: far below every backend's bound-parameter limit
CHUNK = 500


def _not_found(top_id: str) -> NotFound:
    return NotFound(f"Instance {top_id} could not be found.", kind="server", resource_id=top_id)


class ServerProjection:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert(self, server: ProjectedServer) -> None:
        await self.upsert_many([server])

    async def upsert_many(self, servers: Iterable[ProjectedServer], *, session: AsyncSession | None = None,
                          keep_deleted: bool = False) -> None:
        """Insert or overwrite rows in one statement (a status sync batch);
        with `session`, in the caller's transaction (an adoption batch). With
        `keep_deleted`, a row already marked deleted stays so, whatever a
        read made before that mark says (the sync racing a delete)."""
        now = utcnow()
        rows = [_values(server, now) for server in servers]
        if not rows:
            return
        pairs = sorted({(row["project_id"], row["site_id"]) for row in rows if not row["deleted"]})
        async with self._db.joined(session) as session:
            await session.execute(_upsert_statement(self._db.dialect, keep_deleted=keep_deleted), rows)
            if pairs:
                await session.execute(_add_project_sites_statement(self._db.dialect),
                                      [{"project_id": project, "site_id": site} for project, site in pairs])

    async def sites_of(self, project_ids: Iterable[str]) -> set[str]:
        """The ids of the sites where any of these projects has (or had) servers."""
        query = select(ProjectSiteRow.site_id).distinct().where(ProjectSiteRow.project_id.in_(set(project_ids)))
        # a hot read (every tenant's list): committed rows, by key, at once on SQLite
        return await self._db.read(lambda connection: set(connection.execute(query).scalars()))

    async def page_shares(self, project_ids: Iterable[str], *, limit: int, descending: bool = True,
                          after: datetime.datetime | None = None) -> dict[str, int]:
        """How many of the first `limit` live servers of these projects, by
        creation time (`after`: only those created after it in that order,
        ties kept), each site holds, by site id: what a list's page will
        most likely take from each site."""
        order = ServerRow.created_at.desc() if descending else ServerRow.created_at.asc()
        first = select(ServerRow.site_id).where(
            ServerRow.project_id.in_(set(project_ids)), ServerRow.deleted.is_(False))
        if after is not None:
            first = first.where(ServerRow.created_at <= after if descending else ServerRow.created_at >= after)
        first = first.order_by(order).limit(limit).subquery()
        query = select(first.c.site_id, func.count()).group_by(first.c.site_id)
        return await self._db.read(lambda connection: dict(connection.execute(query).all()))

    async def get(self, top_id: str) -> ProjectedServer:
        async with self._db.session() as session:
            row = await session.get(ServerRow, top_id)
            if row is None:
                raise _not_found(top_id)
            return _server(row)

    async def get_many(self, top_ids: Iterable[str]) -> dict[str, ProjectedServer]:
        """The rows of `top_ids` there are, by top id (one session, chunked)."""
        ids = list(dict.fromkeys(top_ids))

        def load(connection) -> dict[str, ProjectedServer]:
            found: dict[str, ProjectedServer] = {}
            for start in range(0, len(ids), CHUNK):
                rows = connection.execute(select(*_COLUMNS).where(ServerRow.top_id.in_(ids[start:start + CHUNK])))
                found.update((row[0], ProjectedServer(*row)) for row in rows)
            return found

        return await self._db.read(load) if ids else {}

    async def in_site(self, site_id: str, *, deleted: bool, written_before: datetime.datetime) -> list[str]:
        """Top ids of a site's rows, live or deleted, last written before a moment."""
        query = select(ServerRow.top_id).where(
            ServerRow.site_id == site_id, ServerRow.deleted.is_(deleted), ServerRow.updated_at < written_before)
        async with self._db.session() as session:
            return list(await session.scalars(query))

    async def page(self, *, site_id: str | None = None, project_id: str | None = None, status: str | None = None,
                   include_deleted: bool = False, limit: int = 100, marker: str | None = None
                   ) -> list[ProjectedServer]:
        """Rows for an operator, newest created first; `marker` is the top id
        of the previous page's last row (BadRequest if there is no such row)."""
        query = select(ServerRow)
        if site_id is not None:
            query = query.where(ServerRow.site_id == site_id)
        if project_id is not None:
            query = query.where(ServerRow.project_id == project_id)
        if status is not None:
            query = query.where(ServerRow.status == status.upper())
        if not include_deleted:
            query = query.where(ServerRow.deleted.is_(False))
        async with self._db.session() as session:
            if marker is not None:
                last = await session.get(ServerRow, marker)
                if last is None:
                    raise BadRequest(f"marker [{marker}] not found")
                query = query.where(or_(ServerRow.created_at < last.created_at,
                                        and_(ServerRow.created_at == last.created_at, ServerRow.top_id < last.top_id)))
            query = query.order_by(ServerRow.created_at.desc(), ServerRow.top_id.desc()).limit(limit)
            return [_server(row) for row in await session.scalars(query)]

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

    async def users_in_site(self, site_id: str) -> list[str]:
        """The distinct owners (user ids) of a site's servers, sorted."""
        query = select(ServerRow.user_id).distinct().where(ServerRow.site_id == site_id).order_by(ServerRow.user_id)
        async with self._db.session() as session:
            return list(await session.scalars(query))

    async def mark_deleted(self, top_id: str, *, session: AsyncSession | None = None) -> None:
        async with self._db.joined(session) as session:
            result = await session.execute(
                update(ServerRow).where(ServerRow.top_id == top_id)
                .values(deleted=True, updated_at=utcnow()))
            if result.rowcount == 0:
                raise _not_found(top_id)

    async def delete(self, top_id: str) -> None:
        """Forget a server's row; absent rows are fine (the sync may have gone first)."""
        async with self._db.session(writing=True) as session:
            await session.execute(delete(ServerRow).where(ServerRow.top_id == top_id))


def _upsert_statement(dialect: str, *, keep_deleted: bool = False) -> Any:
    statement = insert_for(dialect)(ServerRow)
    changed = {name: statement.excluded[name] for name in (*_FIELDS, "created_at", "updated_at")
               if name != "top_id"}
    if keep_deleted:
        changed["deleted"] = or_(ServerRow.__table__.c.deleted, statement.excluded.deleted)
    return statement.on_conflict_do_update(index_elements=[ServerRow.top_id], set_=changed)


def _add_project_sites_statement(dialect: str) -> Any:
    return insert_for(dialect)(ProjectSiteRow).on_conflict_do_nothing(index_elements=[ProjectSiteRow.project_id,
                                                                          ProjectSiteRow.site_id])
