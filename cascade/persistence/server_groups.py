"""Typed queries of the top-owned server groups and their members.

A server group belongs to the cascade: created, listed and shown from here.
Its members are top server ids; the sites its members run in hold bottom
groups of the same policy (routes of kind `server_group`, made by the compute
front). An affinity group is pinned to the site of its first member while it
has members, so that every member lands in one site. Errors carry Nova's
wording, for the compute front to relay.
"""
from __future__ import annotations

import builtins
import dataclasses
import datetime
import uuid
from typing import Iterable, Mapping

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.errors import NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import ServerGroupMemberRow, ServerGroupRow

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


@dataclasses.dataclass(frozen=True)
class ServerGroup:
    id: str
    name: str
    project_id: str
    user_id: str
    policy: str
    rules: Mapping[str, int]
    site_id: str | None          # an affinity group's site, while it has members
    members: tuple[str, ...]     # top server ids, oldest first
    created_at: datetime.datetime


def _not_found(group_id: str) -> NotFound:
    return NotFound(f"Instance group {group_id} could not be found.", kind="server_group", resource_id=group_id)


async def _groups(session: AsyncSession, rows: Iterable[ServerGroupRow]) -> list[ServerGroup]:
    rows = list(rows)
    members: dict[str, list[str]] = {row.id: [] for row in rows}
    if rows:
        found = await session.execute(
            select(ServerGroupMemberRow.group_id, ServerGroupMemberRow.server_id)
            .where(ServerGroupMemberRow.group_id.in_(list(members)))
            .order_by(ServerGroupMemberRow.created_at, ServerGroupMemberRow.server_id))
        for group_id, server_id in found:
            members[group_id].append(server_id)
    return [ServerGroup(id=row.id, name=row.name, project_id=row.project_id, user_id=row.user_id,
                        policy=row.policy, rules=dict(row.rules), site_id=row.site_id,
                        members=tuple(members[row.id]), created_at=row.created_at) for row in rows]


class ServerGroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, *, name: str, project_id: str, user_id: str, policy: str,
                  rules: Mapping[str, int] | None = None) -> ServerGroup:
        if policy not in POLICIES:
            raise ValueError(f"unknown server group policy {policy!r}")
        row = ServerGroupRow(id=str(uuid.uuid4()), name=name, project_id=project_id, user_id=user_id,
                             policy=policy, rules=dict(rules or {}))
        async with self._db.session(writing=True) as session:
            session.add(row)
            await session.flush()
            return (await _groups(session, [row]))[0]

    async def get(self, group_id: str, *, project_id: str | None = None) -> ServerGroup:
        """One group; with `project_id` (a non-admin's project) another
        project's group is not found, as in Nova."""
        async with self._db.session() as session:
            return (await _groups(session, [await self._row(session, group_id, project_id)]))[0]

    async def list(self, *, project_id: str | None = None, offset: int = 0,
                   limit: int | None = None) -> builtins.list[ServerGroup]:
        """Groups oldest first: a project's, or every project's when None."""
        query = select(ServerGroupRow).order_by(ServerGroupRow.created_at, ServerGroupRow.id).offset(offset)
        if project_id is not None:
            query = query.where(ServerGroupRow.project_id == project_id)
        if limit is not None:
            query = query.limit(limit)
        async with self._db.session() as session:
            return await _groups(session, await session.scalars(query))

    async def count(self, project_id: str, *, user_id: str | None = None) -> int:
        query = select(func.count()).select_from(ServerGroupRow).where(ServerGroupRow.project_id == project_id)
        if user_id is not None:
            query = query.where(ServerGroupRow.user_id == user_id)
        async with self._db.session() as session:
            return int(await session.scalar(query) or 0)

    async def counter(self, project_id: str, user_id: str | None) -> tuple[int, int | None]:
        """The quota engine's count of `server_groups`: the project's, and the user's."""
        return await self.count(project_id), (await self.count(project_id, user_id=user_id) if user_id else None)

    async def delete(self, group_id: str, *, project_id: str | None = None) -> None:
        async with self._db.session(writing=True) as session:
            row = await self._row(session, group_id, project_id)
            await session.execute(delete(ServerGroupMemberRow).where(ServerGroupMemberRow.group_id == row.id))
            await session.delete(row)

    async def add_members(self, group_id: str, server_ids: Iterable[str]) -> None:
        async with self._db.session(writing=True) as session:
            await self._row(session, group_id, None)
            known = set(await session.scalars(select(ServerGroupMemberRow.server_id).where(
                ServerGroupMemberRow.group_id == group_id)))
            for server_id in dict.fromkeys(server_ids):
                if server_id not in known:
                    session.add(ServerGroupMemberRow(group_id=group_id, server_id=server_id))

    async def groups_of(self, server_id: str) -> builtins.list[str]:
        async with self._db.session() as session:
            return list(await session.scalars(select(ServerGroupMemberRow.group_id).where(
                ServerGroupMemberRow.server_id == server_id).order_by(ServerGroupMemberRow.group_id)))

    async def remove_member(self, server_id: str, *, session: AsyncSession | None = None) -> builtins.list[str]:
        """Take a (deleted) server out of every group it is in; a group left
        without members is unpinned. Returns the groups it left."""
        async with self._db.joined(session) as session:
            groups = list(await session.scalars(select(ServerGroupMemberRow.group_id).where(
                ServerGroupMemberRow.server_id == server_id)))
            if not groups:
                return []
            await session.execute(delete(ServerGroupMemberRow).where(ServerGroupMemberRow.server_id == server_id))
            still = select(ServerGroupMemberRow.group_id).where(ServerGroupMemberRow.group_id.in_(groups))
            await session.execute(update(ServerGroupRow).where(
                ServerGroupRow.id.in_(groups), ServerGroupRow.id.not_in(still)).values(site_id=None))
            return groups

    async def pin(self, group_id: str, site_id: str, *, replacing: str | None = None) -> str:
        """Pin the group to `site_id` unless it is already pinned (to another
        site than `replacing`, a site that is gone); returns the site it is
        pinned to (the first writer wins a race)."""
        free = ServerGroupRow.site_id.is_(None)
        if replacing is not None:
            free = or_(free, ServerGroupRow.site_id == replacing)
        async with self._db.session(writing=True) as session:
            await session.execute(update(ServerGroupRow).where(
                ServerGroupRow.id == group_id, free).values(site_id=site_id))
        async with self._db.session() as session:
            pinned = await session.scalar(select(ServerGroupRow.site_id).where(ServerGroupRow.id == group_id))
            if pinned is None:
                raise _not_found(group_id)
            return pinned

    @staticmethod
    async def _row(session: AsyncSession, group_id: str, project_id: str | None) -> ServerGroupRow:
        query = select(ServerGroupRow).where(ServerGroupRow.id == group_id)
        if project_id is not None:
            query = query.where(ServerGroupRow.project_id == project_id)
        row = await session.scalar(query)
        if row is None:
            raise _not_found(group_id)
        return row
