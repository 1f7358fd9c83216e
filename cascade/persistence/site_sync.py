"""Where the status sync of each site stands (`site_sync`): the site's own
timestamp to ask `changes-since` from next (its watermark, in the site's
clock, as Nova wrote it), when it last polled and swept, and the last
error. A site without a row has never been synced."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cascade.persistence.db import Database, insert_for
from cascade.persistence.models import SiteSyncRow, utcnow


@dataclasses.dataclass(frozen=True)
class SyncState:
    site_id: str
    changes_since: str | None = None
    polled_at: datetime.datetime | None = None
    swept_at: datetime.datetime | None = None
    last_error: str | None = None


_FIELDS = tuple(f.name for f in dataclasses.fields(SyncState))


class SiteSyncStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, site_id: str) -> SyncState:
        async with self._db.session() as session:
            row = await session.get(SiteSyncRow, site_id)
            if row is None:
                return SyncState(site_id)
            return SyncState(**{name: getattr(row, name) for name in _FIELDS})

    async def list(self) -> list[SyncState]:
        async with self._db.session() as session:
            return [SyncState(**{name: getattr(row, name) for name in _FIELDS})
                    for row in await session.scalars(select(SiteSyncRow).order_by(SiteSyncRow.site_id))]

    async def polled(self, site_id: str, *, changes_since: str | None, error: str | None = None,
                     session: AsyncSession | None = None) -> None:
        """A changes-since poll ended (with `error`: it could not); the
        watermark moves only when one is given. With `session`, in the
        caller's transaction (the poll job's end)."""
        await self._write(site_id, {"polled_at": utcnow(), "last_error": error}, changes_since, keep_older=False,
                          session=session)

    async def swept(self, site_id: str, *, changes_since: str | None = None, error: str | None = None) -> None:
        """A sweep ended; its `changes_since` is taken only by a site that has no watermark yet."""
        await self._write(site_id, {"swept_at": utcnow(), "last_error": error}, changes_since, keep_older=True)

    async def failed(self, site_id: str, error: str) -> None:
        """A poll or sweep could not reach the site."""
        await self._write(site_id, {"last_error": error}, None, keep_older=True)

    async def _write(self, site_id: str, values: dict[str, Any], changes_since: str | None, *,
                     keep_older: bool, session: AsyncSession | None = None) -> None:
        values = {**values, "updated_at": utcnow()}
        statement = insert_for(self._db.dialect)(SiteSyncRow).values(site_id=site_id, changes_since=changes_since, **values)
        changed: dict[str, Any] = dict(values)
        if changes_since is not None:
            changed["changes_since"] = (func.coalesce(SiteSyncRow.changes_since, statement.excluded.changes_since)
                                        if keep_older else statement.excluded.changes_since)
        statement = statement.on_conflict_do_update(index_elements=[SiteSyncRow.site_id], set_=changed)
        async with self._db.joined(session) as session:
            await session.execute(statement)
