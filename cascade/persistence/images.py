"""Typed queries of the top-owned image records.

An image known to the cascade has one top id however many sites hold a copy
(each copy is a route). The record is identified by (owner, name, checksum) so
that the same image found in two sites is adopted once; `data` keeps the last
image body a site gave, to answer show and list.
"""
from __future__ import annotations

import builtins
import dataclasses
import datetime
import hashlib
import json
import uuid
from typing import Any, Mapping

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from cascade.errors import Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import ImageRow, utcnow


@dataclasses.dataclass(frozen=True)
class Image:
    id: str
    owner: str | None          # project id; None for a public image
    name: str | None
    checksum: str | None       # md5 of the data, when known
    data: Mapping[str, Any]
    created_at: datetime.datetime


def identity_key(owner: str | None, name: str | None, checksum: str | None) -> str:
    """One never-null value per (owner, name, checksum), None distinct from "":
    a unique index on it holds where a unique constraint over nullable
    columns would let duplicates through."""
    return hashlib.sha256(json.dumps([owner, name, checksum]).encode()).hexdigest()


def _image(row: ImageRow) -> Image:
    return Image(id=row.id, owner=row.owner, name=row.name, checksum=row.checksum,
                 data=dict(row.data), created_at=row.created_at)


def _not_found(image_id: str) -> NotFound:
    return NotFound(f"Image {image_id} could not be found.", kind="image", resource_id=image_id)


class ImageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, image_id: str) -> Image:
        row = await self._db.first(select(ImageRow).where(ImageRow.id == image_id))
        if row is None:
            raise _not_found(image_id)
        return _image(row)

    async def find(self, owner: str | None, name: str | None, checksum: str | None) -> Image | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(ImageRow).where(ImageRow.identity_key == identity_key(owner, name, checksum)))
            return None if row is None else _image(row)

    async def get_or_create(
        self, owner: str | None, name: str | None, checksum: str | None, data: Mapping[str, Any],
        *, image_id: str | None = None,
    ) -> tuple[Image, bool]:
        """The record for (owner, name, checksum), made if missing; True when made here.
        Safe against a concurrent creator: the loser gets the winner's record."""
        existing = await self.find(owner, name, checksum)
        if existing is not None:
            return existing, False
        row = ImageRow(id=image_id or str(uuid.uuid4()), owner=owner, name=name, checksum=checksum,
                       identity_key=identity_key(owner, name, checksum), data=dict(data))
        try:
            async with self._db.session(writing=True) as session:
                session.add(row)
                await session.flush()
                return _image(row), True
        except IntegrityError:
            winner = await self.find(owner, name, checksum)
            if winner is None:
                raise Conflict(f"Image with ID {row.id} already exists.") from None
            return winner, False

    async def update_data(self, image_id: str, data: Mapping[str, Any]) -> Image:
        async with self._db.session(writing=True) as session:
            row = await session.get(ImageRow, image_id)
            if row is None:
                raise _not_found(image_id)
            row.data = dict(data)
            row.updated_at = utcnow()
            return _image(row)

    async def rekey(self, image_id: str, owner: str | None, name: str | None, checksum: str | None,
                    data: Mapping[str, Any]) -> Image:
        """Give a record its full identity (a copy first seen without data
        has no checksum yet); Conflict when another record holds it."""
        try:
            async with self._db.session(writing=True) as session:
                row = await session.get(ImageRow, image_id)
                if row is None:
                    raise _not_found(image_id)
                row.owner, row.name, row.checksum = owner, name, checksum
                row.identity_key = identity_key(owner, name, checksum)
                row.data = dict(data)
                row.updated_at = utcnow()
                await session.flush()
                return _image(row)
        except IntegrityError:
            raise Conflict(f"Image with identity ({owner}, {name}, {checksum}) already exists.") from None

    async def list(self, *, visible_to: str | None = None, limit: int | None = None) -> builtins.list[Image]:
        """Image records by creation; with `visible_to`, only that project's and the public ones."""
        query = select(ImageRow).order_by(ImageRow.created_at, ImageRow.id)
        if visible_to is not None:
            query = query.where(or_(ImageRow.owner == visible_to, ImageRow.owner.is_(None)))
        if limit is not None:
            query = query.limit(limit)
        async with self._db.session() as session:
            return [_image(row) for row in await session.scalars(query)]

    async def delete(self, image_id: str) -> None:
        async with self._db.session(writing=True) as session:
            result = await session.execute(delete(ImageRow).where(ImageRow.id == image_id))
            if result.rowcount == 0:
                raise _not_found(image_id)
