"""Typed queries of the `sites` table: the registered child clouds.

Rows come back as `SiteRecord`: the `cascade.sites.model.Site` value the rest
of the cascade works with, plus the bookkeeping only operators look at. The
`SiteRegistry` is the usual caller; it keeps the values in memory.
"""
from __future__ import annotations

import builtins
import dataclasses
import datetime
import uuid
from typing import Any, Mapping

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import ProjectSiteRow, ServerRow, SiteRow, utcnow
from cascade.sites.model import DEGRADED, DISABLED, DOWN, DRAINING, ENABLED, UNKNOWN, UP, Capacity, Site

STATES = frozenset({ENABLED, DISABLED, DRAINING})
HEALTHS = frozenset({UP, DEGRADED, DOWN, UNKNOWN})
UPDATABLE = frozenset({
    "name", "region_name", "auth_url", "auth", "endpoints", "state", "health",
    "compute_min_version", "compute_max_version", "capacity", "last_error",
})


@dataclasses.dataclass(frozen=True)
class SiteRecord:
    site: Site
    last_error: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


def _capacity_to_json(capacity: Capacity | Mapping[str, int]) -> dict[str, int]:
    if isinstance(capacity, Capacity):
        return dataclasses.asdict(capacity)
    known = {f.name for f in dataclasses.fields(Capacity)}
    return {k: int(v) for k, v in capacity.items() if k in known}


def _record(row: SiteRow) -> SiteRecord:
    site = Site(
        id=row.id, name=row.name, availability_zone=row.availability_zone, region_name=row.region_name,
        auth_url=row.auth_url, endpoints=dict(row.endpoints), state=row.state, health=row.health,
        compute_min_version=row.compute_min_version, compute_max_version=row.compute_max_version,
        capacity=Capacity(**_capacity_to_json(row.capacity)), auth=dict(row.auth), position=row.position,
    )
    return SiteRecord(site=site, last_error=row.last_error, created_at=row.created_at, updated_at=row.updated_at)


def _check(fields: Mapping[str, Any]) -> None:
    if "state" in fields and fields["state"] not in STATES:
        raise BadRequest(f"Invalid site state {fields['state']!r}: one of {', '.join(sorted(STATES))}.")
    if "health" in fields and fields["health"] not in HEALTHS:
        raise BadRequest(f"Invalid site health {fields['health']!r}: one of {', '.join(sorted(HEALTHS))}.")


class SiteStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self) -> builtins.list[SiteRecord]:
        async with self._db.session() as session:
            rows = await session.scalars(select(SiteRow).order_by(SiteRow.position))
            return [_record(row) for row in rows]

    async def get(self, site_id: str) -> SiteRecord:
        async with self._db.session() as session:
            row = await session.get(SiteRow, site_id)
            if row is None:
                raise NotFound(f"Site {site_id} could not be found.", kind="site", resource_id=site_id)
            return _record(row)

    async def get_by_name(self, name: str) -> SiteRecord:
        async with self._db.session() as session:
            row = await session.scalar(select(SiteRow).where(SiteRow.name == name))
            if row is None:
                raise NotFound(f"Site {name} could not be found.", kind="site", resource_id=name)
            return _record(row)

    async def add(
        self, *, name: str, availability_zone: str, region_name: str, auth_url: str,
        endpoints: Mapping[str, str], auth: Mapping[str, Any] | None = None,
        state: str = ENABLED, health: str = UNKNOWN,
        compute_min_version: str = "2.1", compute_max_version: str = "2.1",
        capacity: Capacity | Mapping[str, int] | None = None, site_id: str | None = None,
    ) -> SiteRecord:
        """Register a site at the end of the registration order.

        Raises Conflict when the name or availability zone is taken."""
        _check({"state": state, "health": health})
        await self._refuse_duplicate(name, availability_zone)
        # position is max + 1; two processes adding at once may collide on it: try again
        for _ in range(5):
            try:
                async with self._db.session(writing=True) as session:
                    top = await session.scalar(select(func.max(SiteRow.position)))
                    row = SiteRow(
                        id=site_id or str(uuid.uuid4()), name=name, availability_zone=availability_zone,
                        region_name=region_name, auth_url=auth_url, auth=dict(auth or {}),
                        endpoints=dict(endpoints), state=state, health=health,
                        compute_min_version=compute_min_version, compute_max_version=compute_max_version,
                        capacity=_capacity_to_json(capacity or Capacity()),
                        position=(top or 0) + 1, last_error=None,
                    )
                    session.add(row)
                    await session.flush()
                    return _record(row)
            except IntegrityError:
                await self._refuse_duplicate(name, availability_zone)
        raise Conflict(f"Site {name} could not be registered: too many concurrent registrations.")

    async def _refuse_duplicate(self, name: str, availability_zone: str) -> None:
        async with self._db.session() as session:
            clash = (await session.execute(
                select(SiteRow.name, SiteRow.availability_zone).where(
                    (SiteRow.name == name) | (SiteRow.availability_zone == availability_zone)))).first()
        if clash is None:
            return
        if clash.name == name:
            raise Conflict(f"Site with name {name} already exists.")
        raise Conflict(f"Availability zone {availability_zone} is already served by site {clash.name}.")

    async def update(self, site_id: str, fields: Mapping[str, Any]) -> SiteRecord:
        """Change some columns of a site; unknown fields are a programming error."""
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"site fields not updatable: {', '.join(sorted(unknown))}")
        _check(fields)
        values = dict(fields)
        if "capacity" in values:
            values["capacity"] = _capacity_to_json(values["capacity"])
        for key in ("auth", "endpoints"):
            if key in values:
                values[key] = dict(values[key])
        try:
            async with self._db.session(writing=True) as session:
                row = await session.get(SiteRow, site_id, with_for_update=True)
                if row is None:
                    raise NotFound(f"Site {site_id} could not be found.", kind="site", resource_id=site_id)
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = utcnow()
                await session.flush()
                return _record(row)
        except IntegrityError:
            raise Conflict(f"Site with name {fields.get('name')} already exists.") from None

    async def remove(self, site_id: str) -> None:
        """Delete a site, its cached server projection and its projects'
        index (`project_sites`). The database refuses
        (Conflict) while routes still point at the site."""
        try:
            async with self._db.session(writing=True) as session:
                row = await session.get(SiteRow, site_id)
                if row is None:
                    raise NotFound(f"Site {site_id} could not be found.", kind="site", resource_id=site_id)
                await session.execute(delete(ServerRow).where(ServerRow.site_id == site_id))
                await session.execute(delete(ProjectSiteRow).where(ProjectSiteRow.site_id == site_id))
                await session.delete(row)
                await session.flush()
        except IntegrityError:
            raise Conflict(f"Site {site_id} still has routes; remove them first.") from None
