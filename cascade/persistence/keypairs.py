"""Typed queries of the top-owned keypairs, one namespace per user.

A keypair lives in the cascade and is copied into a site when a server there
first boots with it. Errors carry Nova's wording, for the compute front to relay.
"""
from __future__ import annotations

import dataclasses
import datetime
import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from cascade.errors import BadRequest, Conflict, NotFound
from cascade.persistence.db import Database
from cascade.persistence.models import KeypairRow


@dataclasses.dataclass(frozen=True)
class Keypair:
    id: str
    user_id: str
    name: str
    type: str                 # "ssh" or "x509"
    public_key: str
    fingerprint: str
    created_at: datetime.datetime


_FIELDS = tuple(f.name for f in dataclasses.fields(Keypair))


def _keypair(row: KeypairRow) -> Keypair:
    return Keypair(**{name: getattr(row, name) for name in _FIELDS})


def _not_found(user_id: str, name: str) -> NotFound:
    return NotFound(f"Keypair {name} not found for user {user_id}", kind="keypair", resource_id=name)


class KeypairStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list_for_user(self, user_id: str, *, limit: int | None = None, marker: str | None = None) -> list[Keypair]:
        """A user's keypairs by name; `marker` is the name the page starts after."""
        query = select(KeypairRow).where(KeypairRow.user_id == user_id).order_by(KeypairRow.name)
        async with self._db.session() as session:
            if marker is not None:
                found = await session.scalar(select(KeypairRow.id).where(
                    KeypairRow.user_id == user_id, KeypairRow.name == marker))
                if found is None:
                    raise BadRequest(f"Marker {marker} could not be found.")
                query = query.where(KeypairRow.name > marker)
            if limit is not None:
                query = query.limit(limit)
            return [_keypair(row) for row in await session.scalars(query)]

    async def get(self, user_id: str, name: str) -> Keypair:
        row = await self._db.first(select(KeypairRow).where(KeypairRow.user_id == user_id, KeypairRow.name == name))
        if row is None:
            raise _not_found(user_id, name)
        return _keypair(row)

    async def add(self, *, user_id: str, name: str, public_key: str, fingerprint: str, type: str = "ssh") -> Keypair:
        row = KeypairRow(id=str(uuid.uuid4()), user_id=user_id, name=name, type=type,
                         public_key=public_key, fingerprint=fingerprint)
        try:
            async with self._db.session(writing=True) as session:
                session.add(row)
                await session.flush()
                return _keypair(row)
        except IntegrityError:
            raise Conflict(f"Key pair '{name}' already exists.") from None

    async def delete(self, user_id: str, name: str) -> None:
        async with self._db.session(writing=True) as session:
            result = await session.execute(delete(KeypairRow).where(
                KeypairRow.user_id == user_id, KeypairRow.name == name))
            if result.rowcount == 0:
                raise _not_found(user_id, name)
