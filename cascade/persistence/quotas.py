"""Typed queries of the cascade's quota records: limits set per project and
per user, quota classes, reservations of creates and resizes in flight,
and what a project uses, counted from the cascade's own tables (the servers
projection and its flavors, the keypairs).

Everything one decision needs is read through a `ProjectQuotas` view, in one
transaction. A view opened with `lock=True` is given the limits (settings,
not usage), read just before through `Database.read`, and first writes the
project's row in `quota_locks`: on PostgreSQL
that row lock, on SQLite the database's write lock, is held until the view
ends, so two checks that reserve for the same project never interleave,
whichever process makes them, and the lock is held only for reading usage
and writing the reservation. A `settling` view reads no limits; on SQLite
it takes no row lock either, as its first write takes the database's.
`cascade.quotas` holds the rules; this module only reads and writes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import uuid
from typing import AsyncIterator, Mapping

from sqlalchemy import Connection, Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.persistence.db import Database, insert_for
from cascade.persistence.models import (FlavorRow, KeypairRow, QuotaClassRow, QuotaLockRow, QuotaReservationRow,
                                        QuotaResizeRow, QuotaRow, ServerRow, utcnow)

PROJECT = ""   # the user_id of a project's own limits


@dataclasses.dataclass(frozen=True)
class ServerUsage:
    instances: int = 0
    cores: int = 0
    ram: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Resize:
    server_id: str
    old_flavor_id: str
    new_flavor_id: str


class ProjectQuotas:
    """One project's quota records, read in one transaction."""

    def __init__(self, session: AsyncSession, project_id: str,
                 limits: Mapping[tuple[str, str], dict[str, int]] | None = None) -> None:
        self._session = session
        self.project_id = project_id
        # ("class", name) or ("user", user id or PROJECT) -> limits, read once per view
        self._limits: dict[tuple[str, str], dict[str, int]] = dict(limits or {})

    @property
    def session(self) -> AsyncSession:
        return self._session

    async def limits(self, user_id: str | None = None) -> dict[str, int]:
        """The limits set on the project (user_id None) or on one of its users;
        unset resources are absent."""
        if (key := ("user", user_id or PROJECT)) not in self._limits:
            rows = await self._session.execute(_limits_of(self.project_id, [user_id or PROJECT]))
            self._limits[key] = {resource: limit for _owner, resource, limit in rows}
        return dict(self._limits[key])

    async def user_limits(self) -> dict[str, dict[str, int]]:
        """{user id: {resource: limit}} of every user of the project with limits set."""
        rows = await self._session.execute(select(QuotaRow.user_id, QuotaRow.resource, QuotaRow.hard_limit).where(
            QuotaRow.project_id == self.project_id, QuotaRow.user_id != PROJECT))
        found: dict[str, dict[str, int]] = {}
        for user_id, resource, limit in rows:
            found.setdefault(user_id, {})[resource] = limit
        return found

    async def class_limits(self, class_name: str) -> dict[str, int]:
        if (key := ("class", class_name)) not in self._limits:
            self._limits[key] = await _class_limits(self._session, class_name)
        return dict(self._limits[key])

    async def servers(self, user_id: str | None = None) -> ServerUsage:
        """Live servers of the project (or of one user in it) with their
        flavors' vCPUs and RAM."""
        query = (select(func.count(), func.coalesce(func.sum(FlavorRow.vcpus), 0),
                        func.coalesce(func.sum(FlavorRow.ram), 0))
                 .select_from(ServerRow).outerjoin(FlavorRow, FlavorRow.id == ServerRow.flavor_id)
                 .where(ServerRow.project_id == self.project_id, ServerRow.deleted.is_(False)))
        if user_id is not None:
            query = query.where(ServerRow.user_id == user_id)
        instances, cores, ram = (await self._session.execute(query)).one()
        return ServerUsage(int(instances), int(cores), int(ram))

    async def keypairs(self, user_id: str) -> int:
        return int(await self._session.scalar(select(func.count(KeypairRow.id)).where(KeypairRow.user_id == user_id)))

    async def reserved(self, user_id: str | None = None, *, now: datetime.datetime | None = None) -> dict[str, int]:
        """What the project's (or one user's) unexpired reservations hold, summed per resource."""
        query = select(QuotaReservationRow.deltas).where(
            QuotaReservationRow.project_id == self.project_id, QuotaReservationRow.expires_at > (now or utcnow()))
        if user_id is not None:
            query = query.where(QuotaReservationRow.user_id == user_id)
        total: dict[str, int] = {}
        for deltas in await self._session.scalars(query):
            for resource, amount in deltas.items():
                total[resource] = total.get(resource, 0) + int(amount)
        return total

    async def reserve(self, user_id: str, deltas: Mapping[str, int], *, expires_at: datetime.datetime) -> str:
        reservation_id = str(uuid.uuid4())
        self._session.add(QuotaReservationRow(id=reservation_id, project_id=self.project_id, user_id=user_id,
                                              deltas=dict(deltas), expires_at=expires_at))
        await self._session.flush()
        return reservation_id

    async def consume(self, reservation_id: str, used: Mapping[str, int] | None = None) -> bool:
        """Take `used` off a reservation (None: all of it); one left holding
        nothing is deleted. True when it is gone."""
        row = await self._session.get(QuotaReservationRow, reservation_id)
        if row is None:
            return True
        left = {} if used is None else {r: int(a) - int(used.get(r, 0)) for r, a in row.deltas.items()}
        gone = not any(amount > 0 for amount in left.values())
        if gone:
            await self._session.delete(row)
        else:
            row.deltas = {r: max(a, 0) for r, a in left.items()}
        await self._session.flush()
        return gone


class QuotaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    @contextlib.asynccontextmanager
    async def view(self, project_id: str, *, lock: bool = False, user_id: str | None = None,
                   settling: bool = False) -> AsyncIterator[ProjectQuotas]:
        """`lock`: the project's lock, once its limits (and `user_id`'s) are
        read; `settling` (with `lock`): a view that only moves a reservation
        into use."""
        limits = None
        if lock and not settling:
            limits = await self._db.read(lambda connection: _limit_sets(connection, project_id, user_id))
        async with self._db.session(writing=lock) as session:
            view = ProjectQuotas(session, project_id, limits)
            if lock and not (settling and self._db.dialect == "sqlite"):
                # the first write: SQLite takes its write lock (waiting its busy
                # timeout), PostgreSQL the row's lock
                await session.execute(_touch_lock(self._db.dialect), {"project_id": project_id, "touched_at": utcnow()})
            yield view

    async def set_limits(self, project_id: str, limits: Mapping[str, int], *, user_id: str | None = None) -> None:
        if not limits:
            return
        now = utcnow()
        rows = [{"project_id": project_id, "user_id": user_id or PROJECT, "resource": resource,
                 "hard_limit": int(limit), "created_at": now, "updated_at": now} for resource, limit in limits.items()]
        async with self._db.session(writing=True) as session:
            await session.execute(_upsert(self._db.dialect, QuotaRow, ["project_id", "user_id", "resource"]), rows)

    async def delete_limits(self, project_id: str, *, user_id: str | None = None) -> None:
        """A user's limits, or (user_id None) the project's and all its users'."""
        query = delete(QuotaRow).where(QuotaRow.project_id == project_id)
        if user_id is not None:
            query = query.where(QuotaRow.user_id == user_id)
        async with self._db.session(writing=True) as session:
            await session.execute(query)

    async def class_limits(self, class_name: str) -> dict[str, int]:
        async with self._db.session() as session:
            return await _class_limits(session, class_name)

    async def set_class_limits(self, class_name: str, limits: Mapping[str, int]) -> None:
        if not limits:
            return
        now = utcnow()
        rows = [{"class_name": class_name, "resource": resource, "hard_limit": int(limit),
                 "created_at": now, "updated_at": now} for resource, limit in limits.items()]
        async with self._db.session(writing=True) as session:
            await session.execute(_upsert(self._db.dialect, QuotaClassRow, ["class_name", "resource"]), rows)

    async def release(self, reservation_id: str, *, now: datetime.datetime | None = None) -> None:
        """Delete a reservation, and with it those whose holders never ended
        them (they expired: checks count only unexpired ones)."""
        async with self._db.session(writing=True) as session:
            await session.execute(delete(QuotaReservationRow).where(
                (QuotaReservationRow.id == reservation_id) | (QuotaReservationRow.expires_at <= (now or utcnow()))))

    async def remember_resize(self, server_id: str, *, old_flavor_id: str, new_flavor_id: str) -> None:
        """A resize began; a resize of a server already resized keeps its first old flavor."""
        async with self._db.session(writing=True) as session:
            row = await session.get(QuotaResizeRow, server_id)
            if row is None:
                session.add(QuotaResizeRow(server_id=server_id, old_flavor_id=old_flavor_id, new_flavor_id=new_flavor_id))
            else:
                await session.execute(update(QuotaResizeRow).where(QuotaResizeRow.server_id == server_id)
                                      .values(new_flavor_id=new_flavor_id))

    async def resize_of(self, server_id: str) -> Resize | None:
        async with self._db.session() as session:
            row = await session.get(QuotaResizeRow, server_id)
            return None if row is None else Resize(row.server_id, row.old_flavor_id, row.new_flavor_id)

    async def forget_resize(self, server_id: str) -> None:
        async with self._db.session(writing=True) as session:
            await session.execute(delete(QuotaResizeRow).where(QuotaResizeRow.server_id == server_id))


async def _class_limits(session: AsyncSession, class_name: str) -> dict[str, int]:
    return {resource: limit for resource, limit in await session.execute(_class_limits_of(class_name))}


def _class_limits_of(class_name: str) -> Select:
    return select(QuotaClassRow.resource, QuotaClassRow.hard_limit).where(QuotaClassRow.class_name == class_name)


def _limits_of(project_id: str, owners: list[str]) -> Select:
    """(owner, resource, limit) rows of the project's own limits (owner
    PROJECT) and of its users `owners`."""
    return (select(QuotaRow.user_id, QuotaRow.resource, QuotaRow.hard_limit)
            .where(QuotaRow.project_id == project_id, QuotaRow.user_id.in_(owners)))


def _limit_sets(connection: Connection, project_id: str, user_id: str | None) -> dict[tuple[str, str], dict]:
    """The default class's, the project's and (given) the user's limits, as
    `ProjectQuotas` keeps them."""
    owners = [PROJECT] + ([user_id] if user_id else [])
    found: dict[tuple[str, str], dict] = {("user", owner): {} for owner in owners}
    found["class", "default"] = dict(connection.execute(_class_limits_of("default")).all())
    for owner, resource, limit in connection.execute(_limits_of(project_id, owners)):
        found["user", owner][resource] = limit
    return found


def _upsert(dialect: str, model, keys: list[str]):
    statement = insert_for(dialect)(model)
    return statement.on_conflict_do_update(index_elements=keys, set_={
        "hard_limit": statement.excluded.hard_limit, "updated_at": statement.excluded.updated_at})


def _touch_lock(dialect: str):
    statement = insert_for(dialect)(QuotaLockRow)
    return statement.on_conflict_do_update(index_elements=["project_id"],
                                           set_={"touched_at": statement.excluded.touched_at})
