"""Typed queries of the top-owned flavors and their access lists.

Flavors belong to the cascade: created here, listed from here, and copied into
a site when a server there first needs one (a route per site copy). Deletion
is soft so that old servers still show their flavor. Errors carry Nova's own
wording, for the compute front to relay.
"""
from __future__ import annotations

import builtins
import dataclasses
import datetime
import uuid
from typing import Any, Mapping

from sqlalchemy import and_, delete, exists, false, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import FlavorAccessRow, FlavorRow


@dataclasses.dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int
    swap: int
    rxtx_factor: float
    is_public: bool
    description: str | None
    extra_specs: Mapping[str, str]
    created_at: datetime.datetime
    deleted: bool


_FIELDS = tuple(f.name for f in dataclasses.fields(Flavor))

# Nova's sort keys for flavors, by the name its API accepts
SORT_KEYS = {
    "flavorid": FlavorRow.id, "id": FlavorRow.id, "name": FlavorRow.name, "memory_mb": FlavorRow.ram,
    "vcpus": FlavorRow.vcpus, "root_gb": FlavorRow.disk, "ephemeral_gb": FlavorRow.ephemeral,
    "swap": FlavorRow.swap, "rxtx_factor": FlavorRow.rxtx_factor, "created_at": FlavorRow.created_at,
}


def _flavor(row: FlavorRow) -> Flavor:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["extra_specs"] = dict(row.extra_specs)
    return Flavor(**values)


def _not_found(flavor_id: str) -> NotFound:
    return NotFound(f"Flavor {flavor_id} could not be found.", kind="flavor", resource_id=flavor_id)


def _by_id(flavor_id: str, *, visible_to: str | None, include_deleted: bool) -> Any:
    query = select(FlavorRow).where(FlavorRow.id == flavor_id)
    if not include_deleted:
        query = query.where(FlavorRow.deleted == false())
    if visible_to is not None:
        query = query.where(_visible_to(visible_to))
    return query


def _visible_to(project_id: str) -> Any:
    has_access = exists().where(
        FlavorAccessRow.flavor_id == FlavorRow.id, FlavorAccessRow.project_id == project_id)
    return or_(FlavorRow.is_public.is_(True), has_access)


class FlavorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(
        self, *, is_public: bool | None = True, project_id: str | None = None,
        visible_to: str | None = None, min_ram: int | None = None, min_disk: int | None = None,
        sort_key: str = "flavorid", sort_dir: str = "asc",
        limit: int | None = None, marker: str | None = None, include_deleted: bool = False,
    ) -> builtins.list[Flavor]:
        """Flavors as Nova lists them.

        `is_public`: True lists public flavors and, with `project_id`, the
        private ones that project was given access to; False only private
        ones; None every flavor. `visible_to` (a non-admin's project) limits
        every answer, the marker included, to the flavors that project may
        see. `marker` is a flavor id: the page starts after it in the chosen
        order."""
        column = SORT_KEYS.get(sort_key)
        if column is None:
            raise BadRequest(f"Invalid sort_key {sort_key!r}.")
        if sort_dir not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort_dir {sort_dir!r}.")
        query = select(FlavorRow)
        if not include_deleted:
            query = query.where(FlavorRow.deleted.is_(False))
        if visible_to is not None:
            query = query.where(_visible_to(visible_to))
        if is_public is True:
            query = query.where(_visible_to(project_id) if project_id is not None else FlavorRow.is_public.is_(True))
        elif is_public is False:
            query = query.where(FlavorRow.is_public.is_(False))
        if min_ram is not None:
            query = query.where(FlavorRow.ram >= min_ram)
        if min_disk is not None:
            query = query.where(FlavorRow.disk >= min_disk)
        after = (lambda c, v: c > v) if sort_dir == "asc" else (lambda c, v: c < v)
        ordered = (column.asc(), FlavorRow.id.asc()) if sort_dir == "asc" else (column.desc(), FlavorRow.id.desc())
        async with self._db.session() as session:
            if marker is not None:
                anchor = await session.scalar(select(FlavorRow).where(
                    FlavorRow.id == marker, _visible_to(visible_to) if visible_to is not None else true()))
                if anchor is None:
                    raise BadRequest(f"marker [{marker}] not found")
                anchor_value = getattr(anchor, column.key)
                query = query.where(or_(after(column, anchor_value),
                                        and_(column == anchor_value, after(FlavorRow.id, anchor.id))))
            query = query.order_by(*ordered)
            if limit is not None:
                query = query.limit(limit)
            return [_flavor(row) for row in await session.scalars(query)]

    async def get(self, flavor_id: str, *, visible_to: str | None = None, include_deleted: bool = False) -> Flavor:
        """One flavor; with `visible_to` (a non-admin's project) a private
        flavor that project has no access to is not found."""
        row = await self._db.first(_by_id(flavor_id, visible_to=visible_to, include_deleted=include_deleted))
        if row is None:
            raise _not_found(flavor_id)
        return _flavor(row)

    async def get_by_name(self, name: str) -> Flavor:
        async with self._db.session() as session:
            row = await session.scalar(
                select(FlavorRow).where(FlavorRow.name == name, FlavorRow.deleted.is_(False)))
            if row is None:
                raise NotFound(f"Flavor with name {name} could not be found.", kind="flavor", resource_id=name)
            return _flavor(row)

    async def add(
        self, *, name: str, vcpus: int, ram: int, disk: int, flavor_id: str | None = None,
        ephemeral: int = 0, swap: int = 0, rxtx_factor: float = 1.0, is_public: bool = True,
        description: str | None = None, extra_specs: Mapping[str, str] | None = None,
    ) -> Flavor:
        """Create a flavor (a new uuid4 id unless given). Conflict when the id
        or the name of a live flavor is taken."""
        flavor_id = flavor_id or str(uuid.uuid4())
        try:
            async with self._db.session(writing=True) as session:
                await self._refuse_duplicate(session, flavor_id, name)
                row = FlavorRow(
                    id=flavor_id, name=name, vcpus=vcpus, ram=ram, disk=disk, ephemeral=ephemeral, swap=swap,
                    rxtx_factor=rxtx_factor, is_public=is_public, description=description,
                    extra_specs=dict(extra_specs or {}), deleted=False,
                )
                session.add(row)
                await session.flush()
                return _flavor(row)
        except IntegrityError:
            # lost a race with a concurrent create: say which of the two clashed
            async with self._db.session() as session:
                await self._refuse_duplicate(session, flavor_id, name)
            raise

    @staticmethod
    async def _refuse_duplicate(session: AsyncSession, flavor_id: str, name: str) -> None:
        if await session.get(FlavorRow, flavor_id) is not None:
            raise Conflict(f"Flavor with ID {flavor_id} already exists.")
        taken = await session.scalar(
            select(FlavorRow.id).where(FlavorRow.name == name, FlavorRow.deleted.is_(False)))
        if taken is not None:
            raise Conflict(f"Flavor with name {name} already exists.")

    async def delete(self, flavor_id: str) -> None:
        """Soft delete: the row stays for servers that still refer to it."""
        async with self._db.session(writing=True) as session:
            row = await self._row(session, flavor_id)
            row.deleted = True

    async def set_description(self, flavor_id: str, description: str | None) -> Flavor:
        async with self._db.session(writing=True) as session:
            row = await self._row(session, flavor_id)
            row.description = description
            return _flavor(row)

    async def set_extra_specs(self, flavor_id: str, specs: Mapping[str, str], *, replace: bool = False) -> dict[str, str]:
        """Merge `specs` into the flavor's extra specs (or replace them all) and return the result."""
        async with self._db.session(writing=True) as session:
            row = await self._row(session, flavor_id, for_update=True)
            merged = {} if replace else dict(row.extra_specs)
            merged.update(specs)
            row.extra_specs = merged
            return dict(merged)

    async def delete_extra_spec(self, flavor_id: str, key: str) -> None:
        async with self._db.session(writing=True) as session:
            row = await self._row(session, flavor_id, for_update=True)
            if key not in row.extra_specs:
                raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.",
                               kind="flavor", resource_id=flavor_id)
            row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}

    async def access_list(self, flavor_id: str) -> builtins.list[str]:
        """The projects given access to a private flavor, sorted."""
        async with self._db.session() as session:
            row = await self._row(session, flavor_id)
            if row.is_public:
                raise NotFound("Access list not available for public flavors.", kind="flavor", resource_id=flavor_id)
            return await self._projects(session, flavor_id)

    async def projects_of(self, flavor_id: str) -> builtins.list[str]:
        """The projects given access to a flavor, public or not, sorted."""
        async with self._db.session() as session:
            await self._row(session, flavor_id)
            return await self._projects(session, flavor_id)

    @staticmethod
    async def _projects(session: AsyncSession, flavor_id: str) -> builtins.list[str]:
        return list(await session.scalars(
            select(FlavorAccessRow.project_id).where(FlavorAccessRow.flavor_id == flavor_id)
            .order_by(FlavorAccessRow.project_id)))

    async def add_access(self, flavor_id: str, project_id: str, *, allow_public: bool = False) -> None:
        """Give a project access; a public flavor refuses it unless
        `allow_public` (Nova before 2.7 kept such useless grants)."""
        duplicate = Conflict(f"Flavor access already exists for flavor {flavor_id} "
                             f"and project {project_id} combination.")
        try:
            async with self._db.session(writing=True) as session:
                row = await self._row(session, flavor_id)
                if row.is_public and not allow_public:
                    raise Conflict("Can not add access to a public flavor.")
                if await session.get(FlavorAccessRow, (flavor_id, project_id)) is not None:
                    raise duplicate
                session.add(FlavorAccessRow(flavor_id=flavor_id, project_id=project_id))
                await session.flush()
        except IntegrityError:
            raise duplicate from None

    async def remove_access(self, flavor_id: str, project_id: str) -> None:
        async with self._db.session(writing=True) as session:
            await self._row(session, flavor_id)
            result = await session.execute(delete(FlavorAccessRow).where(
                FlavorAccessRow.flavor_id == flavor_id, FlavorAccessRow.project_id == project_id))
            if result.rowcount == 0:
                raise NotFound(f"Flavor access not found for {flavor_id} / {project_id} combination.",
                               kind="flavor", resource_id=flavor_id)

    @staticmethod
    async def _row(session: AsyncSession, flavor_id: str, *, visible_to: str | None = None,
                   include_deleted: bool = False, for_update: bool = False) -> FlavorRow:
        query = _by_id(flavor_id, visible_to=visible_to, include_deleted=include_deleted)
        if for_update:
            query = query.with_for_update()
        row = await session.scalar(query)
        if row is None:
            raise _not_found(flavor_id)
        return row
